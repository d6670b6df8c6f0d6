import { describe, expect, it } from 'vitest'
import {
  appendSamples,
  HISTORY_MS,
  MIN_CHART_MS,
  sparkline
} from '../../src/renderer/src/lib/history'
import { fleet, q, server } from '../core/helpers'

const MIN = 60_000

describe('queue history', () => {
  it('grows from the pushes: one point per change, a point per gap when it stays', () => {
    let h = appendSamples({}, fleet([server('a', { lastCheck: 1000, queue: q(1, 1) })], 'a'), 1000)
    expect(h).toEqual({ a: [[1000, 2]] })
    // Same value soon after: nothing new (the same object comes back).
    const same = appendSamples(
      h,
      fleet([server('a', { lastCheck: 2000, queue: q(1, 1) })], 'a'),
      2000
    )
    expect(same).toBe(h)
    h = appendSamples(h, fleet([server('a', { lastCheck: 3000, queue: q(0, 0) })], 'a'), 3000)
    expect(h.a).toEqual([
      [1000, 2],
      [3000, 0]
    ])
    // Down counts as an empty queue, as in the engine's own history.
    h = appendSamples(
      h,
      fleet([server('a', { lastCheck: 9000, healthy: false, queue: q(4, 0) })], null),
      9000
    )
    expect(h.a!.at(-1)).toEqual([9000, 0])
  })

  it('forgets what is older than 30 minutes (but the point the line enters with) and gone servers', () => {
    const old: Array<[number, number]> = [
      [0, 5],
      [1000, 6],
      [2000, 7]
    ]
    const now = HISTORY_MS + 1500
    const h = appendSamples(
      { a: old, gone: [[0, 1]] },
      fleet([server('a', { lastCheck: now, queue: q(0, 1) })], 'a'),
      now
    )
    expect(h.a).toEqual([
      [1000, 6],
      [2000, 7],
      [now, 1]
    ])
    expect(h.gone).toBeUndefined()
  })

  it('draws a step line scaled to the peak, over the time it knows (at least a minute)', () => {
    const now = 10 * MIN
    const shape = sparkline(
      [
        [now - 5 * MIN, 0],
        [now - 2.5 * MIN, 4],
        [now - MIN, 2]
      ],
      now,
      100,
      20
    )!
    expect(shape.windowMs).toBe(5 * MIN)
    expect(shape.max).toBe(4)
    expect(shape.last).toBe(2)
    expect(shape.line).toBe('M0,18.5H50V1.5H80V10H100')
    expect(shape.area).toBe(`${shape.line}V20H0Z`)
    // A fresh start spans a minute, not a few pixels of 30 minutes.
    expect(sparkline([[now - 1000, 1]], now, 100, 20)!.windowMs).toBe(MIN_CHART_MS)
    expect(sparkline([], now, 100, 20)).toBeNull()
    // Idle: a flat line at the bottom.
    expect(sparkline([[now - MIN, 0]], now, 100, 20)!.line).toBe('M0,18.5H100')
  })
})
