/**
 * The core against real sockets: fake ComfyUI servers on 127.0.0.1 started by the test.
 * Covers the original design's four tests (queue-load, failover, performance, concurrency)
 * and how each fault the fake can inject is reported.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { BalancerCore } from '../../src/main/core/app'
import { parseSettings, serversFromUrls } from '../../src/main/core/settings'
import { FakeComfy, startFakeFleet } from '../../src/fake-comfy'
import type { AppSettings } from '../../src/shared/types'

const cleanups: Array<() => Promise<unknown> | void> = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

async function fleetOf(count: number, opts: { jobMs?: number } = {}) {
  const f = await startFakeFleet({ count, jobMs: opts.jobMs ?? 60_000 })
  cleanups.push(() => f.stop())
  return f
}

function coreFor(urls: string[], patch: Partial<AppSettings> = {}): BalancerCore {
  const { servers } = serversFromUrls(urls)
  const settings = parseSettings({
    servers,
    healthCheckInterval: 60_000,
    timeout: 1000,
    ...patch
  }).settings
  const core = new BalancerCore({ settings })
  cleanups.push(() => core.stop())
  return core
}

describe('queue-load', () => {
  it('chooses the healthy server with the fewest running + pending prompts', async () => {
    const f = await fleetOf(3)
    f.servers[0]!.enqueueDummy(3) // 1 running + 2 pending
    f.servers[1]!.enqueueDummy(1) // 1 running
    f.servers[2]!.enqueueDummy(2) // 1 running + 1 pending
    const core = coreFor(f.urls)
    const s = await core.checkNow()
    expect(s.servers.map((x) => x.queue)).toEqual([
      { running: 1, pending: 2, total: 3 },
      { running: 1, pending: 0, total: 1 },
      { running: 1, pending: 1, total: 2 }
    ])
    expect(s.bestServerId).toBe(s.servers[1]!.id)
    expect(s.healthy).toBe(3)
    // The choice follows the live queues.
    f.servers[1]!.enqueueDummy(5)
    const s2 = await core.checkNow()
    expect(s2.bestServerId).toBe(s2.servers[2]!.id)
  })

  it('reads system info from system_stats', async () => {
    const f = await fleetOf(1)
    const s = await coreFor(f.urls).checkNow()
    const sys = s.servers[0]!.system!
    expect(sys.comfyuiVersion).toMatch(/\d+\.\d+/)
    expect(sys.pythonVersion).toMatch(/^\d+\.\d+/)
    expect(sys.pytorchVersion).toBeTruthy()
    expect(sys.devices[0]!.vramTotal).toBeGreaterThan(0)
    expect(sys.devices[0]!.name).toBeTruthy()
  })
})

describe('failover', () => {
  it('stops choosing a server that goes down and chooses it again when it is back', async () => {
    const f = await fleetOf(2)
    f.servers[1]!.enqueueDummy(2)
    const core = coreFor(f.urls)
    const lines: string[] = []
    core.events.on('log', (l) => lines.push(l.message))
    let s = await core.checkNow()
    const [a, b] = s.servers.map((x) => x.id)
    expect(s.bestServerId).toBe(a)
    f.servers[0]!.setFault({ kind: 'refuse' })
    s = await core.checkNow()
    expect(s.bestServerId).toBe(b)
    expect(s.servers[0]!.healthy).toBe(false)
    expect(s.servers[0]!.error).toMatch(/Connection refused/)
    f.servers[0]!.setFault(null)
    s = await core.checkNow()
    expect(s.bestServerId).toBe(a)
    expect(lines).toContain(
      `[LoadBalancer] Server switch: ${s.servers[0]!.name} -> ${s.servers[1]!.name} (${s.servers[0]!.name} is down)`
    )
    expect(
      lines.some((l) =>
        l.startsWith(`[LoadBalancer] Server switch: ${s.servers[1]!.name} -> ${s.servers[0]!.name}`)
      )
    ).toBe(true)
  })

  it('has no best server, with a clear reason, when none is healthy', async () => {
    const f = await fleetOf(2)
    for (const s of f.servers) s.setFault({ kind: 'status', status: 503 })
    const core = coreFor(f.urls)
    const s = await core.checkNow()
    expect(s.bestServer).toBeNull()
    expect(s.reason).toBe('No healthy server (0/2 up)')
    expect(core.best().server).toBeNull()
  })
})

describe('performance', () => {
  it('a round over 20 servers of which 5 hang costs about one timeout, not five', async () => {
    const f = await fleetOf(20)
    for (const s of f.servers.slice(0, 5)) s.setFault({ kind: 'hang' })
    const timeout = 600
    const core = coreFor(f.urls, { timeout })
    const t0 = performance.now()
    const s = await core.checkNow()
    const took = performance.now() - t0
    expect(s.healthy).toBe(15)
    for (const x of s.servers.slice(0, 5)) expect(x.error).toBe(`Timed out after ${timeout} ms`)
    // Sequential checks would need 5 timeouts (3000 ms); concurrent ones about one.
    expect(took).toBeGreaterThanOrEqual(timeout - 20)
    expect(took).toBeLessThan(timeout * 2.5)
  })

  it('reuses one keep-alive connection per server across rounds', async () => {
    const f = await fleetOf(3)
    const core = coreFor(f.urls)
    for (let i = 0; i < 20; i++) await core.checkNow()
    expect(core.status().healthy).toBe(3)
    for (const s of f.servers) {
      expect(s.stats.connections).toBe(1)
      expect(s.stats.requests).toBeGreaterThanOrEqual(20)
    }
  })
})

describe('concurrency', () => {
  it('1000 concurrent callers start no extra round and all get the same answer', async () => {
    const f = await fleetOf(3)
    f.servers[0]!.enqueueDummy(1)
    const core = coreFor(f.urls)
    const answers = await Promise.all(
      Array.from({ length: 1000 }, async () => {
        await core.checkNow()
        return core.best()
      })
    )
    expect(new Set(answers.map((a) => a.server?.id)).size).toBe(1)
    expect(answers[0]!.server?.id).toBe(core.status().servers[1]!.id)
    const requestsAfterFirst = f.servers.map((s) => s.stats.requests)
    const more = Array.from({ length: 1000 }, () => core.best())
    expect(new Set(more.map((a) => a.server?.id))).toEqual(new Set([answers[0]!.server?.id]))
    // One round happened in all: one queue + one system_stats request per server.
    expect(f.servers.map((s) => s.stats.requests)).toEqual(requestsAfterFirst)
    expect(requestsAfterFirst).toEqual([2, 2, 2])
  })
})

describe('every fault the fake can inject is reported in words', () => {
  const cases: Array<[string, Parameters<FakeComfy['setFault']>[0], RegExp, string]> = [
    ['refused', { kind: 'refuse' }, /^Connection refused/, 'refused'],
    ['hang', { kind: 'hang' }, /^Timed out after 400 ms$/, 'timeout'],
    ['5xx', { kind: 'status', status: 500 }, /^HTTP 500 Internal Server Error$/, 'http'],
    [
      'HTML 502 from a proxy',
      { kind: 'html-502' },
      /^HTTP 502 Bad Gateway \(an error page from a proxy\)$/,
      'http'
    ],
    ['invalid JSON', { kind: 'invalid-json' }, /not JSON/, 'not-json'],
    ['wrong shape', { kind: 'wrong-shape' }, /^Unexpected queue answer/, 'bad-shape']
  ]
  for (const [label, fault, message, kind] of cases) {
    it(label, async () => {
      const f = await fleetOf(2)
      f.servers[0]!.setFault(fault)
      const core = coreFor(f.urls, { timeout: 400 })
      const s = await core.checkNow()
      expect(s.servers[0]!.healthy).toBe(false)
      expect(s.servers[0]!.error).toMatch(message)
      expect(s.servers[0]!.errorKind).toBe(kind)
      expect(s.bestServerId).toBe(s.servers[1]!.id)
    })
  }

  it('slow answers within the timeout are healthy, with their latency', async () => {
    const f = await fleetOf(1)
    f.servers[0]!.setFault({ kind: 'slow', delayMs: 150 })
    const s = await coreFor(f.urls, { timeout: 2000 }).checkNow()
    expect(s.servers[0]!.healthy).toBe(true)
    expect(s.servers[0]!.latencyMs).toBeGreaterThanOrEqual(140)
  })

  it('a server that dies mid-job and restarts empty is followed', async () => {
    const f = await fleetOf(1, { jobMs: 60_000 })
    f.servers[0]!.enqueueDummy(3)
    const core = coreFor(f.urls, { timeout: 400 })
    expect((await core.checkNow()).servers[0]!.queue.total).toBe(3)
    await f.servers[0]!.die()
    const down = await core.checkNow()
    expect(down.servers[0]!.healthy).toBe(false)
    expect(down.servers[0]!.error).toMatch(/Connection refused|closed by the server/)
    await f.servers[0]!.restart()
    const back = await core.checkNow()
    expect(back.servers[0]!.healthy).toBe(true)
    expect(back.servers[0]!.queue.total).toBe(0)
  })

  it('a server without /api routes is asked on the plain routes', async () => {
    const legacy = new FakeComfy({ legacy: true })
    await legacy.start()
    cleanups.push(() => legacy.stop())
    legacy.enqueueDummy(2)
    const core = coreFor([legacy.url])
    const s = await core.checkNow()
    expect(s.servers[0]!.healthy).toBe(true)
    expect(s.servers[0]!.legacyRoutes).toBe(true)
    expect(s.servers[0]!.queue.total).toBe(2)
    // Servers that old reported no version, but the rest of system_stats is read.
    expect(s.servers[0]!.system?.comfyuiVersion).toBeNull()
    expect(s.servers[0]!.system?.pytorchVersion).toBeTruthy()
  })
})

describe('log modes', () => {
  it('concise by default; verbose switchable at run time with one line per server per round', async () => {
    const f = await fleetOf(2)
    f.servers[1]!.setFault({ kind: 'refuse' })
    const core = coreFor(f.urls)
    const lines: string[] = []
    core.events.on('log', (l) => lines.push(l.message))
    await core.checkNow()
    await core.checkNow()
    const n1 = f.servers[0]!.url.replace('http://', '').replace('127.0.0.1', '127.0.0.1')
    expect(lines).toEqual([
      expect.stringMatching(/^\[LoadBalancer\] Server down: .* - Connection refused/),
      `[LoadBalancer] Available servers: 1/2, best: ${n1} (queue: 0)`
    ])
    lines.length = 0
    core.setVerbose(true)
    await core.checkNow()
    expect(lines).toEqual([
      '[LoadBalancer] Verbose logging on',
      expect.stringMatching(
        new RegExp(
          `^\\[LoadBalancer\\] ${n1.replace(/\./g, '\\.')}: healthy, running 0, pending 0, total 0 \\(\\d+ ms\\)$`
        )
      ),
      expect.stringMatching(/: unhealthy - Connection refused/)
    ])
  })
})

describe('for the window', () => {
  it('tests a connection without adding the server', async () => {
    const f = await fleetOf(1)
    const core = coreFor(f.urls)
    const ok = await core.testServer({ url: f.urls[0]! })
    expect(ok.ok).toBe(true)
    if (ok.ok) expect(ok.system?.comfyuiVersion).toBe('0.3.64')
    const bad = await core.testServer({ url: 'http://127.0.0.1:9' })
    expect(bad).toMatchObject({ ok: false, errorKind: 'refused' })
  })

  it('keeps each server queue length over time', async () => {
    const f = await fleetOf(2)
    const core = coreFor(f.urls, { healthCheckInterval: 500 })
    await core.checkNow()
    f.servers[0]!.enqueueDummy(3)
    await core.checkNow()
    const h = core.queueHistory()
    const first = h[core.status().servers[0]!.id]!
    expect(first.map((p) => p[1])).toEqual([0, 3])
    expect(first[1]![0]).toBeGreaterThanOrEqual(first[0]![0])
  })
})
