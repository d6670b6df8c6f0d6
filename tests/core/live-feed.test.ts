/** The live feed: sockets opened and closed per server, what they say as events. */
import { describe, expect, it } from 'vitest'
import type { ComfyEvent, SocketEvents } from '../../src/main/core/comfy/socket'
import { Emitter } from '../../src/main/core/events'
import {
  LiveFeed,
  queueRemaining,
  REDIAL_DELAY_MS,
  type FeedSocket,
  type FeedTarget
} from '../../src/main/core/fleet/live-feed'
import { ManualClock } from '../jobs/fake-port'

class FakeSocket implements FeedSocket {
  readonly events = new Emitter<SocketEvents>()
  open = false
  lastMessageAt: number | null = null
  connects = 0
  closed = false
  connect(): void {
    this.connects++
  }
  close(): void {
    this.closed = true
    this.open = false
  }
  opened(): void {
    this.open = true
    this.events.emit('open', undefined)
  }
}

function setUp(blockMs = 10_000) {
  const clock = new ManualClock()
  const sockets: Array<FakeSocket & { target: FeedTarget }> = []
  const feed = new LiveFeed({
    clientId: 'me',
    clock,
    handshakeTimeoutMs: () => 500,
    blockMs,
    socketFactory: (t) => {
      const s = Object.assign(new FakeSocket(), { target: t })
      sockets.push(s)
      return s
    }
  })
  const seen: string[] = []
  feed.events.on('queue', (e) => seen.push(`queue ${e.serverId} ${e.remaining}`))
  feed.events.on('comfy', (e) => seen.push(`comfy ${e.serverId} ${e.event.type}`))
  feed.events.on('reconnected', (e) => seen.push(`reconnected ${e.serverId}`))
  feed.events.on('closed', (e) => seen.push(`closed ${e.serverId}`))
  feed.events.on('flood', (e) => seen.push(`flood ${e.serverId} ${e.offMs}`))
  return { clock, feed, sockets, seen }
}

const status = (n: unknown): ComfyEvent => ({
  type: 'status',
  data: { status: { exec_info: { queue_remaining: n } } }
})
const A: FeedTarget = { id: 'a', url: 'http://a:8188' }

describe('live feed', () => {
  it('opens one socket per server and says what it hears, queue lengths first', () => {
    const { feed, sockets, seen } = setUp()
    feed.open(A)
    feed.open(A)
    expect(sockets).toHaveLength(1)
    expect(sockets[0]!.connects).toBe(1)
    sockets[0]!.events.emit('event', status(3))
    sockets[0]!.events.emit('event', status(-1))
    sockets[0]!.events.emit('event', { type: 'executing', data: { prompt_id: 'p' } })
    expect(seen).toEqual(['queue a 3', 'comfy a status', 'comfy a status', 'comfy a executing'])
  })

  it('says when a socket opens again (the server may have restarted), not the first time', () => {
    const { feed, sockets, seen } = setUp()
    feed.open(A)
    sockets[0]!.opened()
    expect(seen).toEqual([])
    sockets[0]!.events.emit('close', { reason: 'gone' })
    sockets[0]!.opened()
    expect(seen).toEqual(['closed a', 'reconnected a'])
  })

  it('turns a flooding feed off for a while, then opens it again', () => {
    const { clock, feed, sockets, seen } = setUp(10_000)
    feed.open(A)
    sockets[0]!.events.emit('flood', { reason: 'too many', perSecond: 9000 })
    expect(seen).toEqual(['flood a 10000'])
    expect(feed.has('a')).toBe(false)
    feed.open(A)
    feed.retryBlocked([A])
    expect(sockets).toHaveLength(1)
    clock.advance(10_000)
    feed.retryBlocked([A])
    expect(sockets).toHaveLength(2)
    expect(feed.has('a')).toBe(true)
  })

  it('redials after a pause, only if still wanted', () => {
    const { clock, feed, sockets } = setUp()
    feed.open(A)
    let want = true
    feed.redial(A, () => want)
    expect(sockets[0]!.closed).toBe(true)
    clock.advance(REDIAL_DELAY_MS - 1)
    expect(sockets).toHaveLength(1)
    clock.advance(1)
    expect(sockets).toHaveLength(2)
    want = false
    feed.redial(A, () => want)
    clock.advance(REDIAL_DELAY_MS)
    expect(sockets).toHaveLength(2)
  })

  it('waits for a socket to open, at most maxWaitMs, or until told to stop', async () => {
    const { clock, feed, sockets } = setUp()
    await feed.whenOpen('b', 1000) // no socket: at once
    feed.open(A)
    let opened = false
    const p1 = feed.whenOpen('a', 1000).then(() => (opened = true))
    sockets[0]!.opened()
    await p1
    expect(opened).toBe(true)
    feed.close('a')
    feed.open(A)
    let timedOut = false
    const p2 = feed.whenOpen('a', 1000).then(() => (timedOut = true))
    clock.advance(999)
    await Promise.resolve()
    expect(timedOut).toBe(false)
    clock.advance(1)
    await p2
    let stop: () => void = () => undefined
    const p3 = feed.whenOpen('a', 60_000, (done) => {
      stop = done
      return () => undefined
    })
    stop()
    await p3
    expect(clock.pending).toBe(0)
  })

  it('reads a queue length only from a well-formed status', () => {
    expect(queueRemaining(status(2))).toBe(2)
    expect(queueRemaining(status(1.5))).toBeNull()
    expect(queueRemaining(status('2'))).toBeNull()
    expect(queueRemaining({ type: 'progress', data: {} })).toBeNull()
  })
})
