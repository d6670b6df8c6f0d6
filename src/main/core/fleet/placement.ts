/**
 * Placement: where the next try of a job goes, as one pure function of the servers' states,
 * the job, our jobs waiting per server and the options. The policy chooses; late binding
 * (hold-back) then keeps at most `holdBack` of our jobs waiting on one server: another server
 * only if it finishes the job no later, else the job waits here. The job's dispatch and the
 * "best server" the window shows both come from here, so what is shown is where the next job
 * goes.
 */
import type { FleetStatus, ServerStatus } from '../../../shared/types'
import type { ChoiceSaid } from '../../../shared/said'
import { HELD_BACK_NOTE, sayChoice } from '../log'
import { choice, type Choice, type Policy, type PolicyJob } from './policy'

const HELD_BACK: ChoiceSaid = Object.freeze({ code: 'held-back' })

/** The reason given when a job waits here instead of lining up on a busy server. */
export const HELD_BACK_REASON = sayChoice(HELD_BACK)

export interface Placement extends Choice {
  /**
   * Set when the job waits here (late binding): the server it would have lined up on, and why
   * that one. `server` is null then.
   */
  heldBack?: Choice
}

/** Said after the best server's reason while our next job waits for it here. */
export { HELD_BACK_NOTE }

/** A choice's said; for a choice made by words only (a chooser of tests), the words as they are. */
export function saidOf(c: Choice): ChoiceSaid {
  return c.said ?? { code: 'text', text: c.reason }
}

/** Our jobs waiting on a server (being sent there, or queued there and not running yet). */
export type OurWaiting = (serverId: string) => number

export interface PlaceOptions {
  policy: Policy
  /** Servers not to use (they already failed this job). */
  exclude?: ReadonlySet<string>
  /** At most this many of our jobs waiting on one server; null or undefined: no limit. */
  holdBack?: number | null
  /** The previous pick (round-robin continues after it). */
  previousId?: string | null
  estimateJobMs?: (serverId: string) => number
  /** Uniform in [0, 1), for the two-choices tie-break. */
  rng?: () => number
}

/** The policy's choice among the servers not excluded, with what was excluded in the reason. */
export type Chooser = (exclude: ReadonlySet<string>) => Choice

/**
 * Hold-back over any chooser: the first choice, unless that server already has `holdBack` of
 * our jobs waiting; then the choice among the servers below the limit, if it finishes the job
 * no later, else none (held back).
 */
export function withHoldBack(
  choose: Chooser,
  ourWaiting: OurWaiting,
  serverIds: readonly string[],
  exclude: ReadonlySet<string>,
  holdBack: number | null | undefined
): Placement {
  const first = choose(exclude)
  if (!first.server || holdBack === null || holdBack === undefined) return first
  if (ourWaiting(first.server.id) < holdBack) return first
  const full = new Set([...exclude, ...serverIds.filter((id) => ourWaiting(id) >= holdBack)])
  const alt = choose(full)
  if (!alt.server || (alt.finishMs ?? Infinity) > (first.finishMs ?? Infinity)) {
    return { ...choice(null, HELD_BACK), heldBack: first }
  }
  return alt
}

/** The policy over the servers not excluded, saying what was excluded when none is left. */
export function choosePolicy(
  views: readonly ServerStatus[],
  job: PolicyJob | undefined,
  exclude: ReadonlySet<string>,
  o: PlaceOptions
): Choice {
  const servers = views.filter((s) => !exclude.has(s.id))
  const c = o.policy(servers, {
    previousId: o.previousId ?? null,
    job,
    estimateJobMs: o.estimateJobMs,
    rng: o.rng
  })
  if (c.server || !exclude.size) return c
  if (servers.length) return choice(null, { code: 'tried', n: exclude.size, then: saidOf(c) })
  return choice(null, { code: 'all-tried', n: exclude.size })
}

/** Where the next try of `job` goes, and why; `heldBack` when it waits here. */
export function place(
  views: readonly ServerStatus[],
  job: PolicyJob | undefined,
  ourWaiting: OurWaiting,
  o: PlaceOptions
): Placement {
  const exclude = o.exclude ?? new Set<string>()
  return withHoldBack(
    (ex) => choosePolicy(views, job, ex, o),
    ourWaiting,
    views.map((s) => s.id),
    exclude,
    o.holdBack
  )
}

/**
 * The fleet status with the best server: where the next job goes. While that job would wait
 * here (held back), the best is still the server it waits for.
 */
export function fleetStatus(
  servers: ServerStatus[],
  next: Placement,
  lastHealthCheck: number | null,
  paused: boolean
): FleetStatus {
  const best = next.server ?? next.heldBack?.server ?? null
  const reasonSaid: ChoiceSaid = next.heldBack
    ? { code: 'held-for', then: saidOf(next.heldBack) }
    : saidOf(next)
  return Object.freeze({
    total: servers.length,
    healthy: servers.filter((s) => s.enabled && s.healthy).length,
    bestServer: best ? best.name : null,
    bestServerId: best ? best.id : null,
    reason: next.heldBack ? `${next.heldBack.reason}; ${HELD_BACK_NOTE}` : next.reason,
    reasonSaid,
    lastHealthCheck,
    paused,
    servers
  })
}
