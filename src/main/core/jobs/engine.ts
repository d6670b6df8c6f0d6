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
 * new jobs (records and retries), batches, dispatch (choosing and sending), input images, the
 * tracker (following jobs to their end), recovery (servers that fail), cancels and the queue
 * the user controls (pause, order, priority). The pieces know each other only through the
 * callbacks given here.
 */
import { randomUUID } from 'node:crypto'
import type { BalancerSettings, JobPriority, JobRecord, QueueState } from '../../../shared/types'
import type { Clock } from '../clock'
import { systemClock } from '../clock'
import type { Emitter } from '../events'
import type { FleetPort } from '../fleet/port'
import { Batches, type BatchSubmitOptions, type SubmittedBatch } from './batches'
import { Cancels } from './cancels'
import { Dispatcher, queueOrder } from './dispatch'
import { InputImages } from './inputs'
import { isFinished, JobStore, queueStateFile, type JobEvents } from './job-store'
import type { Journal } from './journal'
import { NewJobs, type SubmitOptions } from './new-jobs'
import { QueueControl, type QueueMove, type QueueTarget } from './queue-control'
import { Recovery } from './recovery'
import { Tracker } from './tracker'
import type { VariationOptions } from './variations'
import { summarize, type ApiPrompt, type LoadedWorkflow } from './workflow'

