/**
 * Cancelling jobs: off their server's queue, or interrupted there if running. A job cancelled
 * while its POST is under way stays cancelled, and is taken off its server once the server
 * answers that it took it.
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

export interface CancelsOptions {
  store: JobStore
  fleet: FleetPort
  clock: Clock
  settings: () => BalancerSettings
  log: (level: 'info' | 'warn', message: string) => void
}

export class Cancels {
  /** Jobs whose cancel is talking to their server right now, with that cancel. */
  private readonly cancelling = new Map<string, Promise<JobRecord>>()
  /** Removals of jobs a server took after they were cancelled, by job id. */
  private readonly takingOff = new Map<string, Promise<void>>()

  constructor(private readonly o: CancelsOptions) {}

  /** Whether the job's cancel is talking to its server right now. */
  isCancelling(id: string): boolean {
    return this.cancelling.has(id)
  }

  /**
   * A server took a job after the user cancelled it (its POST was under way): the job stays
   * cancelled here and is taken off that server (removed from its queue, or interrupted).
   */
  takeOff(id: string, serverId: string, where: 'queued' | 'running' | 'history'): void {
    const client = this.o.fleet.clientFor(serverId)
    if (!client || where === 'history' || this.takingOff.has(id)) return
    const job = this.o.store.get(id)
    if (!job) return
    const off = this.cancelOnServer(client, { ...job, state: where }).finally(() =>
      this.takingOff.delete(id)
    )
    this.takingOff.set(id, off)
  }

  /** Cancels a job: removes it from its server's queue, or interrupts it if it is running. */
  cancel(id: string): Promise<JobRecord> {
    const j = this.o.store.get(id)
    if (!j) return Promise.reject(new Error(`Unknown job ${id}`))
    if (isFinished(j.state)) return Promise.resolve(j)
    // Cancelled twice at once: one cancel, one note.
    const under = this.cancelling.get(id)
    if (under) return under
    const run = this.cancelNow(j).finally(() => this.cancelling.delete(id))
    this.cancelling.set(id, run)
    return run
  }

  private async cancelNow(j: JobRecord): Promise<JobRecord> {
    const { store } = this.o
    const client = j.serverId ? this.o.fleet.clientFor(j.serverId) : undefined
    if (client) await this.cancelOnServer(client, j)
    // It may have ended meanwhile (done, or failed): that end stands.
    const now = store.get(j.id)
    if (!now || isFinished(now.state)) return now ?? j
    return store.update(
      j.id,
      { state: 'cancelled', finishedAt: this.o.clock.now() },
      CANCELLED_NOTE
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
    await Promise.all(inFlight.map((id) => this.takingOff.get(id)).filter(Boolean))
  }
}
