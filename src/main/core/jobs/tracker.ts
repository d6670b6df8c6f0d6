/**
 * Following jobs on their servers: socket events (and those that come before the POST answer),
 * the end of a job with its outputs saved, and polling queue and history as the backstop. A job
 * gone from a server whose socket stayed open was removed there by someone; gone after a close,
 * the server forgot it (a restart).
 */
import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { MovedSaid, OutputProblem } from '../../../shared/job-said'
import type { BalancerSettings, JobRecord } from '../../../shared/types'
import type { Clock } from '../clock'
import type { ComfyClient } from '../comfy/client'
import {
  downloadOutput,
  getHistory,
  getQueueIds,
  parseHistoryEntry,
  type HistoryEntry
} from '../comfy/prompt-api'
import { ComfyRequestError } from '../comfy/errors'
import type { ComfyEvent } from '../comfy/socket'
import type { FleetPort } from '../fleet/port'
import { jobError } from '../log'
import { jobFolderName, moveIntoUnique } from './files'
import { isFinished, type JobStore } from './job-store'

/** Longest wait for a server's socket to open before a prompt is sent anyway. */
const SOCKET_WAIT_MS = 2_000
/** A finished job whose history is not there yet is looked up again this often, this many times. */
export const FINALIZE_GAP_MS = 200
export const FINALIZE_TRIES = 5
/** Polls in a row whose history read failed before a job is finished from its events or failed. */
export const HISTORY_FAILURES_MAX = 5
/** Outputs saved per job at most (a server may list any number). */
export const MAX_OUTPUTS_PER_JOB = 10_000
/** Bytes saved per job at most, all outputs together. */
export const MAX_JOB_BYTES = 16 * 1024 * 1024 * 1024
/** A download fails when no byte arrived for this long (at least the request timeout). */
const DOWNLOAD_IDLE_MS = 30_000
/** Output nodes remembered per job from `executed` events. */
const MAX_OUTPUT_NODES = 1_000
/** Events kept per job while its POST answer is awaited. */
export const EARLY_EVENTS_MAX = 500

export interface TrackerOptions {
  store: JobStore
  fleet: FleetPort
  settings: () => BalancerSettings
  clock: Clock
  log: (level: 'info' | 'warn', message: string) => void
  running: () => boolean
  outputDir: () => string
  pollMs: number
  /** The server a job is being sent to right now, if any. */
  sendingTo: (id: string) => string | undefined
  /** The server stopped answering while holding our jobs: check it soon. */
  suspect: (serverId: string) => void
  /** The server forgot the job (neither queued nor in history there): send it again. */
  resend: (j: JobRecord, why: MovedSaid) => void
  /** True while the user's cancel of this job is under way (its interrupt is ours). */
  cancelling?: (id: string) => boolean
}

export class Tracker {
  /** Socket events of jobs whose POST answer is not read yet: job id -> events. */
  private readonly early = new Map<string, ComfyEvent[]>()
  /** Per server: how many times its socket closed (a restart closes every socket). */
  private readonly socketEpoch = new Map<string, number>()
  /** A counter of socket events, and per server the count at its last event. */
  private eventSeq = 0
  private readonly lastEvent = new Map<string, number>()
  /** Job id -> its server's socket epoch and the event count when the server accepted it. */
  private readonly acceptedAt = new Map<string, { epoch: number; seq: number }>()
  /** Jobs we saw finish on their server (execution_success or executing null). */
  private readonly ranToEnd = new Set<string>()
  /** Outputs reported by `executed` events: job id -> node id -> the event's output. */
  private readonly seenOutputs = new Map<string, Record<string, unknown>>()
  /** Job id -> polls in a row whose history read failed. */
  private readonly historyFailures = new Map<string, number>()
  /** Next poll; set while polling. */
  private pollTimer: unknown = null

  constructor(private readonly o: TrackerOptions) {}

  /**
   * Resolves when the server's socket is open (the fleet keeps one per server), or after a
   * short wait: a server whose socket does not open is still followed by polling.
   */
  socketFor(serverId: string): Promise<void> {
    if (!this.o.running()) return Promise.resolve()
    return this.o.fleet.whenSocketOpen(
      serverId,
      Math.min(SOCKET_WAIT_MS, this.o.settings().timeout)
    )
  }

  /** The server's socket closed: whatever it had may have been lost with a restart. */
  socketClosed(serverId: string): void {
    this.socketEpoch.set(serverId, (this.socketEpoch.get(serverId) ?? 0) + 1)
  }

  /** The server has the job: follow it there, replaying the events that came before. */
  accepted(id: string, serverId: string, where: 'queued' | 'running' | 'history'): void {
    this.acceptedAt.set(id, { epoch: this.socketEpoch.get(serverId) ?? 0, seq: this.eventSeq })
    void this.socketFor(serverId)
    const early = this.early.get(id)
    this.early.delete(id)
    for (const ev of early ?? []) this.onSocketEvent(serverId, ev)
    if (where === 'history') void this.finalize(id)
  }

