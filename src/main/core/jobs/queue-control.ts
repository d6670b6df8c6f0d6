/**
 * The queue the user controls: pausing and resuming sending (kept in the queue state file,
 * which the CLI may write too), the order of the waiting jobs and their priority.
 */
import fs from 'node:fs'
import type { JobPriority, JobRecord, QueueState } from '../../../shared/types'
import type { Clock } from '../clock'
import { orderKey, priorityRank, queueOrder } from './dispatch'
import { isFinished, readQueueState, writeQueueState, type JobStore } from './job-store'

/** Where to move waiting jobs in the queue. */
export type QueueMove = 'top' | 'up' | 'down' | 'bottom'

/** One job, or every run of a batch. */
export type QueueTarget = { jobId: string } | { batchId: string }

/** Priorities by rank (see `priorityRank`). */
const PRIORITIES: readonly JobPriority[] = ['high', 'normal', 'low']
/** Smallest gap between order keys when the queue is numbered again (ms-based keys). */
const RENUMBER_STEP = 1e-3

export interface QueueControlOptions {
  store: JobStore
  clock: Clock
  log: (level: 'info' | 'warn', message: string) => void
  /** Where paused/resumed is kept across restarts; null keeps it in memory only. */
  stateFile: string | null
  /** The jobs of a batch, in run order (empty for an unknown batch). */
  batchJobs: (batchId: string) => JobRecord[]
  /** Sends the waiting jobs soon (after a resume). */
  schedulePump: () => void
}

export class QueueControl {
  private queueState: QueueState
  /** The state file as last read or written (size and mtime), to notice changes by others. */
  private stateStamp = ''

  constructor(private readonly o: QueueControlOptions) {
    this.queueState = o.stateFile ? readQueueState(o.stateFile) : { paused: false, changedAt: null }
    this.stateStamp = this.stampOf()
  }

  /** Whether sending is paused, and since when. */
  queue(): QueueState {
    return { ...this.queueState }
  }

  isPaused(): boolean {
    return this.queueState.paused
  }

  /** Pauses or resumes sending, and keeps that in the state file. */
  setPaused(paused: boolean): QueueState {
    if (paused === this.queueState.paused) return this.queue()
    this.queueState = { paused, changedAt: this.o.clock.now() }
    if (this.o.stateFile) {
      try {
        writeQueueState(this.o.stateFile, this.queueState)
        this.stateStamp = this.stampOf()
      } catch (err) {
        this.o.log('warn', `[Jobs] Could not save the paused state: ${(err as Error).message}`)
      }
    }
    this.applyQueueState()
    return this.queue()
  }

  private applyQueueState(): void {
    this.o.log('info', this.queueState.paused ? '[Jobs] Sending paused' : '[Jobs] Sending resumed')
    this.o.store.events.emit('queue', this.queue())
    if (!this.queueState.paused) this.o.schedulePump()
  }

  private stampOf(): string {
    if (!this.o.stateFile) return ''
    try {
      const st = fs.statSync(this.o.stateFile)
      return `${st.size}:${st.mtimeMs}`
    } catch {
      return ''
    }
  }

  /** Takes up a pause or resume another program wrote to the state file (the CLI). */
  reloadQueueState(): void {
    if (!this.o.stateFile) return
    const stamp = this.stampOf()
    if (stamp === this.stateStamp) return
    this.stateStamp = stamp
    const next = readQueueState(this.o.stateFile)
    if (next.paused === this.queueState.paused) return
    this.queueState = next
    this.applyQueueState()
  }

  /** Waiting jobs (not yet on a server), in the order they will be sent. */
  waiting(): JobRecord[] {
    return queueOrder(
      this.o.store
        .unfinished()
        .map((e) => e.job)
        .filter((j) => j.state === 'pending')
    )
  }

  private targetJobs(target: QueueTarget): JobRecord[] {
    if ('batchId' in target) {
      const jobs = this.o.batchJobs(target.batchId)
      if (!jobs.length) throw new Error(`Unknown batch ${target.batchId}`)
      return jobs
    }
    const j = this.o.store.get(target.jobId)
    if (!j) throw new Error(`Unknown job ${target.jobId}`)
    return [j]
  }

