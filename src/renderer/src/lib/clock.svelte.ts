/** "Now" as reactive state, ticking once a second while started: for running times and charts. */
export class Ticker {
  #now = $state(Date.now())
  readonly #read: () => number

  constructor(read: () => number = Date.now) {
    this.#read = read
    this.#now = read()
  }

  get now(): number {
    return this.#now
  }

  /** Ticks every `ms` until the returned function is called (use it from an `$effect`). */
  start(ms = 1000): () => void {
    const id = setInterval(() => (this.#now = this.#read()), ms)
    return () => clearInterval(id)
  }
}
