/**
 * What the balancer learns and remembers per server, without timers or I/O:
 * - how long a job takes there (a moving average of our finished jobs, per server and per kind
 *   of workflow; before any of ours finished there, of the jobs its live queue was seen to run),
 *   with a prior for servers it has not seen finish anything yet;
 * - a server's expected wait, with our jobs its last report did not include yet (counted in
 *   our-jobs.ts), so a burst spreads out instead of piling onto the server that looked emptiest.
 */
import type { ServerStatus } from '../../../shared/types'

/** Run time assumed for a job before any server has finished one. @default 20 s */
export const DEFAULT_JOB_MS = 20_000
/** Weight of the newest run time in the moving average. */
export const EWMA_ALPHA = 0.3

export interface JobKindStats {
  avgMs: number
  samples: number
}

export class ServerEstimator {
  private avg: number | null = null
  private samples = 0
  /** The run times seen in its queue's movement (anyone's jobs, ours included). */
  private seen: number | null = null
  private readonly kinds = new Map<string, JobKindStats>()

  /** Records the run time of a finished job (execution start to end on the server). */
  recordRun(ms: number, kind?: string): void {
    if (!Number.isFinite(ms) || ms <= 0) return
    this.avg = this.avg === null ? ms : this.avg + EWMA_ALPHA * (ms - this.avg)
    this.samples++
    if (kind) {
      const k = this.kinds.get(kind)
      this.kinds.set(
        kind,
        k
          ? { avgMs: k.avgMs + EWMA_ALPHA * (ms - k.avgMs), samples: k.samples + 1 }
          : { avgMs: ms, samples: 1 }
      )
      // Bounded: keep the most recently used kinds.
      if (this.kinds.size > 64) this.kinds.delete(this.kinds.keys().next().value as string)
    }
  }

  /**
   * Records how long a job ran there as its live queue showed it (taken to run, then done),
   * whoever sent it: before one of our own jobs has finished there, this is its speed, so a
   * slow server is known as slow without one of our jobs paying to find out.
   */
  recordSeen(ms: number): void {
    if (!Number.isFinite(ms) || ms <= 0) return
    this.seen = this.seen === null ? ms : this.seen + EWMA_ALPHA * (ms - this.seen)
  }

  /** Learned average run time (of our jobs, else of the jobs seen to run there), or null. */
  get jobMs(): number | null {
    return this.avg ?? this.seen
  }

  get sampleCount(): number {
    return this.samples
  }

  /** Run time of a job of `kind` here: that kind's average when known, else the server's. */
  jobMsFor(kind: string | undefined): number | null {
    if (kind) {
      const k = this.kinds.get(kind)
      if (k) return k.avgMs
    }
    return this.jobMs
  }
}

/** The median of the known averages, for servers without their own (a neutral prior). */
export function priorJobMs(known: Array<number | null>): number {
  const xs = known.filter((x): x is number => x !== null).sort((a, b) => a - b)
  if (!xs.length) return DEFAULT_JOB_MS
  const mid = xs.length >> 1
  return xs.length % 2 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2
}

/** What is left of a running job is taken as at least this share of a run. */
export const RUN_LEFT_MIN_SHARE = 0.05

/**
 * The share of a run still ahead of the running job: half when nothing says when it started;
 * else what is left after it has run `runningForMs`, at least RUN_LEFT_MIN_SHARE (it may run
 * longer than the average).
 */
export function runLeftShare(jobMs: number, runningForMs?: number | null): number {
  if (runningForMs === null || runningForMs === undefined || !(jobMs > 0)) return 0.5
  return Math.min(1, Math.max(RUN_LEFT_MIN_SHARE, 1 - Math.max(0, runningForMs) / jobMs))
}

/**
 * Expected wait before a new job would start: the jobs ahead of it times the run time, with
 * the running one half done, or, with `runningForMs` (how long it has run), what is left of it.
 */
export function expectedWaitMs(
  q: { running: number; pending: number },
  own: number,
  jobMs: number,
  runningForMs?: number | null
): number {
  const running = Math.min(q.running, 1) * runLeftShare(jobMs, runningForMs)
  return Math.round((running + Math.max(0, q.running - 1) + q.pending + own) * jobMs)
}

/**
 * A server's status with what the estimates add: our unreported jobs, its speed, its wait.
 * With `runningForMs` (how long its running job has run, when the fleet knows when it
 * started) the wait counts what is left of that job; without it, the job is half done.
 */
export function withEstimates<S extends ServerStatus>(
  s: S,
  jobMs: number | null,
  own: number,
  prior: number,
  runningForMs?: number | null
): S {
  return {
    ...s,
    recovering: s.healthy && s.down,
    ownInFlight: own,
    jobMs,
    etaMs: s.healthy ? expectedWaitMs(s.queue, own, jobMs ?? prior, runningForMs) : null
  }
}

/** A stable name for the kind of a workflow: its node classes and sampler steps. */
export function workflowKind(
  prompt: Record<string, { class_type: string; inputs: Record<string, unknown> }>
): string {
  const classes = [...new Set(Object.values(prompt).map((n) => n.class_type))].sort()
  const steps = Object.values(prompt)
    .map((n) => n.inputs.steps)
    .filter((x): x is number => typeof x === 'number')
    .reduce((a, b) => a + b, 0)
  return `${classes.join(',')}|${steps}`
}
