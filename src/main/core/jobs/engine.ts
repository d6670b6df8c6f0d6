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
 *
 * This file wires the pieces together: the job store (the only writer of job records),
 * dispatch (choosing and sending), input images, the tracker (following jobs to their end)
 * and recovery (servers that fail).
 */
import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import type {
  BalancerSettings,
  JobBatch,
  JobPriority,
  JobRecord,
  QueueState
} from '../../../shared/types'
import type { Clock } from '../clock'
import { systemClock } from '../clock'
import { deleteFromQueue, getQueueIds, interruptPrompt } from '../comfy/prompt-api'
import type { ComfyClient } from '../comfy/client'
import { workflowKind } from '../fleet/estimator'
import type { Emitter } from '../events'
import type { FleetPort } from '../fleet/port'
import { Dispatcher, orderKey, priorityRank, queueOrder } from './dispatch'
import { InputImages } from './inputs'
import {
  isFinished,
  JobStore,
  queueStateFile,
  readQueueState,
  writeQueueState,
  type JobEvents
} from './job-store'
import type { Journal } from './journal'
import { Recovery } from './recovery'
import { Tracker } from './tracker'
import type { ObjectInfo } from './ui-workflow'
import { makeVariations, MAX_VARIATIONS, type VariationOptions } from './variations'
import { summarize, type ApiPrompt, type LoadedWorkflow } from './workflow'

export type { JobEvents } from './job-store'
export { LocalFileError } from './inputs'
export { MAX_FORGOTTEN, MAX_REROUTES, REROUTE_AFTER_FAILURES } from './recovery'
export { MAX_JOB_BYTES, MAX_OUTPUTS_PER_JOB } from './tracker'
export { PAUSED_NOTE, queueOrder } from './dispatch'
export { queueStateFile, readQueueState } from './job-store'

/** Where to move waiting jobs in the queue. */
export type QueueMove = 'top' | 'up' | 'down' | 'bottom'

/** One job, or every run of a batch. */
export type QueueTarget = { jobId: string } | { batchId: string }

/** States a job can be retried from. */
const RETRYABLE = new Set<JobRecord['state']>(['failed', 'interrupted', 'lost', 'cancelled'])
/** States the runs of a batch are retried from (cancelled runs were the user's choice). */
const BATCH_RETRYABLE = new Set<JobRecord['state']>(['failed', 'interrupted', 'lost'])
/** Priorities by rank (see `priorityRank`). */
const PRIORITIES: readonly JobPriority[] = ['high', 'normal', 'low']
/** Smallest gap between order keys when the queue is numbered again (ms-based keys). */
const RENUMBER_STEP = 1e-3
/** Folders of local input images remembered for retries (the oldest go first). */
const MAX_BASE_DIRS = 10_000

/** How often queue and history are polled for jobs in flight (the backstop to the socket). */
export const POLL_INTERVAL_MS = 2_000

export interface JobEngineOptions {
  journal: Journal
  monitor: FleetPort
  settings: () => BalancerSettings
  outputDir: string
  /** Our WebSocket identity; keep it stable across restarts. */
  clientId?: string
  clock?: Clock
  log?: (level: 'info' | 'warn' | 'error' | 'verbose', message: string) => void
  pollIntervalMs?: number
  /**
   * Where paused/resumed is kept across restarts; null keeps it in memory only.
   * @default next to the journal (see `queueStateFile`)
   */
  queueStateFile?: string | null
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
  /**
   * The prompt id to use (a client of the gateway chose it); a new UUID when not given. An id
   * already in the journal is refused: the same prompt id must never run twice.
   */
  promptId?: string
  /**
   * ComfyUI's `extra_data` for the POST. The workflow's UI graph, when known, is added as
   * `extra_pnginfo.workflow` so the images the server saves open their graph in ComfyUI.
   */
  extraData?: Record<string, unknown>
}

