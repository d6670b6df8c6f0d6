/**
 * When the check rounds run: one at start, then one an interval after the start of the last
 * (at once when the last one ran past that); rounds never overlap, a round asked for during
 * another joins it.
 */
import type { Clock } from '../clock'

export interface RoundLoopOptions<R> {
  clock: Clock
  /** Runs one round; `full`: a check asked for (every server at once). */
  run: (full: boolean) => Promise<R>
  /** Whether the loop goes on (running and not paused). */
  active: () => boolean
  /** The wait from the start of one round to the start of the next. */
  delayMs: () => number
}

export class RoundLoop<R> {
  private inflight: Promise<R> | null = null
  private timer: unknown = null
  private lastStart: number | null = null

  constructor(private readonly o: RoundLoopOptions<R>) {}

  /** A round is under way. */
  get busy(): boolean {
    return this.inflight !== null
  }

  /** The next round is waiting for its time. */
  get scheduled(): boolean {
    return this.timer !== null
  }

  /** Runs a round now, or joins the one under way. */
  start(full: boolean): Promise<R> {
    if (this.inflight) return this.inflight
    this.clear()
    this.lastStart = this.o.clock.now()
    const round = this.o.run(full).finally(() => {
      this.inflight = null
      if (this.o.active()) this.schedule()
    })
    this.inflight = round
    return round
  }

  /** Sets the next round for an interval after the start of the last one. */
  schedule(): void {
    this.clear()
    const now = this.o.clock.now()
    const wait = Math.max(0, (this.lastStart ?? now) + this.o.delayMs() - now)
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = null
      if (this.o.active()) void this.start(false)
    }, wait)
  }

  /** Drops the next round (a round under way runs on). */
  clear(): void {
    if (this.timer !== null) {
      this.o.clock.clearTimeout(this.timer)
      this.timer = null
    }
  }

  /** Resolves once the round under way, if any, has ended. */
  settled(): Promise<void> {
    return this.inflight ? this.inflight.then(noop, noop) : Promise.resolve()
  }
}

const noop = (): void => undefined

/** Waits on the clock that can all be ended at once (a stop does not wait for them). */
export class Waits {
  private readonly pending = new Set<() => void>()

  constructor(private readonly clock: Clock) {}

  /** Resolves after `ms`, or at once when `wakeAll` is called. */
  wait(ms: number): Promise<void> {
    return this.settledOr(null, ms)
  }

  /**
   * Runs `run` on each item with at most `limit` runs begun and not yet settled at a time; a run
   * that has taken `holdMs` gives up its place to the next (a server that hangs holds up no
   * other, and the last run begins within about items / limit x holdMs). Resolves when every
   * run has settled, rejects as the first failed run did. `wakeAll` ends the holds at once.
   */
  async each<T>(
    items: readonly T[],
    limit: number,
    holdMs: number,
    run: (item: T) => Promise<unknown>
  ): Promise<void> {
    if (items.length <= limit) {
      await Promise.all(items.map(run))
      return
    }
    const begun: Array<Promise<unknown>> = []
    let next = 0
    const lane = async (): Promise<void> => {
      while (next < items.length) {
        const p = run(items[next++] as T)
        begun.push(p)
        await this.settledOr(p, holdMs)
      }
    }
    await Promise.all(Array.from({ length: limit }, lane))
    await Promise.all(begun)
  }

  /** Resolves when `p` settles or after `ms`, whichever is first (or at once on wakeAll). */
  private settledOr(p: Promise<unknown> | null, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.pending.delete(done)
        this.clock.clearTimeout(timer)
        resolve()
      }
      const timer = this.clock.setTimeout(done, ms)
      this.pending.add(done)
      p?.then(done, done)
    })
  }

  wakeAll(): void {
    for (const done of [...this.pending]) done()
  }
}
