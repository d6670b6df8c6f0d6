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
  /** Expected time until this job would be done there (ms), when the policy knows it. */
  finishMs?: number
}

/** What the policy may know about the job being placed. */
export interface PolicyJob {
  /** A name for the kind of workflow (run times are learned per kind). */
  kind?: string
  /** Servers that cannot run it, with the reason (missing node classes or models). */
  unable?: ReadonlyMap<string, string>
}

export interface PolicyContext {
  /** Id of the previous choice (round-robin continues after it). */
  previousId?: string | null
  job?: PolicyJob
  /** Expected run time of this job on a server (learned, or a prior). */
  estimateJobMs?: (serverId: string) => number
  /** Uniform in [0, 1); injected so tests are repeatable. */
  rng?: () => number
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

/** Choices within this share of the best expected finish count as equal. */
export const NEAR_EQUAL_SHARE = 0.1
/** ...plus this many ms (kept tiny: the rule must hold for 100 ms jobs and for 10 min ones). */
export const NEAR_EQUAL_MS = 5

function secs(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`
}

/**
 * Expected completion: each server's expected wait (the jobs ahead of a new one, including
 * the ones this app just sent, times that server's learned run time) plus the run time of this
 * job there; the soonest finish wins. Servers that cannot run the job (missing nodes or
 * models) are left out, servers declared down are never chosen, and one that just came back
 * only when nothing else can. Among near-equal choices two are drawn at random and the better
 * one (then the nearer one) is taken, so several apps sharing a fleet do not all herd onto the
 * same idle server.
 */
export const expectedCompletionPolicy: Policy = (servers, ctx) => {
  const unable = ctx?.job?.unable
  const est = ctx?.estimateJobMs ?? (() => 1)
  const rng = ctx?.rng ?? Math.random
  const live = servers.filter((s) => s.enabled && s.healthy)
  const capable = live.filter((s) => !unable?.has(s.id))
  if (!capable.length) {
    if (live.length && unable?.size) {
      const why = [...unable].map(
        ([id, r]) => `${servers.find((s) => s.id === id)?.name ?? id}: ${r}`
      )
      return { server: null, reason: `No healthy server can run this workflow (${why.join('; ')})` }
    }
    return noneHealthy(servers)
  }
  const settled = capable.filter((s) => !s.down)
  const pool = settled.length ? settled : capable
  const scored = pool.map((s) => {
    const run = est(s.id)
    const wait = s.etaMs ?? 0
    return { s, wait, finish: wait + run }
  })
  const bestFinish = Math.min(...scored.map((x) => x.finish))
  const near = scored.filter((x) => x.finish <= bestFinish * (1 + NEAR_EQUAL_SHARE) + NEAR_EQUAL_MS)
  let pick = near[0]!
  if (near.length > 1) {
    const a = near[Math.floor(rng() * near.length) % near.length]!
    const b = near[Math.floor(rng() * near.length) % near.length]!
    const better = (x: typeof a, y: typeof a) =>
      x.finish !== y.finish
        ? x.finish < y.finish
          ? x
          : y
        : (x.s.latencyMs ?? Infinity) <= (y.s.latencyMs ?? Infinity)
          ? x
          : y
    pick = better(a, b)
  } else {
    pick = scored.find((x) => x.finish === bestFinish)!
  }
  // Before a server has finished anything its times are only a prior: speak of the queue then.
  const ahead = pick.s.queue.total + pick.s.ownInFlight
  const parts = [
    pick.s.jobMs === null
      ? `shortest queue (${ahead})`
      : `expected start in ${secs(pick.wait)}, done in ${secs(pick.finish)}`
  ]
  if (near.length > 1) parts.push(`one of ${near.length} about equal`)
  if (!settled.length) parts.push('just came back')
  const excluded = unable?.size ? `; ${unable.size} server(s) lack what it needs` : ''
  return { server: pick.s, reason: parts.join(', ') + excluded, finishMs: pick.finish }
}
