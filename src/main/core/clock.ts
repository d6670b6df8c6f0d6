/** Time reaches the core through this interface so tests can drive it with fake timers. */
export interface Clock {
  /** Epoch ms. */
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export const systemClock: Clock = {
  now: () => Date.now(),
  // Timers keep the process alive (a `watch` waits on them); their owners clear them on stop.
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>)
}
