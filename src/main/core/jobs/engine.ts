/**
 * The job engine: one click sends a workflow to the best server, follows it to the end and
 * saves its outputs; nothing a server does loses the job or runs it twice.
 *
 * - The job (with its prompt) is journaled before anything is sent; we choose the prompt_id.
 * - A refused connection, a timeout or a 5xx moves the job to the next best server, after
 *   asking the first whether the prompt arrived after all (a slow accept is never run twice).
 * - A 400 for a missing node class or model rules that server out; other 400s fail at once.
 * - Progress comes over one WebSocket per server; polling queue and history is the backstop.
 *   "Not in queue and not in history" means the server forgot it (restart): it is re-sent.
 * - Jobs on a server that went down are re-routed; stale copies are removed when it returns.
 */
import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import {
  FINISHED_JOB_STATES,
  type BalancerSettings,
  type FleetStatus,
  type JobRecord,
  type JobState
} from '../../../shared/types'
import type { Clock } from '../clock'
import { systemClock } from '../clock'
import type { ComfyClient } from '../comfy/client'
import { ComfyRequestError } from '../comfy/errors'
import {
  deleteFromQueue,
  downloadOutput,
  getHistory,
  getQueueIds,
  interruptPrompt,
  parseHistoryEntry,
  queuePrompt,
  uploadImage,
  viewFile,
  type HistoryEntry
} from '../comfy/prompt-api'
import type { ComfyEvent } from '../comfy/socket'
import { workflowKind } from '../fleet/estimator'
import { Emitter } from '../events'
import type { FleetMonitor } from '../fleet/monitor'
import { jobFolderName, moveIntoUnique, resolveInputInside } from './files'
import type { Journal } from './journal'
import { summarize, type ApiPrompt, type LoadedWorkflow } from './workflow'

/** Nodes whose `image` input names a file in the server's input folder. */
const IMAGE_LOADERS = ['LoadImage', 'LoadImageMask']
const IMAGE_EXT = /\.(png|jpe?g|webp|gif|bmp|tiff?)$/i

/**
 * The files in the server's input folder, from LoadImage's option list in object_info, or null
 * when the server does not say (then nothing is copied and ComfyUI's own check decides).
 */
async function inputFiles(client: ComfyClient): Promise<Set<string> | null> {
  try {
    const { value } = await client.getJson('/object_info/LoadImage')
    const spec = (value as { LoadImage?: { input?: { required?: { image?: unknown } } } })
      ?.LoadImage?.input?.required?.image
    const list = Array.isArray(spec) ? spec[0] : null
    if (Array.isArray(list)) return new Set(list.filter((x): x is string => typeof x === 'string'))
    if (
      typeof list === 'string' &&
      list === 'COMBO' &&
      Array.isArray(spec) &&
      spec[1] &&
      typeof spec[1] === 'object'
    ) {
      const opts = (spec[1] as { options?: unknown }).options
      if (Array.isArray(opts))
        return new Set(opts.filter((x): x is string => typeof x === 'string'))
    }
  } catch {
    // fall through
  }
  return null
}

/** Failed checks in a row before a server's jobs are moved elsewhere. */
export const REROUTE_AFTER_FAILURES = 2
/** How often queue and history are polled for jobs in flight (the backstop to the socket). */
export const POLL_INTERVAL_MS = 2_000
/** Longest wait for a server's socket to open before a prompt is sent anyway. */
const SOCKET_WAIT_MS = 2_000
/**
 * After a failed POST, how many times the server is asked whether the prompt arrived. After an
 * ambiguous failure (a timeout, a reset, a 5xx or a page from a proxy) the prompt may still be
 * queued behind it a moment later, so the server is asked over a few seconds before the job
 * goes elsewhere.
 */
const ARRIVAL_CHECKS = 6
const ARRIVAL_CHECK_GAP_MS = 500
/** A job the servers lose this many times (sent, then neither queued nor in history) fails. */
export const MAX_FORGOTTEN = 3
/** A job moved this many times (dead servers, forgotten) fails instead of moving again. */
export const MAX_REROUTES = 10
/** A finished job whose history is not there yet is looked up again this often, this many times. */
const FINALIZE_GAP_MS = 200
const FINALIZE_TRIES = 5
/** Outputs saved per job at most (a server may list any number). */
export const MAX_OUTPUTS_PER_JOB = 10_000
/** Bytes saved per job at most, all outputs together. */
export const MAX_JOB_BYTES = 16 * 1024 * 1024 * 1024
/** A download fails when no byte arrived for this long (at least the request timeout). */
const DOWNLOAD_IDLE_MS = 30_000
/** Output nodes remembered per job from `executed` events. */
const MAX_OUTPUT_NODES = 1_000
/** Events kept per job while its POST answer is awaited. */
const EARLY_EVENTS_MAX = 500
/** Longest wait for servers to say which nodes and models they have before placing a job. */
const CAPS_WAIT_MS = 3_000
/** How long a server is watched for a late copy of a job that went elsewhere. */
const STALE_WATCH_MS = 5 * 60_000
/** Gap between the extra checks of a server that stopped answering while holding our jobs. */
const SUSPECT_RECHECK_MS = 500

export interface JobEngineOptions {
  journal: Journal
  monitor: FleetMonitor
  settings: () => BalancerSettings
  outputDir: string
  /** Our WebSocket identity; keep it stable across restarts. */
  clientId?: string
  clock?: Clock
  log?: (level: 'info' | 'warn' | 'error' | 'verbose', message: string) => void
  pollIntervalMs?: number
  /**
   * Late binding: at most this many of our jobs wait in any one server's queue; the rest wait
   * here and go to whichever server is about to be free. null sends every job at once. @default 1
   */
  holdBack?: number | null
}

