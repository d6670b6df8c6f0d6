/**
 * Choice policies: pure functions from server states to the chosen server and the reason.
 * No timers, no I/O; the log and the UI show the reason as it is.
 */
import type { ServerStatus } from '../../../shared/types'

export interface Choice {
  /** The chosen server, or null when none can be chosen. */
  server: ServerStatus | null
  /** Why, in words a user understands. */
  reason: string
}

export interface PolicyContext {
  /** Id of the previous choice (round-robin continues after it). */
  previousId?: string | null
}

export type Policy = (servers: readonly ServerStatus[], ctx?: PolicyContext) => Choice

function noneHealthy(servers: readonly ServerStatus[]): Choice {
  const enabled = servers.filter((s) => s.enabled)
  if (servers.length === 0) return { server: null, reason: 'No servers are configured' }
  if (enabled.length === 0) return { server: null, reason: 'All servers are disabled' }
  if (enabled.every((s) => s.lastCheck === null)) {
    return { server: null, reason: 'No server has been checked yet' }
  }
  return { server: null, reason: `No healthy server (0/${enabled.length} up)` }
}

/**
 * The original design's policy: the healthy server with the smallest queue total (running +
 * pending); ties go to the one earlier in the list.
 */
export const leastQueuePolicy: Policy = (servers) => {
  let best: ServerStatus | null = null
  let healthyCount = 0
  for (const s of servers) {
    if (!s.enabled || !s.healthy) continue
    healthyCount++
    if (!best || s.queue.total < best.queue.total) best = s
  }
  if (!best) return noneHealthy(servers)
  if (healthyCount === 1) return { server: best, reason: 'the only healthy server' }
  const ties = servers.filter((s) => s.enabled && s.healthy && s.queue.total === best!.queue.total)
  return {
    server: best,
    reason:
      ties.length > 1
        ? `shortest queue (${best.queue.total}), first in the list among ${ties.length} equal`
        : `shortest queue (${best.queue.total})`
  }
}

/** Round-robin over healthy servers, ignoring queues (`queueWeightEnabled: false`). */
export const roundRobinPolicy: Policy = (servers, ctx) => {
  const healthy = servers.filter((s) => s.enabled && s.healthy)
  if (healthy.length === 0) return noneHealthy(servers)
  const prev = ctx?.previousId ? healthy.findIndex((s) => s.id === ctx.previousId) : -1
  const next = healthy[(prev + 1) % healthy.length]!
  return { server: next, reason: 'next in turn (queue weighting is off)' }
}
