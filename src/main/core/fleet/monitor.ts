/**
 * The check loop: a round every interval reads the enabled servers (spread over part of the
 * interval; a live, idle server only every few rounds, see sweep.ts), keeps each server's
 * state, and caches the fleet status and the best server between rounds. A round never
 * overlaps the previous one, and nobody waits for a check just to learn the best server.
 */
import type { FleetStatus, ServerConfig, ServerStatus } from '../../../shared/types'
import type { ComfyClient } from '../comfy/client'
import type { HttpTransport } from '../comfy/transport'
import { systemClock, type Clock } from '../clock'
import { Emitter } from '../events'
import { Capabilities, type Unable } from './capabilities'
import { nextDelayMs } from './check'
import { feedTarget as target, makeEntry, readServer, skipFacts, type Entry } from './entry'
import { reconfigured, type MonitoredServerStatus } from './health'
import { priorJobMs, withEstimates } from './estimator'
import { LIVE_BLOCK_MS, LiveFeed, offFor } from './live-feed'
import {
  PUBLISH_GAP_MS,
  pingEveryMs,
  type FleetEvents,
  type FleetMonitorOptions
} from './monitor-types'
import { OurJobs, type OurJobState } from './our-jobs'
import { choosePolicy, fleetStatus, place, type Placement } from './placement'
import { RoundLoop, Waits } from './round-loop'
import { bySlot, planRound, START_HOLD_MS, STARTS_AT_ONCE } from './sweep'
import { Throttle } from './throttle'
import { choice, leastQueuePolicy, type Choice, type Policy, type PolicyJob } from './policy'
import type { FleetPort, WorkflowNeeds } from './port'

export { LIVE_BLOCK_MS } from './live-feed'
export { PUBLISH_GAP_MS, type FleetEvents, type FleetMonitorOptions } from './monitor-types'
export type { ServerEvent } from './monitor-types'
export { currentQueue, errorText, type MonitoredServerStatus } from './health'
export { FULL_QUEUE_EVERY_ROUNDS, SYSTEM_STATS_EVERY_ROUNDS } from './check'
export { QUEUE_HISTORY_MS } from './queue-history'

export class FleetMonitor implements FleetPort {
  readonly events = new Emitter<FleetEvents>()
  private entries: Entry[] = []
  private byId = new Map<string, Entry>()
  private intervalMs: number
  private timeoutMs: number
  private policy: Policy
  private readonly clock: Clock
  /** Each server's last view and what it was made from (see views). */
  private readonly viewOf = new WeakMap<
    Entry,
    {
      status: MonitoredServerStatus
      jobMs: number | null
      own: number
      prior: number
      view: MonitoredServerStatus
    }
  >()
  private readonly transportFactory?: (server: ServerConfig) => HttpTransport | undefined
  /** The rounds: the one under way and the next one's timer. */
  private readonly loop: RoundLoop<FleetStatus>
  /** The reads of a round waiting for their phase (stop ends the waits). */
  private readonly waits: Waits
  private running = false
  /** How many times the monitor was stopped (a round's reads not yet begun then are not). */
  private stops = 0
  private paused = false
  private lastHealthCheck: number | null = null
  private cached: FleetStatus
  private lastChoice: Placement = choice(null, { code: 'not-checked' })
  /** What the last published placement was worked out from (an unchanged fleet reuses it). */
  private choiceFrom: PlacementSources | null = null
  private readonly fall: number
  private readonly rise: number
  /** Randomness for the two-choices tie-break among near-equal servers. */
  private readonly rng: () => number
  /** The last server a job was sent to (round-robin continues after it). */
  private lastPickId: string | null = null
  /** Rounds completed since start. */
  rounds = 0
  /** Publishes for live queue changes, at least `publishGapMs` apart. */
  private readonly publishGate: Throttle
  private readonly holdBack: number | null
  /** Our jobs per server: the one count hold-back and the expected waits use. */
  private readonly ours = new OurJobs()
  private readonly caps: Capabilities
  /** The servers' sockets; null when live updates are off. */
  private readonly feed: LiveFeed | null