export interface SubmitOptions {
  /** Run only on this server (no failover). */
  serverId?: string | null
  /** Folder the workflow came from; local input images are looked up there. */
  baseDir?: string
}

export interface JobEvents {
  job: JobRecord
}

function isFinished(state: JobState): boolean {
  return FINISHED_JOB_STATES.includes(state)
}

/**
 * A failed POST after which the prompt may still have been queued: no answer in time, a reset
 * connection, a 5xx or a page that is not ComfyUI's (a proxy in front of a working server).
 * A refused connection or a redirect elsewhere means this server never took it.
 */
function isAmbiguous(err: ComfyRequestError): boolean {
  if (err.kind === 'timeout' || err.kind === 'network' || err.kind === 'not-json') return true
  return err.kind === 'http' && (err.status ?? 0) >= 500
}

export class JobEngine {
  readonly events = new Emitter<JobEvents>()
  readonly clientId: string
  private readonly journal: Journal
  private readonly monitor: FleetMonitor
  private readonly settings: () => BalancerSettings
  private outputDir: string
  private readonly clock: Clock
  private readonly logFn: NonNullable<JobEngineOptions['log']>
  private readonly pollMs: number
  /** Jobs being dispatched or finalised right now (never twice at once). */
  private readonly busy = new Set<string>()
  /** Base folders of workflows, for local input images (not journaled: paths stay local). */
  private readonly baseDirs = new Map<string, string>()
  /** Copies left on servers we moved jobs away from: serverId -> prompt ids. */
  private readonly stale = new Map<string, Map<string, number>>()
  /** Next poll; set while running. */
  private pollTimer: unknown = null
  /** Servers being re-checked because they stopped answering while holding our jobs. */
  private readonly suspects = new Set<string>()
  private readonly waiters = new Map<string, Array<(j: JobRecord) => void>>()
  private running = false
  private offFleet: (() => void) | null = null
  private offComfy: (() => void) | null = null
  /** Late binding: how many of our jobs may wait in one server's queue (null: no limit). */
  private readonly holdBack: number | null
  private pumpQueued = false
  /** Socket events of jobs whose POST answer is not read yet: job id -> events. */
  private readonly early = new Map<string, ComfyEvent[]>()
  /** Jobs being sent right now: job id -> server id (own accounting before the answer). */
  private readonly sending = new Map<string, string>()
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

  constructor(opts: JobEngineOptions) {
    this.journal = opts.journal
    this.monitor = opts.monitor
    this.settings = opts.settings
    this.outputDir = opts.outputDir
    this.clientId = opts.clientId ?? randomUUID()
    this.clock = opts.clock ?? systemClock
    this.logFn = opts.log ?? (() => undefined)
    this.pollMs = opts.pollIntervalMs ?? POLL_INTERVAL_MS
    this.holdBack = opts.holdBack === undefined ? 1 : opts.holdBack
  }

  /** Resumes unfinished jobs from the journal and starts following the fleet. */
  start(): void {
    if (this.running) return
    this.running = true
    this.offFleet = this.monitor.events.on('round', (s) => this.onRound(s))
    const offEvents = this.monitor.events.on('comfy', ({ serverId, event }) =>
      this.onSocketEvent(serverId, event)
    )
    const offClosed = this.monitor.events.on('socket-closed', ({ serverId }) => {
      this.socketEpoch.set(serverId, (this.socketEpoch.get(serverId) ?? 0) + 1)
      this.suspect(serverId)
    })
    this.offComfy = () => {
      offEvents()
      offClosed()
    }
    for (const e of this.journal.unfinished()) {
      const j = e.job
      this.logFn('info', `[Jobs] Resuming ${j.id.slice(0, 8)} (${j.source}, ${j.state})`)
      if (j.state === 'pending') void this.dispatch(j.id)
      else if (j.serverId) void this.socketFor(j.serverId)
    }
    this.schedulePoll()
  }

  async stop(): Promise<void> {
    this.running = false
    this.offFleet?.()
    this.offFleet = null
    if (this.pollTimer !== null) this.clock.clearTimeout(this.pollTimer)
    this.pollTimer = null
    this.offComfy?.()
    this.offComfy = null
  }

  jobs(): JobRecord[] {
    return this.journal.jobs()
  }

  get(id: string): JobRecord | undefined {
    return this.journal.get(id)?.job
  }

  /** Resolves when the job is finished (done, failed, interrupted, cancelled or lost). */
  waitFor(id: string): Promise<JobRecord> {
    const j = this.get(id)
    if (!j) return Promise.reject(new Error(`Unknown job ${id}`))
    if (isFinished(j.state)) return Promise.resolve(j)
    return new Promise((resolve) => {
      const list = this.waiters.get(id) ?? []
      list.push(resolve)
      this.waiters.set(id, list)
    })
  }

  /** Journals the job, then sends it. Returns the journaled record at once. */
  submit(wf: LoadedWorkflow, opts: SubmitOptions = {}): JobRecord {
    if (opts.serverId && !this.monitor.configFor(opts.serverId)) {
      throw new Error(`Unknown server "${opts.serverId}"`)
    }
    const now = this.clock.now()
    const job: JobRecord = {
      id: randomUUID(),
      clientId: this.clientId,
      source: wf.source,
      state: 'pending',
      createdAt: now,
      updatedAt: now,
      startedAt: null,
      finishedAt: null,
      pinnedServerId: opts.serverId ?? null,
      kind: workflowKind(wf.prompt),
      serverId: null,
      serverUrl: null,
      attempts: [],
      reroutes: 0,
      queuePosition: null,
      progress: { node: null, value: 0, max: 0, nodesDone: 0, nodesTotal: wf.summary.nodeCount },
      error: null,
      outputs: [],
      notes: []
    }
    if (opts.baseDir) this.baseDirs.set(job.id, opts.baseDir)
    this.journal.put(job, wf.prompt)
    this.events.emit('job', job)
    void this.dispatch(job.id)
    return job
  }