export interface BatchSubmitOptions extends Omit<SubmitOptions, 'promptId'> {
  /** The servers' node definitions, to read `--set` values as their inputs' types. */
  objectInfo?: ObjectInfo
}

/** A batch as submitted: its id and its jobs, in run order. */
export interface SubmittedBatch {
  batchId: string
  jobs: JobRecord[]
}

/** Longest prompt id a client may choose. */
const MAX_PROMPT_ID = 200
/** Largest `extra_data` kept with a job (the UI graph of a big workflow is a few MB). */
const MAX_EXTRA_BYTES = 16 * 1024 * 1024

/** The `extra_data` to send: the caller's, with the UI graph unless it already has one. */
function extraFor(
  wf: LoadedWorkflow,
  given?: Record<string, unknown>
): Record<string, unknown> | null {
  const extra: Record<string, unknown> = { ...(given ?? {}) }
  const info = extra.extra_pnginfo
  const pnginfo: Record<string, unknown> =
    info && typeof info === 'object' && !Array.isArray(info)
      ? { ...(info as Record<string, unknown>) }
      : {}
  if (wf.graph && pnginfo.workflow === undefined) pnginfo.workflow = wf.graph
  if (Object.keys(pnginfo).length) extra.extra_pnginfo = pnginfo
  if (!Object.keys(extra).length) return null
  if (Buffer.byteLength(JSON.stringify(extra)) > MAX_EXTRA_BYTES) {
    // Too large to keep: the job still runs, without the graph in its images.
    delete extra.extra_pnginfo
    return Object.keys(extra).length ? extra : null
  }
  return extra
}

export class JobEngine {
  readonly events: Emitter<JobEvents>
  readonly clientId: string
  private readonly monitor: FleetPort
  private readonly clock: Clock
  private readonly logFn: NonNullable<JobEngineOptions['log']>
  private outputDir: string
  private running = false
  private offFleet: (() => void) | null = null
  private readonly store: JobStore
  private readonly inputs: InputImages
  private readonly dispatcher: Dispatcher
  private readonly tracker: Tracker
  private readonly recovery: Recovery
  /** Jobs cancelled while their POST was under way: removed from the server once accepted. */
  private readonly cancelWhenAccepted = new Set<string>()
  /** Jobs whose cancel is talking to their server right now. */
  private readonly cancelling = new Set<string>()
  /** Cancels started by a late acceptance, by job id. */
  private readonly recancels = new Map<string, Promise<JobRecord>>()
  private readonly settingsFn: () => BalancerSettings
  private readonly stateFile: string | null
  private queueState: QueueState
  /** The state file as last read or written (size and mtime), to notice changes by others. */
  private stateStamp = ''
  /** Folder each job's local input images come from, for its retry. */
  private readonly baseDirs = new Map<string, string>()