  /** Drops the events kept while the job's POST answer was awaited. */
  dropEarly(id: string): void {
    this.early.delete(id)
  }

  /** Drops what was seen of a job on its server's socket (it finished or moved). */
  forgetLive(id: string): void {
    this.acceptedAt.delete(id)
    this.ranToEnd.delete(id)
    this.seenOutputs.delete(id)
    this.historyFailures.delete(id)
  }

  private jobOn(serverId: string, promptId: unknown): JobRecord | undefined {
    if (typeof promptId !== 'string') return undefined
    const j = this.o.store.get(promptId)
    // Events from a server the job was moved away from are ignored: no duplicate reports.
    if (!j || j.serverId !== serverId || isFinished(j.state)) return undefined
    return j
  }

  /**
   * True when the server's socket has stayed open since it accepted the job, proven by an event
   * after the acceptance and no close since: the server cannot have restarted meanwhile (a
   * restart closes every socket), so a job it no longer has was removed there by someone.
   */
  watchedThroughout(id: string, serverId: string): boolean {
    const at = this.acceptedAt.get(id)
    if (!at || (this.socketEpoch.get(serverId) ?? 0) !== at.epoch) return false
    return (this.lastEvent.get(serverId) ?? -1) > at.seq
  }

  onSocketEvent(serverId: string, ev: ComfyEvent): void {
    const { store, clock } = this.o
    this.lastEvent.set(serverId, ++this.eventSeq)
    const d = ev.data
    const j = this.jobOn(serverId, d.prompt_id)
    if (!j) {
      // A fast job can start (even finish) before the answer to our POST is read: keep its
      // events until the job is recorded as accepted there, then replay them.
      const pid = d.prompt_id
      if (typeof pid === 'string' && this.o.sendingTo(pid) === serverId) {
        const list = this.early.get(pid) ?? []
        if (list.length < EARLY_EVENTS_MAX) list.push(ev)
        this.early.set(pid, list)
      }
      return
    }
    const p = j.progress ?? { node: null, value: 0, max: 0, nodesDone: 0, nodesTotal: 0 }
    switch (ev.type) {
      case 'execution_start':
        store.update(j.id, { state: 'running', startedAt: clock.now(), queuePosition: null })
        break
      case 'execution_cached': {
        const n = Array.isArray(d.nodes) ? d.nodes.length : 0
        store.update(j.id, {
          state: 'running',
          progress: { ...p, nodesDone: Math.min(p.nodesTotal, p.nodesDone + n) }
        })
        break
      }
      case 'executed':
        if (typeof d.node === 'string' && d.output && typeof d.output === 'object') {
          const seen = this.seenOutputs.get(j.id) ?? {}
          if (Object.keys(seen).length < MAX_OUTPUT_NODES) seen[d.node] = d.output
          this.seenOutputs.set(j.id, seen)
        }
        break
      case 'executing':
        if (d.node === null) {
          this.ranToEnd.add(j.id)
          void this.finalize(j.id)
        } else if (typeof d.node === 'string') {
          const done = p.node !== null ? Math.min(p.nodesTotal, p.nodesDone + 1) : p.nodesDone
          store.progress(j, { node: d.node, value: 0, max: 0, nodesDone: done })
        }
        break
      case 'progress':
        if (typeof d.value === 'number' && typeof d.max === 'number') {
          store.progress(j, { value: d.value, max: d.max })
        }
        break
      case 'execution_success':
        this.ranToEnd.add(j.id)
        void this.finalize(j.id)
        break
      case 'execution_error':
        store.update(j.id, {
          state: 'failed',
          finishedAt: clock.now(),
          error: jobError(
            {
              code: 'comfy',
              text: `${typeof d.exception_type === 'string' ? `${d.exception_type}: ` : ''}${String(d.exception_message ?? 'error')}`
            },
            {
              ...(typeof d.node_id === 'string' ? { nodeId: d.node_id } : {}),
              ...(typeof d.node_type === 'string' ? { nodeType: d.node_type } : {})
            }
          )
        })
        break
      case 'execution_interrupted':
        // Our own cancel interrupted it: the cancel records it as cancelled.
        if (this.o.cancelling?.(j.id)) break
        store.update(
          j.id,
          { state: 'interrupted', finishedAt: clock.now() },
          { code: 'interrupted' }
        )
        break
    }
  }

