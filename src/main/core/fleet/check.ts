/**
 * One server's check: its queue (the full /queue every few rounds, the cheap count from GET
 * /prompt in between), and its system stats every few rounds on the same connection, within
 * what is left of the deadline. A failed queue read is a failed check; system stats are
 * informative only.
 */
import type { ServerStatus, SystemInfo } from '../../../shared/types'
import type { Clock } from '../clock'
import type { ComfyClient } from '../comfy/client'

/** How many rounds a server's system stats are reused before they are asked again. */
export const SYSTEM_STATS_EVERY_ROUNDS = 5
/** Every this many rounds the full /queue is read; the cheap count serves in between. */
export const FULL_QUEUE_EVERY_ROUNDS = 5

/** While a server has work and no live socket, check this much more often (not below 1 s). */
const BUSY_SPEEDUP = 3
const BUSY_MIN_INTERVAL_MS = 1_000

/**
 * The wait before the next round: the configured interval, shortened while some server has
 * work and no live socket to tell us when it changes (the queue then moves between checks).
 */
export function nextDelayMs(intervalMs: number, blindAndBusy: boolean): number {
  if (!blindAndBusy || intervalMs <= BUSY_MIN_INTERVAL_MS) return intervalMs
  return Math.max(BUSY_MIN_INTERVAL_MS, Math.round(intervalMs / BUSY_SPEEDUP))
}

export interface CheckResult {
  queue: ServerStatus['queue']
  latencyMs: number
  system: SystemInfo | null
  /** Its system stats changed: the server restarted (it may have other nodes or models). */
  restarted: boolean
}

/** What one server's checks remember from one round to the next. */
export class ServerCheck {
  /** Rounds since system stats were last read. */
  private statsAge = SYSTEM_STATS_EVERY_ROUNDS
  /** Rounds since the full /queue was read. */
  private roundsSinceFull = FULL_QUEUE_EVERY_ROUNDS
  /** RAM total, PyTorch and ComfyUI version seen last: a change means the server restarted. */
  private bootKey: string | null = null

  constructor(
    private readonly client: ComfyClient,
    private readonly clock: Clock
  ) {}

  /**
   * Reads the server; throws when its queue cannot be read. `prev` is its state before (a
   * server that was not healthy gets the full queue and its system stats at once).
   */
  async run(
    prev: { healthy: boolean; system: SystemInfo | null },
    deadline: number
  ): Promise<CheckResult> {
    const started = this.clock.now()
    const c = this.client
    // The full /queue carries every queued workflow and grows large.
    this.roundsSinceFull++
    let queue: ServerStatus['queue']
    let latencyMs: number
    if (!prev.healthy || this.roundsSinceFull >= FULL_QUEUE_EVERY_ROUNDS) {
      const q = await c.getQueue(deadline)
      this.roundsSinceFull = 0
      ;[queue, latencyMs] = [q.value, q.latencyMs]
    } else {
      const n = await c.getQueueCount(deadline)
      const running = Math.min(1, n.value)
      queue = { running, pending: n.value - running, total: n.value }
      latencyMs = n.latencyMs
    }
    let system = prev.system
    let restarted = false
    this.statsAge++
    // Asked again every few rounds, not every round: a server (or proxy) whose system_stats
    // is broken must not cost an extra request per check.
    if (this.statsAge >= SYSTEM_STATS_EVERY_ROUNDS || !prev.healthy) {
      // Same connection, after the queue; bounded by what is left of this server's deadline.
      const left = deadline - (this.clock.now() - started)
      if (left > 1) {
        try {
          system = (await c.getSystemStats(left)).value
          // ComfyUI has no boot id; a change of RAM total, PyTorch or version hints at a restart.
          const key = `${system.ramTotal}|${system.pytorchVersion}|${system.comfyuiVersion}`
          restarted = this.bootKey !== null && this.bootKey !== key
          this.bootKey = key
        } catch {
          // System stats are informative only; the queue decides health.
        }
        this.statsAge = 0
      }
    }
    return { queue, latencyMs, system, restarted }
  }
}
