/**
 * pollScale: one core (defaults: live updates on, no jobs) checks N fake servers every second.
 * - connections per server: TCP connections each fake accepted over the whole run (its own
 *   counter; HTTP keep-alive plus the WebSocket);
 * - CPU of the checking process (this one; the fakes run in the child) as % of one core, over
 *   the whole run and without the start-up (the first reads of every server: its queue and
 *   system stats, two TCP connects and a WebSocket handshake), and the start-up's own CPU time;
 * - bytes per round: response bytes the core read per server per round, idle, and with 50
 *   queued prompts that each carry a ~100 KB UI workflow. The big-queue phase runs on a few
 *   servers (200 x 50 x 100 KB would be 1 GB of fake state) and is reported per server. The
 *   core reads the cheap count (GET /prompt) in most rounds and the full /queue every few; it
 *   has no switch to turn that off, so "without the cheap count" is derived from the measured
 *   size of a full /queue answer (every round would read one instead of the count).
 * - memory per server: this process's heap (after a GC) and rss once the rounds run, minus
 *   before the core started, divided by the servers;
 * - requests per server per minute: the HTTP requests each fake counted, over the run.
 * The full benchmark runs it at 1000 servers and again at 200 (without the big-queue phase).
 */
import { createAxiosTransport, type HttpTransport } from '../../src/main/core/comfy/transport'
import type { FleetHost } from '../fleet-host'
import { makeCore, mean, now, round1, round2, sleep, withTimeout } from '../lib'

export interface PollScaleResult {
  config: {
    servers: number
    intervalMs: number
    durationMs: number
    timeoutMs: number
    live: boolean
    bigQueue: { servers: number; pending: number; workflowBytes: number; rounds: number }
  }
  rounds: number
  connectionsPerServer: number
  connectionsPerServerMean: number
  /** Connections a server accepted after the 5th round (start-up done), max over servers. */
  newConnectionsAfterStartup: number
  wsConnectionsPerServer: number
  requestsPerServerPerRound: number
  requestsPerServerPerMinute: number
  /** Mean time between the ends of two check rounds (the interval when rounds keep up). */
  roundPeriodMs: number
  /** CPU of the process serving the fakes, % of one core (when it is near 100 it sets the pace). */
  fakesCpuPercent: number
  /** Heap used (after a GC) per server, once the rounds run; KB. */
  heapPerServerKB: number
  /** Resident memory per server, once the rounds run; KB. */
  rssPerServerKB: number
  cpuPercent: number
  /** From the end of the second round to the end (no start-up reads). */
  cpuPercentSteady: number
  /** Of `cpuPercent`, the kernel's share (system time: sockets, timers). */
  cpuPercentSystem: number
  /** CPU time from the start to the end of the second round (first reads, connects), ms. */
  startupCpuMs: number
  idleBytesPerServerPerRound: number
  /** Null when the big-queue phase was not run. */
  withCheapCount: {
    bytesPerServerPerRound: number
    /** The largest round (the one that reads the full /queue). */
    peakBytesPerServerPerRound: number
    bytesPerRoundAt200Servers: number
    fullQueueEveryRounds: number
  } | null
  withoutCheapCount: {
    derived: true
    bytesPerServerPerRound: number
    bytesPerRoundAt200Servers: number
  } | null
  fullQueueBytes: number
  countBytes: number
}

interface Counter {
  /** Counting only starts when this is true (skips the start-up reads). */
  on: boolean
  /** Bytes per route (path without /api), counted rounds only. */
  byRoute: Map<string, { bytes: number; n: number }>
  /** Bytes within the current round. */
  roundBytes: number
  transports: HttpTransport[]
}

function counting(): { counter: Counter; factory: () => HttpTransport } {
  const counter: Counter = { on: false, byRoute: new Map(), roundBytes: 0, transports: [] }
  const factory = (): HttpTransport => {
    const inner = createAxiosTransport()
    counter.transports.push(inner)
    return {
      async request(req) {
        const res = await inner.request(req)
        if (counter.on) {
          const n = res.bytes ? res.bytes.length : Buffer.byteLength(res.text)
          const route = new URL(req.url).pathname.replace(/^\/api/, '')
          const r = counter.byRoute.get(route) ?? { bytes: 0, n: 0 }
          r.bytes += n
          r.n++
          counter.byRoute.set(route, r)
          counter.roundBytes += n
        }
        return res
      },
      close: () => inner.close()
    }
  }
  return { counter, factory }
}