  /** Where outputs of jobs finishing from now on are saved. */
  setOutputDir(dir: string): void {
    this.outputDir = dir
  }

  /** Sends a finished job's workflow again as a new job (same server pin, if any). */
  resubmit(id: string, opts: SubmitOptions = {}): JobRecord {
    const e = this.journal.get(id)
    if (!e) throw new Error(`Unknown job ${id}`)
    if (!e.prompt) throw new Error('This job no longer has its workflow')
    return this.submit(
      { source: e.job.source, format: 'json', prompt: e.prompt, summary: summarize(e.prompt) },
      {
        serverId: opts.serverId !== undefined ? opts.serverId : e.job.pinnedServerId,
        baseDir: opts.baseDir
      }
    )
  }

  /** Cancels a job: removes it from its server's queue, or interrupts it if it is running. */
  async cancel(id: string): Promise<JobRecord> {
    const j = this.get(id)
    if (!j) throw new Error(`Unknown job ${id}`)
    if (isFinished(j.state)) return j
    const client = j.serverId ? this.monitor.clientFor(j.serverId) : undefined
    if (client) {
      try {
        if (j.state === 'running') await interruptPrompt(client, j.id)
        else await deleteFromQueue(client, [j.id])
      } catch (err) {
        this.logFn(
          'warn',
          `[Jobs] Could not cancel ${j.id.slice(0, 8)} on its server: ${(err as Error).message}`
        )
      }
    }
    return this.update(
      id,
      { state: 'cancelled', finishedAt: this.clock.now() },
      'Cancelled by the user'
    )
  }

  // ---------------------------------------------------------------- state changes

  private update(id: string, patch: Partial<JobRecord>, note?: string): JobRecord {
    const cur = this.get(id)
    if (!cur) throw new Error(`Unknown job ${id}`)
    // After shutdown, work still in flight changes nothing: the journal keeps the last state
    // and the next start reconciles it with the server.
    if (!this.journal.isOpen) return cur
    const full: Partial<JobRecord> = { ...patch, updatedAt: this.clock.now() }
    if (note) full.notes = [...(patch.notes ?? cur.notes), note].slice(-50)
    const next = this.journal.patch(id, full)
    this.events.emit('job', next)
    if (cur.serverId && (isFinished(next.state) || next.serverId !== cur.serverId)) {
      this.monitor.noteGone(cur.serverId, id)
    }
    if (cur.state === 'queued' && next.state !== 'queued') this.schedulePump()
    if (isFinished(next.state) || next.serverId !== cur.serverId) this.forgetLive(id)
    if (isFinished(next.state)) {
      this.baseDirs.delete(id)
      const list = this.waiters.get(id)
      this.waiters.delete(id)
      list?.forEach((fn) => fn(next))
    }
    return next
  }

  /**
   * Progress within a running job: shown live but not written to the journal (it changes many
   * times a second and is worthless after a restart); the next journaled change carries it.
   */
  private progress(j: JobRecord, patch: Partial<NonNullable<JobRecord['progress']>>): void {
    if (j.state !== 'running') {
      this.update(j.id, { state: 'running', startedAt: j.startedAt ?? this.clock.now() })
      j = this.get(j.id)!
    }
    const base = j.progress ?? { node: null, value: 0, max: 0, nodesDone: 0, nodesTotal: 0 }
    const next = this.journal.patchInMemory(j.id, { progress: { ...base, ...patch } })
    if (next) this.events.emit('job', next)
  }

  /** Drops what was seen of a job on its server's socket (it finished or moved). */
  private forgetLive(id: string): void {
    this.acceptedAt.delete(id)
    this.ranToEnd.delete(id)
    this.seenOutputs.delete(id)
  }

  private fail(id: string, message: string, details?: string[]): void {
    this.update(id, {
      state: 'failed',
      finishedAt: this.clock.now(),
      error: details?.length ? { message, details } : { message }
    })
  }

  /** Adds a note unless it is already the last one (waiting jobs are retried often). */
  private noteOnce(id: string, note: string): void {
    if (this.get(id)?.notes.at(-1) !== note) this.update(id, {}, note)
  }

  /** Our jobs accepted by the server and not yet running there. */
  private ourWaitingOn(serverId: string): number {
    return this.waitingCounts().get(serverId) ?? 0
  }

  /** Per server: our jobs queued there or being sent there right now. */
  private waitingCounts(): Map<string, number> {
    const count = new Map<string, number>()
    for (const e of this.journal.unfinished()) {
      if (e.job.serverId && e.job.state === 'queued') {
        count.set(e.job.serverId, (count.get(e.job.serverId) ?? 0) + 1)
      }
    }
    for (const sid of this.sending.values()) count.set(sid, (count.get(sid) ?? 0) + 1)
    return count
  }

  private serversAtHoldBack(): string[] {
    if (this.holdBack === null) return []
    return [...this.waitingCounts()].filter(([, n]) => n >= this.holdBack!).map(([id]) => id)
  }

