/**
 * The job history as the window shows it: the journal's jobs (`jobs.list()`), kept current by
 * `job:push`, newest first, with a state filter, the actions on a job, and the previews of
 * their output images (fetched once each, on demand). Also the queue the user controls:
 * whether sending is paused (`queue:push` keeps it current), the waiting jobs in the order they
 * will be sent, moving and prioritising them, cancelling a batch or everything, retrying.
 */
import { SvelteMap } from 'svelte/reactivity'
import type {
  ComfyBalancerApi,
  QueueMove,
  QueueTarget,
  Unsubscribe,
  WorkflowSummary
} from '../../../shared/ipc'
import {
  FINISHED_JOB_STATES,
  type JobPriority,
  type JobRecord,
  type JobState,
  type QueueState
} from '../../../shared/types'
import { errorText } from './fleet-state.svelte'

export const JOB_FILTERS = ['all', 'active', 'done', 'failed', 'cancelled'] as const
export type JobFilter = (typeof JOB_FILTERS)[number]

export function isFinished(state: JobState): boolean {
  return FINISHED_JOB_STATES.includes(state)
}

/** Which filter a job falls under (besides 'all'). */
export function filterOf(state: JobState): Exclude<JobFilter, 'all'> {
  switch (state) {
    case 'done':
      return 'done'
    case 'failed':
    case 'interrupted':
      return 'failed'
    case 'cancelled':
      return 'cancelled'
    default:
      return 'active'
  }
}

/**
 * Newest first; the newer record of the same job wins. Two changes can fall in the same
 * millisecond: pushes come in order, so a push of the same time wins (`sameTimeWins`), while
 * an answer to a call (the record as it was when the call returned) may have been overtaken by
 * a push and replaces only an older record.
 */
function upsert(list: readonly JobRecord[], job: JobRecord, sameTimeWins = true): JobRecord[] {
  const i = list.findIndex((j) => j.id === job.id)
  if (i >= 0) {
    const held = list[i]!.updatedAt
    if (held > job.updatedAt || (held === job.updatedAt && !sameTimeWins)) {
      return list as JobRecord[]
    }
    const next = list.slice()
    next[i] = job
    return next
  }
  return sortJobs([...list, job])
}

export function sortJobs(list: JobRecord[]): JobRecord[] {
  return list.sort((a, b) => b.createdAt - a.createdAt || a.id.localeCompare(b.id))
}

export const PRIORITIES: readonly JobPriority[] = ['high', 'normal', 'low']

/** States a job can be retried from (the engine's rule): it ended without its pictures. */
export function canRetry(job: JobRecord): boolean {
  return !job.retriedAs && ['failed', 'interrupted', 'cancelled'].includes(job.state)
}

/**
 * Waiting jobs (not on a server yet) in the order they will be sent, as the engine orders
 * them: every high one first, low ones last, then by their place (`order`, else `createdAt`).
 * Jobs made in the same millisecond (the runs of a batch) go in the order they were made:
 * `made` says it (the order main listed or pushed them), else the list's own order.
 */
export function queueOrder(
  list: readonly JobRecord[],
  made: (job: JobRecord) => number = () => 0
): JobRecord[] {
  const rank = (j: JobRecord) => PRIORITIES.indexOf(j.priority ?? 'normal')
  const key = (j: JobRecord) => j.order ?? j.createdAt
  return list
    .filter((j) => j.state === 'pending')
    .sort((a, b) => rank(a) - rank(b) || key(a) - key(b) || made(a) - made(b))
}

/** The runs of a batch that count: a run replaced by its retry is left out. */
export function countedRuns(runs: readonly JobRecord[]): JobRecord[] {
  return runs.filter((j) => !j.retriedAs)
}

export class JobsState {
  #jobs = $state.raw<JobRecord[]>([])
  #filter = $state<JobFilter>('all')
  #loaded = $state(false)
  #error = $state<{ jobId: string | null; message: string } | null>(null)
  /** Whether sending is paused; null until main said (or without a queue in the API). */
  #queue = $state<QueueState | null>(null)
  /** path -> preview URL; null when the file has no preview; absent until asked. */
  readonly #thumbs = new SvelteMap<string, string | null>()
  // Bookkeeping only, never rendered: a reactive set would be written while rendering.
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  readonly #asked = new Set<string>()
  /** job id -> the order main made it in (journal order, then pushes); never rendered. */
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  readonly #made = new Map<string, number>()
  /** The nodes of workflows submitted from this window, to name the node a job is at. */
  readonly #nodes = new SvelteMap<string, WorkflowSummary['nodes']>()
  readonly #api: ComfyBalancerApi | undefined

