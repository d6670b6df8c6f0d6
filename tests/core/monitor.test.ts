import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  currentQueue,
  FleetMonitor,
  type MonitoredServerStatus
} from '../../src/main/core/fleet/monitor'
import type { HttpRequest, HttpResponse, HttpTransport } from '../../src/main/core/comfy/transport'
import { roundRobinPolicy } from '../../src/main/core/fleet/policy'
import type { ServerConfig } from '../../src/shared/types'
import { ManualClock } from '../jobs/fake-port'
import { START_HOLD_MS, STARTS_AT_ONCE } from '../../src/main/core/fleet/sweep'

/** The loop's time: moved on by the tests only. */
let clock = new ManualClock()

/** Moves time on by `ms`, a millisecond at a time, letting answers and rounds run between. */
async function tick(ms: number): Promise<void> {
  for (let i = 0; i < ms; i++) {
    clock.advance(1)
    await new Promise((r) => setImmediate(r))
  }
}

/** A transport whose answers the test scripts; resolves after `delayMs` of the test's time. */
class ScriptedTransport implements HttpTransport {
  calls: HttpRequest[] = []
  answer: (req: HttpRequest) => HttpResponse | Error = (req) => idle(req)
  delayMs = 10
  async request(req: HttpRequest): Promise<HttpResponse> {
    this.calls.push(req)
    await new Promise((r) => clock.setTimeout(() => r(undefined), this.delayMs))
    const a = this.answer(req)
    if (a instanceof Error) throw a
    return a
  }
  close() {}
}

/** A healthy idle server: the queue, the cheap count and system stats. */
function idle(
  req: HttpRequest,
  queue: unknown = { queue_running: [], queue_pending: [] }
): HttpResponse {
  if (req.url.endsWith('/prompt')) {
    const q = queue as { queue_running: unknown[]; queue_pending: unknown[] }
    return json({ exec_info: { queue_remaining: q.queue_running.length + q.queue_pending.length } })
  }
  if (req.url.endsWith('/system_stats'))
    return json({ system: { comfyui_version: '0.3.64' }, devices: [] })
  return json(queue)
}

function json(body: unknown, status = 200): HttpResponse {
  return { status, contentType: 'application/json', text: JSON.stringify(body) }
}

const servers: ServerConfig[] = ['a', 'b'].map((id) => ({
  id,
  name: id,
  url: `http://${id}:8188`,
  enabled: true
}))

