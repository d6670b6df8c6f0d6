/**
 * Which servers a check round reads over HTTP, and when within the round. A server whose live
 * socket is open (and answers its pings), which is healthy, idle and holds none of our jobs is
 * told of every queue change by its `status` messages: it is read over HTTP only every
 * `backstopRounds` rounds, each server in its own round, so a live state that went wrong is
 * still put right within about BACKSTOP_MS. Every other server is read every round. The reads
 * of a round start spread over part of the interval in a few slots rather than in one burst
 * (each slot's reads start together, STARTS_AT_ONCE at a time: one wake-up of the process per
 * slot, not one per read), the width of the spread by how many reads the round has: a live
 * fleet's few backstop reads start at once.
 */

/**
 * A live, idle server is read over HTTP at least this often (rounded to whole rounds). Its
 * socket's pings catch a server that went silent within the interval; this read puts right a
 * state a live socket got wrong while it still answers pings (a missed message, or another
 * socket with our client id that took its messages over: the read finds the queue moved and
 * the socket is dialled again). Each read costs CPU across a large fleet.
 */
export const BACKSTOP_MS = 30_000
/** After one of our jobs was on a server, it is read every round for this long. */
export const WATCH_AFTER_OURS_MS = 15_000
/** The reads of a round start within this share of the interval... */
export const SPREAD_SHARE = 0.5
/** ...and no wider than this per server (a small fleet is read at once, as before). */
export const SPREAD_PER_SERVER_MS = 2
/** The reads of a round start in at most this many slots... */
export const SPREAD_SLOTS = 8
/** ...at least this far apart (a small fleet's reads share one or two). */
export const MIN_SLOT_MS = 25

/**
 * The reads that start together (a check asked for, the reads of one slot) begin at most this
 * many at a time: a large fleet's first round is not a thousand connections opened at once (in
 * an A/B on 1000 loopback servers, ~16% less CPU for the start-up)...
 */
export const STARTS_AT_ONCE = 64
/**
 * ...and a read that has taken this long gives its place to the next one: when every server
 * hangs, the last of 1000 reads still begins within 1000 / 64 x 50 ms, under a second.
 */
export const START_HOLD_MS = 50

/** Every this many rounds a live, idle server is read over HTTP anyway (1: every round). */
export function backstopRounds(intervalMs: number): number {
  return Math.max(1, Math.round(BACKSTOP_MS / Math.max(1, intervalMs)))
}

/** What decides whether a server may skip the HTTP read of a round. */
export interface SkipFacts {
  /** When its live socket opened, while open and answering; null: no live socket. */
  socketOpenSince: number | null
  /** When its last good HTTP check started; null: none yet. */
  goodCheckAt: number | null
  /** When its socket last said the queue (a `status` message) while healthy; null: never. */
  liveStatusAt: number | null
  healthy: boolean
  down: boolean
  /** Queue length as last known (the live feed keeps it current). */
  queueTotal: number
  /** When it last held a job of ours (now while it holds one); null: never. */
  oursAt: number | null
  now: number
}

/**
 * Whether the server's `status` messages can stand for its HTTP read this round: its socket
 * is open, and since it opened either a good HTTP check or the socket itself (ComfyUI says its
 * queue to each socket as it connects) gave the state the socket keeps current; the server is
 * up (a good check found it so) and idle, and none of our jobs has been on it for
 * WATCH_AFTER_OURS_MS (their life is followed closely, and a server that just failed one is
 * watched a while longer).
 */
export function liveIdle(f: SkipFacts): boolean {
  const open = f.socketOpenSince
  return (
    open !== null &&
    f.goodCheckAt !== null &&
    (open <= f.goodCheckAt || (f.liveStatusAt !== null && open <= f.liveStatusAt)) &&
    f.healthy &&
    !f.down &&
    f.queueTotal === 0 &&
    (f.oursAt === null || f.now - f.oursAt >= WATCH_AFTER_OURS_MS)
  )
}

/** Whether the server at `index` is read over HTTP in round `round`. */
export function readThisRound(
  f: SkipFacts,
  round: number,
  index: number,
  everyRounds: number
): boolean {
  if (!liveIdle(f) || everyRounds <= 1) return true
  return (round + index) % everyRounds === 0
}

/** The width of the window a round's `reads` start in. */
export function spreadMs(intervalMs: number, reads: number): number {
  return Math.max(0, Math.min(intervalMs * SPREAD_SHARE, reads * SPREAD_PER_SERVER_MS))
}

/**
 * Where in that window the read at `index` of `reads` starts, in ms: the start of the slot its
 * own phase falls in.
 */
export function phaseMs(index: number, reads: number, windowMs: number): number {
  if (reads <= 1 || windowMs <= 0) return 0
  const slot = Math.max(MIN_SLOT_MS, windowMs / SPREAD_SLOTS)
  return Math.floor(Math.floor(((index / reads) * windowMs) / slot) * slot)
}

/** One read of a round: the server, and how long after the round's start it begins. */
export interface PlannedRead<T> {
  server: T
  atMs: number
}

/**
 * The reads of round number `round` over the enabled servers: all at once when `full` (a
 * check asked for), else the servers `readThisRound` names, each at its phase among them.
 */
export function planRound<T>(
  servers: readonly T[],
  facts: (s: T) => SkipFacts,
  o: { round: number; intervalMs: number; full: boolean }
): Array<PlannedRead<T>> {
  if (o.full) return servers.map((server) => ({ server, atMs: 0 }))
  const every = backstopRounds(o.intervalMs)
  const reads = servers.filter((server, i) => readThisRound(facts(server), o.round, i, every))
  const windowMs = spreadMs(o.intervalMs, reads.length)
  return reads.map((server, i) => ({ server, atMs: phaseMs(i, reads.length, windowMs) }))
}

/** A round's reads by the time they start (ms after the round's start), in that order. */
export function bySlot<T>(plan: ReadonlyArray<PlannedRead<T>>): Map<number, T[]> {
  const slots = new Map<number, T[]>()
  for (const { server, atMs } of plan) {
    const group = slots.get(atMs)
    if (group) group.push(server)
    else slots.set(atMs, [server])
  }
  return slots
}