export type { JobEvents } from './job-store'
export { LocalFileError } from './inputs'
export { MAX_FORGOTTEN, MAX_REROUTES, REROUTE_AFTER_FAILURES } from './recovery'
export { MAX_JOB_BYTES, MAX_OUTPUTS_PER_JOB } from './tracker'
export { PAUSED_NOTE, queueOrder } from './dispatch'
export { queueStateFile, readQueueState } from './job-store'
export type { BatchSubmitOptions, SubmittedBatch } from './batches'
export type { SubmitOptions } from './new-jobs'
export type { QueueMove, QueueTarget } from './queue-control'

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
  private readonly cancels: Cancels
  private readonly queueCtl: QueueControl
  private readonly newJobs: NewJobs
  private readonly batches: Batches

  constructor(opts: JobEngineOptions) {
    this.monitor = opts.monitor
    this.outputDir = opts.outputDir
    this.clientId = opts.clientId ?? randomUUID()
    this.clock = opts.clock ?? systemClock
    this.logFn = opts.log ?? (() => undefined)
    const clock = this.clock
    const log = this.logFn
    const fleet = this.monitor
    const settings = opts.settings
    const running = () => this.running
    const dispatch = (id: string) => void dispatcher.dispatch(id)
    const store = (this.store = new JobStore(opts.journal, clock))
    this.events = store.events
    const queueCtl = (this.queueCtl = new QueueControl({
      store,
      clock,
      log,
      stateFile:
        opts.queueStateFile === undefined ? queueStateFile(opts.journal.file) : opts.queueStateFile,
      batchJobs: (batchId) => batches.jobs(batchId),
      schedulePump: () => dispatcher.schedulePump()
    }))
    const cancels = (this.cancels = new Cancels({ store, fleet, clock, settings, log }))
    const inputs = (this.inputs = new InputImages(store, fleet, log))
    const newJobs = (this.newJobs = new NewJobs({
      store,
      fleet,
      clock,
      clientId: this.clientId,
      setBaseDir: (id, dir) => inputs.setBaseDir(id, dir),
      dispatch
    }))
    const batches: Batches = (this.batches = new Batches({
      store,
      checkServer: (o) => newJobs.checkServer(o),
      record: (wf, o, batch) => newJobs.record(wf, o, batch),
      dispatch,
      cancelJobs: (jobs) => cancels.cancelJobs(jobs),
      retry: (id) => newJobs.retry(id)
    }))
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
      cancelling: (id) => cancels.isCancelling(id)
    }))
    const dispatcher: Dispatcher = (this.dispatcher = new Dispatcher({
      store,
      fleet,
      settings,
      clock,
      log,
      holdBack: opts.holdBack === undefined ? 1 : opts.holdBack,
      running,
      paused: () => queueCtl.isPaused(),
      prepare: (id, client, sid) => inputs.prepare(id, client, sid),
      waitSocket: (sid) => tracker.socketFor(sid),
      onAccepted: (id, sid, where) => tracker.accepted(id, sid, where),
      dropEarly: (id) => tracker.dropEarly(id),
      acceptedAfterEnd: (id, sid, where) => cancels.takeOff(id, sid, where),
      markStale: (sid, id) => recovery.markStale(sid, id),
      unmarkStale: (sid, id) => recovery.unmarkStale(sid, id)
    }))
    const recovery: Recovery = (this.recovery = new Recovery({
      store,
      fleet,
      clock,
      log,
      running,
      dispatch,
      pump: () => dispatcher.pump()
    }))
    store.onChange((cur, next) => {
      dispatcher.onJobChanged(cur, next)
      if (isFinished(next.state) || next.serverId !== cur.serverId) tracker.forgetLive(next.id)
      if (isFinished(next.state)) inputs.forget(next.id)
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
    if (this.queueCtl.isPaused()) this.logFn('info', '[Jobs] Sending is paused')
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

  /** Resolves when the job is finished (done, failed, interrupted or cancelled). */
  waitFor(id: string): Promise<JobRecord> {
    return this.store.waitFor(id)
  }

  /** Journals the job, then sends it. Returns the journaled record at once. */
  submit(wf: LoadedWorkflow, opts: SubmitOptions = {}): JobRecord {
    const job = this.newJobs.record(wf, opts)
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
    return this.batches.submit(wf, runs, opts)
  }

  /**
   * The jobs of a batch, in run order (empty for an unknown batch). A run that was retried is
   * left out: its retry stands in its place.
   */
  batchJobs(batchId: string): JobRecord[] {
    return this.batches.jobs(batchId)
  }

  /** Cancels every unfinished job of a batch (those waiting here first); returns them all. */
  cancelBatch(batchId: string): Promise<JobRecord[]> {
    return this.batches.cancel(batchId)
  }

  /** Cancels every unfinished job, waiting or on a server; returns those it cancelled. */
  cancelAll(): Promise<JobRecord[]> {
    return this.cancels.cancelAll()
  }

  // ---------------------------------------------------------------- the queue the user controls

  /** Whether sending is paused, and since when. */
  queue(): QueueState {
    return this.queueCtl.queue()
  }

  isPaused(): boolean {
    return this.queueCtl.isPaused()
  }

  /**
   * Pauses or resumes sending. Paused, no job is sent to a server (jobs already there go on);
   * resumed, the waiting jobs go in queue order. Kept across restarts (the queue state file).
   */
  setPaused(paused: boolean): QueueState {
    return this.queueCtl.setPaused(paused)
  }

  /** Takes up a pause or resume another program wrote to the state file (the CLI). */
  reloadQueueState(): void {
    this.queueCtl.reloadQueueState()
  }

  /** Waiting jobs (not yet on a server), in the order they will be sent. */
  waiting(): JobRecord[] {
    return this.queueCtl.waiting()
  }

  /**
   * Moves waiting jobs (one, or a batch's as a block keeping their order) to the top or the
   * bottom of the queue, or one place up or down past the nearest other waiting job. A job
   * moved past a job of another priority takes that priority, so it lands where it was put.
   * Returns the queue in its new order. Jobs already on a server are not moved.
   */
  move(target: QueueTarget, where: QueueMove): JobRecord[] {
    return this.queueCtl.move(target, where)
  }

  /** Sets the priority of waiting jobs (one, or a batch's); returns those it changed. */
  setPriority(target: QueueTarget, priority: JobPriority): JobRecord[] {
    return this.queueCtl.setPriority(target, priority)
  }

  /**
   * Runs a job that failed (or was interrupted or cancelled) again: a new job with the
   * same workflow, server pin, priority and place in its batch, which replaces the old one in
   * the batch. Throws for a job that finished well, is still going or was retried already.
   */
  retry(id: string): JobRecord {
    return this.newJobs.retry(id)
  }

  /** Retries every run of a batch that failed or was interrupted; returns the new jobs. */
  retryBatch(batchId: string): JobRecord[] {
    return this.batches.retry(batchId)
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
  cancel(id: string): Promise<JobRecord> {
    return this.cancels.cancel(id)
  }

  /** Follows every job in flight by queue and history, server by server, in parallel. */
  poll(): Promise<void> {
    return this.tracker.poll()
  }
}
