/**
 * Sending jobs: which server gets a job (and whether it waits here instead, late binding),
 * the POST, failover to the next server, and asking a server whether a prompt arrived after an
 * answer that did not say.
 */
import type { AttemptSaid, JobNoteSaid, TrySaid } from '../../../shared/job-said'
import type { Lacks } from '../../../shared/said'
import type { BalancerSettings, JobPriority, JobRecord } from '../../../shared/types'
import type { Clock } from '../clock'
import type { ComfyClient } from '../comfy/client'
import { ComfyRequestError } from '../comfy/errors'
import { getHistory, getQueueIds, queuePrompt } from '../comfy/prompt-api'
import { saidOf, withHoldBack } from '../fleet/placement'
import { jobError, jobErrorLines } from '../log'
import type { FleetPort } from '../fleet/port'
import { LocalFileError } from './inputs'
import { isFinished, type JobStore } from './job-store'
import { summarize, type ApiPrompt } from './workflow'

/**
 * After a failed POST, how many times the server is asked whether the prompt arrived. After an
 * ambiguous failure (a timeout, a reset, a 5xx or a page from a proxy) the prompt may still be
 * queued behind it a moment later, so the server is asked over a few seconds before the job
 * goes elsewhere.
 */
export const ARRIVAL_CHECKS = 6
export const ARRIVAL_CHECK_GAP_MS = 500
/** Longest wait for servers to say which nodes and models they have before placing a job. */
const CAPS_WAIT_MS = 3_000

/** The note of a job that waits because the user paused sending. */
export const PAUSED_NOTE: JobNoteSaid = Object.freeze({ code: 'paused' })

const PRIORITY_RANK: Record<JobPriority, number> = { high: 0, normal: 1, low: 2 }

/** 0 for high, 1 for normal (also when unset or unknown), 2 for low. */
export function priorityRank(j: Pick<JobRecord, 'priority'>): number {
  return (j.priority && PRIORITY_RANK[j.priority]) ?? 1
}

/** A job's place among waiting jobs of its priority: its `order`, else its creation time. */
export function orderKey(j: Pick<JobRecord, 'order' | 'createdAt'>): number {
  return typeof j.order === 'number' && Number.isFinite(j.order) ? j.order : j.createdAt
}

/**
 * Waiting jobs in the order they are sent: by priority (high, normal, low), then by their
 * order key; equal keys keep the order given (the journal's, which is submission order).
 */
export function queueOrder<T extends Pick<JobRecord, 'priority' | 'order' | 'createdAt'>>(
  jobs: readonly T[]
): T[] {
  return [...jobs].sort((a, b) => priorityRank(a) - priorityRank(b) || orderKey(a) - orderKey(b))
}

/** Where a server has a prompt. */
export type Whereabouts = 'queued' | 'running' | 'history'

/**
 * A failed POST after which the prompt may still have been queued: no answer in time, a reset
 * connection, a 5xx or a page that is not ComfyUI's (a proxy in front of a working server).
 * A refused connection or a redirect elsewhere means this server never took it.
 */
export function isAmbiguous(err: ComfyRequestError): boolean {
  if (err.kind === 'timeout' || err.kind === 'network' || err.kind === 'not-json') return true
  return err.kind === 'http' && (err.status ?? 0) >= 500
}

/** Asks a server whether it has the prompt (queued, running or in history). */
export async function serverHas(client: ComfyClient, id: string): Promise<Whereabouts | null> {
  const q = await getQueueIds(client)
  if (q.running.includes(id)) return 'running'
  if (q.pending.includes(id)) return 'queued'
  return (await getHistory(client, id)) ? 'history' : null
}

export interface DispatcherOptions {
  store: JobStore
  fleet: FleetPort
  settings: () => BalancerSettings
  clock: Clock
  log: (level: 'info' | 'warn' | 'error', message: string) => void
  /** Our jobs at most waiting in one server's queue; null: no limit. */
  holdBack: number | null
  running: () => boolean
  /** True while the user paused sending: waiting jobs stay here. */
  paused?: () => boolean
  /** The prompt for one server (input images uploaded there). */
  prepare: (id: string, client: ComfyClient, serverId: string) => Promise<ApiPrompt>
  /** Resolves when the server's socket is open (or after a short wait). */
  waitSocket: (serverId: string) => Promise<void>
  /** The server has the job: follow it there (replaying the events that came early). */
  onAccepted: (id: string, serverId: string, where: Whereabouts) => void
  /** Events kept for a job while its POST answer was awaited are no longer needed. */
  dropEarly: (id: string) => void
  /** A server took a job that was cancelled meanwhile: take it off there. */
  acceptedAfterEnd: (id: string, serverId: string, where: Whereabouts) => void
  /** A copy of the job may turn up later on that server (or it is the job's server again). */
  markStale: (serverId: string, id: string) => void
  unmarkStale: (serverId: string, id: string) => void
}

