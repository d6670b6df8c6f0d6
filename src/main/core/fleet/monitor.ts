/**
 * The check loop: asks every enabled server concurrently, keeps each server's state, and
 * caches the fleet status and the best server between rounds. A round never overlaps the
 * previous one, and nobody waits for a check just to learn the best server.
 */
import type {
  FleetStatus,
  LogLevel,
  ServerConfig,
  ServerStatus,
  SystemInfo
} from '../../../shared/types'
import { ComfyClient } from '../comfy/client'
import { ComfyRequestError, classifyError } from '../comfy/errors'
import type { HttpTransport } from '../comfy/transport'
import { systemClock, type Clock } from '../clock'
import { Emitter } from '../events'
import { redactUrl, redactUrlsInText } from '../../../shared/urls'
import { ComfySocket, type ComfyEvent, type SocketLimits } from '../comfy/socket'
import { expectedWaitMs, priorJobMs, ServerEstimator } from './estimator'
import { leastQueuePolicy, type Choice, type Policy, type PolicyJob } from './policy'

/** How many rounds a server's system stats are reused before they are asked again. */
export const SYSTEM_STATS_EVERY_ROUNDS = 5

export interface FleetMonitorOptions {
  servers: ServerConfig[]
  /** ms between the end of one round and the start of the next. */
  intervalMs: number
  /** ms per request; a round costs at most about this much per server, in parallel. */
  timeoutMs: number
  policy?: Policy
  clock?: Clock
  /** Builds the transport for one server (default: axios with a keep-alive agent). */
  transportFactory?: (server: ServerConfig) => HttpTransport | undefined
  /** Failed checks in a row before a server is declared down. @default 2 */
  fall?: number
  /** Good checks in a row before a server that was down is chosen again. @default 2 */
  rise?: number
  /**
   * Keep one WebSocket per server open while running (with this clientId), for queue changes
   * within milliseconds and for the job engine's events. Off: polling only.
   */
  live?: { clientId: string } | null
  /** Randomness for the policy (tests pass a seeded one). @default Math.random */
  rng?: () => number
  /** Bounds on the work one server's socket may cause (see SocketLimits). */
  liveLimits?: Partial<SocketLimits>
  /** How long a server's live feed stays off after it flooded us. @default 5 min */
  liveBlockMs?: number
  /** Least gap between two fleet statuses published for live queue changes. @default 50 */
  publishGapMs?: number
}

/**
 * A server's state as the monitor publishes it. `queueAt` is the epoch ms at which `queue` was
 * last read from the server (a check or the live feed), or null before the first answer. On a
 * server that is not healthy, `queue` is the last one known, not the current one.
 */
export type MonitoredServerStatus = ServerStatus & { queueAt: number | null }

/** The queue counts a face may show as current: null for a server that is not healthy. */
export function currentQueue(s: ServerStatus): ServerStatus['queue'] | null {
  return s.enabled && s.healthy ? s.queue : null
}

/** How long a flooding server's live feed stays off. */
export const LIVE_BLOCK_MS = 5 * 60_000
/** Least gap between two fleet statuses published for live queue changes. */
export const PUBLISH_GAP_MS = 50

/** A server's socket event, for the job engine. */
export interface ServerEvent {
  serverId: string
  event: ComfyEvent
}

export interface FleetEvents {
  /** After every round, with the new cached status. */
  round: FleetStatus
  /** Whenever the cached status changes (after a round, a config change, pause/resume). */
  status: FleetStatus
  /** A message on a server's WebSocket. */
  comfy: ServerEvent
  /** A server's WebSocket closed (the server may have died). */
  'socket-closed': { serverId: string }
  /** A line for the log (e.g. a server's live feed turned off, and why). */
  log: { level: LogLevel; message: string }
}

interface Entry {
  config: ServerConfig
  client: ComfyClient
  status: MonitoredServerStatus
  /** Rounds since system stats were last read. */
  statsAge: number
  est: ServerEstimator
  socket: ComfySocket | null
  /** Node classes and model files the server has; null until read. */
  caps: { classes: Set<string>; models: Map<string, Set<string>> } | null
  capsLoading: boolean
  capsPromise: Promise<void> | null
  /** system_stats argv + pytorch version seen last: a change means the server restarted. */
  bootKey: string | null
  /** Rounds since the full /queue was read (the cheap count serves in between). */
  roundsSinceFull: number
  /** [epoch ms, queue total] over the last QUEUE_HISTORY_MS, oldest first. */
  samples: Array<[number, number]>
  /** Epoch ms until which no socket is opened (the server flooded the last one). */
  liveBlockedUntil: number
}

