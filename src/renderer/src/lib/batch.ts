/**
 * A batch (one workflow run N times) as its card shows it: how many runs are done or failed,
 * the time left, and the outputs so far in run order. Pure.
 */
import type { JobOutput, JobRecord } from '../../../shared/types'
import { overallProgress } from './format'
import { isFinished } from './jobs-state.svelte'

export interface BatchView {
  id: string
  total: number
  done: number
  failed: number
  /** Runs not finished yet. */
  open: number
  finished: boolean
  /** Time left, or null while there is nothing to estimate from. */
  etaMs: number | null
  /** From the first run's submission to the last run's end (or now). */
  elapsedMs: number
  outputs: Array<{ jobId: string; index: number; output: JobOutput }>
}

/** Below this share done, a run's progress says too little about its length. */
const MIN_PROGRESS = 0.05
/** A run that started less than this long ago says too little too (the page's clock ticks by seconds). */
const MIN_RAN_MS = 2_000

/**
 * `runs` are the batch's jobs (any order); `parallel` how many can run at once (the healthy
 * servers). The time per run is the average of finished runs, else what the running ones
 * suggest from their progress; the runs left then go `parallel` at a time.
 */
export function batchView(runs: readonly JobRecord[], now: number, parallel: number): BatchView {
  const sorted = [...runs].sort((a, b) => (a.batch?.index ?? 0) - (b.batch?.index ?? 0))
  const first = sorted[0]
  const total = Math.max(first?.batch?.size ?? sorted.length, sorted.length)
  let done = 0
  let failed = 0
  const ran: number[] = []
  for (const j of sorted) {
    if (j.state === 'done') done++
    else if (isFinished(j.state) && j.state !== 'cancelled') failed++
    if (j.state === 'done' && j.startedAt !== null && j.finishedAt !== null) {
      ran.push(j.finishedAt - j.startedAt)
    }
  }
  const unfinished = sorted.filter((j) => !isFinished(j.state))
  const open = unfinished.length + (total - sorted.length)
  let perRun: number | null = ran.length ? ran.reduce((a, b) => a + b, 0) / ran.length : null
  if (perRun === null) {
    const guesses = unfinished.flatMap((j) => {
      const p = j.state === 'running' ? overallProgress(j.progress) : null
      const ran = j.startedAt === null ? 0 : now - j.startedAt
      return p !== null && p >= MIN_PROGRESS && ran >= MIN_RAN_MS ? [ran / p] : []
    })
    if (guesses.length) perRun = guesses.reduce((a, b) => a + b, 0) / guesses.length
  }
  let etaMs: number | null = null
  if (open === 0) etaMs = 0
  else if (perRun !== null) {
    // The running ones are partly through: count them as half a run each.
    const running = unfinished.filter((j) => j.state === 'running').length
    const work = open - running / 2
    etaMs = Math.round((Math.ceil(work / Math.max(1, parallel)) || 1) * perRun)
  }
  const start = Math.min(...sorted.map((j) => j.createdAt))
  const end = open === 0 ? Math.max(...sorted.map((j) => j.finishedAt ?? j.updatedAt)) : now
  return {
    id: first?.batch?.id ?? '',
    total,
    done,
    failed,
    open,
    finished: open === 0,
    etaMs,
    elapsedMs: sorted.length ? Math.max(0, end - start) : 0,
    outputs: sorted.flatMap((j) =>
      j.outputs.map((output) => ({ jobId: j.id, index: j.batch?.index ?? 0, output }))
    )
  }
}