  constructor(opts: JobEngineOptions) {
    this.monitor = opts.monitor
    this.outputDir = opts.outputDir
    this.clientId = opts.clientId ?? randomUUID()
    this.clock = opts.clock ?? systemClock
    this.logFn = opts.log ?? (() => undefined)
    const clock = this.clock
    const log = this.logFn
    const fleet = this.monitor
    const settings = (this.settingsFn = opts.settings)
    const running = () => this.running
    this.stateFile =
      opts.queueStateFile === undefined ? queueStateFile(opts.journal.file) : opts.queueStateFile
    this.queueState = this.stateFile
      ? readQueueState(this.stateFile)
      : { paused: false, changedAt: null }
    this.stateStamp = this.stampOf()
    const store = (this.store = new JobStore(opts.journal, clock))
    this.events = store.events
    const inputs = (this.inputs = new InputImages(store, fleet, log))
    const tracker: Tracker = (this.tracker = new Tracker({
      store,
      fleet,
      settings,
      clock,
      log,
      running,
      outputDir: () => this.outputDir,
      pollMs: opts.pollIntervalMs ?? POLL_INTERVAL_MS,
      sendingTo: (id) => dispatcher.sendingTo(id),
      suspect: (sid) => recovery.suspect(sid),
      resend: (j, why) => recovery.reroute(j, why, null, true),
      cancelling: (id) => this.cancelling.has(id)
    }))
    const dispatcher: Dispatcher = (this.dispatcher = new Dispatcher({
      store,
      fleet,
      settings,
      clock,
      log,
      holdBack: opts.holdBack === undefined ? 1 : opts.holdBack,
      running,
      paused: () => this.queueState.paused,
      prepare: (id, client, sid) => inputs.prepare(id, client, sid),
      waitSocket: (sid) => tracker.socketFor(sid),
      onAccepted: (id, sid, where) => tracker.accepted(id, sid, where),
      dropEarly: (id) => tracker.dropEarly(id),
      markStale: (sid, id) => recovery.markStale(sid, id),
      unmarkStale: (sid, id) => recovery.unmarkStale(sid, id)
    }))
    const recovery: Recovery = (this.recovery = new Recovery({
      store,
      fleet,
      clock,
      log,
      running,
      dispatch: (id) => void dispatcher.dispatch(id),
      pump: () => dispatcher.pump()
    }))
    store.onChange((cur, next) => {
      dispatcher.onJobChanged(cur, next)
      if (isFinished(next.state) || next.serverId !== cur.serverId) tracker.forgetLive(next.id)
      if (isFinished(next.state)) inputs.forget(next.id)
      if (this.cancelWhenAccepted.has(next.id) && next.state !== cur.state) {
        if (next.state === 'queued' || next.state === 'running') {
          // The server took it just after the user cancelled it: take it off again.
          this.cancelWhenAccepted.delete(next.id)
          const again = this.cancel(next.id).finally(() => this.recancels.delete(next.id))
          this.recancels.set(next.id, again)
          void again.catch(() => undefined)
        } else if (next.state !== 'cancelled') this.cancelWhenAccepted.delete(next.id)
      }
    })
  }

  /** Resumes unfinished jobs from the journal and starts following the fleet. */
  start(): void {
    if (this.running) return
    this.running = true
    const offs = [
      this.monitor.events.on('round', (s) => {
        this.reloadQueueState()
        this.recovery.onRound(s)
      }),
      this.monitor.events.on('comfy', ({ serverId, event }) =>
        this.tracker.onSocketEvent(serverId, event)
      ),
      this.monitor.events.on('socket-closed', ({ serverId }) => {
        this.tracker.socketClosed(serverId)
        this.recovery.suspect(serverId)
      })
    ]
    this.offFleet = () => offs.forEach((off) => off())
    if (this.queueState.paused) this.logFn('info', '[Jobs] Sending is paused')
    // Waiting jobs in queue order (priority, then order).
    for (const j of queueOrder(this.store.unfinished().map((e) => e.job))) {
      this.logFn('info', `[Jobs] Resuming ${j.id.slice(0, 8)} (${j.source}, ${j.state})`)
      if (j.state === 'pending') void this.dispatcher.dispatch(j.id)
      else if (j.serverId) void this.tracker.socketFor(j.serverId)
    }
    this.tracker.startPolling()
  }

  async stop(): Promise<void> {
    this.running = false
    this.tracker.stopPolling()
    this.offFleet?.()
    this.offFleet = null
  }

  jobs(): JobRecord[] {
    return this.store.jobs()
  }

  get(id: string): JobRecord | undefined {
    return this.store.get(id)
  }

  /** Resolves when the job is finished (done, failed, interrupted, cancelled or lost). */
  waitFor(id: string): Promise<JobRecord> {
    return this.store.waitFor(id)
  }

  /** Journals the job, then sends it. Returns the journaled record at once. */
  submit(wf: LoadedWorkflow, opts: SubmitOptions = {}): JobRecord {
    const job = this.record(wf, opts)
    void this.dispatcher.dispatch(job.id)
    return job
  }