  /**
   * Moves waiting jobs (one, or a batch's as a block keeping their order) to the top or the
   * bottom of the queue, or one place up or down past the nearest other waiting job. A job
   * moved past a job of another priority takes that priority, so it lands where it was put.
   * Returns the queue in its new order. Jobs already on a server are not moved.
   */
  move(target: QueueTarget, where: QueueMove): JobRecord[] {
    const chosen = new Set(
      this.targetJobs(target)
        .filter((j) => j.state === 'pending')
        .map((j) => j.id)
    )
    const list = this.waiting()
    const block = list.filter((j) => chosen.has(j.id))
    if (!block.length) return list
    const rest = list.filter((j) => !chosen.has(j.id))
    const first = list.indexOf(block[0]!)
    const last = list.indexOf(block.at(-1)!)
    // Where the block goes in `rest`: before rest[at].
    let at: number
    if (where === 'top') at = 0
    else if (where === 'bottom') at = rest.length
    else if (where === 'up') {
      const before = list.slice(0, first).filter((j) => !chosen.has(j.id))
      at = Math.max(0, before.length - 1)
    } else {
      const before = list.slice(0, last + 1).filter((j) => !chosen.has(j.id))
      at = Math.min(rest.length, before.length + 1)
    }
    const prev = rest[at - 1]
    const next = rest[at]
    // One priority for the block: its first job's, unless that cannot sit between its new
    // neighbours (sent after `prev`, before `next`); then the nearest one that can.
    let rank = priorityRank(block[0]!)
    if (prev) rank = Math.max(rank, priorityRank(prev))
    if (next) rank = Math.min(rank, priorityRank(next))
    const priority = PRIORITIES[rank]!
    const lo = prev && priorityRank(prev) === rank ? orderKey(prev) : null
    const hi = next && priorityRank(next) === rank ? orderKey(next) : null
    const k = block.length
    const from = lo ?? (hi === null ? 0 : hi - (k + 1))
    const to = hi ?? from + (k + 1)
    const keys = block.map((_, i) => from + ((to - from) * (i + 1)) / (k + 1))
    if (keys.every((key, i) => key > (i ? keys[i - 1]! : from) && key < to)) {
      block.forEach((j, i) => this.setPlace(j, priority, keys[i]!))
    } else {
      // No room left between the two: number the whole queue again.
      this.renumber([...rest.slice(0, at), ...block, ...rest.slice(at)], block, priority)
    }
    return this.waiting()
  }

  /** New order keys for the whole queue, in the given order, within the range it had. */
  private renumber(list: JobRecord[], block: JobRecord[], priority: JobPriority): void {
    const moved = new Set(block.map((j) => j.id))
    const keys = list.map(orderKey)
    const min = Math.min(...keys)
    const max = Math.max(...keys)
    let step = list.length > 1 ? (max - min) / (list.length - 1) : 1
    if (!(min + step > min)) step = RENUMBER_STEP
    list.forEach((j, i) =>
      this.setPlace(j, moved.has(j.id) ? priority : j.priority, min + i * step)
    )
  }

  private setPlace(j: JobRecord, priority: JobPriority | undefined, order: number): void {
    const cur = this.o.store.get(j.id)
    if (!cur || cur.state !== 'pending') return
    const p = priority === 'normal' && !cur.priority ? undefined : priority
    if (cur.order === order && cur.priority === p) return
    this.o.store.update(j.id, { order, ...(p !== undefined ? { priority: p } : {}) })
  }

  /** Sets the priority of waiting jobs (one, or a batch's); returns those it changed. */
  setPriority(target: QueueTarget, priority: JobPriority): JobRecord[] {
    if (!['high', 'normal', 'low'].includes(priority)) {
      throw new Error(`A priority is high, normal or low, not "${String(priority)}"`)
    }
    const changed: JobRecord[] = []
    for (const j of this.targetJobs(target)) {
      if (isFinished(j.state) || (j.priority ?? 'normal') === priority) continue
      changed.push(this.o.store.update(j.id, { priority }))
    }
    return changed
  }
}