/** How far back each server's queue length is kept (for the window's chart). */
export const QUEUE_HISTORY_MS = 30 * 60_000
const QUEUE_HISTORY_MAX_POINTS = 2_000

/** Pause between closing a silent socket and opening a new one. */
const REDIAL_DELAY_MS = 1_000
/** Every this many rounds the full /queue is read; the cheap count serves in between. */
export const FULL_QUEUE_EVERY_ROUNDS = 5
/** While a server has work and no live socket, check this much more often (not below 1 s). */
const BUSY_SPEEDUP = 3
const BUSY_MIN_INTERVAL_MS = 1_000

/** Model folders checked for capability matching. */
const CAPS_MODEL_FOLDERS = [
  'checkpoints',
  'loras',
  'vae',
  'diffusion_models',
  'text_encoders',
  'controlnet',
  'upscale_models',
  'clip_vision'
]
/** object_info can be several MB on servers with many custom nodes. */
const CAPS_TIMEOUT_MS = 30_000

function initialStatus(c: ServerConfig): MonitoredServerStatus {
  return {
    id: c.id,
    name: c.name,
    // Shown everywhere (window, tray, CLI, log): never with the password of the address.
    url: redactUrl(c.url),
    enabled: c.enabled,
    healthy: false,
    queue: { running: 0, pending: 0, total: 0 },
    queueAt: null,
    latencyMs: null,
    system: null,
    error: c.enabled ? null : 'Disabled',
    errorKind: c.enabled ? null : 'disabled',
    lastCheck: null,
    consecutiveFailures: 0,
    legacyRoutes: false,
    checks: 0,
    successes: 0,
    consecutiveSuccesses: 0,
    down: false,
    recovering: false,
    ownInFlight: 0,
    jobMs: null,
    etaMs: null
  }
}

export class FleetMonitor {
  readonly events = new Emitter<FleetEvents>()
  private entries: Entry[] = []
  private intervalMs: number
  private timeoutMs: number
  private policy: Policy
  private readonly clock: Clock
  private readonly transportFactory?: (server: ServerConfig) => HttpTransport | undefined
  /** The round in progress; set at its start, cleared at its end. */
  private inflight: Promise<FleetStatus> | null = null
  /** Next scheduled round; set after each round while running, cleared by stop/pause. */
  private timer: unknown = null
  private running = false
  private paused = false
  private lastHealthCheck: number | null = null
  private cached: FleetStatus
  private lastChoice: Choice = { server: null, reason: 'No server has been checked yet' }
  private readonly fall: number
  private readonly rise: number
  private readonly live: { clientId: string } | null
  private readonly rng: () => number
  /** The last server handed out by `choose` (round-robin continues after it). */
  private lastPickId: string | null = null
  /** Rounds completed since start. */
  rounds = 0
  private readonly liveLimits: Partial<SocketLimits> | undefined
  private readonly liveBlockMs: number
  private readonly publishGapMs: number
  private lastPublishAt = -Infinity
  /** A publish for live changes, due when the gap since the last one is over. */
  private publishTimer: unknown = null

  constructor(opts: FleetMonitorOptions) {
    this.intervalMs = opts.intervalMs
    this.timeoutMs = opts.timeoutMs
    this.policy = opts.policy ?? leastQueuePolicy
    this.clock = opts.clock ?? systemClock
    this.transportFactory = opts.transportFactory
    this.fall = Math.max(1, opts.fall ?? 2)
    this.rise = Math.max(1, opts.rise ?? 2)
    this.live = opts.live ?? null
    this.rng = opts.rng ?? Math.random
    this.liveLimits = opts.liveLimits
    this.liveBlockMs = opts.liveBlockMs ?? LIVE_BLOCK_MS
    this.publishGapMs = opts.publishGapMs ?? PUBLISH_GAP_MS
    this.entries = opts.servers.map((c) => this.makeEntry(c))
    this.cached = this.buildStatus()
  }