export class Dispatcher {
  /** Jobs being sent right now: job id -> server id (own accounting before the answer). */
  private readonly sending = new Map<string, string>()
  private pumpQueued = false
  private adopted = false
  /** Unpinned pending jobs, as counted in this turn of the event loop (see waitingHere). */
  private pendingCount: number | null = null

  constructor(private readonly o: DispatcherOptions) {}

  /** The server a job is being sent to right now, if any. */
  sendingTo(id: string): string | undefined {
    return this.sending.get(id)
  }

  /** Fleet accounting and waking waiting jobs after a change of a job. */
  onJobChanged(cur: JobRecord, next: JobRecord): void {
    const { fleet } = this.o
    if (cur.serverId && (isFinished(next.state) || next.serverId !== cur.serverId)) {
      fleet.noteGone(cur.serverId, next.id)
    } else if (next.serverId && next.state === 'running' && cur.state !== 'running') {
      fleet.noteSent(next.serverId, next.id, 'running')
    }
    if (cur.state === 'queued' && next.state !== 'queued') this.schedulePump()
  }

  /**
   * Our jobs the journal has on servers from before a restart are counted there too (with the
   * time they were last changed, so no report is thought to lack them).
   */
  private adopt(): void {
    if (this.adopted) return
    this.adopted = true
    for (const { job } of this.o.store.unfinished()) {
      if (!job.serverId || (job.state !== 'queued' && job.state !== 'running')) continue
      this.o.fleet.noteSent(job.serverId, job.id, job.state, job.updatedAt)
    }
  }

  /** Per server: our jobs queued there or being sent there right now (as the fleet counts them). */
  waitingCounts(): Map<string, number> {
    this.adopt()
    const count = new Map<string, number>()
    const { fleet } = this.o
    for (const s of fleet.status().servers) {
      const n = fleet.ourWaiting(s.id)
      if (n) count.set(s.id, n)
    }
    return count
  }

  /**
   * How many unpinned jobs wait in the app for a server, this one included: placement lets a
   * server below its hold-back take the next one while it runs another when those waiting
   * would reach it anyway. The count of pending jobs is read once per turn of the event loop
   * (picks of a pump share it), the ones being sent are taken off as they are now.
   */
  private waitingHere(id: string): number {
    if (this.pendingCount === null) {
      let n = 0
      for (const e of this.o.store.unfinished()) {
        if (e.job.state === 'pending' && !e.job.pinnedServerId) n++
      }
      this.pendingCount = n
      setImmediate(() => (this.pendingCount = null))
    }
    let sendingNow = 0
    for (const jid of this.sending.keys()) {
      const j = jid === id ? undefined : this.o.store.get(jid)
      if (j && j.state === 'pending' && !j.pinnedServerId) sendingNow++
    }
    return Math.max(1, this.pendingCount - sendingNow)
  }

  /** Sends waiting jobs in queue order (priority, then order), soon (coalesced). */
  schedulePump(): void {
    if (this.pumpQueued || !this.o.running()) return
    this.pumpQueued = true
    queueMicrotask(() => {
      this.pumpQueued = false
      this.pump()
    })
  }

  pump(): void {
    if (this.o.paused?.()) return
    const waiting = this.o.store
      .unfinished()
      .map((e) => e.job)
      .filter((j) => j.state === 'pending' && !this.o.store.busy.has(j.id))
    for (const j of queueOrder(waiting)) void this.dispatch(j.id)
  }

  async dispatch(id: string): Promise<void> {
    const { store } = this.o
    if (store.busy.has(id)) return
    store.busy.add(id)
    try {
      await this.dispatchInner(id)
    } catch (err) {
      this.o.log('error', `[Jobs] ${id.slice(0, 8)}: ${(err as Error).message}`)
      const j = store.get(id)
      if (j && !isFinished(j.state))
        store.fail(id, { code: 'internal', text: (err as Error).message })
    } finally {
      store.busy.delete(id)
      const sid = this.sending.get(id)
      this.sending.delete(id)
      this.o.dropEarly(id)
      const j = store.get(id)
      if (sid && j?.serverId !== sid) this.o.fleet.noteGone(sid, id)
    }
  }

