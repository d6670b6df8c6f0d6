/**
 * burst: 4 servers of speeds 1, 1, 0.5, 0.25; one client submits 40 cost-1 jobs at once.
 * Makespan = from the first submit to the end of the last job on its server (the fakes' own
 * timestamps), against the best integer assignment of the 40 jobs.
 */
import type { FleetHost } from '../fleet-host'
import {
  JOB_MS,
  lowerBoundMs,
  makeCore,
  now,
  round1,
  setupFor,
  standardWorkflow,
  startCore,
  withTimeout,
  type PolicyName
} from '../lib'

export const BURST_SPEEDS = [1, 1, 0.5, 0.25]

export interface TimelineJob {
  server: number
  start: number
  end: number
}

export interface BurstPolicyResult {
  policy: string
  /** Makespan of every repetition; the fields below are from the median one. */
  makespanRunsMs: number[]
  holdBack: number | null
  live: boolean
  intervalMs: number
  makespanMs: number
  /** From the first submit until the engine had marked every job done. */
  engineMakespanMs: number
  jobsPerServer: number[]
  notDone: number
  /** Job bars relative to the first submit (for the chart). */
  timeline: TimelineJob[]
  /** Where the time went on each server (see `serverIdle`). */
  idle: ServerIdle[]
}

/** One server's idle time in a burst run, relative to the first submit. */
export interface ServerIdle {
  /** When its first job started (the start-up: the first check, the first POST). */
  firstStartMs: number
  /** Gaps between a job's end and the next job's start there: their sum, their count (> 1 ms). */
  gapSumMs: number
  gaps: number
  /** The largest of those gaps. */
  gapMaxMs: number
  /** From its last job's end to the makespan (the tail: it could have run more). */
  tailMs: number
}

export interface BurstResult {
  config: { servers: number; speeds: number[]; jobs: number; jobMs: number; repetitions: number }
  lowerBoundMs: number
  /** Jobs per server of an assignment that reaches the lower bound. */
  optimum: number[]
  policies: Record<string, BurstPolicyResult>
}

/** Runs the policies in turn, `reps` times over; reports each policy's median run. */
export async function runBurst(
  host: FleetHost,
  names: PolicyName[],
  reps: number,
  jobs = 40
): Promise<BurstResult> {
  const durations = BURST_SPEEDS.map((s) => JOB_MS / s)
  const runs = new Map<PolicyName, Array<Omit<BurstPolicyResult, 'makespanRunsMs'>>>()
  for (let rep = 0; rep < reps; rep++) {
    for (const [i, name] of names.entries()) {
      const r = await runOne(host, name, jobs, 1 + i + 10 * rep)
      runs.set(name, [...(runs.get(name) ?? []), r])
    }
  }
  const policies: Record<string, BurstPolicyResult> = {}
  for (const name of names) {
    const list = runs.get(name)!
    const sorted = [...list].sort((a, b) => a.makespanMs - b.makespanMs)
    const median = sorted[(sorted.length - 1) >> 1]!
    policies[name] = { ...median, makespanRunsMs: list.map((r) => r.makespanMs) }
  }
  return {
    config: {
      servers: BURST_SPEEDS.length,
      speeds: BURST_SPEEDS,
      jobs,
      jobMs: JOB_MS,
      repetitions: reps
    },
    lowerBoundMs: lowerBoundMs(jobs, durations),
    optimum: optimalAssignment(jobs, durations),
    policies
  }
}

async function runOne(
  host: FleetHost,
  name: PolicyName,
  jobs: number,
  seed: number
): Promise<Omit<BurstPolicyResult, 'makespanRunsMs'>> {
  const fleet = await host.startFleet(BURST_SPEEDS.length, JOB_MS, BURST_SPEEDS)
  const bc = makeCore(name, fleet.urls, { tag: `burst-${name}`, seed })
  try {
    await startCore(bc, fleet.urls.length)
    const engine = bc.core.jobs!
    const wf = standardWorkflow()
    const t0 = now()
    const t0Wall = Date.now()
    const ids = Array.from({ length: jobs }, () => engine.submit(wf).id)
    const records = await withTimeout(
      Promise.all(ids.map((id) => engine.waitFor(id))),
      120_000,
      `burst (${name})`
    )
    const events = await host.events(fleet)
    const mine = new Set(ids)
    const starts = new Map<string, number>()
    const timeline: TimelineJob[] = []
    const perServer = BURST_SPEEDS.map(() => 0)
    let lastEnd = t0
    for (const e of events) {
      if (!mine.has(e.id)) continue
      if (e.k === 's') starts.set(`${e.s}|${e.id}`, e.t)
      if (e.k === 'e') {
        const st = starts.get(`${e.s}|${e.id}`) ?? e.t
        timeline.push({ server: e.s, start: round1(st - t0), end: round1(e.t - t0) })
        if (e.ok) perServer[e.s]!++
        lastEnd = Math.max(lastEnd, e.t)
      }
    }
    const engineEnd = Math.max(...records.map((r) => r.finishedAt ?? t0Wall))
    const s = setupFor(name)
    return {
      policy: s.policyName,
      holdBack: s.holdBack,
      live: s.live,
      intervalMs: s.intervalMs,
      makespanMs: round1(lastEnd - t0),
      engineMakespanMs: engineEnd - t0Wall,
      jobsPerServer: perServer,
      notDone: records.filter((r) => r.state !== 'done').length,
      timeline,
      idle: serverIdle(timeline, BURST_SPEEDS.length, round1(lastEnd - t0))
    }
  } finally {
    await bc.stop()
    await host.stopFleet(fleet)
  }
}

/**
 * Unit jobs one at a time to the server where the job would end first (ties to the earlier
 * one): for jobs of equal cost this reaches the lower bound.
 */
export function optimalAssignment(jobs: number, durations: readonly number[]): number[] {
  const n = durations.map(() => 0)
  for (let j = 0; j < jobs; j++) {
    let best = 0
    for (let i = 1; i < durations.length; i++) {
      if ((n[i]! + 1) * durations[i]! < (n[best]! + 1) * durations[best]!) best = i
    }
    n[best]!++
  }
  return n
}

/** Each server's start-up, idle gaps between jobs and tail, from a run's job bars. */
export function serverIdle(
  timeline: readonly TimelineJob[],
  servers: number,
  makespanMs: number
): ServerIdle[] {
  return Array.from({ length: servers }, (_, s) => {
    const bars = timeline.filter((j) => j.server === s).sort((a, b) => a.start - b.start)
    let gapSumMs = 0
    let gaps = 0
    let gapMaxMs = 0
    for (let i = 1; i < bars.length; i++) {
      const gap = Math.max(0, bars[i]!.start - bars[i - 1]!.end)
      gapSumMs += gap
      gapMaxMs = Math.max(gapMaxMs, gap)
      if (gap > 1) gaps++
    }
    return {
      firstStartMs: bars.length ? bars[0]!.start : Number.NaN,
      gapSumMs: round1(gapSumMs),
      gaps,
      gapMaxMs: round1(gapMaxMs),
      tailMs: bars.length ? round1(makespanMs - bars.at(-1)!.end) : makespanMs
    }
  })
}
