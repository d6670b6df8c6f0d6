/**
 * Shared pieces of the benchmark: a clock both processes agree on, statistics, seeded
 * randomness, the standard workflow and the four ways of running the core that are compared.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { BalancerCore } from '../src/main/core/app'
import {
  expectedCompletionPolicy,
  leastQueuePolicy,
  roundRobinPolicy,
  type Policy
} from '../src/main/core/fleet/policy'
import type { HttpTransport } from '../src/main/core/comfy/transport'
import { loadWorkflowBytes, type LoadedWorkflow } from '../src/main/core/jobs/workflow'
import { defaultSettings, serversFromUrls } from '../src/main/core/settings'
import type { AppSettings, ServerConfig } from '../src/shared/types'
import txt2img from '../tests/fixtures/txt2img.json'

/** A job of cost 1 takes this long on a speed-1 server (the scale). */
export const JOB_MS = 100
/** The seed checked every 3 mean job durations. */
export const SEED_INTERVAL_MS = 3 * JOB_MS
/** Per-request timeout used by every policy in the job scenarios (same for all). */
export const BENCH_TIMEOUT_MS = 1000

/** Wall-clock ms with sub-ms resolution; comparable across processes on one machine. */
export function now(): number {
  return performance.timeOrigin + performance.now()
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)))
}

/** Rejects after `ms` with a message naming what took too long. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms)
  })
  return Promise.race([p, t]).finally(() => clearTimeout(timer))
}

/** Nearest-rank percentile (p in 0..100) of unsorted numbers; NaN when empty. */
export function percentile(xs: readonly number[], p: number): number {
  if (!xs.length) return Number.NaN
  const s = [...xs].sort((a, b) => a - b)
  const rank = Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length)))
  return s[rank - 1]!
}

export function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN
}

export function round1(x: number): number {
  return Math.round(x * 10) / 10
}

export function round2(x: number): number {
  return Math.round(x * 100) / 100
}

/** Small fast seeded PRNG (mulberry32), uniform in [0, 1). */
export function seededRng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** The standard API workflow of the tests (cost 1: the job engine sets no extra_data). */
export function standardWorkflow(): LoadedWorkflow {
  return loadWorkflowBytes(Buffer.from(JSON.stringify(txt2img)), 'txt2img.json')
}

export function standardPrompt(): Record<string, unknown> {
  return JSON.parse(JSON.stringify(txt2img)) as Record<string, unknown>
}

/**
 * The smallest makespan of `jobs` unit jobs on servers with the given per-job durations: the
 * least T such that sum(floor(T / d_i)) >= jobs. Exact, by trying every candidate n * d_i.
 */
export function lowerBoundMs(jobs: number, durations: readonly number[]): number {
  const candidates = new Set<number>()
  for (const d of durations) for (let n = 1; n <= jobs; n++) candidates.add(n * d)
  const fits = (t: number) => durations.reduce((a, d) => a + Math.floor(t / d + 1e-9), 0) >= jobs
  return Math.min(...[...candidates].filter(fits))
}

export function tmpDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `cb-bench-${tag}-`))
}

export function rmDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true })
}

/** The ways of running the core that are compared. */
export type PolicyName = 'seed' | 'roundRobin' | 'ours' | 'central'

export interface CoreSetup {
  policy: Policy
  policyName: string
  holdBack: number | null
  live: boolean
  intervalMs: number
}

/**
 * - seed: the original design: least running+pending as of the last check round, a check
 *   every 3 mean job durations, no own accounting, no late binding, no live updates.
 * - roundRobin: the app with queue weighting off (no late binding).
 * - ours / central: the defaults (expected completion, late binding 1, live updates), checked
 *   as often as the seed.
 */
export function setupFor(name: PolicyName): CoreSetup {
  switch (name) {
    case 'seed':
      return {
        policy: leastQueuePolicy,
        policyName: 'leastQueuePolicy',
        holdBack: null,
        live: false,
        intervalMs: SEED_INTERVAL_MS
      }
    case 'roundRobin':
      return {
        policy: roundRobinPolicy,
        policyName: 'roundRobinPolicy',
        holdBack: null,
        live: true,
        intervalMs: SEED_INTERVAL_MS
      }
    case 'ours':
    case 'central':
      return {
        policy: expectedCompletionPolicy,
        policyName: 'expectedCompletionPolicy',
        holdBack: 1,
        live: true,
        intervalMs: SEED_INTERVAL_MS
      }
  }
}

/**
 * Settings built directly (not through parseSettings): the seed's 300 ms interval is below
 * the 500 ms minimum that parseSettings enforces for hand-edited values.
 */
export function benchSettings(
  urls: string[],
  patch: Partial<AppSettings> = {}
): { settings: AppSettings; servers: ServerConfig[] } {
  const { servers, problems } = serversFromUrls(urls)
  if (problems.length) throw new Error(problems.map((p) => p.message).join('; '))
  const settings: AppSettings = { ...defaultSettings(), servers, ...patch }
  return { settings, servers }
}

export interface BenchCore {
  core: BalancerCore
  dir: string
  journalFile: string
  stop(): Promise<void>
}

export function makeCore(
  name: PolicyName,
  urls: string[],
  opts: {
    tag: string
    seed?: number
    timeoutMs?: number
    intervalMs?: number
    jobs?: boolean
    transportFactory?: (server: ServerConfig) => HttpTransport | undefined
  }
): BenchCore {
  const s = setupFor(name)
  const dir = tmpDir(opts.tag)
  const journalFile = path.join(dir, 'jobs.jsonl')
  const { settings } = benchSettings(urls, {
    healthCheckInterval: opts.intervalMs ?? s.intervalMs,
    timeout: opts.timeoutMs ?? BENCH_TIMEOUT_MS
  })
  const core = new BalancerCore({
    settings,
    policy: s.policy,
    live: s.live,
    rng: seededRng(opts.seed ?? 1),
    transportFactory: opts.transportFactory,
    jobs:
      opts.jobs === false
        ? undefined
        : { journalFile, outputDir: path.join(dir, 'out'), holdBack: s.holdBack }
  })
  let stopped = false
  return {
    core,
    dir,
    journalFile,
    async stop() {
      if (stopped) return
      stopped = true
      await core.stop()
      rmDir(dir)
    }
  }
}

/** Starts the core and waits for its first check round with every server healthy. */
export async function startCore(bc: BenchCore, expectHealthy: number): Promise<void> {
  bc.core.start()
  const deadline = Date.now() + 15_000
  for (;;) {
    const st = await bc.core.checkNow()
    if (st.healthy >= expectHealthy) return
    if (Date.now() > deadline) {
      throw new Error(`only ${st.healthy}/${expectHealthy} servers healthy after 15 s`)
    }
    await sleep(100)
  }
}