  /** Reads the history entry and saves the outputs; idempotent. */
  async finalize(id: string, tries = 0): Promise<void> {
    const { store, clock } = this.o
    if (!this.o.running()) return
    if (store.busy.has(id)) {
      // Another read is in flight (execution_success, then executing null): look again after it.
      if (tries < FINALIZE_TRIES)
        clock.setTimeout(() => void this.finalize(id, tries + 1), FINALIZE_GAP_MS)
      return
    }
    const j = store.get(id)
    if (!j || isFinished(j.state) || !j.serverId) return
    const client = this.o.fleet.clientFor(j.serverId)
    if (!client) return
    store.busy.add(id)
    try {
      const h = await getHistory(client, id)
      if (!h) {
        // Not written yet: look again shortly (the poll is the backstop).
        if (tries < FINALIZE_TRIES)
          clock.setTimeout(() => void this.finalize(id, tries + 1), FINALIZE_GAP_MS)
        else if (this.ranToEnd.has(id)) await this.finish(j, this.historyFromEvents(id), client)
        return
      }
      await this.finish(j, h, client)
    } catch (err) {
      this.o.log(
        'warn',
        `[Jobs] ${id.slice(0, 8)}: could not read the result yet (${(err as Error).message})`
      )
    } finally {
      store.busy.delete(id)
    }
  }

  /**
   * The result of a job we saw run to its end on a server that keeps no history of it (another
   * user cleared it, or the server keeps none): its outputs as the `executed` events named them.
   */
  private historyFromEvents(id: string): HistoryEntry {
    this.o.log(
      'info',
      `[Jobs] ${id.slice(0, 8)}: finished without a history entry; using what its events said`
    )
    return parseHistoryEntry({
      outputs: this.seenOutputs.get(id) ?? {},
      status: { status_str: 'success', completed: true, messages: [] }
    })
  }

  private async finish(j: JobRecord, h: HistoryEntry, client: ComfyClient): Promise<void> {
    const { store, clock } = this.o
    const now = clock.now()
    // The record may have ended while its history was read (the user cancelled it): keep that.
    const current = store.get(j.id)
    if (!current || isFinished(current.state) || current.serverId !== j.serverId) return
    if (h.interrupted) {
      if (this.o.cancelling?.(j.id)) return
      store.update(j.id, { state: 'interrupted', finishedAt: now }, { code: 'interrupted' })
      return
    }
    if (h.status === 'error' || h.error) {
      store.update(j.id, {
        state: 'failed',
        finishedAt: now,
        error: h.error
          ? jobError(
              { code: 'comfy', text: h.error.message },
              {
                ...(h.error.nodeId !== undefined ? { nodeId: h.error.nodeId } : {}),
                ...(h.error.nodeType !== undefined ? { nodeType: h.error.nodeType } : {})
              }
            )
          : jobError({ code: 'server-error' })
      })
      return
    }
    // Learn this server's speed from the run time ComfyUI recorded (or our own view of it).
    const runMs = h.runMs ?? (j.startedAt !== null ? now - j.startedAt : null)
    if (runMs !== null && j.serverId) this.o.fleet.noteRun(j.serverId, runMs, j.kind)
    const folder = path.join(this.o.outputDir(), jobFolderName(j.source, j.id, j.createdAt))
    const outputs: JobRecord['outputs'] = []
    const problems: OutputProblem[] = []
    const results = h.outputs.filter((f) => f.type !== 'temp') // previews are not results
    const over =
      results.length > MAX_OUTPUTS_PER_JOB
        ? { n: results.length - MAX_OUTPUTS_PER_JOB, limit: MAX_OUTPUTS_PER_JOB }
        : null
    let saved = 0
    const idleTimeoutMs = Math.max(DOWNLOAD_IDLE_MS, this.o.settings().timeout)
    for (const f of results.slice(0, MAX_OUTPUTS_PER_JOB)) {
      if (!this.o.running()) break
      // Streamed to a hidden file in the job folder, then moved to a safe unique name.
      const incoming = path.join(folder, `.incoming-${randomUUID()}`)
      try {
        fs.mkdirSync(folder, { recursive: true })
        const got = await downloadOutput(client, f, incoming, {
          idleTimeoutMs,
          maxBytes: Math.max(1, MAX_JOB_BYTES - saved)
        })
        saved += got.bytes
        outputs.push({
          nodeId: f.nodeId,
          path: moveIntoUnique(incoming, folder, f.filename),
          filename: f.filename,
          type: f.type
        })
      } catch (err) {
        fs.rmSync(incoming, { force: true })
        problems.push({
          file: f.filename,
          why:
            err instanceof ComfyRequestError
              ? err.said
              : { code: 'network', detail: (err as Error).message }
        })
      }
    }
    const missing = problems.length + (over ? 1 : 0)
    if (results.length && !this.o.running() && outputs.length + missing < results.length) {
      // Shutting down: the next start finds the job still running and saves its outputs then.
      return
    }
    const cur = store.get(j.id)
    if (!cur || isFinished(cur.state)) return
    store.update(
      j.id,
      {
        state: 'done',
        finishedAt: now,
        outputs,
        missingOutputs: Math.max(0, results.length - outputs.length),
        progress: cur.progress
          ? { ...cur.progress, nodesDone: cur.progress.nodesTotal, node: null }
          : null
      },
      missing ? { code: 'missing-outputs', over, files: problems } : undefined
    )
    this.o.log(
      'info',
      `[Jobs] ${j.id.slice(0, 8)} done on ${cur.serverUrl ?? '?'}: ${outputs.length} output(s)` +
        (missing ? `, ${missing} missing` : '')
    )
  }