describe('check loop (on an injected clock)', () => {
  let transports: Map<string, ScriptedTransport>
  let monitor: FleetMonitor

  beforeEach(() => {
    clock = new ManualClock()
    transports = new Map(servers.map((s) => [s.id, new ScriptedTransport()]))
    monitor = new FleetMonitor({
      servers,
      intervalMs: 1000,
      timeoutMs: 500,
      clock,
      transportFactory: (s) => transports.get(s.id)
    })
  })
  afterEach(async () => {
    const stopped = monitor.stop()
    await tick(1000)
    await stopped
  })

  const queueCalls = () =>
    [...transports.values()].map(
      (t) => t.calls.filter((c) => /\/(queue|prompt)$/.test(c.url)).length
    )

  it('runs a round at start and then one per interval after the previous ends', async () => {
    monitor.start()
    await tick(50)
    expect(queueCalls()).toEqual([1, 1])
    expect(monitor.status().lastHealthCheck).not.toBeNull()
    await tick(900)
    expect(queueCalls()).toEqual([1, 1])
    await tick(200)
    expect(queueCalls()).toEqual([2, 2])
    expect(monitor.rounds).toBe(2)
  })

  it('never overlaps rounds: a check asked during a round joins it', async () => {
    for (const t of transports.values()) t.delayMs = 400
    monitor.start()
    const joined = [monitor.checkNow(), monitor.checkNow(), monitor.checkNow()]
    await tick(850)
    const results = await Promise.all(joined)
    expect(new Set(results).size).toBe(1)
    expect(queueCalls()).toEqual([1, 1])
    expect(monitor.rounds).toBe(1)
  })

  it('answers status and best from the cache without any request', async () => {
    monitor.start()
    await tick(50)
    const before = queueCalls()
    for (let i = 0; i < 1000; i++) {
      expect(monitor.best().server?.id).toBe('a')
      expect(monitor.status().bestServerId).toBe('a')
    }
    expect(queueCalls()).toEqual(before)
  })

  it('reads the full queue every few rounds and the cheap count in between', async () => {
    monitor.start()
    for (let i = 0; i < 6; i++) await tick(1100)
    const urls = transports.get('a')!.calls.map((c) => c.url.replace('http://a:8188/api', ''))
    const counts = urls.filter((u) => u === '/queue' || u === '/prompt')
    expect(counts.slice(0, 6)).toEqual([
      '/queue',
      '/prompt',
      '/prompt',
      '/prompt',
      '/prompt',
      '/queue'
    ])
  })

  it('asks system stats on the same round only after a good queue, and reuses them', async () => {
    const t = transports.get('a')!
    t.answer = (req) =>
      req.url.endsWith('/system_stats')
        ? json({ system: { comfyui_version: '0.3.64', os: 'posix' }, devices: [] })
        : json({ queue_running: [[1]], queue_pending: [] })
    monitor.start()
    await tick(50)
    const health = (c: { url: string }) => /\/(queue|system_stats)$/.test(c.url)
    expect(t.calls.filter(health).map((c) => c.url)).toEqual([
      'http://a:8188/api/queue',
      'http://a:8188/api/system_stats'
    ])
    const a = monitor.status().servers[0]!
    expect(a.queue).toEqual({ running: 1, pending: 0, total: 1 })
    expect(a.system?.comfyuiVersion).toBe('0.3.64')
    await tick(1100)
    expect(t.calls.filter((c) => c.url.endsWith('/system_stats'))).toHaveLength(1)
  })

  it('pause stops the loop; resume checks at once', async () => {
    monitor.start()
    await tick(50)
    monitor.setPaused(true)
    expect(monitor.status().paused).toBe(true)
    await tick(5000)
    expect(queueCalls()).toEqual([1, 1])
    monitor.setPaused(false)
    await tick(50)
    expect(queueCalls()).toEqual([2, 2])
  })

  it('keeps state for unchanged servers when the list changes, and drops removed ones', async () => {
    transports.get('b')!.answer = (req) => idle(req)
    transports.get('a')!.answer = (req) => idle(req, { queue_running: [[1]], queue_pending: [[2]] })
    monitor.start()
    await tick(50)
    expect(monitor.best().server?.id).toBe('b')
    monitor.setServers([servers[0]!, { ...servers[1]!, enabled: false }])
    const st = monitor.status()
    expect(st.servers[0]!.queue.total).toBe(2)
    expect(st.servers[1]!.error).toBe('Disabled')
    expect(st.bestServerId).toBe('a')
    monitor.setServers([servers[0]!])
    expect(monitor.status().total).toBe(1)
  })

  it('declares a server down after 2 failed checks and up after 2 good ones', async () => {
    const t = transports.get('a')!
    let fail = true
    t.answer = (req) =>
      fail ? Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }) : idle(req)
    monitor.start()
    await tick(50)
    let a = monitor.status().servers[0]!
    expect([a.healthy, a.down, a.consecutiveFailures]).toEqual([false, false, 1])
    await tick(1100)
    a = monitor.status().servers[0]!
    expect([a.healthy, a.down, a.consecutiveFailures]).toEqual([false, true, 2])
    fail = false
    await tick(1100)
    a = monitor.status().servers[0]!
    expect([a.healthy, a.down, a.recovering]).toEqual([true, true, true])
    await tick(1100)
    a = monitor.status().servers[0]!
    expect([a.healthy, a.down, a.recovering, a.consecutiveSuccesses]).toEqual([
      true,
      false,
      false,
      2
    ])
  })

  it('one failed check between good ones never declares a server down', async () => {
    const t = transports.get('a')!
    let n = 0
    t.answer = (req) =>
      /\/(queue|prompt)$/.test(req.url) && ++n === 2
        ? Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })
        : idle(req)
    monitor.start()
    for (let i = 0; i < 4; i++) await tick(1100)
    const a = monitor.status().servers[0]!
    expect(a.down).toBe(false)
    expect(a.checks - a.successes).toBeGreaterThanOrEqual(1)
  })

  it('a server that stops answering keeps its last queue, marked as read before, never as zeros', async () => {
    const t = transports.get('a')!
    let fail = false
    t.answer = (req) =>
      fail
        ? Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })
        : idle(req, { queue_running: [[1]], queue_pending: [[2], [3]] })
    monitor.start()
    await tick(50)
    let a = monitor.status().servers[0] as MonitoredServerStatus
    const readAt = a.queueAt
    expect(readAt).toBe(a.lastCheck)
    expect(currentQueue(a)).toEqual({ running: 1, pending: 2, total: 3 })
    fail = true
    await tick(1100)
    a = monitor.status().servers[0] as MonitoredServerStatus
    expect(a.healthy).toBe(false)
    // Not a fresh empty queue: the last one known, with the time it was read.
    expect(a.queue).toEqual({ running: 1, pending: 2, total: 3 })
    expect(a.queueAt).toBe(readAt)
    expect(a.lastCheck!).toBeGreaterThan(readAt!)
    expect(currentQueue(a)).toBeNull()
    // A server never heard from has no queue time at all.
    const b = monitor.status().servers[1] as MonitoredServerStatus
    expect(b.queueAt).not.toBeNull()
    monitor.setServers([...servers, { id: 'c', name: 'c', url: 'http://c:8188', enabled: true }])
    const c = monitor.status().servers[2] as MonitoredServerStatus
    expect([c.queueAt, currentQueue(c)]).toEqual([null, null])
  })

  it('shows as best the server the next job goes to: hold-back and turns count', async () => {
    const m = new FleetMonitor({
      servers,
      intervalMs: 1000,
      timeoutMs: 500,
      clock,
      transportFactory: (s) => transports.get(s.id),
      holdBack: 1
    })
    m.start()
    await tick(50)
    expect(m.status().bestServerId).toBe('a')
    // Asking changes nothing: the choice has no side effect.
    for (let i = 0; i < 5; i++) expect(m.choose().server?.id).toBe('a')
    expect(m.place().server?.id).toBe('a')
    m.noteSent('a', 'p1', 'sending')
    expect(m.ourWaiting('a')).toBe(1)
    // a has our next job lined up; b finishes a job no later: the next goes there.
    expect(m.status().bestServerId).toBe('b')
    expect(m.place().server?.id).toBe('b')
    m.noteSent('a', 'p1', 'running')
    expect(m.ourWaiting('a')).toBe(0)
    expect(m.status().bestServerId).toBe('a')
    m.noteGone('a', 'p1')
    expect(m.status().servers[0]!.ownInFlight).toBe(0)
    await m.stop()

    const rr = new FleetMonitor({
      servers,
      intervalMs: 1000,
      timeoutMs: 500,
      clock,
      transportFactory: (s) => transports.get(s.id),
      policy: roundRobinPolicy
    })
    rr.start()
    await tick(50)
    const next = rr.status().bestServerId
    expect(rr.choose().server?.id).toBe(next)
    rr.noteSent(next!, 'p2', 'sending')
    expect(rr.status().bestServerId).not.toBe(next)
    expect(rr.choose().server?.id).toBe(rr.status().bestServerId)
    await rr.stop()
  })

  it('counts our jobs a report did not include yet in the expected wait', async () => {
    monitor.start()
    await tick(50)
    monitor.noteSent('a', 'p1')
    expect(monitor.status().servers[0]!.ownInFlight).toBe(1)
    await tick(1100) // the next report was taken after it was accepted
    expect(monitor.status().servers[0]!.ownInFlight).toBe(0)
  })

  it('keeps a server error without trailing blank lines and without credentials', async () => {
    transports.get('a')!.answer = () =>
      new Error('Proxy says: upstream http://bob:s3cret@a:8188/api/queue is gone\n\n  \n')
    monitor.start()
    await tick(50)
    const a = monitor.status().servers[0]!
    expect(a.error).toBe('Proxy says: upstream http://bob:***@a:8188/api/queue is gone')
  })
})

