/**
 * Our jobs per server, in one place: what dispatch's hold-back counts (our jobs being sent to
 * or queued on a server) and what the expected wait adds to a server's last report (our jobs
 * the server took after that report was taken).
 */

/** Where one of our jobs is on a server. */
export type OurJobState = 'sending' | 'queued' | 'running'

interface OurJob {
  state: OurJobState
  /** When it was picked for, or taken by, the server. */
  at: number
}

export class OurJobs {
  private readonly byServer = new Map<string, Map<string, OurJob>>()
  /** Server id -> start time of the newest report of its queue. */
  private readonly reportAt = new Map<string, number>()

  /**
   * A job of ours is on its way to (`sending`), or at (`queued`, `running`), the server since
   * `at`. A queued job that starts running keeps the time it was taken.
   */
  noteSent(serverId: string, promptId: string, at: number, state: OurJobState = 'queued'): void {
    let jobs = this.byServer.get(serverId)
    if (!jobs) this.byServer.set(serverId, (jobs = new Map()))
    const prev = jobs.get(promptId)
    const keep = prev && state === 'running' && prev.state !== 'sending'
    jobs.set(promptId, { state, at: keep ? prev.at : at })
  }

  /** The job left the server (finished, moved, cancelled). */
  noteGone(serverId: string, promptId: string): void {
    this.byServer.get(serverId)?.delete(promptId)
  }

  /** A report of the server's queue taken at `at` includes every job it took before then. */
  noteReport(serverId: string, at: number): void {
    this.reportAt.set(serverId, Math.max(this.reportAt.get(serverId) ?? -Infinity, at))
  }

  /** Our jobs the server took after its newest report: counted on top of that report. */
  unreported(serverId: string): number {
    const since = this.reportAt.get(serverId) ?? -Infinity
    let n = 0
    for (const j of this.byServer.get(serverId)?.values() ?? []) if (j.at > since) n++
    return n
  }

  /** Our jobs being sent to, or queued on, the server (not running yet). */
  waiting(serverId: string): number {
    let n = 0
    for (const j of this.byServer.get(serverId)?.values() ?? []) if (j.state !== 'running') n++
    return n
  }

  /** Whether the job is counted on the server. */
  has(serverId: string, promptId: string): boolean {
    return this.byServer.get(serverId)?.has(promptId) ?? false
  }

  /** The server left the fleet (or was replaced by one at another address). */
  forget(serverId: string): void {
    this.byServer.delete(serverId)
    this.reportAt.delete(serverId)
  }
}