  constructor(opts: FleetMonitorOptions) {
    this.intervalMs = opts.intervalMs
    this.timeoutMs = opts.timeoutMs
    this.policy = opts.policy ?? leastQueuePolicy
    this.clock = opts.clock ?? systemClock
    this.transportFactory = opts.transportFactory
    this.fall = Math.max(1, opts.fall ?? 2)
    this.rise = Math.max(1, opts.rise ?? 2)
    this.rng = opts.rng ?? Math.random
    this.publishGate = new Throttle(this.clock, opts.publishGapMs ?? PUBLISH_GAP_MS, () =>
      this.publish(false)
    )
    this.holdBack = opts.holdBack ?? null
    this.loop = new RoundLoop({
      clock: this.clock,
      run: (full) => this.runRound(full),
      active: () => this.running && !this.paused,
      delayMs: () => this.nextDelay()
    })
    this.waits = new Waits(this.clock)
    this.caps = new Capabilities({ clock: this.clock, timeoutMs: () => this.timeoutMs })
    this.feed = opts.live ? this.makeFeed(opts) : null
    this.setEntries(opts.servers.map((c) => this.makeEntry(c)))
    this.cached = this.buildStatus()
  }

  private makeFeed(opts: FleetMonitorOptions): LiveFeed {
    const feed = new LiveFeed({
      clientId: opts.live!.clientId,
      clock: this.clock,
      handshakeTimeoutMs: () => this.timeoutMs,
      limits: opts.liveLimits,
      blockMs: opts.liveBlockMs ?? LIVE_BLOCK_MS,
      socketFactory: opts.socketFactory,
      // A quiet socket is pinged every interval, but at most every half timeout; one that does
      // not answer within the timeout is closed, and the server is then checked at once (see
      // 'closed').
      pingIntervalMs: () => pingEveryMs(this.intervalMs, this.timeoutMs),
      pongTimeoutMs: () => this.timeoutMs
    })
    feed.events.on('queue', ({ serverId, remaining }) => this.onLiveQueue(serverId, remaining))
    feed.events.on('comfy', (e) => this.events.emit('comfy', e))
    // Reconnected: the server may have restarted with other nodes or models.
    feed.events.on('reconnected', ({ serverId }) => this.caps.invalidate(serverId))
    feed.events.on('closed', ({ serverId }) => {
      this.events.emit('socket-closed', { serverId })
      // Only the socket says when a job is taken to run: without it, that is not known.
      const gone = this.entry(serverId)
      if (gone) gone.runningSince = null
      // A socket that closes (or stops answering pings) is often a server that died: check it
      // now rather than at the next interval, so nothing more is sent there.
      const e = this.entry(serverId)
      if (e && this.running && !this.paused) void this.checkServer(e)
    })
    feed.events.on('flood', ({ serverId, reason, offMs }) => {
      // The socket closed itself for good: rely on the HTTP checks for a while.
      const name = this.entry(serverId)?.config.name ?? serverId
      this.events.emit('log', {
        level: 'warn',
        message: `[LoadBalancer] ${name}: live updates off for ${offFor(offMs)}, ${reason}; checking it at each interval instead`
      })
      this.events.emit('socket-closed', { serverId })
    })
    return feed
  }

  private makeEntry(config: ServerConfig): Entry {
    return makeEntry(config, this.clock, this.timeoutMs, this.transportFactory)
  }

  private setEntries(entries: Entry[]): void {
    this.entries = entries
    this.byId = new Map(entries.map((e) => [e.config.id, e]))
  }

  private entry(serverId: string): Entry | undefined {
    return this.byId.get(serverId)
  }

  /** Opens the server's socket if live updates are on and the loop runs. */
  private openSocket(e: Entry): void {
    if (!this.running || !e.config.enabled) return
    this.feed?.open(target(e.config))
  }

  /** A `status` message: the queue length changed (queue_remaining = running + pending). */
  private onLiveQueue(serverId: string, n: number): void {
    const e = this.entry(serverId)
    if (!e || !e.status.healthy) return // the HTTP checks decide about health
    const running = Math.min(1, n)
    const now = this.clock.now()
    this.ours.noteReport(serverId, now)
    const prev = e.status.queue.total
    // ComfyUI says its status when a job is taken to run and when one is done. A job whose
    // start this socket saw and that is now done ran this long, whoever sent it. The one case
    // this gets wrong: a pending prompt someone deletes (or a wiped queue) also lowers the
    // count while the running job goes on, and is taken for a job done, too short a run.
    if (n < prev && e.runningSince !== null && e.startSeen) e.est.recordSeen(now - e.runningSince)
    const open = this.feed?.openSince(serverId) ?? null
    // A start is seen when this socket said the queue before (its first status only says it).
    const seen = open !== null && e.liveStatusAt !== null && e.liveStatusAt >= open
    if (n === 0) e.runningSince = null
    else if (n <= prev || prev === 0) {
      e.runningSince = now
      e.startSeen = seen
    }
    e.status = { ...e.status, queue: { running, pending: n - running, total: n }, queueAt: now }
    e.liveStatusAt = now
    this.sample(e)
    this.publishGate.soon()
  }

