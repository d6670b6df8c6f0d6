/**
 * The job history as the window shows it: the journal's jobs (`jobs.list()`), kept current by
 * `job:push`, newest first, with a state filter, the actions on a job, and the previews of
 * their output images (fetched once each, on demand).
 */
import { SvelteMap } from 'svelte/reactivity'
import type { ComfyBalancerApi, Unsubscribe, WorkflowSummary } from '../../../shared/ipc'
import { FINISHED_JOB_STATES, type JobRecord, type JobState } from '../../../shared/types'
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
    case 'lost':
    case 'interrupted':
      return 'failed'
    case 'cancelled':
      return 'cancelled'
    default:
      return 'active'
  }
}

/** Newest first; the newer record of the same job wins. */
function upsert(list: readonly JobRecord[], job: JobRecord): JobRecord[] {
  const i = list.findIndex((j) => j.id === job.id)
  if (i >= 0) {
    if (list[i]!.updatedAt > job.updatedAt) return list as JobRecord[]
    const next = list.slice()
    next[i] = job
    return next
  }
  return sortJobs([...list, job])
}

export function sortJobs(list: JobRecord[]): JobRecord[] {
  return list.sort((a, b) => b.createdAt - a.createdAt || a.id.localeCompare(b.id))
}

export class JobsState {
  #jobs = $state.raw<JobRecord[]>([])
  #filter = $state<JobFilter>('all')
  #loaded = $state(false)
  #error = $state<{ jobId: string | null; message: string } | null>(null)
  /** path -> preview URL; null when the file has no preview; absent until asked. */
  readonly #thumbs = new SvelteMap<string, string | null>()
  // Bookkeeping only, never rendered: a reactive set would be written while rendering.
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  readonly #asked = new Set<string>()
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

  /** The runs of a batch known so far (newest first, as every list here). */
  batchJobs(batchId: string): JobRecord[] {
    return this.#jobs.filter((j) => j.batch?.id === batchId)
  }

  /** The batch of the newest job that is part of one, or null. */
  get latestBatchId(): string | null {
    return this.#jobs.find((j) => j.batch)?.batch?.id ?? null
  }

  /** Subscribes to job pushes, then loads the history. Returns the clean-up. */
  start(): Unsubscribe {
    const api = this.#api
    if (!api) return () => {}
    const off = api.jobs.onJob((job) => {
      this.#jobs = upsert(this.#jobs, job)
    })
    void api.jobs.list().then(
      (list) => {
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
    this.#jobs = upsert(this.#jobs, job)
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

  async #act(jobId: string, action: (api: ComfyBalancerApi) => Promise<void>): Promise<void> {
    this.#error = null
    try {
      if (!this.#api) throw new Error('Not connected to Comfy Balancer')
      await action(this.#api)
    } catch (err) {
      this.#error = { jobId, message: errorText(err) }
    }
  }
}