  /**
   * One workflow run N times as one batch: the given prompts, or the variations `runs` asks
   * for (see `makeVariations`). Every job is journaled, with its place in the batch, before any
   * is sent; late binding then spreads them over the fleet. Throws (nothing journaled) when
   * the variations cannot be made.
   */
  submitBatch(
    wf: LoadedWorkflow,
    runs: ApiPrompt[] | VariationOptions,
    opts: BatchSubmitOptions = {}
  ): SubmittedBatch {
    const prompts = Array.isArray(runs) ? runs : makeVariations(wf.prompt, runs, opts.objectInfo)
    if (prompts.length < 1 || prompts.length > MAX_VARIATIONS) {
      throw new Error(`A batch has 1 to ${MAX_VARIATIONS} runs, not ${prompts.length}`)
    }
    const submitOpts: SubmitOptions = {
      serverId: opts.serverId,
      baseDir: opts.baseDir,
      extraData: opts.extraData
    }
    this.checkServer(submitOpts)
    const batchId = randomUUID()
    const size = prompts.length
    const jobs = prompts.map((prompt, index) =>
      this.record({ ...wf, prompt, summary: summarize(prompt) }, submitOpts, {
        id: batchId,
        index,
        size
      })
    )
    for (const j of jobs) void this.dispatcher.dispatch(j.id)
    return { batchId, jobs }
  }

  /**
   * The jobs of a batch, in run order (empty for an unknown batch). A run that was retried is
   * left out: its retry stands in its place.
   */
  batchJobs(batchId: string): JobRecord[] {
    return this.store
      .jobs()
      .filter((j) => j.batch?.id === batchId && !j.retriedAs)
      .sort((a, b) => a.batch!.index - b.batch!.index)
  }

  /** Cancels every unfinished job of a batch (those waiting here first); returns them all. */
  async cancelBatch(batchId: string): Promise<JobRecord[]> {
    const jobs = this.batchJobs(batchId)
    if (!jobs.length) throw new Error(`Unknown batch ${batchId}`)
    await this.cancelJobs(jobs)
    return this.batchJobs(batchId)
  }

  /** Cancels every unfinished job, waiting or on a server; returns those it cancelled. */
  async cancelAll(): Promise<JobRecord[]> {
    const open = this.store.unfinished().map((e) => e.job)
    await this.cancelJobs(open)
    return open.map((j) => this.get(j.id) ?? j)
  }

  private async cancelJobs(jobs: JobRecord[]): Promise<void> {
    const open = jobs.filter((j) => !isFinished(j.state))
    // Those not sent yet go at once, so none of them is sent while the others are cancelled.
    open.sort((a, b) => Number(a.state !== 'pending') - Number(b.state !== 'pending'))
    // A run whose POST is under way may still be accepted: wait (bounded) until its send ended,
    // so it is off its server too before we answer.
    const inFlight = open
      .filter((j) => j.state === 'pending' && this.store.busy.has(j.id))
      .map((j) => j.id)
    await Promise.all(open.map((j) => this.cancel(j.id)))
    const deadline = this.clock.now() + Math.max(2_000, 3 * this.settingsFn().timeout)
    while (inFlight.some((id) => this.store.busy.has(id)) && this.clock.now() < deadline) {
      await new Promise<void>((r) => this.clock.setTimeout(r, 25))
    }
    await Promise.all(inFlight.map((id) => this.recancels.get(id)).filter(Boolean))
  }

  // ---------------------------------------------------------------- the queue the user controls

  /** Whether sending is paused, and since when. */
  queue(): QueueState {
    return { ...this.queueState }
  }

  isPaused(): boolean {
    return this.queueState.paused
  }

