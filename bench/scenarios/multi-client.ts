/**
 * multiClient: 6 servers of mixed speeds shared by 10 independent clients (each its own core);
 * Poisson arrivals at 80% of the fleet's capacity, the same arrival schedule for every policy.
 * Latency = submit until the job ended on its server. `central` is one core that receives
 * every job (the oracle a shared dispatcher would be).
 */
import type { FleetHost } from '../fleet-host'
import {
  JOB_MS,
  makeCore,
  mean,
  now,
  percentile,
  round1,
  seededRng,
  setupFor,
  sleep,
  standardWorkflow,
  startCore,
  withTimeout,
  type BenchCore,
  type PolicyName
} from '../lib'

export const MULTI_SPEEDS = [1, 1, 0.75, 0.5, 0.5, 0.25]
export const CLIENTS = 10
export const LOAD = 0.8
/**
 * The first jobs of each run are run but not counted: every client (each its own core) learns
 * the servers' run times from its own finished jobs, so a short run would measure mostly that
 * start (the same for every policy; quick and full runs then measure the same steady state).
 */
export const WARMUP_JOBS = 40

export interface MultiPolicyResult {
  policy: string
  clients: number
  holdBack: number | null
  live: boolean
  intervalMs: number
  p50Ms: number
  p95Ms: number
  meanMs: number
  maxMs: number
  /** The same percentiles as the engines saw them (until each job was marked done). */
  engineP50Ms: number
  engineP95Ms: number
  makespanMs: number
  jobsPerServer: number[]
  notDone: number
  /** p95 of each repetition (the percentiles above pool every repetition's jobs). */
  p95RunsMs: number[]
}

export interface MultiClientResult {
  config: {
    servers: number
    speeds: number[]
    clients: number
    jobs: number
    /** Run before the counted jobs of each repetition (see WARMUP_JOBS). */
    warmupJobs: number
    load: number
    arrivalsPerSecond: number
    jobMs: number
    repetitions: number
  }
  policies: Record<string, MultiPolicyResult>
}

/** One policy's p95 over another's, run by run (each run has its own arrival schedule). */
export interface PairedRatio {
  /** p95 / the other's p95, per repetition. */
  runs: number[]
  median: number
  min: number
  max: number
  /** From the p95s of all repetitions' jobs pooled. */
  pooled: number
}

/** `a`'s p95 over `b`'s per repetition (the same arrivals), their median and spread. */
export function pairedRatio(r: MultiClientResult, a: string, b: string): PairedRatio | null {
  const x = r.policies[a]
  const y = r.policies[b]
  if (!x || !y) return null
  const runs = x.p95RunsMs.map((v, i) => v / y.p95RunsMs[i]!).filter((v) => Number.isFinite(v))
  const sorted = [...runs].sort((m, n) => m - n)
  const mid = sorted.length >> 1
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
  return {
    runs: runs.map((v) => Math.round(v * 100) / 100),
    median: Math.round(median * 100) / 100,
    min: Math.round(sorted[0]! * 100) / 100,
    max: Math.round(sorted.at(-1)! * 100) / 100,
    pooled: Math.round((x.p95Ms / y.p95Ms) * 100) / 100
  }
}

interface Arrival {
  at: number
  client: number
}

/** Poisson arrivals: exponential gaps at `rate` per second, each to a random client. */
export function schedule(jobs: number, rate: number, clients: number, seed: number): Arrival[] {
  const rng = seededRng(seed)
  const out: Arrival[] = []
  let t = 0
  for (let i = 0; i < jobs; i++) {
    t += (-Math.log(1 - rng()) / rate) * 1000
    out.push({ at: t, client: Math.floor(rng() * clients) })
  }
  return out
}

/**
 * Every repetition draws a new arrival schedule that all policies share; percentiles pool the
 * jobs of all repetitions.
 */