  private makeEntry(config: ServerConfig): Entry {
    return {
      config,
      client: new ComfyClient({
        server: config,
        timeoutMs: this.timeoutMs,
        transport: this.transportFactory?.(config)
      }),
      status: initialStatus(config),
      statsAge: SYSTEM_STATS_EVERY_ROUNDS,
      est: new ServerEstimator(),
      socket: null,
      caps: null,
      capsLoading: false,
      capsPromise: null,
      bootKey: null,
      roundsSinceFull: FULL_QUEUE_EVERY_ROUNDS,
      samples: [],
      liveBlockedUntil: 0
    }
  }

  /** Opens the server's socket if live updates are on and the loop runs. */
  private openSocket(e: Entry): void {
    if (!this.live || !this.running || e.socket || !e.config.enabled) return
    if (this.clock.now() < e.liveBlockedUntil) return
    const sock = new ComfySocket(e.config.url, this.live.clientId, {
      headers: e.config.headers,
      clock: this.clock,
      handshakeTimeoutMs: this.timeoutMs,
      limits: this.liveLimits
    })
    const serverId = e.config.id
    sock.events.on('event', (event) => {
      if (event.type === 'status') this.onLiveStatus(e, event)
      this.events.emit('comfy', { serverId, event })
    })
    let opened = 0
    sock.events.on('open', () => {
      // Reconnected: the server may have restarted with other nodes or models.
      if (opened++ > 0) e.caps = null
    })
    sock.events.on('close', () => {
      this.events.emit('socket-closed', { serverId })
      // A socket that closes is often a server that died: check now rather than at the next
      // interval, so nothing more is sent there (joins a round already under way).
      if (this.running && !this.paused) void this.checkNow()
    })
    sock.events.on('flood', ({ reason }) => {
      // The socket closed itself for good: rely on the HTTP checks for a while.
      if (e.socket !== sock) return
      e.socket = null
      e.liveBlockedUntil = this.clock.now() + this.liveBlockMs
      const ms = this.liveBlockMs
      const off =
        ms < 60_000 ? `${Math.max(1, Math.round(ms / 1000))} s` : `${Math.round(ms / 60_000)} min`
      this.events.emit('log', {
        level: 'warn',
        message: `[LoadBalancer] ${e.config.name}: live updates off for ${off}, ${reason}; checking it at each interval instead`
      })
      this.events.emit('socket-closed', { serverId })
    })
    e.socket = sock
    sock.connect()
  }

  private closeSocket(e: Entry): void {
    e.socket?.close()
    e.socket = null
  }