  constructor(api: ComfyBalancerApi | undefined) {
    this.#api = api
  }

  /** Every job, newest first. */
  get all(): readonly JobRecord[] {
    return this.#jobs
  }
  get loaded(): boolean {
    return this.#loaded
  }
  get filter(): JobFilter {
    return this.#filter
  }
  set filter(f: JobFilter) {
    this.#filter = f
  }
  /** The jobs the current filter lets through. */
  get visible(): readonly JobRecord[] {
    const f = this.#filter
    return f === 'all' ? this.#jobs : this.#jobs.filter((j) => filterOf(j.state) === f)
  }
  /** How many jobs each filter shows. */
  get counts(): Record<JobFilter, number> {
    const c: Record<JobFilter, number> = { all: 0, active: 0, done: 0, failed: 0, cancelled: 0 }
    for (const j of this.#jobs) {
      c.all++
      c[filterOf(j.state)]++
    }
    return c
  }
  /** The last action that failed, and on which job. */
  get error(): { jobId: string | null; message: string } | null {
    return this.#error
  }

  get(id: string): JobRecord | undefined {
    return this.#jobs.find((j) => j.id === id)
  }

  /**
   * The runs of a batch known so far (newest first, as every list here), without the runs a
   * retry replaced.
   */
  batchJobs(batchId: string): JobRecord[] {
    return countedRuns(this.#jobs.filter((j) => j.batch?.id === batchId))
  }

  /** Whether sending is paused, and since when; null until known. */
  get queue(): QueueState | null {
    return this.#queue
  }
  get paused(): boolean {
    return this.#queue?.paused ?? false
  }
  /** Waiting jobs in the order they will be sent. */
  get waiting(): JobRecord[] {
    return queueOrder(this.#jobs, (j) => this.#made.get(j.id) ?? Number.MAX_SAFE_INTEGER)
  }

  #noteMade(job: JobRecord): void {
    if (!this.#made.has(job.id)) this.#made.set(job.id, this.#made.size)
  }
  /** A waiting job's place in the queue here (1 is sent next), or null. */
  placeOf(id: string): { n: number; total: number } | null {
    const list = this.waiting
    const i = list.findIndex((j) => j.id === id)
    return i < 0 ? null : { n: i + 1, total: list.length }
  }
  /** Jobs waiting or running (what "Cancel all" cancels). */
  get openCount(): number {
    return this.#jobs.filter((j) => !isFinished(j.state)).length
  }

  /** The batch of the newest job that is part of one, or null. */
  get latestBatchId(): string | null {
    return this.#jobs.find((j) => j.batch)?.batch?.id ?? null
  }

  /** Subscribes to job pushes, then loads the history. Returns the clean-up. */
  start(): Unsubscribe {
    const api = this.#api
    if (!api) return () => {}
    const offJobs = api.jobs.onJob((job) => {
      this.#noteMade(job)
      this.#jobs = upsert(this.#jobs, job)
    })
    // An older main (or a test's API) may have no queue.
    const queue = api.queue as ComfyBalancerApi['queue'] | undefined
    const offQueue = queue?.onState((q) => (this.#queue = q))
    void queue?.state().then(
      (q) => (this.#queue ??= q),
      () => {}
    )
    const off = () => {
      offJobs()
      offQueue?.()
    }
    void api.jobs.list().then(
      (list) => {
        // The journal lists the oldest first; jobs pushed meanwhile are newer.
        const pushed = [...this.#made.keys()]
        this.#made.clear()
        for (const j of list) this.#noteMade(j)
        for (const id of pushed) this.#made.set(id, this.#made.get(id) ?? this.#made.size)
        let next = sortJobs(list.slice())
        // Pushes that came first are at least as new as the list.
        for (const j of this.#jobs) next = upsert(next, j)
        this.#jobs = next
        this.#loaded = true
      },
      (err: unknown) => {
        this.#loaded = true
        this.#error = { jobId: null, message: errorText(err) }
      }
    )
    return off
  }

  /** A job the window just submitted: shown at once, before its first push arrives. */
  add(job: JobRecord, nodes?: WorkflowSummary['nodes']): void {
    if (nodes) {
      this.#nodes.set(job.id, nodes)
      // The other runs of its batch come by push: they have the same nodes.
      if (job.batch) this.#nodes.set(`batch:${job.batch.id}`, nodes)
    }
    this.#noteMade(job)
    this.#jobs = upsert(this.#jobs, job, false)
  }

  /** The node a job is at, by its title or class, when the window knows its workflow. */
  nodeName(job: JobRecord): string | null {
    const id = job.progress?.node
    if (!id) return null
    const nodes =
      this.#nodes.get(job.id) ?? (job.batch ? this.#nodes.get(`batch:${job.batch.id}`) : undefined)
    const node = nodes?.[id]
    return node ? node.title || node.type : null
  }

  cancel(id: string): Promise<void> {
    return this.#act(id, async (api) => this.add(await api.jobs.cancel(id)))
  }

  /** Runs a failed (or cancelled) job again in its place; the old one says it was retried. */
  retry(id: string): Promise<void> {
    return this.#act(id, async (api) => this.#addRun(await api.jobs.retry(id), id))
  }

  /** Moves a waiting job, or a batch's waiting runs, in the queue. */
  move(target: QueueTarget, where: QueueMove): Promise<void> {
    return this.#act(keyOf(target), async (api) => this.#merge(await api.jobs.move(target, where)))
  }

  setPriority(target: QueueTarget, priority: JobPriority): Promise<void> {
    return this.#act(keyOf(target), async (api) =>
      this.#merge(await api.jobs.setPriority(target, priority))
    )
  }

  cancelBatch(batchId: string): Promise<void> {
    return this.#act(keyOf({ batchId }), async (api) =>
      this.#merge(await api.jobs.cancelBatch(batchId))
    )
  }

  /** Retries the failed runs of a batch, each in its place. */
  retryBatch(batchId: string): Promise<void> {
    return this.#act(keyOf({ batchId }), async (api) => {
      const old = this.batchJobs(batchId)
      for (const job of await api.jobs.retryBatch(batchId)) {
        this.#addRun(job, job.retryOf ?? old[0]?.id ?? job.id)
      }
    })
  }

  /** Cancels everything waiting or running. */
  cancelAll(): Promise<void> {
    return this.#act(null, async (api) => this.#merge(await api.jobs.cancelAll()))
  }

  /** Pauses or resumes sending. */
  setPaused(paused: boolean): Promise<void> {
    return this.#act(null, async (api) => {
      this.#queue = await (paused ? api.queue.pause() : api.queue.resume())
    })
  }

  /** A retry: shown at once, with its workflow's nodes; the old run is replaced by it. */
  #addRun(job: JobRecord, oldId: string): void {
    const old = this.get(oldId)
    this.add(job, this.#nodes.get(oldId))
    if (old && !old.retriedAs && job.retryOf === old.id) {
      // The push of the old one follows; until then it is already out of its batch's counts.
      this.#jobs = this.#jobs.map((j) => (j.id === old.id ? { ...j, retriedAs: job.id } : j))
    }
  }

  #merge(list: readonly JobRecord[]): void {
    let next = this.#jobs
    for (const j of list) {
      this.#noteMade(j)
      next = upsert(next, j, false)
    }
    this.#jobs = next
  }