  /** Sends waiting jobs, oldest first, soon (coalesced). */
  private schedulePump(): void {
    if (this.pumpQueued || !this.running) return
    this.pumpQueued = true
    queueMicrotask(() => {
      this.pumpQueued = false
      this.pump()
    })
  }

  private pump(): void {
    const waiting = this.journal
      .unfinished()
      .filter((e) => e.job.state === 'pending' && !this.busy.has(e.job.id))
      .sort((a, b) => a.job.createdAt - b.job.createdAt)
    for (const e of waiting) void this.dispatch(e.job.id)
  }

  private addAttempt(id: string, serverId: string, serverUrl: string, result: string): JobRecord {
    const cur = this.get(id)!
    return this.update(id, {
      attempts: [...cur.attempts, { serverId, serverUrl, at: this.clock.now(), result }].slice(-50)
    })
  }

  private setLastAttemptResult(id: string, result: string): void {
    const cur = this.get(id)!
    const attempts = cur.attempts.slice()
    const last = attempts.at(-1)
    if (last) attempts[attempts.length - 1] = { ...last, result }
    this.update(id, { attempts })
  }

  // ---------------------------------------------------------------- sending

  private async dispatch(id: string): Promise<void> {
    if (this.busy.has(id)) return
    this.busy.add(id)
    try {
      await this.dispatchInner(id)
    } catch (err) {
      this.logFn('error', `[Jobs] ${id.slice(0, 8)}: ${(err as Error).message}`)
      const j = this.get(id)
      if (j && !isFinished(j.state)) {
        this.update(id, {
          state: 'failed',
          finishedAt: this.clock.now(),
          error: { message: (err as Error).message }
        })
      }
    } finally {
      this.busy.delete(id)
      const sid = this.sending.get(id)
      this.sending.delete(id)
      this.early.delete(id)
      const j = this.get(id)
      if (sid && j?.serverId !== sid) this.monitor.noteGone(sid, id)
    }
  }

  /**
   * When every enabled server is known to lack something the workflow needs, the reason per
   * server; null while some server might still run it (healthy, or down with unknown nodes).
   */
  private nobodyCanRun(unable: Map<string, string>): string[] | null {
    const servers = this.monitor.status().servers.filter((s) => s.enabled)
    if (!servers.length || !servers.every((s) => unable.has(s.id))) return null
    return servers.map((s) => `${s.name}: ${unable.get(s.id)}`)
  }

