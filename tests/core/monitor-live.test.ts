/**
 * The check loop with live sockets, on an injected clock and scripted servers: a live, idle
 * server is read over HTTP only by the backstop; a busy one, one holding our jobs, or one
 * without a socket every round; a socket that closes gets its server read at once (that server
 * only); the reads of a round start at each server's own phase.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { ComfyEvent, SocketEvents } from '../../src/main/core/comfy/socket'
import type { HttpRequest, HttpResponse, HttpTransport } from '../../src/main/core/comfy/transport'
import { Emitter } from '../../src/main/core/events'
import type { FeedSocket, FeedTarget, LiveFeedOptions } from '../../src/main/core/fleet/live-feed'
import { FleetMonitor } from '../../src/main/core/fleet/monitor'
import { pingEveryMs } from '../../src/main/core/fleet/monitor-types'
import {
  expectedCompletionPolicy,
  leastQueuePolicy,
  type Policy
} from '../../src/main/core/fleet/policy'
import {
  SPREAD_SLOTS,
  START_HOLD_MS,
  STARTS_AT_ONCE,
  backstopRounds,
  spreadMs
} from '../../src/main/core/fleet/sweep'
import type { ServerConfig } from '../../src/shared/types'
import { ManualClock } from '../jobs/fake-port'

let clock = new ManualClock()

/** Moves time on by `ms`, a millisecond at a time, letting answers and rounds run between. */
async function tick(ms: number): Promise<void> {
  for (let i = 0; i < ms; i++) {
    clock.advance(1)
    await new Promise((r) => setImmediate(r))
  }
}

/** A ComfyUI over HTTP (idle unless told); records when each request came. */
class IdleServer implements HttpTransport {
  calls: Array<{ url: string; at: number }> = []
  /** Prompts in its queue (someone else's). */
  queued = 0
  async request(req: HttpRequest): Promise<HttpResponse> {
    this.calls.push({ url: req.url, at: clock.now() })
    await new Promise((r) => clock.setTimeout(() => r(undefined), 5))
    const body = req.url.endsWith('/prompt')
      ? { exec_info: { queue_remaining: this.queued } }
      : req.url.endsWith('/system_stats')
        ? { system: { comfyui_version: '0.3.64' }, devices: [] }
        : { queue_running: [], queue_pending: Array.from({ length: this.queued }, () => []) }
    return { status: 200, contentType: 'application/json', text: JSON.stringify(body) }
  }
  close() {}
  /** Reads of the queue (full or count), the part of a check every check has. */
  get checks(): number {
    return this.calls.filter((c) => /\/(queue|prompt)$/.test(c.url)).length
  }
}

class FakeSocket implements FeedSocket {
  readonly events = new Emitter<SocketEvents>()
  open = false
  lastMessageAt: number | null = null
  /** Opens only when told (a socket that connects after the first check). */
  late = false
  connect(): void {
    // Opens at once, as a reachable server's socket does.
    if (!this.late) this.openNow()
  }
  openNow(): void {
    this.open = true
    this.events.emit('open', undefined)
  }
  close(): void {
    this.open = false
  }
  /** The server closed it, or it answered no ping. */
  drop(reason: string): void {
    this.open = false
    this.events.emit('close', { reason })
  }
  send(ev: ComfyEvent): void {
    this.lastMessageAt = clock.now()
    this.events.emit('event', ev)
  }
}

const status = (n: number): ComfyEvent => ({
  type: 'status',
  data: { status: { exec_info: { queue_remaining: n } } }
})

const INTERVAL = 1000

function setUp(ids: string[], live = true, late = false, holdBack: number | null = null) {
  clock = new ManualClock()
  const servers: ServerConfig[] = ids.map((id) => ({
    id,
    name: id,
    url: `http://${id}:8188`,
    enabled: true
  }))
  const http = new Map(ids.map((id) => [id, new IdleServer()]))
  const sockets = new Map<string, FakeSocket>()
  const monitor = new FleetMonitor({
    servers,
    intervalMs: INTERVAL,
    timeoutMs: 500,
    clock,
    transportFactory: (s) => http.get(s.id),
    live: live ? { clientId: 'me' } : null,
    holdBack,
    socketFactory: (t: FeedTarget) => {
      const s = new FakeSocket()
      s.late = late
      sockets.set(t.id, s)
      return s
    }
  })
  stops.push(async () => {
    const stopped = monitor.stop()
    await tick(INTERVAL)
    await stopped
  })
  return { monitor, http, sockets }
}

