/**
 * One server's socket against servers the test starts on 127.0.0.1: status updates coalesced
 * (latest wins), job events each and in order, message size capped, no redirects, credentials
 * from the address sent as Basic auth and never kept in the socket address.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { WebSocket, WebSocketServer } from 'ws'
import type { Clock } from '../../src/main/core/clock'
import {
  ComfySocket,
  DEFAULT_SOCKET_LIMITS,
  MAX_FRAME_BYTES,
  sniffType,
  wsUrl,
  type ComfyEvent
} from '../../src/main/core/comfy/socket'

const cleanups: Array<() => Promise<unknown> | void> = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

interface WsServer {
  port: number
  url: string
  sockets: WebSocket[]
  upgrades: http.IncomingMessage[]
}

/** A plain ws server; `onConnection` gets each socket. */
async function startWs(
  onConnection: (ws: WebSocket) => void = () => undefined,
  onRequest?: http.RequestListener
): Promise<WsServer> {
  const server = http.createServer(onRequest ?? ((_req, res) => res.end()))
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false })
  const s: WsServer = { port: 0, url: '', sockets: [], upgrades: [] }
  server.on('upgrade', (req, socket, head) => {
    s.upgrades.push(req)
    wss.handleUpgrade(req, socket, head, (ws) => {
      s.sockets.push(ws)
      onConnection(ws)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  s.port = (server.address() as AddressInfo).port
  s.url = `http://127.0.0.1:${s.port}`
  cleanups.push(async () => {
    for (const ws of s.sockets) ws.terminate()
    wss.close()
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
  })
  return s
}

/** Time stands still, and timers run only when the test runs them. */
function manualClock(): Clock & { run(): void } {
  const timers = new Map<number, () => void>()
  let id = 0
  return {
    now: () => 1_000_000,
    setTimeout: (fn) => {
      timers.set(++id, fn)
      return id
    },
    clearTimeout: (h) => void timers.delete(h as number),
    run() {
      const fns = [...timers.values()]
      timers.clear()
      for (const fn of fns) fn()
    }
  }
}

function socketTo(url: string, opts: ConstructorParameters<typeof ComfySocket>[2] = {}) {
  const sock = new ComfySocket(url, 'me', opts)
  const events: ComfyEvent[] = []
  sock.events.on('event', (e) => events.push(e))
  cleanups.push(() => sock.close())
  return { sock, events }
}

const status = (n: number) =>
  JSON.stringify({ type: 'status', data: { status: { exec_info: { queue_remaining: n } } } })

describe('sniffType', () => {
  it('reads the type from the first bytes the way ComfyUI writes them', () => {
    expect(sniffType(Buffer.from('{"type": "status", "data": {}}'))).toBe('status')
    expect(sniffType(Buffer.from('{"type":"progress","data":{}}'))).toBe('progress')
    expect(sniffType(Buffer.from('{"data": {}, "type": "status"}'))).toBeNull()
    expect(sniffType(Buffer.from('{"type": "sta\\u0074us"}'))).toBeNull()
    expect(sniffType(Buffer.from('[1]'))).toBeNull()
  })
})

describe('status updates', () => {
  it('a single change is passed on at once; a burst is coalesced, the latest wins', async () => {
    let server!: WebSocket
    const s = await startWs((ws) => (server = ws))
    const clock = manualClock()
    const { sock, events } = socketTo(s.url, { clock })
    sock.connect()
    await vi.waitFor(() => expect(sock.open).toBe(true))
    server.send(status(1))
    // No timer has run: the first change came through by itself.
    await vi.waitFor(() => expect(events).toHaveLength(1))
    for (let i = 2; i <= 500; i++) server.send(status(i))
    server.send(JSON.stringify({ type: 'execution_start', data: { prompt_id: 'p' } }))
    await vi.waitFor(() => expect(sock.stats.frames).toBe(501))
    expect(events.map((e) => e.type)).toEqual(['status', 'execution_start'])
    clock.run()
    expect(events).toHaveLength(3)
    expect(events[2]!.data).toEqual({ status: { exec_info: { queue_remaining: 500 } } })
    // Only the statuses passed on were parsed (and the job event).
    expect(sock.stats.parsed).toBe(3)
  })

  it('a change a few ms after the last one is passed on at once, not held for long', async () => {
    let server!: WebSocket
    const s = await startWs((ws) => (server = ws))
    let t = 1_000_000
    const held: Array<() => void> = []
    const clock: Clock = {
      now: () => t,
      setTimeout: (fn) => held.push(fn),
      clearTimeout: () => undefined
    }
    const { sock, events } = socketTo(s.url, { clock })
    sock.connect()
    await vi.waitFor(() => expect(sock.open).toBe(true))
    // A server goes idle, then takes another app's job 10 ms later: the apps sharing it must
    // see that it is busy again now (no timer runs here: a held status would stay unseen).
    server.send(status(0))
    await vi.waitFor(() => expect(events).toHaveLength(1))
    t += 10
    server.send(status(1))
    await vi.waitFor(() => expect(events).toHaveLength(2))
    expect(events[1]!.data).toEqual({ status: { exec_info: { queue_remaining: 1 } } })
    expect(DEFAULT_SOCKET_LIMITS.statusGapMs).toBeLessThanOrEqual(10)
  })
})

describe('job events', () => {
  it('each one arrives, in order, through a flood of status and other messages', async () => {
    const N = 600
    const s = await startWs((ws) => {
      for (let i = 0; i < N; i++) {
        for (let k = 0; k < 5; k++) ws.send(status(k))
        ws.send(JSON.stringify({ type: 'progress_state', data: { prompt_id: 'p', nodes: {} } }))
        ws.send(
          JSON.stringify({
            type: i % 2 ? 'progress' : 'executing',
            data: { prompt_id: 'p', value: i, max: N, node: String(i) }
          })
        )
      }
    })
    const { sock, events } = socketTo(s.url, {
      limits: { budgetPerSec: 200, hardCapPerSec: 100_000, floodSeconds: 100 }
    })
    sock.connect()
    await vi.waitFor(() => expect(sock.stats.frames).toBe(N * 7), { timeout: 10_000 })
    const job = events.filter((e) => e.type === 'progress' || e.type === 'executing')
    expect(job.map((e) => e.data.value)).toEqual(Array.from({ length: N }, (_, i) => i))
    // Past the budget, other messages were dropped unparsed.
    expect(events.filter((e) => e.type === 'progress_state').length).toBeLessThanOrEqual(200)
    expect(sock.stats.dropped).toBeGreaterThan(0)
  })

  it('a socket past the hard cap is paused; one that keeps flooding is closed for good', async () => {
    let flooding = true
    const s = await startWs((ws) => {
      const pump = () => {
        if (!flooding || ws.readyState !== WebSocket.OPEN) return
        if (ws.bufferedAmount < 1 << 18) for (let i = 0; i < 200; i++) ws.send(status(i % 3))
        setTimeout(pump, 1)
      }
      pump()
    })
    cleanups.push(() => void (flooding = false))
    const { sock } = socketTo(s.url, {
      limits: { budgetPerSec: 50, hardCapPerSec: 300, floodSeconds: 2 }
    })
    const floods: Array<{ reason: string }> = []
    sock.events.on('flood', (f) => floods.push(f))
    sock.connect()
    await vi.waitFor(() => expect(floods).toHaveLength(1), { timeout: 8_000 })
    expect(floods[0]!.reason).toMatch(/too many messages/)
    expect(sock.open).toBe(false)
    // About two seconds at the hard cap, plus what was buffered when it paused.
    expect(sock.stats.frames).toBeLessThan(3 * 300 + 5_000)
    await new Promise((r) => setTimeout(r, 700))
    expect(s.upgrades).toHaveLength(1) // never dialled again
  })
})

describe('message size', () => {
  it('a large executed message passes; a frame over the cap closes the socket unread', async () => {
    const big = JSON.stringify({
      type: 'executed',
      data: {
        prompt_id: 'p',
        node: '9',
        output: {
          images: Array.from({ length: 10_000 }, (_, i) => ({
            filename: `ComfyUI_${String(i).padStart(5, '0')}_.png`,
            subfolder: '',
            type: 'output'
          }))
        }
      }
    })
    expect(big.length).toBeGreaterThan(500_000)
    const huge = JSON.stringify({ type: 'executed', data: { x: 'y'.repeat(MAX_FRAME_BYTES) } })
    let server!: WebSocket
    const s = await startWs((ws) => (server = ws))
    const { sock, events } = socketTo(s.url)
    const closes: string[] = []
    sock.events.on('close', (c) => closes.push(c.reason))
    sock.connect()
    await vi.waitFor(() => expect(sock.open).toBe(true))
    server.send(big)
    await vi.waitFor(() => expect(events).toHaveLength(1))
    expect((events[0]!.data.output as { images: unknown[] }).images).toHaveLength(10_000)
    server.send(huge)
    await vi.waitFor(() => expect(closes).toEqual(['message too large']))
    expect(events).toHaveLength(1)
    expect(MAX_FRAME_BYTES).toBeLessThanOrEqual(8 * 1024 * 1024)
  })
})

describe('redirects and credentials', () => {
  it('never follows a redirect, so the headers never reach another address', async () => {
    const other = await startWs()
    // Answer every upgrade with a redirect to the other server.
    const redirecting = http.createServer()
    redirecting.on('upgrade', (_req, socket) => {
      socket.end(`HTTP/1.1 302 Found\r\nLocation: ws://127.0.0.1:${other.port}/ws\r\n\r\n`)
    })
    await new Promise<void>((r) => redirecting.listen(0, '127.0.0.1', r))
    cleanups.push(async () => {
      redirecting.closeAllConnections()
      await new Promise((r) => redirecting.close(r))
    })
    const port = (redirecting.address() as AddressInfo).port
    const { sock } = socketTo(`http://127.0.0.1:${port}`, {
      headers: { Authorization: 'Bearer secret' }
    })
    sock.connect()
    await new Promise((r) => setTimeout(r, 300))
    expect(sock.open).toBe(false)
    expect(other.upgrades).toHaveLength(0)
  })

  it('user:pass@ in the address becomes a Basic header and never stays in the socket address', async () => {
    const s = await startWs()
    const url = `http://us%40er:p%3Ass@127.0.0.1:${s.port}`
    expect(wsUrl(url, 'me')).toBe(`ws://127.0.0.1:${s.port}/ws?clientId=me`)
    const { sock } = socketTo(url)
    sock.connect()
    await vi.waitFor(() => expect(sock.open).toBe(true))
    const auth = s.upgrades[0]!.headers.authorization
    expect(auth).toBe(`Basic ${Buffer.from('us@er:p:ss').toString('base64')}`)
    expect(s.upgrades[0]!.url).toBe('/ws?clientId=me')
  })

  it('an Authorization header of the server wins over credentials in the address', async () => {
    const s = await startWs()
    const { sock } = socketTo(`http://u:p@127.0.0.1:${s.port}`, {
      headers: { Authorization: 'Bearer t0ken' }
    })
    sock.connect()
    await vi.waitFor(() => expect(sock.open).toBe(true))
    expect(s.upgrades[0]!.headers.authorization).toBe('Bearer t0ken')
  })
})