  /**
   * Pauses or resumes sending. Paused, no job is sent to a server (jobs already there go on);
   * resumed, the waiting jobs go in queue order. Kept across restarts (the queue state file).
   */
  setPaused(paused: boolean): QueueState {
    if (paused === this.queueState.paused) return this.queue()
    this.queueState = { paused, changedAt: this.clock.now() }
    if (this.stateFile) {
      try {
        writeQueueState(this.stateFile, this.queueState)
        this.stateStamp = this.stampOf()
      } catch (err) {
        this.logFn('warn', `[Jobs] Could not save the paused state: ${(err as Error).message}`)
      }
    }
    this.applyQueueState()
    return this.queue()
  }

  private applyQueueState(): void {
    this.logFn('info', this.queueState.paused ? '[Jobs] Sending paused' : '[Jobs] Sending resumed')
    this.events.emit('queue', this.queue())
    if (!this.queueState.paused) this.dispatcher.schedulePump()
  }

  private stampOf(): string {
    if (!this.stateFile) return ''
    try {
      const st = fs.statSync(this.stateFile)
      return `${st.size}:${st.mtimeMs}`
    } catch {
      return ''
    }
  }

  /** Takes up a pause or resume another program wrote to the state file (the CLI). */
  reloadQueueState(): void {
    if (!this.stateFile) return
    const stamp = this.stampOf()
    if (stamp === this.stateStamp) return
    this.stateStamp = stamp
    const next = readQueueState(this.stateFile)
    if (next.paused === this.queueState.paused) return
    this.queueState = next
    this.applyQueueState()
  }

  /** Waiting jobs (not yet on a server), in the order they will be sent. */
  waiting(): JobRecord[] {
    return queueOrder(
      this.store
        .unfinished()
        .map((e) => e.job)
        .filter((j) => j.state === 'pending')
    )
  }

  private targetJobs(target: QueueTarget): JobRecord[] {
    if ('batchId' in target) {
      const jobs = this.batchJobs(target.batchId)
      if (!jobs.length) throw new Error(`Unknown batch ${target.batchId}`)
      return jobs
    }
    const j = this.get(target.jobId)
    if (!j) throw new Error(`Unknown job ${target.jobId}`)
    return [j]
  }

  /**
   * Moves waiting jobs (one, or a batch's as a block keeping their order) to the top or the
   * bottom of the queue, or one place up or down past the nearest other waiting job. A job
   * moved past a job of another priority takes that priority, so it lands where it was put.
   * Returns the queue in its new order. Jobs already on a server are not moved.
   */
  move(target: QueueTarget, where: QueueMove): JobRecord[] {
    const chosen = new Set(
      this.targetJobs(target)
        .filter((j) => j.state === 'pending')
        .map((j) => j.id)
    )
    const list = this.waiting()
    const block = list.filter((j) => chosen.has(j.id))
    if (!block.length) return list
    const rest = list.filter((j) => !chosen.has(j.id))
    const first = list.indexOf(block[0]!)
    const last = list.indexOf(block.at(-1)!)
    // Where the block goes in `rest`: before rest[at].
    let at: number
    if (where === 'top') at = 0
    else if (where === 'bottom') at = rest.length
    else if (where === 'up') {
      const before = list.slice(0, first).filter((j) => !chosen.has(j.id))
      at = Math.max(0, before.length - 1)
    } else {
      const before = list.slice(0, last + 1).filter((j) => !chosen.has(j.id))
      at = Math.min(rest.length, before.length + 1)
    }
    const prev = rest[at - 1]
    const next = rest[at]
    // One priority for the block: its first job's, unless that cannot sit between its new
    // neighbours (sent after `prev`, before `next`); then the nearest one that can.
    let rank = priorityRank(block[0]!)
    if (prev) rank = Math.max(rank, priorityRank(prev))
    if (next) rank = Math.min(rank, priorityRank(next))
    const priority = PRIORITIES[rank]!
    const lo = prev && priorityRank(prev) === rank ? orderKey(prev) : null
    const hi = next && priorityRank(next) === rank ? orderKey(next) : null
    const k = block.length
    const from = lo ?? (hi === null ? 0 : hi - (k + 1))
    const to = hi ?? from + (k + 1)
    const keys = block.map((_, i) => from + ((to - from) * (i + 1)) / (k + 1))
    if (keys.every((key, i) => key > (i ? keys[i - 1]! : from) && key < to)) {
      block.forEach((j, i) => this.setPlace(j, priority, keys[i]!))
    } else {
      // No room left between the two: number the whole queue again.
      this.renumber([...rest.slice(0, at), ...block, ...rest.slice(at)], block, priority)
    }
    return this.waiting()
  }