  /** Asks a server whether it has the prompt (queued, running or in history). */
  private async serverHas(
    client: ComfyClient,
    id: string
  ): Promise<'queued' | 'running' | 'history' | null> {
    const q = await getQueueIds(client)
    if (q.running.includes(id)) return 'running'
    if (q.pending.includes(id)) return 'queued'
    return (await getHistory(client, id)) ? 'history' : null
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
  ): Promise<{ where: 'queued' | 'running' | 'history' | null; error: ComfyRequestError | null }> {
    let error: ComfyRequestError | null = null
    const ambiguous = isAmbiguous(after)
    for (let i = 0; i < ARRIVAL_CHECKS; i++) {
      if (i > 0) await new Promise<void>((r) => this.clock.setTimeout(r, ARRIVAL_CHECK_GAP_MS))
      if (!this.running) break
      try {
        const where = await this.serverHas(client, id)
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
    let job = this.get(id)
    if (!job || job.state !== 'pending') return
    // A crash (or a timeout) may have left the prompt on the last server: ask before resending.
    const last = job.attempts.at(-1)
    if (last && last.result === 'sending') {
      const client = this.monitor.clientFor(last.serverId)
      try {
        const where = client ? await this.serverHas(client, id) : null
        if (where) {
          this.accepted(id, last.serverId, last.serverUrl, where)
          return
        }
        this.setLastAttemptResult(id, 'not received')
      } catch {
        this.setLastAttemptResult(id, 'unknown (server unreachable)')
      }
    }
    const s = this.settings()
    const maxTries = job.pinnedServerId || !s.failoverEnabled ? 1 : Math.max(1, s.retryAttempts + 1)
    const tried = new Set<string>()
    const failures: string[] = []
    for (let attempt = 0; attempt < maxTries; attempt++) {
      job = this.get(id)!
      if (job.state !== 'pending') return
      let serverId: string
      if (job.pinnedServerId) {
        serverId = job.pinnedServerId
      } else {
        // Which servers have the job's nodes and models (read once per server, on demand).
        await this.monitor.ensureCapabilities(Math.min(CAPS_WAIT_MS, this.settings().timeout))
        const prompt = this.journal.get(id)?.prompt
        const policyJob = {
          kind: job.kind,
          unable: this.monitor.unableToRun(prompt ? summarize(prompt) : null)
        }
        let choice = this.monitor.choose(tried, policyJob)
        if (!choice.server) {
          if (tried.size === 0) {
            // No server that is known to lack a node or model may come back with it: fail now.
            const none = this.nobodyCanRun(policyJob.unable)
            if (none) {
              this.logFn('warn', `[Jobs] ${id.slice(0, 8)}: ${none.join('; ')}`)
              this.fail(id, 'No server can run this workflow', none)
              return
            }
            this.noteOnce(id, `Waiting for a healthy server: ${choice.reason}`)
            return // retried after the next check round
          }
          break
        }
        if (this.holdBack !== null && this.ourWaitingOn(choice.server.id) >= this.holdBack) {
          // Late binding: that server already has our next job lined up. Another server only
          // if it finishes this job no later; otherwise keep it here until a server frees up.
          const full = new Set([...tried, ...this.serversAtHoldBack()])
          const alt = this.monitor.choose(full, policyJob)
          if (!alt.server || (alt.finishMs ?? Infinity) > (choice.finishMs ?? Infinity)) {
            this.noteOnce(id, 'Waiting in Comfy Balancer until a server is about to be free')
            return
          }
          choice = alt
        }
        if (!choice.server) break
        serverId = choice.server.id
        // Counted on that server from now on, so jobs placed meanwhile go elsewhere.
        const before = this.sending.get(id)
        if (before && before !== serverId) this.monitor.noteGone(before, id)
        this.sending.set(id, serverId)
        this.monitor.noteSent(serverId, id)
        this.logFn('info', `[Jobs] ${id.slice(0, 8)} -> ${choice.server.name} (${choice.reason})`)
      }
      const config = this.monitor.configFor(serverId)
      const client = this.monitor.clientFor(serverId)
      if (!config || !client) {
        this.update(id, {
          state: 'failed',
          finishedAt: this.clock.now(),
          error: { message: 'The chosen server was removed' }
        })
        return
      }
      tried.add(serverId)
      let prompt: ApiPrompt
      try {
        prompt = await this.preparePrompt(id, client, serverId)
      } catch (err) {
        const msg = `upload failed: ${(err as Error).message}`
        this.addAttempt(id, serverId, config.url, msg)
        failures.push(`${config.name}: ${msg}`)
        if (err instanceof LocalFileError) {
          this.update(id, {
            state: 'failed',
            finishedAt: this.clock.now(),
            error: { message: err.message }
          })
          return
        }
        continue
      }
      // ComfyUI buffers no events: be listening before the prompt can start.
      await this.socketFor(serverId)
      this.addAttempt(id, serverId, config.url, 'sending')
      try {
        const r = await queuePrompt(client, { prompt, client_id: job.clientId, prompt_id: id })
        if (r.ok) {
          this.accepted(id, serverId, config.url, 'queued')
          return
        }
        const words = [r.message, ...r.details].join('\n')
        if (r.missingCapability && !job.pinnedServerId) {
          this.setLastAttemptResult(id, `cannot run it: ${words}`)
          failures.push(`${config.name} cannot run it: ${r.message}`)
          this.logFn(
            'warn',
            `[Jobs] ${id.slice(0, 8)}: ${config.name} cannot run this workflow (${r.message}); trying the next server`
          )
          continue
        }
        this.setLastAttemptResult(id, `refused: ${r.message}`)
        this.update(id, {
          state: 'failed',
          finishedAt: this.clock.now(),
          error: { message: r.message, details: r.details }
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
        this.markStale(serverId, id)
        if (arrival.error) {
          // The server's current state says more than a reset of a reused connection.
          if (arrival.error.kind === 'refused' || ce.kind === 'network') ce = arrival.error
        }
        this.setLastAttemptResult(id, ce.message)
        failures.push(`${config.name}: ${ce.message}`)
        this.logFn('warn', `[Jobs] ${id.slice(0, 8)}: ${config.name} failed (${ce.message})`)
      }
    }
    this.update(id, {
      state: 'failed',
      finishedAt: this.clock.now(),
      error: { message: `No server could take the job. ${failures.join('; ')}`, details: failures }
    })
  }

  private accepted(
    id: string,
    serverId: string,
    serverUrl: string,
    where: 'queued' | 'running' | 'history'
  ): void {
    this.setLastAttemptResult(id, 'accepted')
    this.unmarkStale(serverId, id)
    this.monitor.noteSent(serverId, id)
    this.update(id, {
      state: where === 'running' ? 'running' : 'queued',
      serverId,
      serverUrl,
      queuePosition: null
    })
    this.acceptedAt.set(id, { epoch: this.socketEpoch.get(serverId) ?? 0, seq: this.eventSeq })
    void this.socketFor(serverId)
    const early = this.early.get(id)
    this.early.delete(id)
    for (const ev of early ?? []) this.onSocketEvent(serverId, ev)
    if (where === 'history') void this.finalize(id)
  }

  /** The prompt for one server: local input images uploaded there and renamed. */
  private async preparePrompt(
    id: string,
    client: ComfyClient,
    serverId: string
  ): Promise<ApiPrompt> {
    const entry = this.journal.get(id)
    if (!entry?.prompt) throw new Error('The journal lost the workflow of this job')
    const prompt: ApiPrompt = JSON.parse(JSON.stringify(entry.prompt))
    const base = this.baseDirs.get(id)
    let onServer: Set<string> | null = null
    for (const node of Object.values(prompt)) {
      if (!IMAGE_LOADERS.includes(node.class_type)) continue
      const name = node.inputs.image
      if (typeof name !== 'string' || !name) continue
      const plain = name.replace(/\s*\[(input|output|temp)\]$/, '')
      // 1. A file next to the workflow (only there, and only images: a workflow from elsewhere
      //    must not be able to send arbitrary local files to a server).
      //    Real paths are compared, so a link in that folder pointing elsewhere is not followed.
      if (base && IMAGE_EXT.test(plain)) {
        const local = resolveInputInside(base, plain)
        if (local) {
          let bytes: Buffer
          try {
            bytes = fs.readFileSync(local)
          } catch (err) {
            throw new LocalFileError(
              `Cannot read the input image ${local}: ${(err as Error).message}`
            )
          }
          const up = await uploadImage(client, bytes, path.basename(plain))
          node.inputs.image = up.subfolder ? `${up.subfolder}/${up.name}` : up.name
          continue
        }
      }
      // 2. A file in another server's input folder: copy it over when this one lacks it.
      if (/\[(output|temp)\]$/.test(name)) continue
      onServer ??= await inputFiles(client)
      if (onServer === null || onServer.has(plain)) continue
      const copied = await this.copyInputFromFleet(plain, serverId, client)
      if (copied) node.inputs.image = copied
    }
    return prompt
  }

  /** Finds an input image on another healthy server and uploads it to `client`'s server. */
  private async copyInputFromFleet(
    name: string,
    targetId: string,
    client: ComfyClient
  ): Promise<string | null> {
    const slash = name.lastIndexOf('/')
    const ref = {
      filename: slash < 0 ? name : name.slice(slash + 1),
      subfolder: slash < 0 ? '' : name.slice(0, slash),
      type: 'input'
    }
    for (const s of this.monitor.status().servers) {
      if (s.id === targetId || !s.healthy) continue
      const other = this.monitor.clientFor(s.id)
      if (!other) continue
      try {
        const bytes = await viewFile(other, ref)
        const up = await uploadImage(client, bytes, ref.filename, ref.subfolder)
        this.logFn('info', `[Jobs] Copied input image ${name} from ${s.name}`)
        return up.subfolder ? `${up.subfolder}/${up.name}` : up.name
      } catch {
        // Not there (404) or unreachable: try the next one.
      }
    }
    return null
  }

  // ---------------------------------------------------------------- following

  /**
   * Resolves when the server's socket is open (the fleet monitor keeps one per server), or
   * after a short wait: a server whose socket does not open is still followed by polling.
   */
  private socketFor(serverId: string): Promise<void> {
    if (!this.running) return Promise.resolve()
    return this.monitor.whenSocketOpen(serverId, Math.min(SOCKET_WAIT_MS, this.settings().timeout))
  }

  private jobOn(serverId: string, promptId: unknown): JobRecord | undefined {
    if (typeof promptId !== 'string') return undefined
    const j = this.get(promptId)
    // Events from a server the job was moved away from are ignored: no duplicate reports.
    if (!j || j.serverId !== serverId || isFinished(j.state)) return undefined
    return j
  }

  /**
   * True when the server's socket has stayed open since it accepted the job, proven by an event
   * after the acceptance and no close since: the server cannot have restarted meanwhile (a
   * restart closes every socket), so a job it no longer has was removed there by someone.
   */
  private watchedThroughout(id: string, serverId: string): boolean {
    const at = this.acceptedAt.get(id)
    if (!at || (this.socketEpoch.get(serverId) ?? 0) !== at.epoch) return false
    return (this.lastEvent.get(serverId) ?? -1) > at.seq
  }

  private onSocketEvent(serverId: string, ev: ComfyEvent): void {
    this.lastEvent.set(serverId, ++this.eventSeq)
    const d = ev.data
    const j = this.jobOn(serverId, d.prompt_id)
    if (!j) {
      // A fast job can start (even finish) before the answer to our POST is read: keep its
      // events until the job is recorded as accepted there, then replay them.
      const pid = d.prompt_id
      if (typeof pid === 'string' && this.sending.get(pid) === serverId) {
        const list = this.early.get(pid) ?? []
        if (list.length < EARLY_EVENTS_MAX) list.push(ev)
        this.early.set(pid, list)
      }
      return
    }
    const p = j.progress ?? { node: null, value: 0, max: 0, nodesDone: 0, nodesTotal: 0 }
    switch (ev.type) {
      case 'execution_start':
        this.update(j.id, { state: 'running', startedAt: this.clock.now(), queuePosition: null })
        break
      case 'execution_cached': {
        const n = Array.isArray(d.nodes) ? d.nodes.length : 0
        this.update(j.id, {
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
          this.progress(j, { node: d.node, value: 0, max: 0, nodesDone: done })
        }
        break
      case 'progress':
        if (typeof d.value === 'number' && typeof d.max === 'number') {
          this.progress(j, { value: d.value, max: d.max })
        }
        break
      case 'execution_success':
        this.ranToEnd.add(j.id)
        void this.finalize(j.id)
        break
      case 'execution_error':
        this.update(j.id, {
          state: 'failed',
          finishedAt: this.clock.now(),
          error: {
            message: `${typeof d.exception_type === 'string' ? `${d.exception_type}: ` : ''}${String(d.exception_message ?? 'error')}`,
            ...(typeof d.node_id === 'string' ? { nodeId: d.node_id } : {}),
            ...(typeof d.node_type === 'string' ? { nodeType: d.node_type } : {})
          }
        })
        break
      case 'execution_interrupted':
        this.update(
          j.id,
          { state: 'interrupted', finishedAt: this.clock.now() },
          'Interrupted on the server'
        )
        break
    }
  }

  /** Reads the history entry and saves the outputs; idempotent. */
  private async finalize(id: string, tries = 0): Promise<void> {
    if (!this.running) return
    if (this.busy.has(id)) {
      // Another read is in flight (execution_success, then executing null): look again after it.
      if (tries < FINALIZE_TRIES)
        this.clock.setTimeout(() => void this.finalize(id, tries + 1), FINALIZE_GAP_MS)
      return
    }
    const j = this.get(id)
    if (!j || isFinished(j.state) || !j.serverId) return
    const client = this.monitor.clientFor(j.serverId)
    if (!client) return
    this.busy.add(id)
    try {
      const h = await getHistory(client, id)
      if (!h) {
        // Not written yet: look again shortly (the poll is the backstop).
        if (tries < FINALIZE_TRIES)
          this.clock.setTimeout(() => void this.finalize(id, tries + 1), FINALIZE_GAP_MS)
        else if (this.ranToEnd.has(id)) await this.finish(j, this.historyFromEvents(id), client)
        return
      }
      await this.finish(j, h, client)
    } catch (err) {
      this.logFn(
        'warn',
        `[Jobs] ${id.slice(0, 8)}: could not read the result yet (${(err as Error).message})`
      )
    } finally {
      this.busy.delete(id)
    }
  }

  /**
   * The result of a job we saw run to its end on a server that keeps no history of it (another
   * user cleared it, or the server keeps none): its outputs as the `executed` events named them.
   */
  private historyFromEvents(id: string): HistoryEntry {
    this.logFn(
      'info',
      `[Jobs] ${id.slice(0, 8)}: finished without a history entry; using what its events said`
    )
    return parseHistoryEntry({
      outputs: this.seenOutputs.get(id) ?? {},
      status: { status_str: 'success', completed: true, messages: [] }
    })
  }

  private async finish(j: JobRecord, h: HistoryEntry, client: ComfyClient): Promise<void> {
    const now = this.clock.now()
    if (h.interrupted) {
      this.update(j.id, { state: 'interrupted', finishedAt: now }, 'Interrupted on the server')
      return
    }
    if (h.status === 'error' || h.error) {
      this.update(j.id, {
        state: 'failed',
        finishedAt: now,
        error: h.error ?? { message: 'The server reported an error' }
      })
      return
    }
    // Learn this server's speed from the run time ComfyUI recorded (or our own view of it).
    const runMs = h.runMs ?? (j.startedAt !== null ? now - j.startedAt : null)
    if (runMs !== null && j.serverId) this.monitor.noteRun(j.serverId, runMs, j.kind)
    const folder = path.join(this.outputDir, jobFolderName(j.source, j.id, j.createdAt))
    const outputs: JobRecord['outputs'] = []
    const problems: string[] = []
    const results = h.outputs.filter((f) => f.type !== 'temp') // previews are not results
    if (results.length > MAX_OUTPUTS_PER_JOB) {
      problems.push(
        `${results.length - MAX_OUTPUTS_PER_JOB} outputs over the limit of ${MAX_OUTPUTS_PER_JOB} per job`
      )
    }
    let saved = 0
    const idleTimeoutMs = Math.max(DOWNLOAD_IDLE_MS, this.settings().timeout)
    for (const f of results.slice(0, MAX_OUTPUTS_PER_JOB)) {
      if (!this.running) break
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
        problems.push(`${f.filename}: ${(err as Error).message}`)
      }
    }
    if (results.length && !this.running && outputs.length + problems.length < results.length) {
      // Shutting down: the next start finds the job still running and saves its outputs then.
      return
    }
    const cur = this.get(j.id)
    if (!cur || isFinished(cur.state)) return
    this.update(
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
      problems.length ? `Some outputs could not be downloaded: ${problems.join('; ')}` : undefined
    )
    this.logFn(
      'info',
      `[Jobs] ${j.id.slice(0, 8)} done on ${cur.serverUrl ?? '?'}: ${outputs.length} output(s)` +
        (problems.length ? `, ${problems.length} missing` : '')
    )
  }

  // ---------------------------------------------------------------- backstop and dead servers

  private schedulePoll(): void {
    if (!this.running) return
    this.pollTimer = this.clock.setTimeout(() => {
      this.pollTimer = null
      void this.poll().finally(() => this.schedulePoll())
    }, this.pollMs)
  }

  /** Follows every job in flight by queue and history, server by server, in parallel. */
  async poll(): Promise<void> {
    const byServer = new Map<string, JobRecord[]>()
    for (const e of this.journal.unfinished()) {
      const j = e.job
      if ((j.state === 'queued' || j.state === 'running') && j.serverId) {
        byServer.set(j.serverId, [...(byServer.get(j.serverId) ?? []), j])
      }
    }
    await Promise.all([...byServer].map(([sid, jobs]) => this.pollServer(sid, jobs)))
  }

  private async pollServer(serverId: string, jobs: JobRecord[]): Promise<void> {
    const client = this.monitor.clientFor(serverId)
    if (!client) return
    let q
    try {
      q = await getQueueIds(client)
    } catch {
      this.suspect(serverId) // the fleet's health checks decide about re-routing
      return
    }
    for (const j of jobs) {
      if (this.busy.has(j.id)) continue
      const pos = q.pending.indexOf(j.id)
      if (q.running.includes(j.id)) {
        if (j.state !== 'running')
          this.update(j.id, {
            state: 'running',
            queuePosition: null,
            startedAt: j.startedAt ?? this.clock.now()
          })
        continue
      }
      if (pos >= 0) {
        if (j.queuePosition !== pos + 1) this.update(j.id, { queuePosition: pos + 1 })
        continue
      }
      let h: HistoryEntry | null
      try {
        h = await getHistory(client, j.id)
      } catch {
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
      if (this.watchedThroughout(j.id, serverId)) {
        // Gone while the server's socket stayed open: not a restart, someone removed it there.
        const name = this.nameOf(serverId)
        this.logFn('warn', `[Jobs] ${j.id.slice(0, 8)}: cancelled on ${name}`)
        this.update(
          j.id,
          { state: 'cancelled', finishedAt: this.clock.now(), cancelledOn: name },
          `Cancelled on ${name} (removed from its queue there)`
        )
        continue
      }
      // Not in queue, not in history: the server forgot it (a restart). Send it again.
      this.reroute(j, `${this.nameOf(serverId)} no longer knows the job (restarted?)`, null, true)
    }
  }

  private async finishOnce(j: JobRecord, h: HistoryEntry, client: ComfyClient): Promise<void> {
    if (this.busy.has(j.id)) return
    this.busy.add(j.id)
    try {
      await this.finish(j, h, client)
    } finally {
      this.busy.delete(j.id)
    }
  }

  /**
   * A server holding our jobs stopped answering (its socket closed, a poll failed): check the
   * fleet now and once more shortly after, so a dead server is confirmed (it takes
   * REROUTE_AFTER_FAILURES failed checks in a row) in about a second instead of waiting for
   * the regular interval.
   */
  private suspect(serverId: string): void {
    if (!this.running || this.suspects.has(serverId)) return
    const holds = this.journal
      .unfinished()
      .some(
        (e) =>
          e.job.serverId === serverId && (e.job.state === 'queued' || e.job.state === 'running')
      )
    if (!holds) return
    this.suspects.add(serverId)
    let left = REROUTE_AFTER_FAILURES
    const recheck = () => {
      void this.monitor.checkNow().then((st) => {
        const s = st.servers.find((x) => x.id === serverId)
        left--
        if (this.running && s && !s.healthy && left > 0) {
          this.clock.setTimeout(recheck, SUSPECT_RECHECK_MS)
        } else {
          this.suspects.delete(serverId)
        }
      })
    }
    recheck()
  }

  private nameOf(serverId: string): string {
    return this.monitor.configFor(serverId)?.name ?? serverId
  }

  /** Puts a job back to pending and sends it again; `leftOn` keeps the stale copy to remove. */
  private reroute(j: JobRecord, why: string, leftOn: string | null, forgotten = false): void {
    const cur = this.get(j.id)
    if (!cur || isFinished(cur.state) || this.busy.has(j.id)) return
    if (leftOn) this.markStale(leftOn, j.id)
    if (cur.pinnedServerId && leftOn) {
      // Pinned jobs wait for their server rather than move.
      return
    }
    const lost = (cur.forgotten ?? 0) + (forgotten ? 1 : 0)
    if (lost >= MAX_FORGOTTEN || cur.reroutes >= MAX_REROUTES) {
      // A server that takes the job and then never has it (a redirect elsewhere, a broken
      // proxy): sending it again and again would run it nowhere or many times.
      this.logFn('warn', `[Jobs] ${j.id.slice(0, 8)}: ${why}; not sent again`)
      this.update(
        j.id,
        {
          state: 'failed',
          finishedAt: this.clock.now(),
          forgotten: lost,
          error: {
            message:
              lost >= MAX_FORGOTTEN
                ? `Servers lost this job ${lost} times after accepting it; it is not sent again`
                : `Moved ${cur.reroutes} times; it is not sent again`,
            details: [why]
          }
        },
        why
      )
      return
    }
    this.logFn('warn', `[Jobs] ${j.id.slice(0, 8)}: ${why}; sending it again`)
    this.update(
      j.id,
      {
        state: 'pending',
        serverId: null,
        serverUrl: null,
        queuePosition: null,
        reroutes: cur.reroutes + 1,
        forgotten: lost,
        startedAt: null,
        // It starts over on the next server.
        progress: cur.progress
          ? { ...cur.progress, node: null, value: 0, max: 0, nodesDone: 0 }
          : null
      },
      why
    )
    void this.dispatch(j.id)
  }

  private markStale(serverId: string, id: string): void {
    const m = this.stale.get(serverId) ?? new Map<string, number>()
    m.set(id, this.clock.now())
    this.stale.set(serverId, m)
  }

  private unmarkStale(serverId: string, id: string): void {
    this.stale.get(serverId)?.delete(id)
  }

  private onRound(status: FleetStatus): void {
    for (const s of status.servers) {
      if (!s.healthy && s.consecutiveFailures >= REROUTE_AFTER_FAILURES) {
        for (const e of this.journal.unfinished()) {
          const j = e.job
          if (j.serverId === s.id && (j.state === 'queued' || j.state === 'running')) {
            this.reroute(j, `${s.name} is down (${s.error ?? 'no answer'})`, s.id)
          }
        }
      }
      if (s.healthy) void this.cleanStale(s.id)
    }
    // Jobs that were waiting for a healthy or a free server.
    this.pump()
  }

  /** Removes copies of moved jobs from a server that is back. */
  private async cleanStale(serverId: string): Promise<void> {
    const marks = this.stale.get(serverId)
    const ids = [...(marks?.keys() ?? [])]
    if (!ids.length) return
    const client = this.monitor.clientFor(serverId)
    if (!client) return
    const mine = ids.filter((id) => this.get(id)?.serverId !== serverId)
    try {
      const q = await getQueueIds(client)
      const pending = mine.filter((id) => q.pending.includes(id))
      if (pending.length) await deleteFromQueue(client, pending)
      for (const id of mine.filter((x) => q.running.includes(x))) await interruptPrompt(client, id)
      // A copy may still turn up later (a slow server handling our POST): keep watching for a while.
      const now = this.clock.now()
      for (const id of ids) {
        const gone = pending.includes(id) || q.running.includes(id)
        if (
          gone ||
          now - (marks?.get(id) ?? 0) > STALE_WATCH_MS ||
          this.get(id)?.serverId === serverId
        ) {
          marks?.delete(id)
        }
      }
      if (pending.length) {
        this.logFn(
          'info',
          `[Jobs] Removed ${pending.length} stale cop${pending.length === 1 ? 'y' : 'ies'} from ${this.nameOf(serverId)}`
        )
      }
    } catch {
      // Still unreachable; try after the next round.
    }
  }
}

export class LocalFileError extends Error {}
