/** Runs a function at once when it last ran at least `gapMs` ago, else once when that is over. */
import type { Clock } from '../clock'

export class Throttle {
  private lastAt = -Infinity
  private timer: unknown = null

  constructor(
    private readonly clock: Clock,
    private readonly gapMs: number,
    private readonly fn: () => void
  ) {}

  /** Runs `fn` now or when the gap is over (several calls within the gap: one run). */
  soon(): void {
    if (this.timer !== null) return
    const wait = this.lastAt + this.gapMs - this.clock.now()
    if (wait <= 0) {
      this.fn()
      return
    }
    this.timer = this.clock.setTimeout(() => {
      this.timer = null
      this.fn()
    }, wait)
  }

  /** `fn` is running now by other means: note the time and drop a pending run. */
  ran(): void {
    this.cancel()
    this.lastAt = this.clock.now()
  }

  cancel(): void {
    if (this.timer !== null) {
      this.clock.clearTimeout(this.timer)
      this.timer = null
    }
  }
}
