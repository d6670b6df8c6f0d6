import { describe, expect, it } from 'vitest'
import { leastQueuePolicy, roundRobinPolicy } from '../../src/main/core/fleet/policy'
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