  /**
   * Resolves once the server's socket is open, or after `maxWaitMs`, or once the server is
   * found down: ComfyUI buffers no events, so the job engine waits for it before sending.
   */
  whenSocketOpen(serverId: string, maxWaitMs: number): Promise<void> {
    const e = this.entry(serverId)
    if (!e || !this.feed) return Promise.resolve()
    this.openSocket(e)
    return this.feed.whenOpen(serverId, maxWaitMs, (done) =>
      this.events.on('status', (st) => {
        if (st.servers.find((x) => x.id === serverId)?.healthy === false) done()
      })
    )
  }

  /** Servers known to lack something the workflow needs: id -> why (see Capabilities). */
  unableToRun(needs: WorkflowNeeds | null): Unable {
    return this.caps.unableToRun(this.ids(), needs)
  }

  private ids(): string[] {
    return this.entries.map((e) => e.config.id)
  }

  /**
   * Reads, for healthy servers that have not told us yet, what they can run, waiting at most
   * `maxWaitMs`. Done on demand (before placing a job), not on every check.
   */
  ensureCapabilities(maxWaitMs: number): Promise<void> {
    const ready = (e: Entry) => e.config.enabled && e.status.healthy
    const targets = this.entries.map((e) => ({
      id: e.config.id,
      client: e.client,
      ready: ready(e)
    }))
    return this.caps.ensure(targets, maxWaitMs)
  }

  /**
   * A job of ours is on its way to (`sending`), or at (`queued` by default, `running`), the
   * server since `since` (default now). Counted there until noteGone.
   */
  noteSent(serverId: string, promptId: string, state?: OurJobState, since?: number): void {
    if (!this.entry(serverId)) return
    this.ours.noteSent(serverId, promptId, since ?? this.clock.now(), state)
    if (state === 'sending') this.lastPickId = serverId
    this.publish(false)
  }

  /** A job of ours left the server (finished, moved or cancelled). */
  noteGone(serverId: string, promptId: string): void {
    if (!this.entry(serverId)) return
    this.ours.noteGone(serverId, promptId, this.clock.now())
    this.publish(false)
  }

  /** Our jobs being sent to, or queued on, the server (hold-back counts these). */
  ourWaiting(serverId: string): number {
    return this.ours.waiting(serverId)
  }

  /** A job finished on the server after running `runMs` (learns the server's speed). */
  noteRun(serverId: string, runMs: number, kind?: string): void {
    this.entry(serverId)?.est.recordRun(runMs, kind)
  }

  /** Expected run time of a job (of `kind`) on the server, with a prior when unknown. */
  estimateJobMs(serverId: string, kind?: string): number {
    return this.estimator(kind)(serverId)
  }

  /** Estimates for one placement: the fleet-wide prior worked out once, not per server. */
  private estimator(kind?: string): (serverId: string) => number {
    let prior: number | undefined
    return (id) => {
      const own = this.entry(id)?.est.jobMsFor(kind) ?? null
      if (own !== null) return own
      prior ??= priorJobMs(this.entries.map((x) => x.est.jobMsFor(kind) ?? x.est.jobMs))
      return prior
    }
  }

  /** Starts the loop: a round now, then one every interval after the previous ends. */
  start(): void {
    if (this.running) return
    this.running = true
    for (const e of this.entries) this.openSocket(e)
    void this.checkNow()
  }

  /** Stops the loop and waits for a round in progress; closes connections. Safe to call twice. */
  async stop(): Promise<void> {
    this.running = false
    this.stops++
    this.loop.clear()
    this.publishGate.cancel()
    this.waits.wakeAll()
    await this.loop.settled()
    this.feed?.closeAll()
    for (const e of this.entries) e.client.close()
  }

  setPaused(paused: boolean): void {
    if (this.paused === paused) return
    this.paused = paused
    if (paused) this.loop.clear()
    else if (this.running && !this.loop.busy) void this.checkNow()
    this.publish(false)
  }

  get isPaused(): boolean {
    return this.paused
  }

  setIntervalMs(ms: number): void {
    this.intervalMs = ms
    if (this.running && this.loop.scheduled) this.loop.schedule()
  }

  setTimeoutMs(ms: number): void {
    this.timeoutMs = ms
    for (const e of this.entries) e.client.setTimeout(ms)
  }

  setPolicy(policy: Policy): void {
    this.policy = policy
    this.publish(false)
  }

