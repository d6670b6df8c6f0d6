/**
 * Late binding over a simulated burst (simulated time, no servers): jobs wait here and are
 * placed each time one of ours starts on a server, as the job engine does, with exact expected
 * waits. With the number of jobs waiting here the placement reaches the best makespan.
 */
import { describe, expect, it } from 'vitest'
import { neededServer, place, turnsBefore } from '../../src/main/core/fleet/placement'
import { expectedCompletionPolicy, type Finish } from '../../src/main/core/fleet/policy'
import { server } from './helpers'

interface SimServer {
  id: string
  runMs: number
  /** End of the running job, or null when idle. */
  busyUntil: number | null
  queued: number
  done: number
  /** Idle time between its jobs. */
  gapMs: number
}

/** Runs `jobs` unit jobs on servers of the given run times; returns makespan and jobs each. */
function simulate(runMs: number[], jobs: number, tellWaiting: boolean) {
  const servers: SimServer[] = runMs.map((r, i) => ({
    id: `s${i}`,
    runMs: r,
    busyUntil: null,
    queued: 0,
    done: 0,
    gapMs: 0
  }))
  let waiting = jobs
  let t = 0
  let lastEnd = new Map<string, number>()
  const start = (s: SimServer) => {
    s.queued--
    const prev = lastEnd.get(s.id)
    if (prev !== undefined) s.gapMs += t - prev
    s.busyUntil = t + s.runMs
  }
  const views = () =>
    servers.map((s) => {
      const remaining = s.busyUntil === null ? 0 : s.busyUntil - t
      return server(s.id, { jobMs: s.runMs, etaMs: remaining + s.queued * s.runMs })
    })
  const pump = () => {
    let started = false
    for (;;) {
      if (!waiting) return started
      const p = place(views(), undefined, (id) => servers.find((s) => s.id === id)!.queued, {
        policy: expectedCompletionPolicy,
        holdBack: 1,
        estimateJobMs: (id) => servers.find((s) => s.id === id)!.runMs,
        rng: () => 0,
        waitingHere: tellWaiting ? waiting : undefined
      })
      if (!p.server) return started
      const s = servers.find((x) => x.id === p.server!.id)!
      waiting--
      s.queued++
      if (s.busyUntil === null) {
        start(s)
        started = true
      }
    }
  }
  while (pump());
  for (let guard = 0; guard < 10_000; guard++) {
    const busy = servers.filter((s) => s.busyUntil !== null)
    if (!busy.length) break
    t = Math.min(...busy.map((s) => s.busyUntil!))
    let started = false
    for (const s of busy) {
      if (s.busyUntil !== t) continue
      s.done++
      s.busyUntil = null
      lastEnd.set(s.id, t)
      if (s.queued > 0) {
        start(s)
        started = true
      }
    }
    // Each start of a queued job places the jobs waiting here again.
    if (started) while (pump());
  }
  lastEnd = new Map()
  return {
    makespanMs: t,
    perServer: servers.map((s) => s.done),
    gapMs: servers.map((s) => s.gapMs),
    left: waiting
  }
}

describe('late binding in a burst', () => {
  const speeds = [100, 100, 200, 400]

  it('reaches the lower bound when it knows how many jobs wait here', () => {
    const r = simulate(speeds, 40, true)
    expect(r.left).toBe(0)
    expect(r.perServer).toEqual([15, 15, 7, 3])
    expect(r.makespanMs).toBe(1500)
    expect(r.gapMs).toEqual([0, 0, 0, 0])
  })

  it('keeps the slower servers fed in the bulk and leaves them out of the tail', () => {
    // 6 jobs: the fast servers alone finish them by 300; the 400 ms one would end later.
    const few = simulate(speeds, 6, true)
    expect(few.makespanMs).toBe(300)
    expect(few.perServer[3]).toBe(0)
    // One job per server at most, then more: a slow server that ends sooner is used.
    const r = simulate([100, 1000], 12, true)
    expect(r.makespanMs).toBe(1100)
    expect(r.perServer).toEqual([11, 1])
  })
})

describe('neededServer', () => {
  const f = (serverId: string, finishMs: number, runMs: number): Finish => ({
    serverId,
    finishMs,
    runMs
  })
  const fleet = [f('a', 250, 100), f('b', 250, 100), f('s', 300, 200), f('d', 600, 400)]
  const full = (id: string) => id === 'a' || id === 'b'

  it('counts the turns of the other servers that end sooner', () => {
    expect(turnsBefore(fleet, fleet[2]!)).toBe(2)
    expect(turnsBefore(fleet, fleet[3]!)).toBe(4 + 4 + 2)
    expect(turnsBefore(fleet, fleet[0]!)).toBe(0)
  })

  it('a server below the limit that the jobs waiting here would use, else none', () => {
    expect(neededServer(fleet, full, 1)).toBeNull()
    expect(neededServer(fleet, full, 2)).toBeNull()
    expect(neededServer(fleet, full, 3)).toBe('s')
    expect(neededServer(fleet, (id) => id !== 'd', 10)).toBeNull()
    expect(neededServer(fleet, (id) => id !== 'd', 11)).toBe('d')
  })

  it('leaves a slower server out when a faster one would end the job about as soon', () => {
    const two = [f('a', 100, 100), f('d', 1000, 1000)]
    // a's tenth turn ends at 1000 like d's first: with ten jobs here, d is not needed...
    expect(turnsBefore(two, two[1]!)).toBe(9)
    expect(turnsBefore(two, two[1]!, 100)).toBe(10)
    expect(neededServer(two, (id) => id === 'a', 10)).toBeNull()
    // ...with eleven it is.
    expect(neededServer(two, (id) => id === 'a', 11)).toBe('d')
  })
})
