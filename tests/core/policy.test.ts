import { describe, expect, it } from 'vitest'
import {
  expectedCompletionPolicy,
  leastQueuePolicy,
  roundRobinPolicy
} from '../../src/main/core/fleet/policy'
import { q, server } from './helpers'

describe('least-queue policy (the original design)', () => {
  it('chooses the healthy server with the smallest running + pending', () => {
    const c = leastQueuePolicy([
      server('a', { queue: q(1, 3) }),
      server('b', { queue: q(1, 0) }),
      server('c', { queue: q(0, 2) })
    ])
    expect(c.server?.id).toBe('b')
    expect(c.reason).toBe('shortest queue (1)')
  })

  it('breaks ties by list order', () => {
    const c = leastQueuePolicy([
      server('a', { queue: q(1, 1) }),
      server('b', { queue: q(0, 1) }),
      server('c', { queue: q(1, 0) })
    ])
    expect(c.server?.id).toBe('b')
    expect(c.reason).toContain('first in the list among 2 equal')
  })

  it('never chooses an unhealthy or disabled server, however empty', () => {
    const c = leastQueuePolicy([
      server('a', { healthy: false, error: 'Connection refused' }),
      server('b', { enabled: false }),
      server('c', { queue: q(1, 9) })
    ])
    expect(c.server?.id).toBe('c')
    expect(c.reason).toBe('the only healthy server')
  })

  it('says clearly when there is no best server', () => {
    expect(leastQueuePolicy([])).toMatchObject({
      server: null,
      reason: 'No servers are configured',
      said: { code: 'no-servers' }
    })
    expect(leastQueuePolicy([server('a', { enabled: false })]).reason).toBe(
      'All servers are disabled'
    )
    expect(leastQueuePolicy([server('a', { healthy: false, lastCheck: null })]).reason).toBe(
      'No server has been checked yet'
    )
    const none = leastQueuePolicy([
      server('a', { healthy: false }),
      server('b', { healthy: false })
    ])
    expect(none.server).toBeNull()
    expect(none.reason).toBe('No healthy server (0/2 up)')
  })
})

describe('round-robin policy', () => {
  it('goes through the healthy servers in turn, skipping the unhealthy', () => {
    const list = [server('a'), server('b', { healthy: false }), server('c', { queue: q(5, 5) })]
    const seen: string[] = []
    let prev: string | null = null
    for (let i = 0; i < 4; i++) {
      const c = roundRobinPolicy(list, { previousId: prev })
      seen.push(c.server!.id)
      prev = c.server!.id
    }
    expect(seen).toEqual(['a', 'c', 'a', 'c'])
    expect(roundRobinPolicy([server('x', { healthy: false })]).server).toBeNull()
  })
})

describe('expected-completion policy', () => {
  it("gives every usable server's expected finish and run time with its choice", () => {
    const run: Record<string, number> = { a: 100, b: 200, c: 400 }
    const list = [
      server('a', { etaMs: 150 }),
      server('b', { etaMs: 100 }),
      server('c', { etaMs: 0, healthy: false }),
      server('d', { etaMs: 0 })
    ]
    const c = expectedCompletionPolicy(list, {
      estimateJobMs: (id) => run[id] ?? 1000,
      job: { unable: new Map([['d', 'lacks a node']]) },
      rng: () => 0
    })
    expect(c.server?.id).toBe('a')
    expect(c.finishes).toEqual([
      { serverId: 'a', finishMs: 250, runMs: 100 },
      { serverId: 'b', finishMs: 300, runMs: 200 }
    ])
  })
})