export async function runMultiClient(
  host: FleetHost,
  names: PolicyName[],
  jobs: number,
  reps: number
): Promise<MultiClientResult> {
  const capacityPerSecond = MULTI_SPEEDS.reduce((a, s) => a + s, 0) * (1000 / JOB_MS)
  const rate = LOAD * capacityPerSecond
  const runs = new Map<PolicyName, RunData[]>()
  for (let rep = 0; rep < reps; rep++) {
    const arrivals = schedule(WARMUP_JOBS + jobs, rate, CLIENTS, 42 + rep)
    for (const name of names) {
      runs.set(name, [...(runs.get(name) ?? []), await runOne(host, name, arrivals, rep)])
    }
  }
  const policies: Record<string, MultiPolicyResult> = {}
  for (const name of names) policies[name] = summarise(name, runs.get(name)!)
  return {
    config: {
      servers: MULTI_SPEEDS.length,
      speeds: MULTI_SPEEDS,
      clients: CLIENTS,
      jobs,
      warmupJobs: WARMUP_JOBS,
      load: LOAD,
      arrivalsPerSecond: round1(rate),
      jobMs: JOB_MS,
      repetitions: reps
    },
    policies
  }
}

interface RunData {
  clients: number
  lat: number[]
  engineLat: number[]
  makespanMs: number
  perServer: number[]
  notDone: number
}

function summarise(name: PolicyName, runs: RunData[]): MultiPolicyResult {
  const lat = runs.flatMap((r) => r.lat)
  const engineLat = runs.flatMap((r) => r.engineLat)
  const st = setupFor(name)
  return {
    policy: st.policyName,
    clients: runs[0]!.clients,
    holdBack: st.holdBack,
    live: st.live,
    intervalMs: st.intervalMs,
    p50Ms: round1(percentile(lat, 50)),
    p95Ms: round1(percentile(lat, 95)),
    meanMs: round1(mean(lat)),
    maxMs: round1(Math.max(...lat)),
    engineP50Ms: round1(percentile(engineLat, 50)),
    engineP95Ms: round1(percentile(engineLat, 95)),
    makespanMs: round1(mean(runs.map((r) => r.makespanMs))),
    jobsPerServer: MULTI_SPEEDS.map((_, i) => runs.reduce((a, r) => a + r.perServer[i]!, 0)),
    notDone: runs.reduce((a, r) => a + r.notDone, 0),
    p95RunsMs: runs.map((r) => round1(percentile(r.lat, 95)))
  }
}

async function runOne(
  host: FleetHost,
  name: PolicyName,
  arrivals: Arrival[],
  rep: number
): Promise<RunData> {
  const fleet = await host.startFleet(MULTI_SPEEDS.length, JOB_MS, MULTI_SPEEDS)
  const clients = name === 'central' ? 1 : CLIENTS
  const cores: BenchCore[] = []
  try {
    for (let c = 0; c < clients; c++) {
      cores.push(
        makeCore(name, fleet.urls, { tag: `multi-${name}-${c}`, seed: 100 + c + 1000 * rep })
      )
    }
    await Promise.all(cores.map((bc) => startCore(bc, fleet.urls.length)))
    const wf = standardWorkflow()
    const submitted: Array<{ id: string; core: BenchCore; at: number; wall: number }> = []
    const t0 = now()
    for (const a of arrivals) {
      await sleep(t0 + a.at - now())
      const core = cores[name === 'central' ? 0 : a.client]!
      const wall = Date.now()
      const at = now()
      submitted.push({ id: core.core.jobs!.submit(wf).id, core, at, wall })
    }
    const records = await withTimeout(
      Promise.all(submitted.map((s) => s.core.core.jobs!.waitFor(s.id))),
      300_000,
      `multiClient (${name})`
    )
    const events = await host.events(fleet)
    const ends = new Map<string, { t: number; s: number }>()
    for (const e of events) if (e.k === 'e' && e.ok) ends.set(e.id, { t: e.t, s: e.s })
    const lat: number[] = []
    const engineLat: number[] = []
    const perServer = MULTI_SPEEDS.map(() => 0)
    let lastEnd = t0
    submitted.forEach((s, i) => {
      if (i < WARMUP_JOBS) return
      const end = ends.get(s.id)
      const r = records[i]!
      if (end && r.state === 'done') {
        lat.push(end.t - s.at)
        perServer[end.s]!++
        lastEnd = Math.max(lastEnd, end.t)
      }
      if (r.state === 'done' && r.finishedAt !== null) engineLat.push(r.finishedAt - s.wall)
    })
    return {
      clients,
      lat,
      engineLat,
      makespanMs: lastEnd - t0,
      perServer,
      notDone: records.filter((r) => r.state !== 'done').length
    }
  } finally {
    await Promise.all(cores.map((bc) => bc.stop()))
    await host.stopFleet(fleet)
  }
}