const total = (c: Counter) => [...c.byRoute.values()].reduce((a, r) => a + r.bytes, 0)
const avg = (c: Counter, route: string) => {
  const r = c.byRoute.get(route)
  return r && r.n ? r.bytes / r.n : Number.NaN
}

export async function runPollScale(
  host: FleetHost,
  opts: { servers: number; durationMs: number; bigServers: number }
): Promise<PollScaleResult> {
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  const mem0 = process.memoryUsage()
  const intervalMs = 1000
  const timeoutMs = 10_000
  // ---- phase 1: N idle servers for the whole duration
  const fleet = await host.startFleet(opts.servers, 100)
  const { counter, factory } = counting()
  const bc = makeCore('ours', fleet.urls, {
    tag: 'poll',
    jobs: false,
    intervalMs,
    timeoutMs,
    transportFactory: factory
  })
  let rounds = 0
  let countedRounds = 0
  let steady: { cpu: NodeJS.CpuUsage; t: number } | null = null
  let cpuPercent: number
  let cpuPercentSteady: number
  let cpuPercentSystem: number
  let startupCpuMs = Number.NaN
  let stats
  let mem1 = mem0
  let fakesCpu = Number.NaN
  let firstRoundAt = Number.NaN
  let lastRoundAt = Number.NaN
  let early: Promise<Array<{ connections: number }>> | null = null
  let cpu0 = process.cpuUsage()
  try {
    bc.core.events.on('round', () => {
      rounds++
      lastRoundAt = now()
      if (rounds === 1) firstRoundAt = lastRoundAt
      // Count from the end of the first round: it reads every server's queue and system stats.
      if (counter.on) countedRounds++
      else if (rounds === 1) counter.on = true
      if (rounds === 2) {
        steady = { cpu: process.cpuUsage(), t: now() }
        const c = process.cpuUsage(cpu0)
        startupCpuMs = (c.user + c.system) / 1000
      }
      if (rounds === 5) early = host.stats(fleet)
    })
    const hostCpu0 = await host.cpu()
    cpu0 = process.cpuUsage()
    const t0 = now()
    bc.core.start()
    await sleep(opts.durationMs)
    const cpu = process.cpuUsage(cpu0)
    const t1 = now()
    cpuPercent = ((cpu.user + cpu.system) / 1000 / (t1 - t0)) * 100
    cpuPercentSystem = (cpu.system / 1000 / (t1 - t0)) * 100
    const hc = await host.cpu()
    fakesCpu = ((hc.user + hc.system - hostCpu0.user - hostCpu0.system) / 1000 / (t1 - t0)) * 100
    gc?.()
    mem1 = process.memoryUsage()
    const s = steady as { cpu: NodeJS.CpuUsage; t: number } | null
    if (s) {
      const c = process.cpuUsage(s.cpu)
      cpuPercentSteady = ((c.user + c.system) / 1000 / (t1 - s.t)) * 100
    } else cpuPercentSteady = Number.NaN
    stats = await host.stats(fleet)
  } finally {
    // Settle the early snapshot before its fleet goes away.
    await (early as Promise<unknown> | null)?.catch(() => undefined)
    await bc.stop()
    for (const t of counter.transports) t.close()
    await host.stopFleet(fleet)
  }
  const conns = stats.map((s) => s.connections)
  const earlyStats = early ? await (early as Promise<Array<{ connections: number }>>) : null
  const newAfter = earlyStats
    ? Math.max(...stats.map((s, i) => s.connections - (earlyStats[i]?.connections ?? 0)))
    : Number.NaN

  const phase1 = {
    rounds,
    connectionsPerServer: Math.max(...conns),
    connectionsPerServerMean: round2(mean(conns)),
    newConnectionsAfterStartup: newAfter,
    wsConnectionsPerServer: Math.max(...stats.map((s) => s.wsConnections)),
    requestsPerServerPerRound: round2(mean(stats.map((s) => s.requests)) / Math.max(1, rounds)),
    requestsPerServerPerMinute: round1(
      mean(stats.map((s) => s.requests)) / (opts.durationMs / 60_000)
    ),
    roundPeriodMs: Math.round((lastRoundAt - firstRoundAt) / Math.max(1, rounds - 1)),
    fakesCpuPercent: round1(fakesCpu),
    heapPerServerKB: round1((mem1.heapUsed - mem0.heapUsed) / 1024 / opts.servers),
    rssPerServerKB: round1((mem1.rss - mem0.rss) / 1024 / opts.servers),
    cpuPercent: round2(cpuPercent),
    cpuPercentSteady: round2(cpuPercentSteady),
    cpuPercentSystem: round2(cpuPercentSystem),
    startupCpuMs: Math.round(startupCpuMs),
    idleBytesPerServerPerRound: round1(total(counter) / Math.max(1, countedRounds) / opts.servers)
  }
  const config = {
    servers: opts.servers,
    intervalMs,
    durationMs: opts.durationMs,
    timeoutMs,
    live: true
  }
  if (opts.bigServers <= 0) {
    return {
      config: { ...config, bigQueue: { servers: 0, pending: 0, workflowBytes: 0, rounds: 0 } },
      ...phase1,
      withCheapCount: null,
      withoutCheapCount: null,
      fullQueueBytes: Number.NaN,
      countBytes: Number.NaN
    }
  }

  // ---- phase 2: a few servers with 50 queued ~100 KB workflows each
  const pending = 50
  const workflowBytes = 100 * 1024
  const bigRounds = 10
  const big = await host.startFleet(opts.bigServers, 100)
  const c2 = counting()
  const bc2 = makeCore('ours', big.urls, {
    tag: 'poll-big',
    jobs: false,
    intervalMs,
    timeoutMs,
    transportFactory: c2.factory
  })
  let bigCounted = 0
  let peakRound = 0
  try {
    await host.fill(big, pending, workflowBytes)
    let r = 0
    const done = new Promise<void>((resolve) => {
      bc2.core.events.on('round', () => {
        r++
        if (c2.counter.on) {
          bigCounted++
          peakRound = Math.max(peakRound, c2.counter.roundBytes)
        } else if (r === 1) c2.counter.on = true
        c2.counter.roundBytes = 0
        if (bigCounted >= bigRounds) {
          c2.counter.on = false
          resolve()
        }
      })
    })
    bc2.core.start()
    await withTimeout(done, 120_000, 'pollScale big-queue rounds')
  } finally {
    await bc2.stop()
    for (const t of c2.counter.transports) t.close()
    await host.stopFleet(big)
  }
  const perServerRound = (bytes: number) => bytes / bigCounted / opts.bigServers
  const withCount = perServerRound(total(c2.counter))
  const fullQueueBytes = avg(c2.counter, '/queue')
  const countBytes = avg(c2.counter, '/prompt')
  const countReads = c2.counter.byRoute.get('/prompt')?.n ?? 0
  // Without the cheap count every count read would have been a full /queue read.
  const withoutCount = withCount + perServerRound(countReads * (fullQueueBytes - countBytes))
  const fullEvery = Math.round(
    (bigCounted * opts.bigServers) / Math.max(1, c2.counter.byRoute.get('/queue')?.n ?? 0)
  )
  return {
    config: {
      ...config,
      bigQueue: { servers: opts.bigServers, pending, workflowBytes, rounds: bigCounted }
    },
    ...phase1,
    withCheapCount: {
      bytesPerServerPerRound: Math.round(withCount),
      peakBytesPerServerPerRound: Math.round(peakRound / opts.bigServers),
      bytesPerRoundAt200Servers: Math.round(withCount * 200),
      fullQueueEveryRounds: fullEvery
    },
    withoutCheapCount: {
      derived: true,
      bytesPerServerPerRound: Math.round(withoutCount),
      bytesPerRoundAt200Servers: Math.round(withoutCount * 200)
    },
    fullQueueBytes: Math.round(fullQueueBytes),
    countBytes: Math.round(countBytes)
  }
}