const stops: Array<() => Promise<void>> = []
afterEach(async () => {
  while (stops.length) await stops.pop()!()
})

describe('check loop with live sockets', () => {
  it('reads a live, idle server over HTTP only by the backstop, every few rounds', async () => {
    const every = backstopRounds(INTERVAL)
    expect(every).toBeGreaterThan(5)
    const { monitor, http } = setUp(['a'])
    monitor.start()
    await tick(50)
    expect(http.get('a')!.checks).toBe(1)
    // Rounds 1 .. every-1: the socket's status messages stand for the reads.
    await tick(INTERVAL * (every - 1))
    expect(monitor.rounds).toBeGreaterThanOrEqual(every - 1)
    expect(http.get('a')!.checks).toBe(1)
    // The backstop round reads it.
    await tick(INTERVAL)
    expect(http.get('a')!.checks).toBe(2)
    expect(monitor.status().servers[0]!.healthy).toBe(true)
  })

  it('a socket that opens after the first check stands for the reads once it says the queue', async () => {
    const every = backstopRounds(INTERVAL)
    const { monitor, http, sockets } = setUp(['said', 'quiet'], true, true)
    monitor.start()
    await tick(50)
    expect([http.get('said')!.checks, http.get('quiet')!.checks]).toEqual([1, 1])
    // Both open after their first check; only one says its queue (ComfyUI does on connect).
    sockets.get('said')!.openNow()
    sockets.get('said')!.send(status(0))
    sockets.get('quiet')!.openNow()
    await tick(INTERVAL * 3)
    expect(http.get('said')!.checks).toBe(1)
    // Nothing confirmed the other's state since it opened: read the next round, then by the
    // backstop like the rest.
    expect(http.get('quiet')!.checks).toBe(2)
    await tick(INTERVAL * (every - 4))
    expect(http.get('said')!.checks).toBe(1)
    expect(monitor.status().servers.every((x) => x.healthy)).toBe(true)
  })

  it('reads every round a server that is busy, holds our jobs, or has no socket', async () => {
    const { monitor, http, sockets } = setUp(['busy', 'ours', 'idle'])
    monitor.start()
    await tick(50)
    // Someone else's prompts: the socket says so at once, the checks agree.
    http.get('busy')!.queued = 2
    sockets.get('busy')!.send(status(2))
    monitor.noteSent('ours', 'p1', 'queued')
    await tick(INTERVAL * 3)
    expect(http.get('busy')!.checks).toBe(1 + 3)
    expect(http.get('ours')!.checks).toBe(1 + 3)
    expect(http.get('idle')!.checks).toBe(1)
    // Its socket closed: read at once, and every round while it is down.
    sockets.get('idle')!.drop('closed')
    await tick(20)
    expect(http.get('idle')!.checks).toBe(2)
  })

  it('a socket that closes (no answer to a ping) gets its own server read at once, not the fleet', async () => {
    const { monitor, http, sockets } = setUp(['a', 'b'])
    monitor.start()
    await tick(INTERVAL / 2)
    const before = [http.get('a')!.checks, http.get('b')!.checks]
    sockets.get('a')!.drop('no answer to ping')
    await tick(20)
    expect([http.get('a')!.checks, http.get('b')!.checks]).toEqual([before[0]! + 1, before[1]!])
  })

  it('spreads the reads of a round over a few slots', async () => {
    const ids = Array.from({ length: 200 }, (_, i) => `s${i}`)
    const { monitor, http } = setUp(ids, false)
    monitor.start()
    await tick(50)
    await tick(INTERVAL + spreadMs(INTERVAL, ids.length))
    const starts = ids.map(
      (id) => http.get(id)!.calls.find((c) => c.at > clock.now() - INTERVAL)!.at
    )
    const first = Math.min(...starts)
    // Each slot's reads start together (one wake-up), the slots over the spread window.
    expect(new Set(starts).size).toBe(SPREAD_SLOTS)
    expect(Math.max(...starts) - first).toBeLessThanOrEqual(spreadMs(INTERVAL, ids.length))
    expect(Math.max(...starts) - first).toBeGreaterThan(0)
    // The first round (and a check asked for) reads them all at once, STARTS_AT_ONCE at a time
    // as the reads before them end.
    const firstRound = ids.map((id) => http.get(id)!.calls[0]!.at)
    expect(firstRound.filter((at) => at === firstRound[0]).length).toBe(STARTS_AT_ONCE)
    expect(Math.max(...firstRound) - Math.min(...firstRound)).toBeLessThan(START_HOLD_MS)
  })

  it("spreads a round by the reads it has: a live fleet's few backstop reads start in one wake-up", async () => {
    const ids = Array.from({ length: 200 }, (_, i) => `s${i}`)
    const { monitor, http } = setUp(ids)
    monitor.start()
    await tick(3 * INTERVAL)
    const from = clock.now()
    await tick(5 * INTERVAL)
    const starts = ids.flatMap((id) =>
      http
        .get(id)!
        .calls.filter((c) => c.at >= from && /\/(queue|prompt)$/.test(c.url))
        .map((c) => c.at)
    )
    // About 200 / 30 servers a round are read, each round's together: one start per round
    // (five intervals hold six round starts at most).
    expect(starts.length).toBeGreaterThanOrEqual(
      5 * Math.floor(ids.length / backstopRounds(INTERVAL))
    )
    expect(new Set(starts).size).toBeLessThanOrEqual(6)
  })
})