  resubmit(id: string): Promise<void> {
    return this.#act(id, async (api) => this.add(await api.jobs.resubmit(id), this.#nodes.get(id)))
  }

  openOutput(id: string, path: string): Promise<void> {
    return this.#act(id, (api) => api.jobs.openOutput(path))
  }

  openFolder(id: string): Promise<void> {
    return this.#act(id, (api) => api.jobs.openFolder(id))
  }

  /**
   * The preview of an output: the URL, null when there is none, undefined while it is loading.
   * The first call for a path asks main for it.
   */
  thumbnail(path: string): string | null | undefined {
    const known = this.#thumbs.get(path)
    if (known !== undefined || this.#asked.has(path)) return known
    this.#asked.add(path)
    const api = this.#api
    if (!api) return undefined
    void api.jobs.thumbnail(path).then(
      (url) => this.#thumbs.set(path, url),
      () => this.#thumbs.set(path, null)
    )
    return undefined
  }

  async #act(
    jobId: string | null,
    action: (api: ComfyBalancerApi) => Promise<void>
  ): Promise<void> {
    this.#error = null
    try {
      if (!this.#api) throw new Error('Not connected to Comfy Balancer')
      await action(this.#api)
    } catch (err) {
      this.#error = { jobId, message: errorText(err) }
    }
  }
}

/** Where the error of an action on a job or a batch is shown (`JobsState.error.jobId`). */
export function keyOf(target: QueueTarget): string {
  return 'jobId' in target ? target.jobId : `batch:${target.batchId}`
}