  /** New order keys for the whole queue, in the given order, within the range it had. */
  private renumber(list: JobRecord[], block: JobRecord[], priority: JobPriority): void {
    const moved = new Set(block.map((j) => j.id))
    const keys = list.map(orderKey)
    const min = Math.min(...keys)
    const max = Math.max(...keys)
    let step = list.length > 1 ? (max - min) / (list.length - 1) : 1
    if (!(min + step > min)) step = RENUMBER_STEP
    list.forEach((j, i) =>
      this.setPlace(j, moved.has(j.id) ? priority : j.priority, min + i * step)
    )
  }

  private setPlace(j: JobRecord, priority: JobPriority | undefined, order: number): void {
    const cur = this.get(j.id)
    if (!cur || cur.state !== 'pending') return
    const p = priority === 'normal' && !cur.priority ? undefined : priority
    if (cur.order === order && cur.priority === p) return
    this.store.update(j.id, { order, ...(p !== undefined ? { priority: p } : {}) })
  }

  /** Sets the priority of waiting jobs (one, or a batch's); returns those it changed. */
  setPriority(target: QueueTarget, priority: JobPriority): JobRecord[] {
    if (!['high', 'normal', 'low'].includes(priority)) {
      throw new Error(`A priority is high, normal or low, not "${String(priority)}"`)
    }
    const changed: JobRecord[] = []
    for (const j of this.targetJobs(target)) {
      if (isFinished(j.state) || (j.priority ?? 'normal') === priority) continue
      changed.push(this.store.update(j.id, { priority }))
    }
    return changed
  }

  /**
   * Runs a job that failed (or was interrupted, lost or cancelled) again: a new job with the
   * same workflow, server pin, priority and place in its batch, which replaces the old one in
   * the batch. Throws for a job that finished well, is still going or was retried already.
   */
  retry(id: string): JobRecord {
    const e = this.store.entry(id)
    if (!e) throw new Error(`Unknown job ${id}`)
    const old = e.job
    if (old.retriedAs) throw new Error(`Job ${id} was retried already, as ${old.retriedAs}`)
    if (!RETRYABLE.has(old.state)) {
      throw new Error(
        old.state === 'done'
          ? `Job ${id} finished well: run it again instead`
          : `Job ${id} is still ${old.state}`
      )
    }
    if (!e.prompt) throw new Error('This job no longer has its workflow')
    if (old.pinnedServerId && !this.monitor.configFor(old.pinnedServerId)) {
      throw new Error(`The job's server "${old.pinnedServerId}" is no longer in the list`)
    }
    const baseDir = this.baseDirs.get(id)
    const job = this.record(
      {
        source: old.source,
        format: 'json',
        prompt: e.prompt,
        summary: summarize(e.prompt)
      },
      { serverId: old.pinnedServerId, ...(baseDir ? { baseDir } : {}) },
      old.batch,
      { retryOf: old.id, ...(old.priority ? { priority: old.priority } : {}) },
      e.extra ?? null
    )
    this.store.update(old.id, { retriedAs: job.id }, `Retried as ${job.id}`)
    void this.dispatcher.dispatch(job.id)
    return this.get(job.id) ?? job
  }