describe('views', () => {
  it("keeps an idle server's view while nothing it is made of changed, and makes a new one when it does", async () => {
    const { monitor, http, sockets } = setUp(['a', 'b'])
    monitor.start()
    await tick(2 * INTERVAL)
    const before = monitor.status().servers
    await tick(2 * INTERVAL)
    const after = monitor.status().servers
    expect(after[0]).toBe(before[0])
    expect(after[1]).toBe(before[1])
    expect(Object.isFrozen(after[0])).toBe(true)
    http.get('a')!.queued = 1
    sockets.get('a')!.send(status(1))
    await tick(60)
    const busy = monitor.status().servers
    expect(busy[0]).not.toBe(after[0])
    expect(busy[0]!.queue.total).toBe(1)
    expect(busy[1]).toBe(after[1])
    // A job of ours on its way there is in its view at once.
    monitor.noteSent('b', 'p1', 'sending')
    expect(monitor.status().servers[1]!.ownInFlight).toBe(1)
  })
})

describe('best server', () => {
  it('is worked out again only when a view, the policy, the last pick or our jobs changed', async () => {
    const { monitor, http, sockets } = setUp(['a', 'b'], true, false, 1)
    let calls = 0
    const counting: Policy = (servers, ctx) => {
      calls++
      return leastQueuePolicy(servers, ctx)
    }
    monitor.setPolicy(counting)
    monitor.start()
    await tick(2 * INTERVAL)
    expect(monitor.best().server?.id).toBe('a')
    // Idle rounds: the same views, the same best server, nothing worked out again.
    const idle = calls
    await tick(3 * INTERVAL)
    expect(monitor.rounds).toBeGreaterThanOrEqual(4)
    expect(calls).toBe(idle)
    // Someone else's prompt on a: its view changed, b is the best now.
    http.get('a')!.queued = 1
    sockets.get('a')!.send(status(1))
    await tick(60)
    expect(calls).toBeGreaterThan(idle)
    expect(monitor.best().server?.id).toBe('b')
  })

  it('is worked out again when only our jobs changed (one that starts to run no longer waits)', async () => {
    const { monitor, http } = setUp(['a'], true, false, 1)
    monitor.start()
    await tick(2 * INTERVAL)
    expect(monitor.best().server?.id).toBe('a')
    // One of ours queued there: with hold-back 1 the next one waits here.
    monitor.noteSent('a', 'p1', 'queued')
    expect(monitor.best().server).toBe(null)
    expect(monitor.best().heldBack?.server?.id).toBe('a')
    // The server's read reports it; then it starts to run. Nothing in the view changes with
    // that (the report counts it already), but it no longer waits: the next may go there.
    http.get('a')!.queued = 1
    await tick(2 * INTERVAL)
    expect(monitor.best().server).toBe(null)
    const view = monitor.status().servers[0]
    monitor.noteSent('a', 'p1', 'running')
    expect(monitor.status().servers[0]).toBe(view)
    expect(monitor.best().heldBack).toBeUndefined()
    expect(monitor.best().server?.id).toBe('a')
  })
})

