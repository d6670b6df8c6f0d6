/**
 * A hostile server that floods its WebSocket with `status` messages must not starve the checks
 * of a healthy server, nor make the monitor publish a fleet status per message.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { WebSocket, WebSocketServer } from 'ws'
import { FakeComfy } from '../../src/fake-comfy'
import { FleetMonitor } from '../../src/main/core/fleet/monitor'
import type { FleetStatus, ServerConfig } from '../../src/shared/types'

const cleanups: Array<() => Promise<unknown> | void> = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

interface Hostile {
  url: string
  /** Messages sent so far, and sockets accepted so far. */
  sent: number
  connections: number
  flooding: boolean
  /** Sends one status to every open socket (after the flood is stopped). */
  sendStatus(n: number): void
}

/**
 * A server that answers the HTTP checks like an idle ComfyUI and floods every WebSocket with
 * `status` messages in setImmediate batches (as fast as the client reads them).
 */
async function startHostile(): Promise<Hostile> {
  const msgs = Array.from(
    { length: 7 },
    (_, i) => `{"type": "status", "data": {"status": {"exec_info": {"queue_remaining": ${i}}}}}`
  )
  const server = http.createServer((req, res) => {
    const url = req.url ?? ''
    res.setHeader('Content-Type', 'application/json')
    if (url.endsWith('/prompt')) res.end('{"exec_info": {"queue_remaining": 0}}')
    else if (url.endsWith('/queue')) res.end('{"queue_running": [], "queue_pending": []}')
    else if (url.endsWith('/system_stats'))
      res.end('{"system": {"comfyui_version": "0.3.64"}, "devices": []}')
    else {
      res.statusCode = 404
      res.end('{}')
    }
  })
  const wss = new WebSocketServer({ server, perMessageDeflate: false })
  const sockets = new Set<WebSocket>()
  const h: Hostile = {
    url: '',
    sent: 0,
    connections: 0,
    flooding: true,
    sendStatus(n) {
      for (const ws of sockets)
        ws.send(`{"type": "status", "data": {"status": {"exec_info": {"queue_remaining": ${n}}}}}`)
    }
  }
  wss.on('connection', (ws) => {
    h.connections++
    sockets.add(ws)
    ws.on('close', () => sockets.delete(ws))
    ws.send(msgs[0]!.replace('}}}}', '}}, "sid": "x"}}'))
    let i = 0
    const pump = () => {
      if (ws.readyState !== WebSocket.OPEN || !h.flooding) return
      // Only as fast as the client reads: a full send buffer waits a moment.
      if (ws.bufferedAmount > 1 << 20) {
        setTimeout(pump, 2)
        return
      }
      for (let k = 0; k < 500; k++) {
        ws.send(msgs[i++ % msgs.length]!)
        h.sent++
      }
      setImmediate(pump)
    }
    setImmediate(pump)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  h.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  cleanups.push(async () => {
    h.flooding = false
    for (const ws of sockets) ws.terminate()
    wss.close()
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
  })
  return h
}

async function startHealthy(): Promise<FakeComfy> {
  const fake = new FakeComfy({ jobMs: 60_000 })
  await fake.start()
  cleanups.push(() => fake.stop())
  return fake
}

function monitorFor(
  servers: Array<{ id: string; url: string }>,
  opts: Partial<ConstructorParameters<typeof FleetMonitor>[0]> = {}
): FleetMonitor {
  const configs: ServerConfig[] = servers.map((s) => ({ ...s, name: s.id, enabled: true }))
  const m = new FleetMonitor({
    servers: configs,
    intervalMs: 100,
    timeoutMs: 500,
    live: { clientId: 'flood-test' },
    ...opts
  })
  cleanups.push(() => m.stop())
  return m
}

const byId = (s: FleetStatus, id: string) => s.servers.find((x) => x.id === id)!

describe('a flooding WebSocket', () => {
  it('never starves the healthy server, and the fleet status is published a bounded number of times', async () => {
    const hostile = await startHostile()
    const healthy = await startHealthy()
    // 2 s per check: a loaded test machine (the flood runs in this process too) is no reason to
    // call a server down, while a starved event loop would miss it by far more.
    const m = monitorFor(
      [
        { id: 'good', url: healthy.url },
        { id: 'bad', url: hostile.url }
      ],
      // Closing a socket that floods for long is the next test's; here it must stay open.
      { timeoutMs: 2_000, liveLimits: { floodSeconds: 60 } }
    )
    let published = 0
    m.events.on('status', () => published++)
    const goodInRounds: boolean[] = []
    m.events.on('round', (s) => goodInRounds.push(byId(s, 'good').healthy))
    const started = Date.now()
    m.start()
    await vi.waitFor(() => expect(m.rounds).toBeGreaterThanOrEqual(8), {
      timeout: 15_000,
      interval: 20
    })
    const elapsed = Date.now() - started
    const rounds = m.rounds

    // The flood really happened: far more messages than statuses.
    expect(hostile.sent).toBeGreaterThan(5_000)
    // The healthy server answered every check.
    expect(goodInRounds.length).toBeGreaterThanOrEqual(8)
    expect(goodInRounds.every(Boolean)).toBe(true)
    expect(byId(m.status(), 'good').down).toBe(false)
    // One publish per round, plus at most one per 50 ms for live changes.
    expect(published).toBeLessThanOrEqual(rounds + Math.ceil(elapsed / 50) + 5)
    expect(published * 20).toBeLessThan(hostile.sent)

    // Latest wins: once the flood stops, the last status sent is the one shown.
    hostile.flooding = false
    await new Promise((r) => setTimeout(r, 100))
    // Live updates count only for a server the checks find healthy (a loaded machine may have
    // missed one of the hostile server's answers while it flooded).
    await vi.waitFor(() => expect(byId(m.status(), 'bad').healthy).toBe(true), {
      timeout: 10_000,
      interval: 20
    })
    // Seen in a published status (the next HTTP check, which says 0, may overwrite it soon).
    let shown = false
    m.events.on('status', (s) => (shown ||= byId(s, 'bad').queue.total === 42))
    // It comes after what the flood left in the socket's buffers (megabytes in the kernel's
    // buffers, read at the hard cap of 20 000 a second), and a check that fails on a loaded
    // machine may have it ignored once: sent again each half second, the last word is still 42
    // (a number the flood never sends).
    hostile.sendStatus(42)
    const again = setInterval(() => hostile.sendStatus(42), 500)
    cleanups.push(() => clearInterval(again))
    await vi.waitFor(() => expect(shown).toBe(true), { timeout: 30_000, interval: 10 })
  }, 70_000)

  it('a socket that keeps flooding is closed, its live feed stays off, HTTP checks go on', async () => {
    const hostile = await startHostile()
    const m = monitorFor([{ id: 'bad', url: hostile.url }], {
      liveLimits: { budgetPerSec: 100, hardCapPerSec: 400, floodSeconds: 2 },
      liveBlockMs: 60_000
    })
    const logs: Array<{ level: string; message: string }> = []
    m.events.on('log', (l) => logs.push(l))
    const closed: string[] = []
    m.events.on('socket-closed', ({ serverId }) => closed.push(serverId))
    m.start()
    await vi.waitFor(() => expect(logs.length).toBeGreaterThan(0), { timeout: 10_000 })
    expect(logs[0]!.level).toBe('warn')
    expect(logs[0]!.message).toMatch(/bad: live updates off for 1 min, it sent too many messages/)
    expect(closed).toEqual(['bad'])
    const rounds = m.rounds
    await vi.waitFor(() => expect(m.rounds).toBeGreaterThanOrEqual(rounds + 5), {
      timeout: 10_000
    })
    // No new socket while the feed is off, and the server is still checked and healthy.
    expect(hostile.connections).toBe(1)
    expect(byId(m.status(), 'bad').healthy).toBe(true)
    expect(logs).toHaveLength(1)
  })

  it('the live feed is tried again once its time off is over', async () => {
    const hostile = await startHostile()
    const m = monitorFor([{ id: 'bad', url: hostile.url }], {
      liveLimits: { budgetPerSec: 100, hardCapPerSec: 400, floodSeconds: 1 },
      liveBlockMs: 500
    })
    const logs: string[] = []
    m.events.on('log', (l) => logs.push(l.message))
    m.start()
    await vi.waitFor(() => expect(logs).toHaveLength(1), { timeout: 10_000 })
    hostile.flooding = false
    await vi.waitFor(() => expect(hostile.connections).toBe(2), { timeout: 10_000 })
    expect(logs[0]).toMatch(/bad: live updates off for 1 s, it sent too many messages/)
  })
})
