/* eslint-disable @typescript-eslint/no-explicit-any -- these tests read deeply nested JSON */
import http from 'node:http'
import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { FakeComfy, makeTxt2ImgPrompt, startFakeFleet } from '../../src/fake-comfy'
import type { FakeFleet } from '../../src/fake-comfy'
import { WsClient, postJson, request, sleep, until } from './helpers'

let fake: FakeComfy | null = null
let fleet: FakeFleet | null = null
const clients: WsClient[] = []
const agents: http.Agent[] = []

async function boot(opts: ConstructorParameters<typeof FakeComfy>[0] = {}): Promise<FakeComfy> {
  fake = new FakeComfy({ jobMs: 30, ...opts })
  await fake.start()
  return fake
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  for (const a of agents.splice(0)) a.destroy()
  await fake?.stop()
  await fleet?.stop()
  fake = null
  fleet = null
})

function errorCode(p: Promise<unknown>): Promise<string | undefined> {
  return p.then(
    () => undefined,
    (e: NodeJS.ErrnoException) => e.code
  )
}

describe('faults on the wire', () => {
  it('refuse: connections are refused until cleared, then the same port answers', async () => {
    const f = await boot()
    const port = f.port
    const agent = new http.Agent({ keepAlive: true })
    agents.push(agent)
    expect((await request(f.url + '/queue', { agent })).status).toBe(200)
    const ws = await WsClient.open(f.url, 'r')
    clients.push(ws)
    await f.setFault({ kind: 'refuse' })
    expect(f.listening).toBe(false)
    await until(() => ws.ws.readyState === ws.ws.CLOSED)
    expect(await errorCode(request(f.url + '/queue'))).toBe('ECONNREFUSED')
    // the kept-alive socket was dropped too: the agent has to reconnect and is refused
    expect(await errorCode(request(f.url + '/queue', { agent }))).toBe('ECONNREFUSED')
    await f.setFault(null)
    expect(f.port).toBe(port)
    expect((await request(f.url + '/queue')).status).toBe(200)
  })

  it('hang: accepts and never answers; clearing the fault answers the parked request', async () => {
    const f = await boot()
    await f.setFault({ kind: 'hang' })
    expect(await errorCode(request(f.url + '/queue', { timeoutMs: 150 }))).toBe('ETIMEDOUT')
    const parked = request(f.url + '/api/prompt')
    await sleep(50)
    // the control API still works under 'hang'
    const cleared = await postJson(f.url + '/__fake/fault', { fault: null })
    expect(cleared.status).toBe(200)
    const r = await parked
    expect(r.status).toBe(200)
    expect(r.json()).toEqual({ exec_info: { queue_remaining: 0 } })
  })

  it('hang: an open socket goes silent too (no pong, no events) and catches up when it clears', async () => {
    const f = await boot()
    const c = await WsClient.open(f.url, 'hung-client')
    await until(() => c.messages.length > 0)
    const before = c.messages.length
    await f.setFault({ kind: 'hang' })
    let pongs = 0
    c.ws.on('pong', () => pongs++)
    c.ws.ping()
    f.enqueueDummy(1)
    await sleep(300)
    expect(pongs).toBe(0)
    expect(c.messages.length).toBe(before)
    await f.setFault(null)
    await until(() => pongs === 1 && c.messages.length > before)
    expect(c.messages.slice(before).some((m) => m.type === 'status')).toBe(true)
  })

  it('slow: answers after delayMs', async () => {
    const f = await boot()
    await f.setFault({ kind: 'slow', delayMs: 120 })
    const t0 = Date.now()
    const r = await request(f.url + '/queue')
    expect(r.status).toBe(200)
    expect(Date.now() - t0).toBeGreaterThanOrEqual(110)
    const ws = WsClient.open(f.url, 's')
    const w = await ws
    clients.push(w)
    expect((await w.waitFor(() => true)).type).toBe('status')
  })

  it('status: every route answers the status with aiohttp text', async () => {
    const f = await boot()
    await f.setFault({ kind: 'status', status: 503 })
    for (const p of ['/queue', '/api/queue', '/system_stats', '/nope']) {
      const r = await request(f.url + p)
      expect(r.status).toBe(503)
      expect(r.text).toBe('503: Service Unavailable')
      expect(r.headers['content-type']).toBe('text/plain; charset=utf-8')
    }
    const post = await postJson(f.url + '/prompt', { prompt: makeTxt2ImgPrompt() })
    expect(post.status).toBe(503)
    expect(f.queueSnapshot()).toEqual({ running: [], pending: [] })
    await expect(WsClient.open(f.url, 'x')).rejects.toMatchObject({ status: 503 })
    await f.setFault({ kind: 'status', status: 500 })
    const r = await request(f.url + '/queue')
    expect(r.text).toBe('500 Internal Server Error\n\nServer got itself in trouble')
    await f.setFault(null)
    expect((await request(f.url + '/queue')).status).toBe(200)
  })

  it('html-502: an nginx error page', async () => {
    const f = await boot()
    await f.setFault({ kind: 'html-502' })
    const r = await request(f.url + '/api/queue')
    expect(r.status).toBe(502)
    expect(r.headers['content-type']).toBe('text/html')
    expect(r.text).toContain('<title>502 Bad Gateway</title>')
    expect(r.text).toContain('nginx')
  })

  it('invalid-json: 200 application/json that does not parse', async () => {
    const f = await boot()
    await f.setFault({ kind: 'invalid-json' })
    for (const p of ['/queue', '/api/system_stats', '/prompt', '/history']) {
      const r = await request(f.url + p)
      expect(r.status).toBe(200)
      expect(r.headers['content-type']).toBe('application/json; charset=utf-8')
      expect(() => JSON.parse(r.text), p).toThrow()
    }
    const post = await postJson(f.url + '/prompt', { prompt: makeTxt2ImgPrompt() })
    expect(post.status).toBe(200)
    expect(() => JSON.parse(post.text)).toThrow()
  })

  it('wrong-shape: 200 valid JSON of an unexpected shape', async () => {
    const f = await boot()
    await f.setFault({ kind: 'wrong-shape' })
    const q = await request(f.url + '/api/queue')
    expect(q.status).toBe(200)
    const body = q.json()
    expect(Array.isArray(body)).toBe(true)
    expect((body as Array<Record<string, unknown>>)[0]?.queue_running).toBe('1')
    expect(Array.isArray((await request(f.url + '/system_stats')).json())).toBe(true)
    expect(Array.isArray((await request(f.url + '/models')).json())).toBe(false)
    await f.setFault({ kind: 'wrong-shape', body: { queue_running: 'busy', queue_pending: null } })
    expect((await request(f.url + '/queue')).json()).toEqual({
      queue_running: 'busy',
      queue_pending: null
    })
  })

  it('the control API works over HTTP and is not aliased under /api', async () => {
    const f = await boot({ jobMs: 1000, name: 'ctl' })
    let r = await postJson(f.url + '/__fake/fault', { fault: { kind: 'status', status: 500 } })
    expect(r.status).toBe(200)
    expect((await request(f.url + '/queue')).status).toBe(500)
    r = await postJson(f.url + '/__fake/fault', { fault: null })
    expect((await request(f.url + '/queue')).status).toBe(200)
    expect((await postJson(f.url + '/__fake/fault', { fault: { kind: 'nope' } })).status).toBe(400)
    expect((await postJson(f.url + '/__fake/speed', { speed: 3 })).status).toBe(200)
    expect(f.speed).toBe(3)
    expect((await postJson(f.url + '/__fake/enqueue', { count: 3, cost: 2 })).status).toBe(200)
    const state = (await request(f.url + '/__fake/state')).json() as Record<string, any>
    expect(state.name).toBe('ctl')
    expect(state.queue.running.length + state.queue.pending.length).toBe(3)
    expect((await request(f.url + '/api/__fake/state')).status).toBe(404)
    expect((await postJson(f.url + '/__fake/restart', {})).status).toBe(200)
    await until(() => f.queueSnapshot().pending.length === 0 && f.listening)
    expect(f.queueSnapshot()).toEqual({ running: [], pending: [] })
    r = await postJson(f.url + '/__fake/fault', { fault: { kind: 'refuse' } })
    expect(r.status).toBe(200)
    await until(() => !f.listening)
    expect(await errorCode(request(f.url + '/queue'))).toBe('ECONNREFUSED')
    await f.setFault(null)
  })
})