describe('heartbeat', () => {
  it('pings a quiet socket every interval, but not more often than half the pong timeout', () => {
    expect(pingEveryMs(1000, 500)).toBe(1000)
    expect(pingEveryMs(1000, 10_000)).toBe(5000)
    expect(pingEveryMs(30_000, 10_000)).toBe(30_000)
    // The monitor's sockets are told so, as the settings change.
    let every: (() => number) | undefined
    clock = new ManualClock()
    const monitor = new FleetMonitor({
      servers: [{ id: 'a', name: 'a', url: 'http://a:8188', enabled: true }],
      intervalMs: 1000,
      timeoutMs: 10_000,
      clock,
      transportFactory: () => new IdleServer(),
      live: { clientId: 'me' },
      socketFactory: (_t: FeedTarget, o?: LiveFeedOptions) => {
        every = o?.pingIntervalMs
        return new FakeSocket()
      }
    })
    monitor.start()
    stops.push(async () => {
      const stopped = monitor.stop()
      await tick(1000)
      await stopped
    })
    expect(every?.()).toBe(5000)
    monitor.setTimeoutMs(1000)
    expect(every?.()).toBe(1000)
  })
})

describe('how long the running job has run', () => {
  it('counts from when the socket said a job was taken to run, so the expected wait shrinks', async () => {
    const { monitor, http, sockets } = setUp(['a'])
    monitor.setPolicy(expectedCompletionPolicy)
    monitor.start()
    await tick(50)
    for (let i = 0; i < 3; i++) monitor.noteRun('a', 1000)
    // Someone else's job starts there: its status says one in the queue.
    http.get('a')!.queued = 1
    sockets.get('a')!.send(status(1))
    await tick(60)
    // The choice reads the state as of now: a job placed there finishes after the running one.
    const early = monitor.choose().finishMs!
    await tick(600)
    const later = monitor.choose().finishMs!
    expect(early).toBeGreaterThan(later)
    // About 600 ms less left of a 1000 ms job (estimates are smoothed, so not exactly).
    expect(early - later).toBeGreaterThan(400)
    // Idle again: nothing is running, nothing is counted.
    http.get('a')!.queued = 0
    sockets.get('a')!.send(status(0))
    await tick(60)
    expect(monitor.choose().finishMs).toBeLessThan(later)
  })

  it("learns a server's speed from someone else's jobs its socket saw start and end", async () => {
    const { monitor, http, sockets } = setUp(['a', 'b'])
    monitor.start()
    await tick(50)
    const before = monitor.estimateJobMs('a')
    const a = sockets.get('a')!
    // The server's status, on its socket and over HTTP alike.
    const say = (n: number) => {
      http.get('a')!.queued = n
      a.send(status(n))
    }
    // Another app's job: queued on the idle server, taken to run, done 700 ms later.
    say(1)
    say(1)
    await tick(700)
    say(0)
    await tick(10)
    expect(before).not.toBe(700)
    expect(monitor.estimateJobMs('a')).toBe(700)
    // Two more back to back, 300 ms each: the next starts as the one before ends.
    say(2)
    say(2)
    await tick(300)
    say(1)
    await tick(300)
    say(0)
    await tick(10)
    expect(monitor.estimateJobMs('a')).toBeCloseTo(
      700 + 0.3 * (300 - 700) + 0.3 * 0.7 * (300 - 700)
    )
    // A socket that opens on a busy server does not know when its job started: no guess.
    const b = sockets.get('b')!
    const priorB = monitor.estimateJobMs('b')
    http.get('b')!.queued = 1
    b.send(status(1))
    await tick(200)
    http.get('b')!.queued = 0
    b.send(status(0))
    await tick(10)
    expect(monitor.estimateJobMs('b')).toBe(priorB)
  })

  it('forgets when the job started once its socket closes (nothing tells it of the next start)', async () => {
    const { monitor, http, sockets } = setUp(['a'])
    monitor.setPolicy(expectedCompletionPolicy)
    monitor.start()
    await tick(50)
    for (let i = 0; i < 3; i++) monitor.noteRun('a', 1000)
    http.get('a')!.queued = 1
    sockets.get('a')!.send(status(1))
    await tick(60)
    const fresh = monitor.choose().finishMs!
    await tick(900)
    const late = monitor.choose().finishMs!
    expect(fresh - late).toBeGreaterThan(400)
    // The socket closes; the HTTP read still finds one running, but not since when: the
    // estimate goes back to not knowing, rather than counting on from a start long ago.
    sockets.get('a')!.drop('closed')
    await tick(60)
    expect(monitor.choose().finishMs!).toBeGreaterThan(late + 400)
  })
})