  /** Retries every run of a batch that failed, was interrupted or lost; returns the new jobs. */
  retryBatch(batchId: string): JobRecord[] {
    const jobs = this.batchJobs(batchId)
    if (!jobs.length) throw new Error(`Unknown batch ${batchId}`)
    return jobs.filter((j) => BATCH_RETRYABLE.has(j.state)).map((j) => this.retry(j.id))
  }

  private checkServer(opts: SubmitOptions): void {
    if (opts.serverId && !this.monitor.configFor(opts.serverId)) {
      throw new Error(`Unknown server "${opts.serverId}"`)
    }
  }

  /** Journals a new job (not sent yet). */
  private record(
    wf: LoadedWorkflow,
    opts: SubmitOptions,
    batch?: JobBatch,
    more: Partial<JobRecord> = {},
    extra?: Record<string, unknown> | null
  ): JobRecord {
    this.checkServer(opts)
    const id = opts.promptId ?? randomUUID()
    if (opts.promptId !== undefined) {
      if (!/^[\x21-\x7e]{1,200}$/.test(id) || id.length > MAX_PROMPT_ID) {
        throw new Error('A prompt id must be 1 to 200 visible characters')
      }
      if (this.store.get(id)) throw new Error(`A job with the prompt id ${id} already exists`)
    }
    const now = this.clock.now()
    const job: JobRecord = {
      id,
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
      notes: [],
      ...(batch ? { batch } : {}),
      ...more
    }
    if (opts.baseDir) {
      this.inputs.setBaseDir(job.id, opts.baseDir)
      this.baseDirs.set(job.id, opts.baseDir)
      if (this.baseDirs.size > MAX_BASE_DIRS) {
        const oldest = this.baseDirs.keys().next().value
        if (oldest !== undefined) this.baseDirs.delete(oldest)
      }
    }
    this.store.put(job, wf.prompt, extra !== undefined ? extra : extraFor(wf, opts.extraData))
    return job
  }

  /** Where outputs of jobs finishing from now on are saved. */
  setOutputDir(dir: string): void {
    this.outputDir = dir
  }

  /** Sends a finished job's workflow again as a new job (same server pin, if any). */
  resubmit(id: string, opts: SubmitOptions = {}): JobRecord {
    const e = this.store.entry(id)
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
    if (j.state === 'pending' && this.store.busy.has(id)) {
      this.cancelWhenAccepted.add(id)
      if (this.cancelWhenAccepted.size > 10_000) {
        const oldest = this.cancelWhenAccepted.values().next().value
        if (oldest !== undefined) this.cancelWhenAccepted.delete(oldest)
      }
    }
    const client = j.serverId ? this.monitor.clientFor(j.serverId) : undefined
    this.cancelling.add(id)
    try {
      if (client) await this.cancelOnServer(client, j)
    } finally {
      this.cancelling.delete(id)
    }
    return this.store.update(
      id,
      { state: 'cancelled', finishedAt: this.clock.now() },
      'Cancelled by the user'
    )
  }

  /** Removes a job from its server's queue, or interrupts it there; a failure is logged. */
  private async cancelOnServer(client: ComfyClient, j: JobRecord): Promise<void> {
    try {
      if (j.state === 'running') await interruptPrompt(client, j.id)
      else {
        await deleteFromQueue(client, [j.id])
        // It may have started before we heard: delete only removes waiting prompts.
        if ((await getQueueIds(client)).running.includes(j.id)) await interruptPrompt(client, j.id)
      }
    } catch (err) {
      this.logFn(
        'warn',
        `[Jobs] Could not cancel ${j.id.slice(0, 8)} on its server: ${(err as Error).message}`
      )
    }
  }

  /** Follows every job in flight by queue and history, server by server, in parallel. */
  poll(): Promise<void> {
    return this.tracker.poll()
  }
}
