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
import {
  choice,
  NEAR_EQUAL_SHARE,
  type Choice,
  type Finish,
  type Policy,
  type PolicyJob
} from './policy'

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
  /** Our jobs waiting here for a server, the one being placed included (see withHoldBack). */
  waitingHere?: number
}

/** The policy's choice among the servers not excluded, with what was excluded in the reason. */
export type Chooser = (exclude: ReadonlySet<string>) => Choice

/**
 * Jobs that would be done before a job started on `on` now: every other server's turns (its
 * expected finish, then one run time more per job) ending sooner than `on` finishes it, or
 * than `slackMs` after that.
 */
export function turnsBefore(finishes: readonly Finish[], on: Finish, slackMs = 0): number {
  const limit = on.finishMs + Math.max(0, slackMs)
  let n = 0
  for (const f of finishes) {
    if (f.serverId === on.serverId || f.finishMs >= limit) continue
    const run = f.runMs > 0 ? f.runMs : 1
    n += Math.floor((limit - f.finishMs) / run - 1e-9) + 1
  }
  return n
}

/**
 * Of the servers below the limit, the one that finishes a job soonest among those the
 * `waitingHere` jobs waiting here would use, were each to go where it ends first (for jobs of
 * one kind the shortest overall finish): such a server gets one of them anyway, so it gets
 * this one now and never idles while the job waits here. Null when none is used. A turn of
 * another server that ends within NEAR_EQUAL_SHARE of this server's run time after it counts
 * as sooner: an estimate is off by more on a slower server, and the last jobs are better on
 * the faster ones when it is close.
 */
export function neededServer(
  finishes: readonly Finish[],
  full: (serverId: string) => boolean,
  waitingHere: number
): string | null {
  let best: Finish | null = null
  for (const f of finishes) {
    if (full(f.serverId) || (best && best.finishMs <= f.finishMs)) continue
    if (turnsBefore(finishes, f, NEAR_EQUAL_SHARE * f.runMs) < waitingHere) best = f
  }
  return best?.serverId ?? null
}

/**
 * Hold-back over any chooser: the first choice, unless that server already has `holdBack` of
 * our jobs waiting; then the choice among the servers below the limit, if it finishes the job
 * no later, else none (held back).
 *
 * With `waitingHere` (our jobs waiting here for a server, this one included) above one and a
 * policy that gives every server's expected finish, a server below the limit also gets the
 * job when those jobs would use it (`neededServer`): in a burst a slower server gets its next
 * job while it still runs one, instead of idling until the job is released; the last jobs go
 * where they finish first (on a slower server too, when that is sooner).
 */
export function withHoldBack(
  choose: Chooser,
  ourWaiting: OurWaiting,
  serverIds: readonly string[],
  exclude: ReadonlySet<string>,
  holdBack: number | null | undefined,
  waitingHere = 1
): Placement {
  const first = choose(exclude)
  if (!first.server || holdBack === null || holdBack === undefined) return first
  if (ourWaiting(first.server.id) < holdBack) return first
  const isFull = (id: string) => ourWaiting(id) >= holdBack
  const full = new Set([...exclude, ...serverIds.filter(isFull)])
  const alt = choose(full)
  const held = (): Placement => ({ ...choice(null, HELD_BACK), heldBack: first })
  if (!alt.server) return held()
  if ((alt.finishMs ?? Infinity) <= (first.finishMs ?? Infinity)) return alt
  if (waitingHere <= 1 || !first.finishes?.length) return held()
  const needed = neededServer(first.finishes, (id) => full.has(id), waitingHere)
  if (needed === null) return held()
  if (needed === alt.server.id) return alt
  const only = choose(new Set([...full, ...serverIds.filter((id) => id !== needed)]))
  return only.server ? only : held()
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
    o.holdBack,
    o.waitingHere
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