  /** A `status` event: the queue length changed (queue_remaining = running + pending). */
  private onLiveStatus(e: Entry, ev: ComfyEvent): void {
    const st = ev.data.status as { exec_info?: { queue_remaining?: unknown } } | undefined
    const n = st?.exec_info?.queue_remaining
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || !this.entries.includes(e)) return
    if (!e.status.healthy) return // the HTTP checks decide about health
    const running = Math.min(1, n)
    const now = this.clock.now()
    e.est.noteReport(now)
    e.status = { ...e.status, queue: { running, pending: n - running, total: n }, queueAt: now }
    this.sample(e)
    this.publishSoon()
  }

  /**
   * Publishes at once when the last publish is at least `publishGapMs` old, else once when
   * the gap is over (with the latest state of every server).
   */
  private publishSoon(): void {
    if (this.publishTimer !== null) return
    const wait = this.lastPublishAt + this.publishGapMs - this.clock.now()
    if (wait <= 0) {
      this.publish(false)
      return
    }
    this.publishTimer = this.clock.setTimeout(() => {
      this.publishTimer = null
      this.publish(false)
    }, wait)
  }

  private clearPublishTimer(): void {
    if (this.publishTimer !== null) {
      this.clock.clearTimeout(this.publishTimer)
      this.publishTimer = null
    }
  }

  /**
   * Resolves once the server's socket is open, or after `maxWaitMs`: ComfyUI buffers no
   * events, so the job engine waits for it before sending a prompt.
   */
  whenSocketOpen(serverId: string, maxWaitMs: number): Promise<void> {
    const e = this.entries.find((x) => x.config.id === serverId)
    if (!e) return Promise.resolve()
    this.openSocket(e)
    const sock = e.socket
    if (!sock || sock.open) return Promise.resolve()
    return new Promise<void>((resolve) => {
      let settled = false
      const done = () => {
        if (settled) return
        settled = true
        off()
        this.clock.clearTimeout(timer)
        resolve()
      }
      const off1 = sock.events.on('open', done)
      // Stop waiting as soon as the server is found down (its socket will not open).
      const off2 = this.events.on('status', (st) => {
        if (st.servers.find((x) => x.id === serverId)?.healthy === false) done()
      })
      const off = () => {
        off1()
        off2()
      }
      const timer = this.clock.setTimeout(done, maxWaitMs)
    })
  }

  /**
   * Which servers cannot run this workflow, and why: node classes missing from their
   * object_info, or model files missing from their model folders. Only servers whose
   * capabilities are known are judged; the others are given the benefit of the doubt (a 400
   * from them rules them out for the job).
   */
  unableToRun(
    needs: { classes: string[]; models: Array<{ folder: string; name: string }> } | null
  ): Map<string, string> {
    const out = new Map<string, string>()
    if (!needs) return out
    const summary = needs
    for (const e of this.entries) {
      const caps = e.caps
      if (!caps) continue
      const missingNodes = summary.classes.filter((c) => !caps.classes.has(c))
      const missingModels = summary.models.filter((m) => {
        const list = caps.models.get(m.folder)
        return list !== undefined && !list.has(m.name)
      })
      const why: string[] = []
      if (missingNodes.length)
        why.push(`missing node${missingNodes.length > 1 ? 's' : ''} ${missingNodes.join(', ')}`)
      if (missingModels.length)
        why.push(
          `missing model${missingModels.length > 1 ? 's' : ''} ${missingModels.map((m) => m.name).join(', ')}`
        )
      if (why.length) out.set(e.config.id, why.join('; '))
    }
    return out
  }

  capabilitiesKnown(serverId: string): boolean {
    return Boolean(this.entries.find((x) => x.config.id === serverId)?.caps)
  }

  /**
   * Reads, for healthy servers that have not told us yet, what they can run, waiting at most
   * `maxWaitMs`. Done on demand (before placing a job), not on every check: object_info is
   * large, and a fleet that only gets watched never needs it.
   */
  async ensureCapabilities(maxWaitMs: number): Promise<void> {
    const loads = this.entries
      .filter((e) => e.config.enabled && e.status.healthy && !e.caps)
      .map((e) => e.capsPromise ?? this.refreshCaps(e))
    if (!loads.length) return
    let timer: unknown = null
    await Promise.race([
      Promise.all(loads),
      new Promise<void>((r) => (timer = this.clock.setTimeout(r, maxWaitMs)))
    ])
    if (timer !== null) this.clock.clearTimeout(timer)
  }

  /** Reads (once, and again after a restart) what the server can run. */
  private refreshCaps(e: Entry): Promise<void> {
    if (e.capsPromise) return e.capsPromise
    e.capsPromise = this.loadCaps(e).finally(() => {
      e.capsPromise = null
    })
    return e.capsPromise
  }

  private async loadCaps(e: Entry): Promise<void> {
    if (e.capsLoading) return
    e.capsLoading = true
    try {
      const info = await e.client.getJson('/object_info', Math.max(this.timeoutMs, CAPS_TIMEOUT_MS))
      if (!info.value || typeof info.value !== 'object' || Array.isArray(info.value)) return
      const classes = new Set(Object.keys(info.value as object))
      const models = new Map<string, Set<string>>()
      for (const folder of CAPS_MODEL_FOLDERS) {
        try {
          const r = await e.client.getJson(`/models/${folder}`)
          if (Array.isArray(r.value))
            models.set(folder, new Set(r.value.filter((x): x is string => typeof x === 'string')))
        } catch {
          // Unknown folder (404) or an old server without /models: not judged.
        }
      }
      e.caps = { classes, models }
    } catch {
      // Leave it unknown; retried after the next restart or round without caps.
    } finally {
      e.capsLoading = false
    }
  }

  /** A job this app sent was accepted by the server (own accounting). */
  noteSent(serverId: string, promptId: string): void {
    const e = this.entries.find((x) => x.config.id === serverId)
    if (!e) return
    e.est.noteSent(promptId, this.clock.now())
    this.publish(false)
  }

  /** A job of ours left the server (finished, moved or cancelled). */
  noteGone(serverId: string, promptId: string): void {
    const e = this.entries.find((x) => x.config.id === serverId)
    if (!e) return
    e.est.noteGone(promptId)
    this.publish(false)
  }

  /** A job finished on the server after running `runMs` (learns the server's speed). */
  noteRun(serverId: string, runMs: number, kind?: string): void {
    this.entries.find((x) => x.config.id === serverId)?.est.recordRun(runMs, kind)
  }

  /** Expected run time of a job (of `kind`) on the server, with a prior when unknown. */
  estimateJobMs(serverId: string, kind?: string): number {
    const e = this.entries.find((x) => x.config.id === serverId)
    const own = e?.est.jobMsFor(kind) ?? null
    if (own !== null) return own
    return priorJobMs(this.entries.map((x) => x.est.jobMsFor(kind) ?? x.est.jobMs))
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
    this.clearTimer()
    this.clearPublishTimer()
    if (this.inflight) await this.inflight.catch(() => undefined)
    for (const e of this.entries) {
      this.closeSocket(e)
      e.client.close()
    }
  }

  setPaused(paused: boolean): void {
    if (this.paused === paused) return
    this.paused = paused
    if (paused) this.clearTimer()
    else if (this.running && !this.inflight) void this.checkNow()
    this.publish(false)
  }

  get isPaused(): boolean {
    return this.paused
  }

  setIntervalMs(ms: number): void {
    this.intervalMs = ms
    if (this.running && this.timer !== null) {
      this.clearTimer()
      this.schedule()
    }
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
        prev.status = {
          ...prev.status,
          name: c.name,
          enabled: c.enabled,
          ...(c.enabled
            ? prev.status.errorKind === 'disabled'
              ? { error: null, errorKind: null, healthy: false }
              : {}
            : { healthy: false, error: 'Disabled', errorKind: 'disabled' as const })
        }
        next.push(prev)
      } else {
        next.push(this.makeEntry(c))
      }
    }
    for (const e of old.values()) {
      this.closeSocket(e)
      e.client.close()
    }
    this.entries = next
    for (const e of next) {
      if (!e.config.enabled) this.closeSocket(e)
      else this.openSocket(e)
    }
    this.publish(false)
  }

  /** The HTTP client of one server (shares its keep-alive connection), or undefined. */
  clientFor(serverId: string): ComfyClient | undefined {
    return this.entries.find((e) => e.config.id === serverId)?.client
  }

  /** The configuration of one server, or undefined. */
  configFor(serverId: string): ServerConfig | undefined {
    return this.entries.find((e) => e.config.id === serverId)?.config
  }

  /**
   * The policy's choice among healthy servers, leaving out `exclude` (servers that already
   * failed this job). Pure over the cached state; never starts a check.
   */
  choose(exclude: ReadonlySet<string> = new Set(), job?: PolicyJob): Choice {
    const servers = this.views().filter((s) => !exclude.has(s.id))
    const c = this.policy(servers, {
      previousId: this.lastPickId ?? this.lastChoice.server?.id ?? null,
      job,
      estimateJobMs: (id) => this.estimateJobMs(id, job?.kind),
      rng: this.rng
    })
    if (c.server) this.lastPickId = c.server.id
    if (!c.server && exclude.size && servers.length) {
      return { server: null, reason: `${c.reason}; ${exclude.size} server(s) already tried` }
    }
    if (!c.server && !servers.length && exclude.size) {
      return { server: null, reason: `every server was tried (${exclude.size})` }
    }
    return c
  }

  /** Each server's queue length over the last 30 minutes: id -> [epoch ms, total][]. */
  queueHistory(): Record<string, Array<[number, number]>> {
    const out: Record<string, Array<[number, number]>> = {}
    for (const e of this.entries) out[e.config.id] = e.samples.slice()
    return out
  }

  private sample(e: Entry): void {
    const now = this.clock.now()
    const total = e.status.healthy ? e.status.queue.total : 0
    const last = e.samples.at(-1)
    // A point per change, and one per round at most otherwise.
    if (last && last[1] === total && now - last[0] < this.intervalMs / 2) return
    e.samples.push([now, total])
    const cutoff = now - QUEUE_HISTORY_MS
    let drop = 0
    while (drop < e.samples.length && e.samples[drop]![0] < cutoff) drop++
    if (e.samples.length - drop > QUEUE_HISTORY_MAX_POINTS)
      drop = e.samples.length - QUEUE_HISTORY_MAX_POINTS
    if (drop) e.samples.splice(0, drop)
  }

  /** The cached fleet status. Never starts a check. */
  status(): FleetStatus {
    return this.cached
  }

  /** The cached best server and why. Never starts a check. */
  best(): Choice {
    return this.lastChoice
  }

  /**
   * Runs a round now, or joins the one in progress (rounds never overlap). Resolves with the
   * fleet status after the round.
   */
  checkNow(): Promise<FleetStatus> {
    if (this.inflight) return this.inflight
    this.clearTimer()
    const round = this.runRound().finally(() => {
      this.inflight = null
      if (this.running && !this.paused) this.schedule()
    })
    this.inflight = round
    return round
  }

  private schedule(): void {
    this.clearTimer()
    this.timer = this.clock.setTimeout(() => {
      this.timer = null
      if (this.running && !this.paused) void this.checkNow()
    }, this.nextDelay())
  }

  /**
   * The configured interval, shortened while some server has work and no live socket to tell
   * us when it changes (the queue then moves between checks).
   */
  private nextDelay(): number {
    const blindAndBusy = this.entries.some(
      (e) => e.config.enabled && e.status.healthy && e.status.queue.total > 0 && !e.socket?.open
    )
    if (!blindAndBusy || this.intervalMs <= BUSY_MIN_INTERVAL_MS) return this.intervalMs
    return Math.max(BUSY_MIN_INTERVAL_MS, Math.round(this.intervalMs / BUSY_SPEEDUP))
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      this.clock.clearTimeout(this.timer)
      this.timer = null
    }
  }

  private async runRound(): Promise<FleetStatus> {
    const entries = this.entries
    await Promise.all(entries.filter((e) => e.config.enabled).map((e) => this.checkOne(e)))
    this.rounds++
    this.lastHealthCheck = this.clock.now()
    // A live feed that was turned off for a while is tried again once that while is over.
    const now = this.clock.now()
    for (const e of this.entries) {
      if (e.socket || !e.liveBlockedUntil || now < e.liveBlockedUntil) continue
      e.liveBlockedUntil = 0
      this.openSocket(e)
    }
    const status = this.publish(true)
    return status
  }

  private async checkOne(e: Entry): Promise<void> {
    const started = this.clock.now()
    const deadline = this.timeoutMs
    const prev = e.status
    let next: MonitoredServerStatus
    try {
      // The full /queue carries every queued workflow and grows large; between full reads the
      // cheap count from GET /prompt (queue_remaining = running + pending) serves.
      e.roundsSinceFull++
      const full = !prev.healthy || e.roundsSinceFull >= FULL_QUEUE_EVERY_ROUNDS
      let q: { value: ServerStatus['queue']; latencyMs: number }
      if (full) {
        q = await e.client.getQueue(deadline)
        e.roundsSinceFull = 0
      } else {
        const c = await e.client.getQueueCount(deadline)
        const running = Math.min(1, c.value)
        q = {
          value: { running, pending: c.value - running, total: c.value },
          latencyMs: c.latencyMs
        }
      }
      e.est.noteReport(started)
      // A socket that says nothing while the queue moves has gone stale: dial it again.
      const sock = e.socket
      if (
        sock?.open &&
        q.value.total !== prev.queue.total &&
        (sock.lastMessageAt ?? 0) < started - 2 * this.intervalMs
      ) {
        this.closeSocket(e)
        // ComfyUI drops a clientId when any socket with it closes, even after a newer one
        // registered: let the server see the close before dialling again.
        this.clock.setTimeout(() => {
          if (this.entries.includes(e)) this.openSocket(e)
        }, REDIAL_DELAY_MS)
      }
      let system: SystemInfo | null = prev.system
      e.statsAge++
      // Asked again every few rounds, not every round: a server (or proxy) whose system_stats
      // is broken must not cost an extra request per check.
      if (e.statsAge >= SYSTEM_STATS_EVERY_ROUNDS || !prev.healthy) {
        // Same connection, after the queue; bounded by what is left of this server's deadline.
        const left = deadline - (this.clock.now() - started)
        if (left > 1) {
          try {
            system = (await e.client.getSystemStats(left)).value
            e.statsAge = 0
            // ComfyUI has no boot id; a change of RAM total, PyTorch or version hints at a restart.
            const key = `${system.ramTotal}|${system.pytorchVersion}|${system.comfyuiVersion}`
            if (e.bootKey !== null && e.bootKey !== key) e.caps = null
            e.bootKey = key
          } catch {
            // System stats are informative only; the queue decides health.
            e.statsAge = 0
          }
        }
      }
      next = {
        ...prev,
        healthy: true,
        queue: q.value,
        queueAt: this.clock.now(),
        latencyMs: Math.round(q.latencyMs * 10) / 10,
        system,
        error: null,
        errorKind: null,
        lastCheck: this.clock.now(),
        consecutiveFailures: 0,
        legacyRoutes: e.client.legacyRoutes,
        checks: prev.checks + 1,
        successes: prev.successes + 1,
        consecutiveSuccesses: prev.consecutiveSuccesses + 1,
        // Up again only after `rise` good checks in a row.
        down: prev.down && prev.consecutiveSuccesses + 1 < this.rise
      }
    } catch (err) {
      const ce = err instanceof ComfyRequestError ? err : classifyError(err, deadline)
      next = {
        ...prev,
        healthy: false,
        // The last queue known stays, with the time it was read (`queueAt`): it is not current.
        error: errorText(ce.message),
        errorKind: ce.kind,
        lastCheck: this.clock.now(),
        consecutiveFailures: prev.consecutiveFailures + 1,
        checks: prev.checks + 1,
        consecutiveSuccesses: 0,
        // Down only after `fall` failed checks in a row (a server never seen up is down at once
        // when it keeps failing from the start).
        down: prev.down || prev.consecutiveFailures + 1 >= this.fall
      }
    }
    // The entry may have been replaced by setServers while we waited.
    if (this.entries.includes(e) && e.config.enabled) {
      e.status = next
      this.sample(e)
    }
  }

  /** The servers' states with what the estimators add (own jobs, speed, expected wait). */
  private views(): MonitoredServerStatus[] {
    const prior = priorJobMs(this.entries.map((e) => e.est.jobMs))
    return this.entries.map((e) => {
      const own = e.est.ownInFlight
      const jobMs = e.est.jobMs
      const healthy = e.status.healthy
      return {
        ...e.status,
        recovering: healthy && e.status.down,
        ownInFlight: own,
        jobMs,
        etaMs: healthy ? expectedWaitMs(e.status.queue, own, jobMs ?? prior) : null
      }
    })
  }

  private publish(afterRound: boolean): FleetStatus {
    this.clearPublishTimer()
    this.lastPublishAt = this.clock.now()
    const servers = this.views()
    this.lastChoice = this.policy(servers, {
      previousId: this.lastChoice.server?.id ?? null,
      estimateJobMs: (id) => this.estimateJobMs(id),
      rng: () => 0
    })
    this.cached = this.buildStatus(servers)
    if (afterRound) this.events.emit('round', this.cached)
    this.events.emit('status', this.cached)
    return this.cached
  }

  private buildStatus(servers: ServerStatus[] = this.views()): FleetStatus {
    const best = this.lastChoice.server
    return Object.freeze({
      total: servers.length,
      healthy: servers.filter((s) => s.enabled && s.healthy).length,
      bestServer: best ? best.name : null,
      bestServerId: best ? best.id : null,
      reason: this.lastChoice.reason,
      lastHealthCheck: this.lastHealthCheck,
      paused: this.paused,
      servers
    })
  }
}

/**
 * A failure's words as kept for a server: without trailing blank lines or spaces, and with the
 * password of any address it quotes hidden.
 */
export function errorText(message: string): string {
  return redactUrlsInText(message).trimEnd()
}
