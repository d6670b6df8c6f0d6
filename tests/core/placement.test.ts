/** Placement: the policy plus hold-back in one pure function, table-driven. */
import { describe, expect, it } from 'vitest'
import {
  choosePolicy,
  fleetStatus,
  HELD_BACK_NOTE,
  HELD_BACK_REASON,
  place,
  withHoldBack
} from '../../src/main/core/fleet/placement'
import { expectedCompletionPolicy, leastQueuePolicy } from '../../src/main/core/fleet/policy'
import type { ServerStatus } from '../../src/shared/types'
import { q, server } from './helpers'

/** Servers with an expected wait (etaMs) each; every job takes 1 s everywhere. */
function fleetOf(waits: Record<string, number>, patch: Record<string, Partial<ServerStatus>> = {}) {
  return Object.entries(waits).map(([id, etaMs]) =>
    server(id, { etaMs, jobMs: 1000, ...patch[id] })
  )
}

const opts = (holdBack: number | null, exclude: string[] = []) => ({
  policy: expectedCompletionPolicy,
  holdBack,
  exclude: new Set(exclude),
  estimateJobMs: () => 1000,
  rng: () => 0
})

describe('place', () => {
  const cases: Array<{
    name: string
    waits: Record<string, number>
    ours: Record<string, number>
    holdBack: number | null
    exclude?: string[]
    server: string | null
    heldFor?: string
  }> = [
    {
      name: 'no limit: the soonest finish',
      waits: { a: 0, b: 5000 },
      ours: { a: 3 },
      holdBack: null,
      server: 'a'
    },
    {
      name: 'below the limit: the soonest finish',
      waits: { a: 0, b: 5000 },
      ours: { a: 0 },
      holdBack: 1,
      server: 'a'
    },
    {
      name: 'at the limit, another finishes it no later: that one',
      waits: { a: 2000, b: 2000 },
      ours: { a: 1 },
      holdBack: 1,
      server: 'b'
    },
    {
      name: 'at the limit, the others finish it later: held back',
      waits: { a: 0, b: 5000 },
      ours: { a: 1 },
      holdBack: 1,
      server: null,
      heldFor: 'a'
    },
    {
      name: 'every server at the limit: held back',
      waits: { a: 0, b: 0 },
      ours: { a: 2, b: 2 },
      holdBack: 2,
      server: null,
      heldFor: 'a'
    },
    {
      name: 'tried servers are left out before the limit is looked at',
      waits: { a: 0, b: 1000 },
      ours: { a: 1 },
      holdBack: 1,
      exclude: ['a'],
      server: 'b'
    }
  ]
  for (const c of cases) {
    it(c.name, () => {
      const views = fleetOf(c.waits)
      const p = place(views, undefined, (id) => c.ours[id] ?? 0, opts(c.holdBack, c.exclude))
      expect(p.server?.id ?? null).toBe(c.server)
      expect(p.heldBack?.server?.id).toBe(c.heldFor)
      if (c.heldFor) expect(p.reason).toBe(HELD_BACK_REASON)
      else expect(p.reason).not.toBe(HELD_BACK_REASON)
    })
  }

  it('says what was excluded when nothing is left', () => {
    const views = [server('a'), server('b', { healthy: false })]
    const all = place(views, undefined, () => 0, opts(1, ['a', 'b']))
    expect(all).toMatchObject({ server: null, reason: 'every server was tried (2)' })
    const some = choosePolicy(views, undefined, new Set(['a']), opts(1))
    expect(some.server).toBeNull()
    expect(some.reason).toMatch(/^No healthy server .*; 1 server\(s\) already tried$/)
  })

  it('uses the injected rng for the two-choices tie-break', () => {
    const views = fleetOf({ a: 0, b: 0, c: 0 })
    const seq = (xs: number[]) => () => xs.shift() ?? 0
    const at = (xs: number[]) =>
      place(views, undefined, () => 0, { ...opts(null), rng: seq(xs) }).server?.id
    expect(at([0, 0])).toBe('a')
    expect(at([0.99, 0.99])).toBe('c')
    expect(at([0.5, 0.99])).toBe('b') // equal finish and latency: the first drawn
  })

  it('holds back over any chooser, asking it again without the full servers', () => {
    const calls: string[][] = []
    const choose = (ex: ReadonlySet<string>) => {
      calls.push([...ex])
      const s = ['a', 'b'].find((id) => !ex.has(id))
      return s
        ? { server: server(s), reason: s, finishMs: s === 'a' ? 1 : 2 }
        : { server: null, reason: 'none' }
    }
    const p = withHoldBack(choose, (id) => (id === 'a' ? 1 : 0), ['a', 'b'], new Set(), 1)
    expect(p.server).toBeNull()
    expect(calls).toEqual([[], ['a']])
  })

  it('gives the status the server the next job goes to, or waits for', () => {
    const views = fleetOf({ a: 0, b: 5000 })
    const next = place(views, undefined, (id) => (id === 'a' ? 1 : 0), opts(1))
    const st = fleetStatus(views, next, 5, false)
    expect(st).toMatchObject({ bestServerId: 'a', healthy: 2, lastHealthCheck: 5 })
    expect(st.reason.endsWith(HELD_BACK_NOTE)).toBe(true)
    const free = fleetStatus(
      views,
      place(views, undefined, () => 0, opts(1)),
      5,
      false
    )
    expect(free.bestServerId).toBe('a')
    expect(free.reason).not.toContain(HELD_BACK_NOTE)
  })

  it('works with any policy', () => {
    const views = [server('a', { queue: q(1, 1) }), server('b', { queue: q(0, 1) })]
    const p = place(views, undefined, () => 0, { policy: leastQueuePolicy })
    expect(p.server?.id).toBe('b')
  })
})