describe('a large fleet checked at once', () => {
  const many: ServerConfig[] = Array.from({ length: 150 }, (_, i) => ({
    id: `s${i}`,
    name: `s${i}`,
    url: `http://s${i}:8188`,
    enabled: true
  }))
  let monitor: FleetMonitor
  let transports: Map<string, ScriptedTransport>
  let inflight = 0
  let most = 0

  beforeEach(() => {
    clock = new ManualClock()
    inflight = 0
    most = 0
    transports = new Map(
      many.map((s) => {
        const t = new ScriptedTransport()
        const request = t.request.bind(t)
        t.request = async (req) => {
          most = Math.max(most, ++inflight)
          try {
            return await request(req)
          } finally {
            inflight--
          }
        }
        return [s.id, t]
      })
    )
    monitor = new FleetMonitor({
      servers: many,
      intervalMs: 10_000,
      timeoutMs: 2000,
      clock,
      transportFactory: (s) => transports.get(s.id)
    })
  })
  afterEach(async () => {
    const stopped = monitor.stop()
    await tick(3000)
    await stopped
  })

  const healthy = () => monitor.status().servers.filter((s) => s.healthy).length

  it('opens at most STARTS_AT_ONCE requests at a time, and still reads every server', async () => {
    const round = monitor.checkNow()
    await tick(200)
    await round
    expect(most).toBeGreaterThan(1)
    expect(most).toBeLessThanOrEqual(STARTS_AT_ONCE)
    expect(healthy()).toBe(many.length)
  })

  it('does not let servers that hang hold up the others', async () => {
    // The first servers take most of the deadline to answer; the rest answer at once.
    for (const s of many.slice(0, STARTS_AT_ONCE)) transports.get(s.id)!.delayMs = 1500
    const round = monitor.checkNow()
    await tick(START_HOLD_MS * 3 + 100)
    // Every server that answers quickly is known healthy long before the slow ones answer.
    const seen = new Set<string>()
    for (const t of [...transports].slice(STARTS_AT_ONCE)) if (t[1].calls.length) seen.add(t[0])
    expect(seen.size).toBe(many.length - STARTS_AT_ONCE)
    await tick(3500)
    await round
    expect(healthy()).toBe(many.length)
  })

  it('begins no more reads once stopped', async () => {
    for (const t of transports.values()) t.delayMs = 1500
    const round = monitor.checkNow()
    await tick(5)
    const begun = [...transports.values()].filter((t) => t.calls.length).length
    expect(begun).toBe(STARTS_AT_ONCE)
    const stopped = monitor.stop()
    // The reads under way end (queue, then system stats): 2 x 1500 ms.
    await tick(3100)
    await stopped
    await round
    expect([...transports.values()].filter((t) => t.calls.length).length).toBe(begun)
  })
})
