/**
 * New jobs: the record of a job as journaled before anything is sent (its prompt id, its
 * `extra_data`, the folder its input images come from), and the retry of a job that failed.
 */
import { randomUUID } from 'node:crypto'
import type { JobBatch, JobRecord } from '../../../shared/types'
import type { Clock } from '../clock'
import { workflowKind } from '../fleet/estimator'
import type { FleetPort } from '../fleet/port'
import type { JobStore } from './job-store'
import { summarize, type LoadedWorkflow } from './workflow'

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

/** States a job can be retried from. */
const RETRYABLE = new Set<JobRecord['state']>(['failed', 'interrupted', 'cancelled'])
/** Folders of local input images remembered for retries (the oldest go first). */
const MAX_BASE_DIRS = 10_000
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

export interface NewJobsOptions {
  store: JobStore
  fleet: FleetPort
  clock: Clock
  /** Our WebSocket identity, kept in every record. */
  clientId: string
  /** Where a job's local input images are looked up. */
  setBaseDir: (id: string, dir: string) => void
  /** Sends a pending job. */
  dispatch: (id: string) => void
}

export class NewJobs {
  /** Folder each job's local input images come from, for its retry. */
  private readonly baseDirs = new Map<string, string>()

  constructor(private readonly o: NewJobsOptions) {}

  /** Throws for a server pin that is not in the list. */
  checkServer(opts: SubmitOptions): void {
    if (opts.serverId && !this.o.fleet.configFor(opts.serverId)) {
      throw new Error(`Unknown server "${opts.serverId}"`)
    }
  }

  /** Journals a new job (not sent yet). */
  record(
    wf: LoadedWorkflow,
    opts: SubmitOptions,
    batch?: JobBatch,
    more: Partial<JobRecord> = {},
    extra?: Record<string, unknown> | null
  ): JobRecord {
    const { store } = this.o
    this.checkServer(opts)
    const id = opts.promptId ?? randomUUID()
    if (opts.promptId !== undefined) {
      if (!/^[\x21-\x7e]{1,200}$/.test(id) || id.length > MAX_PROMPT_ID) {
        throw new Error('A prompt id must be 1 to 200 visible characters')
      }
      if (store.get(id)) throw new Error(`A job with the prompt id ${id} already exists`)
    }
    const now = this.o.clock.now()
    const job: JobRecord = {
      id,
      clientId: this.o.clientId,
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
      this.o.setBaseDir(job.id, opts.baseDir)
      this.baseDirs.set(job.id, opts.baseDir)
      if (this.baseDirs.size > MAX_BASE_DIRS) {
        const oldest = this.baseDirs.keys().next().value
        if (oldest !== undefined) this.baseDirs.delete(oldest)
      }
    }
    store.put(job, wf.prompt, extra !== undefined ? extra : extraFor(wf, opts.extraData))
    return job
  }

  /**
   * Runs a job that failed (or was interrupted, lost or cancelled) again: a new job with the
   * same workflow, server pin, priority and place in its batch, which replaces the old one in
   * the batch. Throws for a job that finished well, is still going or was retried already.
   */
  retry(id: string): JobRecord {
    const { store } = this.o
    const e = store.entry(id)
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
    if (old.pinnedServerId && !this.o.fleet.configFor(old.pinnedServerId)) {
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
    store.update(old.id, { retriedAs: job.id }, { code: 'retried-as', id: job.id })
    this.o.dispatch(job.id)
    return store.get(job.id) ?? job
  }
}