  /**
   * Replaces the server list. Servers whose id and URL and headers are unchanged keep their
   * state and connection; removed ones are closed.
   */
  setServers(servers: ServerConfig[]): void {
    const old = new Map(this.entries.map((e) => [e.config.id, e]))
    const next: Entry[] = []
    for (const c of servers) {
      const prev = old.get(c.id)
      if (
        prev &&
        prev.config.url === c.url &&
        JSON.stringify(prev.config.headers ?? {}) === JSON.stringify(c.headers ?? {})
      ) {
        old.delete(c.id)
        prev.config = c
        prev.status = reconfigured(prev.status, c)
        next.push(prev)
      } else {
        next.push(this.makeEntry(c))
      }
    }
    // Removed, or at another address now: what was known of them goes.
    for (const e of old.values()) {
      e.client.close()
      this.feed?.forget(e.config.id)
      this.caps.forget(e.config.id)
      this.ours.forget(e.config.id)
    }
    this.setEntries(next)
    for (const e of next) {
      if (!e.config.enabled) this.feed?.close(e.config.id)
      else this.openSocket(e)
    }
    this.publish(false)
  }

  /** The HTTP client of one server (shares its keep-alive connection), or undefined. */
  clientFor(serverId: string): ComfyClient | undefined {
    return this.entry(serverId)?.client
  }

  /** The configuration of one server, or undefined. */
  configFor(serverId: string): ServerConfig | undefined {
    return this.entry(serverId)?.config
  }

  /**
   * The policy's choice among healthy servers, leaving out `exclude` (servers that already
   * failed this job). Pure over the cached state; never starts a check.
   */
  choose(exclude: ReadonlySet<string> = new Set(), job?: PolicyJob): Choice {
    return choosePolicy(this.views(), job, exclude, this.placeOptions(job, this.rng))
  }

  /**
   * Where the next try of a job goes: the policy plus hold-back, over the cached state (the
   * function the shown best server comes from, too).
   */
  place(exclude: ReadonlySet<string> = new Set(), job?: PolicyJob): Placement {
    return place(this.views(), job, (id) => this.ours.waiting(id), {
      ...this.placeOptions(job, this.rng),
      exclude
    })
  }

  private placeOptions(job: PolicyJob | undefined, rng: () => number) {
    return {
      policy: this.policy,
      holdBack: this.holdBack,
      previousId: this.lastPickId,
      estimateJobMs: this.estimator(job?.kind),
      rng
    }
  }

  /** Each server's queue length over the last 30 minutes: id -> [epoch ms, total][]. */
  queueHistory(): Record<string, Array<[number, number]>> {
    const out: Record<string, Array<[number, number]>> = {}
    for (const e of this.entries) out[e.config.id] = e.history.get()
    return out
  }

  private sample(e: Entry): void {
    const total = e.status.healthy ? e.status.queue.total : 0
    // A point per change, and one per round at most otherwise.
    e.history.sample(this.clock.now(), total, this.intervalMs / 2)
  }

  /** The cached fleet status. Never starts a check. */
  status(): FleetStatus {
    return this.cached
  }

  /** Where the next job goes and why, as of the last publish. Never starts a check. */
  best(): Placement {
    return this.lastChoice
  }

  /**
   * Runs a round now, or joins the one in progress (rounds never overlap). Resolves with the
   * fleet status after the round.
   */
  checkNow(): Promise<FleetStatus> {
    return this.loop.start(true)
  }

  /** The interval, shorter while a server has work and no live socket (see nextDelayMs). */
  private nextDelay(): number {
    const busy = (e: Entry) => e.config.enabled && e.status.healthy && e.status.queue.total > 0
    const blind = (e: Entry) => !this.feed?.isOpen(e.config.id)
    return nextDelayMs(
      this.intervalMs,
      this.entries.some((e) => busy(e) && blind(e))
    )
  }

  private async runRound(full: boolean): Promise<FleetStatus> {
    const enabled = this.entries.filter((e) => e.config.enabled)
    const now = this.clock.now()
    const plan = planRound(enabled, (e) => skipFacts(e, this.feed, this.ours, now), {
      round: this.rounds,
      intervalMs: this.intervalMs,
      full
    })
    const stops = this.stops
    await Promise.all(
      [...bySlot(plan)].map(async ([atMs, group]) => {
        if (atMs > 0) await this.waits.wait(atMs)
        if (atMs > 0 && !this.running) return
        await this.waits.each(group, STARTS_AT_ONCE, START_HOLD_MS, async (e) => {
          if (this.stops !== stops) return // stopped while this read waited for its turn
          // Spread reads publish what changed as they go (coalesced), not only at the end.
          if ((await this.checkEntry(e)) && atMs > 0) this.publishGate.soon()
        })
      })
    )
    this.rounds++
    this.lastHealthCheck = this.clock.now()
    // A live feed that was turned off for a while is tried again once that while is over.
    if (this.running && this.feed?.anyBlocked) {
      this.feed.retryBlocked(
        this.entries.filter((e) => e.config.enabled).map((e) => target(e.config))
      )
    }
    return this.publish(true)
  }

