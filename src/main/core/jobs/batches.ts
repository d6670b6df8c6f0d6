/**
 * Batches: one workflow run N times, every run journaled with its place in the batch before
 * any is sent; cancelled or retried as a whole.
 */
import { randomUUID } from 'node:crypto'
import type { JobBatch, JobRecord } from '../../../shared/types'
import type { JobStore } from './job-store'
import type { SubmitOptions } from './new-jobs'
import type { ObjectInfo } from './ui-workflow'
import { makeVariations, MAX_VARIATIONS, type VariationOptions } from './variations'
import { summarize, type ApiPrompt, type LoadedWorkflow } from './workflow'

export interface BatchSubmitOptions extends Omit<SubmitOptions, 'promptId'> {
  /** The servers' node definitions, to read `--set` values as their inputs' types. */
  objectInfo?: ObjectInfo
}

/** A batch as submitted: its id and its jobs, in run order. */
export interface SubmittedBatch {
  batchId: string
  jobs: JobRecord[]
}

/** States the runs of a batch are retried from (cancelled runs were the user's choice). */
const BATCH_RETRYABLE = new Set<JobRecord['state']>(['failed', 'interrupted'])

export interface BatchesOptions {
  store: JobStore
  /** Throws for a server pin that is not in the list. */
  checkServer: (opts: SubmitOptions) => void
  /** Journals a new job (not sent yet). */
  record: (wf: LoadedWorkflow, opts: SubmitOptions, batch: JobBatch) => JobRecord
  /** Sends a pending job. */
  dispatch: (id: string) => void
  /** Cancels the unfinished ones of these jobs. */
  cancelJobs: (jobs: JobRecord[]) => Promise<void>
  /** Runs a failed job again; returns the new job. */
  retry: (id: string) => JobRecord
}

export class Batches {
  constructor(private readonly o: BatchesOptions) {}

  /** Journals every run of the batch, then sends them. */
  submit(
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
    this.o.checkServer(submitOpts)
    const batchId = randomUUID()
    const size = prompts.length
    const jobs = prompts.map((prompt, index) =>
      this.o.record({ ...wf, prompt, summary: summarize(prompt) }, submitOpts, {
        id: batchId,
        index,
        size
      })
    )
    for (const j of jobs) this.o.dispatch(j.id)
    return { batchId, jobs }
  }

  /** The jobs of a batch, in run order, without the runs that were retried. */
  jobs(batchId: string): JobRecord[] {
    return this.o.store
      .jobs()
      .filter((j) => j.batch?.id === batchId && !j.retriedAs)
      .sort((a, b) => a.batch!.index - b.batch!.index)
  }

  /** Cancels every unfinished job of a batch; returns them all. */
  async cancel(batchId: string): Promise<JobRecord[]> {
    const jobs = this.jobs(batchId)
    if (!jobs.length) throw new Error(`Unknown batch ${batchId}`)
    await this.o.cancelJobs(jobs)
    return this.jobs(batchId)
  }

  /** Retries every run of a batch that failed or was interrupted; returns the new jobs. */
  retry(batchId: string): JobRecord[] {
    const jobs = this.jobs(batchId)
    if (!jobs.length) throw new Error(`Unknown batch ${batchId}`)
    return jobs.filter((j) => BATCH_RETRYABLE.has(j.state)).map((j) => this.o.retry(j.id))
  }
}