  /**
   * When every enabled server is known to lack something the workflow needs, the reason per
   * server; null while some server might still run it (healthy, or down with unknown nodes).
   */
  private nobodyCanRun(unable: Map<string, string>): Lacks[] | null {
    const servers = this.o.fleet.status().servers.filter((s) => s.enabled)
    if (!servers.length || !servers.every((s) => unable.has(s.id))) return null
    return servers.map((s) => ({ name: s.name, nodes: [], models: [], text: unable.get(s.id)! }))
  }

  /**
   * Asks a few times, a little apart, whether the prompt reached the server. After an ambiguous
   * failure (timeout, reset, 5xx, a proxy's page) it keeps asking even when the answer is "no":
   * the server behind a proxy may still be handling the POST.
   */
  private async askArrival(
    client: ComfyClient,
    id: string,
    after: ComfyRequestError
  ): Promise<{ where: Whereabouts | null; error: ComfyRequestError | null }> {
    let error: ComfyRequestError | null = null
    const ambiguous = isAmbiguous(after)
    for (let i = 0; i < ARRIVAL_CHECKS; i++) {
      if (i > 0) await new Promise<void>((r) => this.o.clock.setTimeout(r, ARRIVAL_CHECK_GAP_MS))
      if (!this.o.running()) break
      try {
        const where = await serverHas(client, id)
        if (where || !ambiguous) return { where, error: null }
        error = null
      } catch (err) {
        error =
          err instanceof ComfyRequestError ? err : new ComfyRequestError('network', String(err))
        if (error.kind === 'refused') break // nothing is listening: it cannot have arrived
      }
    }
    return { where: null, error }
  }

  private async dispatchInner(id: string): Promise<void> {
    const { store, fleet, clock } = this.o
    let job = store.get(id)
    if (!job || job.state !== 'pending') return
    // A crash (or a timeout) may have left the prompt on the last server: ask before resending.
    const last = job.attempts.at(-1)
    if (last && last.result.code === 'sending') {
      const client = fleet.clientFor(last.serverId)
      try {
        const where = client ? await serverHas(client, id) : null
        if (where) {
          this.accepted(id, last.serverId, last.serverUrl, where)
          return
        }
        store.setLastAttemptResult(id, { code: 'not-received' })
      } catch {
        store.setLastAttemptResult(id, { code: 'unknown' })
      }
    }
    const s = this.o.settings()
    const maxTries = job.pinnedServerId || !s.failoverEnabled ? 1 : Math.max(1, s.retryAttempts + 1)
    const tried = new Set<string>()
    const failures: TrySaid[] = []
    for (let attempt = 0; attempt < maxTries; attempt++) {
      job = store.get(id)!
      if (job.state !== 'pending') return
      if (this.o.paused?.()) {
        // Sent by the pump once the user resumes.
        store.noteOnce(id, PAUSED_NOTE)
        return
      }
      let serverId: string
      if (job.pinnedServerId) {
        serverId = job.pinnedServerId
      } else {
        const picked = await this.pick(id, job, tried)
        if (picked === 'stop') return
        if (picked === 'none') break
        serverId = picked.serverId
      }
      const config = fleet.configFor(serverId)
      const client = fleet.clientFor(serverId)
      if (!config || !client) {
        store.fail(id, { code: 'server-removed' })
        return
      }
      tried.add(serverId)
      let prompt: ApiPrompt
      try {
        prompt = await this.o.prepare(id, client, serverId)
      } catch (err) {
        const why: AttemptSaid =
          err instanceof LocalFileError
            ? { code: 'input-unreadable', path: err.path, detail: err.detail }
            : {
                code: 'upload-failed',
                why:
                  err instanceof ComfyRequestError
                    ? err.said
                    : { code: 'network', detail: (err as Error).message }
              }
        store.addAttempt(id, serverId, config.url, why)
        failures.push({ server: config.name, why })
        if (err instanceof LocalFileError) {
          store.fail(id, { code: 'input-unreadable', path: err.path, detail: err.detail })
          return
        }
        continue
      }
      // ComfyUI buffers no events: be listening before the prompt can start.
      await this.o.waitSocket(serverId)
      store.addAttempt(id, serverId, config.url, { code: 'sending' })
      // Journaled before it is sent: the job and its "sending" attempt are on disk first.
      await store.flushed()
      try {
        const extra = this.o.store.entry(id)?.extra
        const r = await queuePrompt(client, {
          prompt,
          client_id: job.clientId,
          prompt_id: id,
          ...(extra ? { extra_data: extra } : {})
        })
        if (r.ok) {
          this.accepted(id, serverId, config.url, 'queued')
          return
        }
        const words = [r.message, ...r.details].join('\n')
        if (r.missingCapability && !job.pinnedServerId) {
          store.setLastAttemptResult(id, { code: 'cannot-run', text: words })
          failures.push({ server: config.name, why: { code: 'cannot-run', text: r.message } })
          this.o.log(
            'warn',
            `[Jobs] ${id.slice(0, 8)}: ${config.name} cannot run this workflow (${r.message}); trying the next server`
          )
          continue
        }
        store.setLastAttemptResult(id, { code: 'refused', text: r.message })
        store.update(id, {
          state: 'failed',
          finishedAt: clock.now(),
          error: jobError({ code: 'refused', text: r.message }, { details: r.details })
        })
        return
      } catch (err) {
        let ce =
          err instanceof ComfyRequestError ? err : new ComfyRequestError('network', String(err))
        // Did it arrive anyway? A slow accept must not run twice.
        const arrival = await this.askArrival(client, id, ce)
        if (arrival.where) {
          this.accepted(id, serverId, config.url, arrival.where)
          return
        }
        // Any copy that still arrives later is removed once the server answers again.
        this.o.markStale(serverId, id)
        if (arrival.error) {
          // The server's current state says more than a reset of a reused connection.
          if (arrival.error.kind === 'refused' || ce.kind === 'network') ce = arrival.error
        }
        store.setLastAttemptResult(id, { code: 'failed', why: ce.said })
        failures.push({ server: config.name, why: { code: 'failed', why: ce.said } })
        this.o.log('warn', `[Jobs] ${id.slice(0, 8)}: ${config.name} failed (${ce.message})`)
      }
    }
    store.update(id, {
      state: 'failed',
      finishedAt: clock.now(),
      error: jobError({ code: 'no-server-took', tries: failures })
    })
  }

