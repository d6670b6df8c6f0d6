/**
 * Choice policies: pure functions from server states to the chosen server and the reason.
 * No timers, no I/O; the log and the UI show the reason as it is.
 */
import type { ChoiceSaid, Lacks } from '../../../shared/said'
import type { ServerStatus } from '../../../shared/types'
import { sayChoice } from '../log'

export interface Choice {
  /** The chosen server, or null when none can be chosen. */
  server: ServerStatus | null
  /** Why, in words a user understands (English: `said` as the log says it). */
  reason: string
  /** Why, as data, for each face to say in its language (every policy here sets it). */
  said?: ChoiceSaid
  /** Expected time until this job would be done there (ms), when the policy knows it. */
  finishMs?: number
  /**
   * Every server the policy could have chosen, with the expected finish of this job there and
   * its run time there (ms), when the policy knows them: late binding (placement.ts) weighs
   * the jobs still waiting here with them.
   */
  finishes?: readonly Finish[]
}

/** One server's expected finish of a job (ms from now) and its run time there (ms). */
export interface Finish {
  serverId: string
  finishMs: number
  runMs: number
}

/** What the policy may know about the job being placed. */
export interface PolicyJob {
  /** A name for the kind of workflow (run times are learned per kind). */
  kind?: string
  /**
   * Servers that cannot run it, with the reason (missing node classes or models); when the map
   * also has `lacks` (as `Capabilities.unableToRun` gives it), what each one lacks as data.
   */
  unable?: ReadonlyMap<string, string> & { lacks?: ReadonlyMap<string, Omit<Lacks, 'name'>> }
}

/** A choice that says `said`, with its English words as `reason`. */
export function choice(server: ServerStatus | null, said: ChoiceSaid, finishMs?: number): Choice {
  const c: Choice = { server, reason: sayChoice(said), said }
  if (finishMs !== undefined) c.finishMs = finishMs
  return c
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
  if (servers.length === 0) return choice(null, { code: 'no-servers' })
  if (enabled.length === 0) return choice(null, { code: 'all-disabled' })
  if (enabled.every((s) => s.lastCheck === null)) return choice(null, { code: 'not-checked' })
  return choice(null, { code: 'none-healthy', total: enabled.length })
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
  if (healthyCount === 1) return choice(best, { code: 'only-healthy' })
  const ties = servers.filter((s) => s.enabled && s.healthy && s.queue.total === best!.queue.total)
  return choice(
    best,
    ties.length > 1
      ? { code: 'shortest-queue', n: best.queue.total, tie: ties.length }
      : { code: 'shortest-queue', n: best.queue.total }
  )
}

/** Round-robin over healthy servers, ignoring queues (`queueWeightEnabled: false`). */
export const roundRobinPolicy: Policy = (servers, ctx) => {
  const healthy = servers.filter((s) => s.enabled && s.healthy)
  if (healthy.length === 0) return noneHealthy(servers)
  const prev = ctx?.previousId ? healthy.findIndex((s) => s.id === ctx.previousId) : -1
  const next = healthy[(prev + 1) % healthy.length]!
  return choice(next, { code: 'round-robin' })
}

/** Choices within this share of the best expected finish count as equal. */
export const NEAR_EQUAL_SHARE = 0.1
/** ...plus this many ms (kept tiny: the rule must hold for 100 ms jobs and for 10 min ones). */
export const NEAR_EQUAL_MS = 5

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
      const lacks: Lacks[] = [...unable].map(([id, r]) => {
        const name = servers.find((s) => s.id === id)?.name ?? id
        const l = unable.lacks?.get(id)
        // Without the data, the words as they came.
        return l
          ? { name, nodes: l.nodes, models: l.models }
          : { name, nodes: [], models: [], text: r }
      })
      return choice(null, { code: 'none-capable', servers: lacks })
    }
    return noneHealthy(servers)
  }
  const settled = capable.filter((s) => !s.down)
  const pool = settled.length ? settled : capable
  const scored = pool.map((s) => {
    const run = est(s.id)
    const wait = s.etaMs ?? 0
    return { s, wait, run, finish: wait + run }
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
  const said: ChoiceSaid = {
    code: 'expected',
    queue: pick.s.jobMs === null ? ahead : null,
    startMs: pick.wait,
    doneMs: pick.finish
  }
  if (near.length > 1) said.about = near.length
  if (!settled.length) said.justBack = true
  if (unable?.size) said.lacking = unable.size
  const c = choice(pick.s, said, pick.finish)
  c.finishes = scored.map((x) => ({ serverId: x.s.id, finishMs: x.finish, runMs: x.run }))
  return c
}
