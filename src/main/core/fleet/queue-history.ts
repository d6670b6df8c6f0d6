/** Each server's queue length over the last 30 minutes, for the window's chart. */

/** How far back each server's queue length is kept. */
export const QUEUE_HISTORY_MS = 30 * 60_000
const QUEUE_HISTORY_MAX_POINTS = 2_000

export class QueueHistory {
  /** [epoch ms, queue total], oldest first. */
  private readonly points: Array<[number, number]> = []

  /** Notes the queue total at `now`: a point per change, and one per `minGapMs` otherwise. */
  sample(now: number, total: number, minGapMs: number): void {
    const last = this.points.at(-1)
    if (last && last[1] === total && now - last[0] < minGapMs) return
    this.points.push([now, total])
    const cutoff = now - QUEUE_HISTORY_MS
    let drop = 0
    while (drop < this.points.length && this.points[drop]![0] < cutoff) drop++
    if (this.points.length - drop > QUEUE_HISTORY_MAX_POINTS)
      drop = this.points.length - QUEUE_HISTORY_MAX_POINTS
    if (drop) this.points.splice(0, drop)
  }

  get(): Array<[number, number]> {
    return this.points.slice()
  }
}