  /**
   * The server for the next try of an unpinned job, counted on it from now on; 'stop' when the
   * job waits (or failed because no server can run it), 'none' when no server is left to try.
   */
  private async pick(
    id: string,
    job: JobRecord,
    tried: Set<string>
  ): Promise<{ serverId: string } | 'stop' | 'none'> {
    const { store, fleet } = this.o
    // Which servers have the job's nodes and models (read once per server, on demand).
    await fleet.ensureCapabilities(Math.min(CAPS_WAIT_MS, this.o.settings().timeout))
    const prompt = store.entry(id)?.prompt
    const policyJob = {
      kind: job.kind,
      unable: fleet.unableToRun(prompt ? summarize(prompt) : null)
    }
    // The policy plus late binding (see fleet/placement.ts): the same rule as the best server
    // the window shows.
    const waiting = this.waitingCounts()
    const choice = withHoldBack(
      (exclude) => fleet.choose(exclude, policyJob),
      (sid) => waiting.get(sid) ?? 0,
      fleet.status().servers.map((x) => x.id),
      tried,
      this.o.holdBack,
      this.waitingHere(id)
    )
    if (choice.heldBack) {
      store.noteOnce(id, { code: 'held-back' })
      return 'stop'
    }
    if (!choice.server) {
      if (tried.size > 0) return 'none'
      // No server that is known to lack a node or model may come back with it: fail now.
      const none = this.nobodyCanRun(policyJob.unable)
      if (none) {
        const said = { code: 'none-can-run', servers: none } as const
        this.o.log('warn', `[Jobs] ${id.slice(0, 8)}: ${jobErrorLines(said).join('; ')}`)
        store.fail(id, said)
        return 'stop'
      }
      store.noteOnce(id, { code: 'waiting', why: saidOf(choice) })
      return 'stop' // retried after the next check round
    }
    const serverId = choice.server.id
    // Counted on that server from now on, so jobs placed meanwhile go elsewhere.
    const before = this.sending.get(id)
    if (before && before !== serverId) fleet.noteGone(before, id)
    this.sending.set(id, serverId)
    fleet.noteSent(serverId, id, 'sending')
    this.o.log('info', `[Jobs] ${id.slice(0, 8)} -> ${choice.server.name} (${choice.reason})`)
    return { serverId }
  }

  private accepted(id: string, serverId: string, serverUrl: string, where: Whereabouts): void {
    const { store } = this.o
    store.setLastAttemptResult(id, { code: 'accepted' })
    this.o.unmarkStale(serverId, id)
    if (isFinished(store.get(id)?.state ?? 'cancelled')) {
      // Cancelled while its POST was under way: it stays so, and comes off that server.
      this.o.acceptedAfterEnd(id, serverId, where)
      return
    }
    this.o.fleet.noteSent(serverId, id, where === 'running' ? 'running' : 'queued')
    store.update(id, {
      state: where === 'running' ? 'running' : 'queued',
      serverId,
      serverUrl,
      queuePosition: null
    })
    this.o.onAccepted(id, serverId, where)
  }
}
