/**
 * Cancelling jobs: off their server's queue, or interrupted there if running. A job cancelled
 * while its POST is under way is taken off its server again once the server accepts it.
 */
import type { JobNoteSaid } from '../../../shared/job-said'
import type { BalancerSettings, JobRecord } from '../../../shared/types'
import type { Clock } from '../clock'
import type { ComfyClient } from '../comfy/client'
import { deleteFromQueue, getQueueIds, interruptPrompt } from '../comfy/prompt-api'
import type { FleetPort } from '../fleet/port'
import { isFinished, type JobStore } from './job-store'

/** The note of a job the user cancelled (in the app or with the CLI). */
export const CANCELLED_NOTE: JobNoteSaid = Object.freeze({ code: 'cancelled' })

/** Jobs remembered as cancelled while their POST was under way (the oldest go first). */
const MAX_CANCEL_WHEN_ACCEPTED = 10_000

export interface CancelsOptions {
  store: JobStore
  fleet: FleetPort
  clock: Clock
  settings: () => BalancerSettings
  log: (level: 'info' | 'warn', message: string) => void
}

export class Cancels {
  /** Jobs cancelled while their POST was under way: removed from the server once accepted. */
  private readonly cancelWhenAccepted = new Set<string>()
  /** Jobs whose cancel is talking to their server right now. */
  private readonly cancelling = new Set<string>()
  /** Cancels started by a late acceptance, by job id. */
  private readonly recancels = new Map<string, Promise<JobRecord>>()

  constructor(private readonly o: CancelsOptions) {}

  /** Whether the job's cancel is talking to its server right now. */
  isCancelling(id: string): boolean {
    return this.cancelling.has(id)
  }

  /** Called for every change of a job record: a late acceptance is cancelled again. */
  onJobChanged(cur: JobRecord, next: JobRecord): void {
    if (this.cancelWhenAccepted.has(next.id) && next.state !== cur.state) {
      if (next.state === 'queued' || next.state === 'running') {
        // The server took it just after the user cancelled it: take it off again.
        this.cancelWhenAccepted.delete(next.id)
        const again = this.cancel(next.id).finally(() => this.recancels.delete(next.id))
        this.recancels.set(next.id, again)
        void again.catch(() => undefined)
      } else if (next.state !== 'cancelled') this.cancelWhenAccepted.delete(next.id)
    }
  }

  /** Cancels a job: removes it from its server's queue, or interrupts it if it is running. */
  async cancel(id: string): Promise<JobRecord> {
    const { store } = this.o
    const j = store.get(id)
    if (!j) throw new Error(`Unknown job ${id}`)
    if (isFinished(j.state)) return j
    if (j.state === 'pending' && store.busy.has(id)) {
      this.cancelWhenAccepted.add(id)
      if (this.cancelWhenAccepted.size > MAX_CANCEL_WHEN_ACCEPTED) {
        const oldest = this.cancelWhenAccepted.values().next().value
        if (oldest !== undefined) this.cancelWhenAccepted.delete(oldest)
      }
    }
    const client = j.serverId ? this.o.fleet.clientFor(j.serverId) : undefined
    this.cancelling.add(id)
    try {
      if (client) await this.cancelOnServer(client, j)
    } finally {
      this.cancelling.delete(id)
    }
    return store.update(id, { state: 'cancelled', finishedAt: this.o.clock.now() }, CANCELLED_NOTE)
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
      this.o.log(
        'warn',
        `[Jobs] Could not cancel ${j.id.slice(0, 8)} on its server: ${(err as Error).message}`
      )
    }
  }

  /** Cancels every unfinished job, waiting or on a server; returns those it cancelled. */
  async cancelAll(): Promise<JobRecord[]> {
    const open = this.o.store.unfinished().map((e) => e.job)
    await this.cancelJobs(open)
    return open.map((j) => this.o.store.get(j.id) ?? j)
  }

  /** Cancels the unfinished ones of these jobs, those waiting here first. */
  async cancelJobs(jobs: JobRecord[]): Promise<void> {
    const { store, clock } = this.o
    const open = jobs.filter((j) => !isFinished(j.state))
    // Those not sent yet go at once, so none of them is sent while the others are cancelled.
    open.sort((a, b) => Number(a.state !== 'pending') - Number(b.state !== 'pending'))
    // A run whose POST is under way may still be accepted: wait (bounded) until its send ended,
    // so it is off its server too before we answer.
    const inFlight = open
      .filter((j) => j.state === 'pending' && store.busy.has(j.id))
      .map((j) => j.id)
    await Promise.all(open.map((j) => this.cancel(j.id)))
    const deadline = clock.now() + Math.max(2_000, 3 * this.o.settings().timeout)
    while (inFlight.some((id) => store.busy.has(id)) && clock.now() < deadline) {
      await new Promise<void>((r) => clock.setTimeout(r, 25))
    }
    await Promise.all(inFlight.map((id) => this.recancels.get(id)).filter(Boolean))
  }
}
