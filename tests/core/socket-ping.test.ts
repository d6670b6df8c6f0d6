/**
 * One server's socket and its heartbeat, against ws servers the test starts on 127.0.0.1, on a
 * clock the test moves: a quiet socket is pinged every interval; one whose ping goes unanswered
 * for the pong timeout is closed (and says why); reconnect waits are jittered within bounds.
 */
import http from 'node:http'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { WebSocketServer, type WebSocket } from 'ws'
import type { Clock } from '../../src/main/core/clock'
import {
  BACKOFF_MIN_MS,
  BEAT_GRID_MS,
  ComfySocket,
  PING_TIMEOUT_REASON,
  retryDelayMs
} from '../../src/main/core/comfy/socket'
import { ManualClock } from '../jobs/fake-port'

const cleanups: Array<() => Promise<unknown> | void> = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

/** A ws server; `autoPong: false` stands for a server that stopped (no pong ever comes). */
async function startWs(autoPong: boolean): Promise<{ url: string; pings: () => number }> {
  const server = http.createServer((_req, res) => res.end())
  const wss = new WebSocketServer({ server, perMessageDeflate: false, autoPong })
  const sockets: WebSocket[] = []
  let pings = 0
  wss.on('connection', (ws) => {
    sockets.push(ws)
    ws.on('ping', () => pings++)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  cleanups.push(async () => {
    for (const ws of sockets) ws.terminate()
    wss.close()
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
  })
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    pings: () => pings
  }
}

const INTERVAL = 1_000
const TIMEOUT = 3_000

function socketTo(url: string, clock: Clock, rng?: () => number) {
  const sock = new ComfySocket(url, 'me', {
    clock,
    pingIntervalMs: () => INTERVAL,
    pongTimeoutMs: () => TIMEOUT,
    rng
  })
  const closes: string[] = []
  sock.events.on('close', ({ reason }) => closes.push(reason))
  cleanups.push(() => sock.close())
  return { sock, closes }
}

describe('socket heartbeat', () => {
  it('pings a quiet socket every interval; answered pings keep it open', async () => {
    const s = await startWs(true)
    const clock = new ManualClock()
    const { sock, closes } = socketTo(s.url, clock)
    sock.connect()
    await vi.waitFor(() => expect(sock.open).toBe(true))
    clock.advance(INTERVAL - 1)
    expect(sock.stats.pings).toBe(0)
    clock.advance(1)
    expect(sock.stats.pings).toBe(1)
    await vi.waitFor(() => expect(sock.stats.pongs).toBe(1))
    // Well past the pong timeout, an interval at a time: it answers, so it stays open.
    for (let n = 2; n <= 2 + TIMEOUT / INTERVAL; n++) {
      clock.advance(INTERVAL)
      await vi.waitFor(() => expect(sock.stats.pongs).toBe(n))
    }
    expect(sock.open).toBe(true)
    expect(closes).toEqual([])
  })

  it('after an answered ping the next one is an interval later, not a pong timeout later', async () => {
    const s = await startWs(true)
    const clock = new ManualClock()
    const { sock } = socketTo(s.url, clock)
    sock.connect()
    await vi.waitFor(() => expect(sock.open).toBe(true))
    for (let n = 1; n <= 4; n++) {
      clock.advance(INTERVAL)
      expect(sock.stats.pings).toBe(n)
      await vi.waitFor(() => expect(sock.stats.pongs).toBe(n))
    }
    // Four pings in four intervals: a server that stops is caught within interval + timeout.
    expect(s.pings()).toBe(4)
  })

  it('sockets opened at different moments ping in the same wake-ups (a shared grid)', async () => {
    const s = await startWs(true)
    const base = new ManualClock()
    const dues: number[] = []
    const clock: Clock = {
      now: () => base.now(),
      setTimeout: (fn, ms) => {
        dues.push(base.now() + ms)
        return base.setTimeout(fn, ms)
      },
      clearTimeout: (h) => base.clearTimeout(h)
    }
    const socks = [0, 1, 2].map(() => socketTo(s.url, clock).sock)
    for (const [i, sock] of socks.entries()) {
      base.advance(i * 7)
      sock.connect()
      await vi.waitFor(() => expect(sock.open).toBe(true))
    }
    // Each first beat falls on the grid (never before it is due): the two opened 7 and 14 ms
    // after the first share one wake-up.
    expect(dues.every((t) => t % BEAT_GRID_MS === 0)).toBe(true)
    expect(dues[1]).toBe(dues[2])
    base.advance(INTERVAL - 14)
    expect(socks.map((x) => x.stats.pings)).toEqual([1, 0, 0])
    base.advance(BEAT_GRID_MS)
    expect(socks.map((x) => x.stats.pings)).toEqual([1, 1, 1])
  })

  it('closes a socket whose ping goes unanswered for the pong timeout, within an interval and the timeout', async () => {
    const s = await startWs(false)
    const clock = new ManualClock()
    const { sock, closes } = socketTo(s.url, clock)
    sock.connect()
    await vi.waitFor(() => expect(sock.open).toBe(true))
    clock.advance(INTERVAL)
    await vi.waitFor(() => expect(s.pings()).toBe(1))
    clock.advance(TIMEOUT - 1)
    expect(sock.open).toBe(true)
    clock.advance(1)
    // Interval + timeout after it opened: closed, and the owner is told why.
    await vi.waitFor(() => expect(closes).toEqual([PING_TIMEOUT_REASON]))
    expect(sock.open).toBe(false)
    expect(sock.stats.pongs).toBe(0)
  })

  it('a frame from the server counts as an answer: no ping while it talks', async () => {
    let server!: WebSocket
    const httpServer = http.createServer((_req, res) => res.end())
    const wss = new WebSocketServer({ server: httpServer, autoPong: false })
    wss.on('connection', (ws) => (server = ws))
    await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', r))
    cleanups.push(async () => {
      server?.terminate()
      wss.close()
      httpServer.closeAllConnections()
      await new Promise((r) => httpServer.close(r))
    })
    const url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`
    const clock = new ManualClock()
    const { sock, closes } = socketTo(url, clock)
    let frames = 0
    sock.events.on('event', () => frames++)
    sock.connect()
    await vi.waitFor(() => expect(sock.open).toBe(true))
    for (let i = 0; i < 5; i++) {
      clock.advance(INTERVAL / 2)
      server.send(JSON.stringify({ type: 'executing', data: { node: String(i) } }))
      await vi.waitFor(() => expect(frames).toBe(i + 1))
    }
    expect(sock.stats.pings).toBe(0)
    expect(closes).toEqual([])
  })
})

describe('reconnect jitter', () => {
  it('each wait lies between half the backoff and all of it', () => {
    expect(retryDelayMs(1000, () => 0)).toBe(500)
    expect(retryDelayMs(1000, () => 0.5)).toBe(750)
    expect(retryDelayMs(1000, () => 0.999999)).toBe(1000)
    // A broken source of randomness stays within the bounds.
    expect(retryDelayMs(1000, () => 7)).toBe(1000)
    expect(retryDelayMs(1000, () => -1)).toBe(500)
  })

  it('a socket that cannot connect waits a drawn delay before dialling again', async () => {
    // A port nobody listens on.
    const probe = net.createServer()
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
    const port = (probe.address() as AddressInfo).port
    await new Promise((r) => probe.close(r))
    const waits: number[] = []
    const base = new ManualClock()
    const clock: Clock = {
      now: () => base.now(),
      setTimeout: (fn, ms) => {
        waits.push(ms)
        return base.setTimeout(fn, ms)
      },
      clearTimeout: (h) => base.clearTimeout(h)
    }
    const draws = [0, 1]
    const { sock } = socketTo(`http://127.0.0.1:${port}`, clock, () => draws.shift() ?? 0.5)
    sock.connect()
    await vi.waitFor(() => expect(waits).toHaveLength(1))
    expect(waits[0]).toBe(BACKOFF_MIN_MS / 2)
    base.advance(waits[0]!)
    await vi.waitFor(() => expect(waits).toHaveLength(2))
    // The backoff doubled; this draw took all of it.
    expect(waits[1]).toBe(BACKOFF_MIN_MS * 2)
  })
})
