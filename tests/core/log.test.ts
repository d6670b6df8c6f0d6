import { describe, expect, it } from 'vitest'
import { availabilityLine, conciseLines, LogBuffer, verboseLines } from '../../src/main/core/log'
import { fleet, q, server } from './helpers'

const msgs = (l: { message: string }[]) => l.map((x) => x.message)

describe('concise log lines', () => {
  it('announces the first round with the availability line', () => {
    const s = fleet(
      [
        server('gpu-1'),
        server('gpu-2', { queue: q(1, 0) }),
        server('gpu-3', { healthy: false, error: 'Connection refused' })
      ],
      'gpu-1'
    )
    expect(msgs(conciseLines(null, s))).toEqual([
      '[LoadBalancer] Server down: gpu-3 - Connection refused',
      '[LoadBalancer] Available servers: 2/3, best: gpu-1 (queue: 0)'
    ])
  })

  it('writes nothing when nothing changed', () => {
    const a = fleet([server('gpu-1'), server('gpu-2', { queue: q(1, 0) })], 'gpu-1')
    const b = fleet(
      [server('gpu-1', { queue: q(0, 0) }), server('gpu-2', { queue: q(1, 2) })],
      'gpu-1'
    )
    expect(conciseLines(a, b)).toEqual([])
  })

  it('explains a switch to a shorter queue', () => {
    const a = fleet(
      [server('gpu-1', { queue: q(1, 0) }), server('gpu-2', { queue: q(0, 0) })],
      'gpu-2'
    )
    const b = fleet(
      [server('gpu-1', { queue: q(0, 0) }), server('gpu-2', { queue: q(1, 1) })],
      'gpu-1'
    )
    expect(msgs(conciseLines(a, b))).toEqual([
      '[LoadBalancer] Server switch: gpu-2 -> gpu-1 (shorter queue)',
      '[LoadBalancer] Available servers: 2/2, best: gpu-1 (queue: 0)'
    ])
  })

  it('explains a switch because the best went down, and the recovery', () => {
    const a = fleet([server('gpu-1'), server('gpu-2', { queue: q(2, 0) })], 'gpu-1')
    const down = fleet(
      [
        server('gpu-1', { healthy: false, error: 'Timed out after 500 ms' }),
        server('gpu-2', { queue: q(2, 0) })
      ],
      'gpu-2'
    )
    expect(msgs(conciseLines(a, down))).toEqual([
      '[LoadBalancer] Server down: gpu-1 - Timed out after 500 ms',
      '[LoadBalancer] Server switch: gpu-1 -> gpu-2 (gpu-1 is down)',
      '[LoadBalancer] Available servers: 1/2, best: gpu-2 (queue: 2)'
    ])
    const none = fleet(
      [
        server('gpu-1', { healthy: false, error: 'Timed out after 500 ms' }),
        server('gpu-2', { healthy: false, error: 'HTTP 502 Bad Gateway' })
      ],
      null,
      { reason: 'No healthy server (0/2 up)' }
    )
    expect(msgs(conciseLines(down, none))).toEqual([
      '[LoadBalancer] Server down: gpu-2 - HTTP 502 Bad Gateway',
      '[LoadBalancer] Available servers: 0/2, best: none (No healthy server (0/2 up))'
    ])
    expect(conciseLines(down, none).at(-1)!.level).toBe('warn')
    const back = fleet(
      [server('gpu-1'), server('gpu-2', { healthy: false, error: 'HTTP 502 Bad Gateway' })],
      'gpu-1'
    )
    expect(msgs(conciseLines(none, back))).toEqual([
      '[LoadBalancer] Server up: gpu-1',
      '[LoadBalancer] Available servers: 1/2, best: gpu-1 (queue: 0)'
    ])
  })

  it('notes a changed reason for a server that stays down', () => {
    const a = fleet(
      [server('a'), server('b', { healthy: false, error: 'Connection refused' })],
      'a'
    )
    const b = fleet(
      [server('a'), server('b', { healthy: false, error: 'HTTP 503 Service Unavailable' })],
      'a'
    )
    expect(msgs(conciseLines(a, b))).toEqual([
      '[LoadBalancer] Server still down: b - HTTP 503 Service Unavailable'
    ])
  })
})

describe('verbose log lines', () => {
  it('has one line per server with counts or the reason', () => {
    const s = fleet(
      [
        server('gpu-1', { queue: q(1, 2), latencyMs: 12.4 }),
        server('gpu-2', { healthy: false, error: 'Answered with something that is not JSON' }),
        server('gpu-3', { enabled: false })
      ],
      'gpu-1'
    )
    expect(msgs(verboseLines(s))).toEqual([
      '[LoadBalancer] gpu-1: healthy, running 1, pending 2, total 3 (12 ms)',
      '[LoadBalancer] gpu-2: unhealthy - Answered with something that is not JSON',
      '[LoadBalancer] gpu-3: disabled'
    ])
    expect(availabilityLine(s)).toBe(
      '[LoadBalancer] Available servers: 1/2, best: gpu-1 (queue: 3)'
    )
  })
})

describe('log buffer', () => {
  it('keeps only the newest lines', () => {
    const b = new LogBuffer(3)
    for (let i = 0; i < 5; i++) b.push({ time: i, level: 'info', message: String(i) })
    expect(b.all().map((l) => l.message)).toEqual(['2', '3', '4'])
  })
})
