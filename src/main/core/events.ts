/** A tiny typed event emitter: `on` returns the unsubscribe function. */
export class Emitter<Events extends { [K in keyof Events]: unknown }> {
  private readonly listeners = new Map<keyof Events, Set<(payload: never) => void>>()

  on<K extends keyof Events>(event: K, fn: (payload: Events[K]) => void): () => void {
    let set = this.listeners.get(event)
    if (!set) this.listeners.set(event, (set = new Set()))
    set.add(fn as (payload: never) => void)
    return () => {
      set.delete(fn as (payload: never) => void)
    }
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.listeners.get(event)
    if (!set) return
    for (const fn of [...set]) {
      try {
        ;(fn as (p: Events[K]) => void)(payload)
      } catch (err) {
        // A broken listener must not stop the check loop or the other listeners.
        console.error('[comfy-balancer] listener failed:', err)
      }
    }
  }

  clear(): void {
    this.listeners.clear()
  }
}