  /** Polls every `pollMs` while running. */
  startPolling(): void {
    if (!this.o.running()) return
    this.pollTimer = this.o.clock.setTimeout(() => {
      this.pollTimer = null
      void this.poll().finally(() => this.startPolling())
    }, this.o.pollMs)
  }

  stopPolling(): void {
    if (this.pollTimer !== null) this.o.clock.clearTimeout(this.pollTimer)
    this.pollTimer = null
  }

  /** Follows every job in flight by queue and history, server by server, in parallel. */
  async poll(): Promise<void> {
    const byServer = new Map<string, JobRecord[]>()
    for (const e of this.o.store.unfinished()) {
      const j = e.job
      if ((j.state === 'queued' || j.state === 'running') && j.serverId) {
        byServer.set(j.serverId, [...(byServer.get(j.serverId) ?? []), j])
      }
    }
    await Promise.all([...byServer].map(([sid, jobs]) => this.pollServer(sid, jobs)))
  }

  private async pollServer(serverId: string, jobs: JobRecord[]): Promise<void> {
    const { store, clock, fleet } = this.o
    const client = fleet.clientFor(serverId)
    if (!client) return
    let q
    try {
      q = await getQueueIds(client)
    } catch {
      this.o.suspect(serverId) // the fleet's health checks decide about re-routing
      return
    }
    for (const j of jobs) {
      if (store.busy.has(j.id)) continue
      const pos = q.pending.indexOf(j.id)
      if (q.running.includes(j.id)) {
        if (j.state !== 'running')
          store.update(j.id, {
            state: 'running',
            queuePosition: null,
            startedAt: j.startedAt ?? clock.now()
          })
        continue
      }
      if (pos >= 0) {
        if (j.queuePosition !== pos + 1) store.update(j.id, { queuePosition: pos + 1 })
        continue
      }
      let h: HistoryEntry | null
      try {
        h = await getHistory(client, j.id)
        this.historyFailures.delete(j.id)
      } catch (err) {
        // The queue answers but the history does not (a broken proxy, a wrong shape): after a
        // few polls, finish a job we saw end from its events, and fail one we did not, so
        // nothing stays "running" for ever.
        const n = (this.historyFailures.get(j.id) ?? 0) + 1
        this.historyFailures.set(j.id, n)
        if (n < HISTORY_FAILURES_MAX) continue
        this.historyFailures.delete(j.id)
        if (this.ranToEnd.has(j.id)) {
          await this.finishOnce(j, this.historyFromEvents(j.id), client)
        } else {
          const name = fleet.configFor(serverId)?.name ?? serverId
          store.fail(j.id, {
            code: 'no-result',
            server: name,
            why:
              err instanceof ComfyRequestError
                ? err.said
                : { code: 'network', detail: (err as Error).message }
          })
        }
        continue
      }
      if (h) {
        await this.finishOnce(j, h, client)
        continue
      }
      if (this.ranToEnd.has(j.id)) {
        // It ran (we saw it end) but the server lists no history for it: finish from the events.
        await this.finishOnce(j, this.historyFromEvents(j.id), client)
        continue
      }
      const name = fleet.configFor(serverId)?.name ?? serverId
      if (this.watchedThroughout(j.id, serverId)) {
        // Gone while the server's socket stayed open: not a restart, someone removed it there.
        this.o.log('warn', `[Jobs] ${j.id.slice(0, 8)}: cancelled on ${name}`)
        store.update(
          j.id,
          { state: 'cancelled', finishedAt: clock.now(), cancelledOn: name },
          { code: 'cancelled-on', server: name }
        )
        continue
      }
      // Not in queue, not in history: the server forgot it (a restart). Send it again.
      this.o.resend(j, { code: 'forgotten', server: name })
    }
  }

  private async finishOnce(j: JobRecord, h: HistoryEntry, client: ComfyClient): Promise<void> {
    const { busy } = this.o.store
    if (busy.has(j.id)) return
    busy.add(j.id)
    try {
      await this.finish(j, h, client)
    } finally {
      busy.delete(j.id)
    }
  }
}