describe('process life', () => {
  it('die() mid-job loses the job; restart() comes back empty on the same port', async () => {
    const f = await boot({ jobMs: 1000 })
    const port = f.port
    const ws = await WsClient.open(f.url, 'd')
    clients.push(ws)
    await postJson(f.url + '/prompt', {
      prompt: makeTxt2ImgPrompt(),
      client_id: 'd',
      prompt_id: 'lost'
    })
    await postJson(f.url + '/prompt', { prompt: makeTxt2ImgPrompt(), prompt_id: 'pending' })
    await postJson(f.url + '/prompt', { prompt: makeTxt2ImgPrompt({ steps: 1 }), prompt_id: 'x' })
    await ws.waitFor((m) => m.type === 'executing')
    await f.die()
    expect(f.isDead).toBe(true)
    await until(() => ws.ws.readyState === ws.ws.CLOSED)
    expect(ws.types()).not.toContain('execution_success')
    expect(await errorCode(request(f.url + '/queue'))).toBe('ECONNREFUSED')
    // setFault(null) does not revive a dead process
    await f.setFault(null)
    expect(await errorCode(request(f.url + '/queue'))).toBe('ECONNREFUSED')
    await f.restart()
    expect(f.port).toBe(port)
    expect((await request(f.url + '/queue')).json()).toEqual({
      queue_running: [],
      queue_pending: []
    })
    expect((await request(f.url + '/history/lost')).json()).toEqual({})
    expect((await request(f.url + '/history')).json()).toEqual({})
    const r = await postJson(f.url + '/prompt', { prompt: makeTxt2ImgPrompt() })
    expect((r.json() as { number: number }).number).toBe(0)
  })

  it('restart() while running drops sockets, queue, history and the number counter', async () => {
    const f = await boot({ jobMs: 20 })
    for (let i = 0; i < 2; i++) {
      await postJson(f.url + '/prompt', { prompt: makeTxt2ImgPrompt(), prompt_id: `done-${i}` })
    }
    await f.waitForIdle()
    expect(f.historyIds()).toEqual(['done-0', 'done-1'])
    f.enqueueDummy(5, 10)
    const ws = await WsClient.open(f.url, 'w')
    clients.push(ws)
    await f.setFault({ kind: 'slow', delayMs: 5 })
    await f.restart()
    expect(f.fault).toBeNull()
    await until(() => ws.ws.readyState === ws.ws.CLOSED)
    expect(f.historyIds()).toEqual([])
    expect(f.queueSnapshot()).toEqual({ running: [], pending: [] })
    expect((await request(f.url + '/prompt')).json()).toEqual({ exec_info: { queue_remaining: 0 } })
  })

  it('keep-alive: two requests on a keep-alive agent use one connection', async () => {
    const f = await boot()
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    agents.push(agent)
    const before = f.stats.connections
    expect((await request(f.url + '/api/queue', { agent })).status).toBe(200)
    expect((await request(f.url + '/api/system_stats', { agent })).status).toBe(200)
    expect(f.stats.connections - before).toBe(1)
    expect(f.stats.requests).toBeGreaterThanOrEqual(2)
    await request(f.url + '/queue')
    expect(f.stats.connections - before).toBe(2)
    const ws = await WsClient.open(f.url)
    clients.push(ws)
    expect(f.stats.wsConnections).toBe(1)
  })

  it('setSpeed and cost scale the job duration; enqueueDummy makes the queue longer', async () => {
    const f = await boot({ jobMs: 60, speed: 2 })
    f.enqueueDummy(2, 2)
    expect(f.queueSnapshot().pending.length + f.queueSnapshot().running.length).toBe(2)
    const t0 = Date.now()
    await f.waitForIdle()
    const took = Date.now() - t0
    // 2 jobs * 60ms * cost 2 / speed 2 = 120ms
    expect(took).toBeGreaterThanOrEqual(100)
    expect(took).toBeLessThan(600)
    expect(f.historyIds()).toHaveLength(2)
  })

  it('startFakeFleet listens on consecutive ports and stops everything', async () => {
    const base = await freePortRange(3)
    fleet = await startFakeFleet({ count: 3, port: base, speeds: [1, 2], jobMs: 20, names: ['a'] })
    expect(fleet.urls).toEqual([0, 1, 2].map((i) => `http://127.0.0.1:${base + i}`))
    expect(fleet.servers.map((s) => s.name)).toEqual(['a', 'fake-2', 'fake-3'])
    expect(fleet.servers.map((s) => s.speed)).toEqual([1, 2, 1])
    for (const url of fleet.urls) expect((await request(url + '/api/queue')).status).toBe(200)
    await fleet.stop()
    expect(await errorCode(request(fleet.urls[0] + '/queue'))).toBe('ECONNREFUSED')
    const eph = await startFakeFleet({ count: 2 })
    fleet = eph
    expect(new Set(eph.urls).size).toBe(2)
  })

  it('stop() is idempotent and leaves nothing running', async () => {
    const f = await boot({ jobMs: 5000 })
    f.enqueueDummy(3)
    await f.setFault({ kind: 'hang' })
    const parked = errorCode(request(f.url + '/queue'))
    await sleep(20)
    await Promise.all([f.stop(), f.stop()])
    expect(await parked).toBe('ECONNRESET')
    expect(f.listening).toBe(false)
  })
})

/** Finds n consecutive free loopback ports. */
async function freePortRange(n: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 30000)
    const servers: net.Server[] = []
    let ok = true
    for (let i = 0; i < n && ok; i++) {
      const s = net.createServer()
      ok = await new Promise<boolean>((resolve) => {
        s.once('error', () => resolve(false))
        s.listen(base + i, '127.0.0.1', () => resolve(true))
      })
      if (ok) servers.push(s)
    }
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
    if (ok) return base
  }
  throw new Error('no free port range')
}
