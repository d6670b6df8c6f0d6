import { describe, expect, it } from 'vitest'
import {
  availabilityLine,
  conciseLines,
  LogBuffer,
  logLine,
  redactingSink,
  redactLogLine,
  verboseLines
} from '../../src/main/core/log'
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

describe('log lines never show URL credentials', () => {
  const URL_ERR = 'fetch http://user:s3cret@gpu-1:8188/prompt?token=t0ken failed'
  const leaks = (texts: string[]) => texts.filter((t) => /s3cret|t0ken/.test(t))

  it('in the concise and verbose lines', () => {
    const up = fleet([server('gpu-1'), server('gpu-2')], 'gpu-1')
    const down = fleet(
      [server('gpu-1', { healthy: false, error: URL_ERR }), server('gpu-2')],
      'gpu-2'
    )
    const still = fleet(
      [server('gpu-1', { healthy: false, error: `${URL_ERR} again` }), server('gpu-2')],
      'gpu-2'
    )
    const none = fleet([server('gpu-1', { healthy: false, error: URL_ERR })], null, {
      reason: `No healthy server (${URL_ERR})`
    })
    const lines = [
      ...msgs(conciseLines(up, down)),
      ...msgs(conciseLines(down, still)),
      ...msgs(conciseLines(null, none)),
      ...msgs(verboseLines(down)),
      availabilityLine(none)
    ]
    expect(lines.length).toBeGreaterThan(5)
    expect(leaks(lines)).toEqual([])
    expect(msgs(conciseLines(up, down))[0]).toBe(
      '[LoadBalancer] Server down: gpu-1 - fetch http://user:***@gpu-1:8188/prompt?token=*** failed'
    )
  })

  it('in the buffer, in logLine and through a redacting sink', () => {
    const b = new LogBuffer(10)
    b.push({ time: 1, level: 'warn', message: `[Settings] ${URL_ERR}` })
    b.push({ time: 2, level: 'info', message: 'plain line' })
    expect(leaks(b.all().map((l) => l.message))).toEqual([])
    expect(b.all()[1]!.message).toBe('plain line')
    const line = logLine(3, 'error', URL_ERR)
    expect(line).toMatchObject({ time: 3, level: 'error' })
    expect(leaks([line.message])).toEqual([])
    const got: string[] = []
    const sink = redactingSink((l) => got.push(l.message))
    sink({ time: 4, level: 'info', message: URL_ERR })
    expect(got).toHaveLength(1)
    expect(leaks(got)).toEqual([])
    const same = { time: 5, level: 'info' as const, message: 'nothing secret' }
    expect(redactLogLine(same)).toBe(same)
  })
})
