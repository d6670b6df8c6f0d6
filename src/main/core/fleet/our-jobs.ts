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
  /** Server id -> when a job of ours last left it. */
  private readonly goneAt = new Map<string, number>()
  /** Server id -> start time of the newest report of its queue. */
  private readonly reportAt = new Map<string, number>()
  /** Goes up whenever a job is counted, moves or is let go (what a cached placement checks). */
  version = 0

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
    this.version++
  }

  /** The job left the server (finished, moved, cancelled) at `at`. */
  noteGone(serverId: string, promptId: string, at?: number): void {
    const jobs = this.byServer.get(serverId)
    if (!jobs?.delete(promptId)) return
    this.version++
    if (at !== undefined) this.goneAt.set(serverId, at)
  }

  /** When the server last held a job of ours: `now` while it holds one, null if never. */
  heldAt(serverId: string, now: number): number | null {
    if (this.count(serverId) > 0) return now
    return this.goneAt.get(serverId) ?? null
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

  /** Our jobs on the server in any state (sending, queued, running). */
  count(serverId: string): number {
    return this.byServer.get(serverId)?.size ?? 0
  }

  /** Whether the job is counted on the server. */
  has(serverId: string, promptId: string): boolean {
    return this.byServer.get(serverId)?.has(promptId) ?? false
  }

  /** The server left the fleet (or was replaced by one at another address). */
  forget(serverId: string): void {
    if (this.byServer.delete(serverId)) this.version++
    this.reportAt.delete(serverId)
    this.goneAt.delete(serverId)
  }
}