  /** Checks one server now, outside the rounds (its socket closed), and publishes. */
  private async checkServer(e: Entry): Promise<void> {
    await this.checkEntry(e)
    if (this.running && this.entries.includes(e)) this.publish(false)
  }

  /** The server's check (true: its state changed); one under way is joined, never doubled. */
  private checkEntry(e: Entry): Promise<boolean> {
    e.checking ??= this.checkOne(e).finally(() => (e.checking = null))
    return e.checking
  }

  private async checkOne(e: Entry): Promise<boolean> {
    const prev = e.status
    const next = await readServer(e, {
      clock: this.clock,
      timeoutMs: this.timeoutMs,
      intervalMs: this.intervalMs,
      rise: this.rise,
      fall: this.fall,
      caps: this.caps,
      ours: this.ours,
      feed: this.feed,
      still: () => this.byId.get(e.config.id) === e && this.running
    })
    // The entry may have been replaced by setServers while we waited.
    if (this.byId.get(e.config.id) !== e || !e.config.enabled) return false
    e.status = next
    // A read that finds it idle or down: no job of its runs now.
    if (!next.healthy || next.queue.total === 0) e.runningSince = null
    this.sample(e)
    return (
      next.healthy !== prev.healthy ||
      next.down !== prev.down ||
      next.queue.total !== prev.queue.total
    )
  }

  /**
   * The servers' states with what the estimators add (own jobs, speed, expected wait). A
   * server with no job known to be running keeps its view while none of what it is made of
   * changed (a large idle fleet is not copied server by server at every publish); views are
   * frozen, so one handed out cannot be changed under another reader.
   */
  private views(): MonitoredServerStatus[] {
    const prior = priorJobMs(this.entries.map((e) => e.est.jobMs))
    const now = this.clock.now()
    return this.entries.map((e) => {
      const own = this.ours.unreported(e.config.id)
      const jobMs = e.est.jobMs
      if (e.runningSince !== null) {
        return Object.freeze(withEstimates(e.status, jobMs, own, prior, now - e.runningSince))
      }
      const c = this.viewOf.get(e)
      if (c && c.status === e.status && c.jobMs === jobMs && c.own === own && c.prior === prior) {
        return c.view
      }
      const view = Object.freeze(withEstimates(e.status, jobMs, own, prior, null))
      this.viewOf.set(e, { status: e.status, jobMs, own, prior, view })
      return view
    })
  }

  private publish(afterRound: boolean): FleetStatus {
    this.publishGate.ran()
    const servers = this.views()
    // Where the next job goes: the same placement over the same state. Among near-equal
    // servers (the policy draws one at random) the first in the list stands for them all.
    // A fleet whose views are all the ones of the last publish (idle servers keep theirs, see
    // views), with the same policy, last pick and jobs of ours, gets the same placement.
    const from = {
      servers,
      policy: this.policy,
      previousId: this.lastPickId,
      ours: this.ours.version
    }
    if (!sameSources(this.choiceFrom, from)) {
      const o = this.placeOptions(undefined, () => 0)
      this.lastChoice = place(servers, undefined, (id) => this.ours.waiting(id), o)
      this.choiceFrom = from
    }
    this.cached = this.buildStatus(servers)
    if (afterRound) this.events.emit('round', this.cached)
    this.events.emit('status', this.cached)
    return this.cached
  }

  private buildStatus(servers: ServerStatus[] = this.views()): FleetStatus {
    return fleetStatus(servers, this.lastChoice, this.lastHealthCheck, this.paused)
  }
}

/** What a placement of the next job is worked out from, besides fixed options. */
interface PlacementSources {
  servers: readonly MonitoredServerStatus[]
  policy: Policy
  previousId: string | null
  /** `OurJobs.version` */
  ours: number
}

/** Whether a placement worked out from `a` holds for `b`: the same view objects and inputs. */
function sameSources(a: PlacementSources | null, b: PlacementSources): boolean {
  if (!a || a.policy !== b.policy || a.previousId !== b.previousId || a.ours !== b.ours) {
    return false
  }
  if (a.servers.length !== b.servers.length) return false
  for (let i = 0; i < a.servers.length; i++) if (a.servers[i] !== b.servers[i]) return false
  return true
}
