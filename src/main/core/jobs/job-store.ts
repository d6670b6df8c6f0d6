/**
 * The job records: the only place that writes them (to the journal, or in memory for live
 * progress), tells listeners about each change and wakes those waiting for a job to finish.
 */
import fs from 'node:fs'
import path from 'node:path'
import {
  FINISHED_JOB_STATES,
  type JobRecord,
  type JobState,
  type QueueState
} from '../../../shared/types'
import type { AttemptSaid, JobErrorSaid, JobNoteSaid } from '../../../shared/job-said'
import type { Clock } from '../clock'
import { jobError } from '../log'
import { Emitter } from '../events'
import type { Journal, JournalEntry } from './journal'
import type { ApiPrompt } from './workflow'

export interface JobEvents {
  job: JobRecord
  /** Sending was paused or resumed. */
  queue: QueueState
}

/** Notes kept per job (the oldest go first). */
export const MAX_NOTES = 50
/** Attempts kept per job (the oldest go first). */
export const MAX_ATTEMPTS = 50

/** The notes with one more (the oldest go past `MAX_NOTES`). */
export function withNote(notes: readonly JobNoteSaid[], note: JobNoteSaid): JobNoteSaid[] {
  return [...notes, note].slice(-MAX_NOTES)
}

export function isFinished(state: JobState): boolean {
  return FINISHED_JOB_STATES.includes(state)
}

/** Called after every journaled change, with the record before and after it. */
export type ChangeHook = (before: JobRecord, after: JobRecord) => void

export class JobStore {
  readonly events: Emitter<JobEvents>
  /** Jobs being dispatched or finalised right now (never twice at once). */
  readonly busy = new Set<string>()
  private readonly journal: Journal
  private readonly clock: Clock
  private readonly hooks: ChangeHook[] = []
  private readonly waiters = new Map<string, Array<(j: JobRecord) => void>>()

  constructor(journal: Journal, clock: Clock, events = new Emitter<JobEvents>()) {
    this.journal = journal
    this.clock = clock
    this.events = events
  }

  /** Subscribes to every journaled change; returns the unsubscribe function. */
  onChange(fn: ChangeHook): () => void {
    this.hooks.push(fn)
    return () => {
      const i = this.hooks.indexOf(fn)
      if (i >= 0) this.hooks.splice(i, 1)
    }
  }

  get(id: string): JobRecord | undefined {
    return this.journal.get(id)?.job
  }

  /** The job with its workflow. */
  entry(id: string): JournalEntry | undefined {
    return this.journal.get(id)
  }

  jobs(): JobRecord[] {
    return this.journal.jobs()
  }

  unfinished(): JournalEntry[] {
    return this.journal.unfinished()
  }

  /** Resolves once every change recorded so far is on disk (the journal may write in groups). */
  flushed(): Promise<void> {
    return this.journal.flushed()
  }

  /** Records a new job with its workflow. */
  put(job: JobRecord, prompt: ApiPrompt, extra?: Record<string, unknown> | null): void {
    this.journal.put(job, prompt, extra)
    this.events.emit('job', job)
  }

  /** Resolves when the job is finished (done, failed, interrupted or cancelled). */
  waitFor(id: string): Promise<JobRecord> {
    const j = this.get(id)
    if (!j) return Promise.reject(new Error(`Unknown job ${id}`))
    if (isFinished(j.state)) return Promise.resolve(j)
    return new Promise((resolve) => {
      const list = this.waiters.get(id) ?? []
      list.push(resolve)
      this.waiters.set(id, list)
    })
  }

  update(id: string, patch: Partial<JobRecord>, note?: JobNoteSaid): JobRecord {
    const cur = this.get(id)
    if (!cur) throw new Error(`Unknown job ${id}`)
    // After shutdown, work still in flight changes nothing: the journal keeps the last state
    // and the next start reconciles it with the server.
    if (!this.journal.isOpen) return cur
    const full: Partial<JobRecord> = { ...patch, updatedAt: this.clock.now() }
    if (note) full.notes = withNote(patch.notes ?? cur.notes, note)
    const next = this.journal.patch(id, full)
    this.events.emit('job', next)
    for (const fn of [...this.hooks]) fn(cur, next)
    if (isFinished(next.state)) {
      const list = this.waiters.get(id)
      this.waiters.delete(id)
      list?.forEach((fn) => fn(next))
    }
    return next
  }

  /**
   * Progress within a running job: shown live but not written to the journal (it changes many
   * times a second and is worthless after a restart); the next journaled change carries it.
   */
  progress(j: JobRecord, patch: Partial<NonNullable<JobRecord['progress']>>): void {
    if (j.state !== 'running') {
      this.update(j.id, { state: 'running', startedAt: j.startedAt ?? this.clock.now() })
      j = this.get(j.id)!
    }
    const base = j.progress ?? { node: null, value: 0, max: 0, nodesDone: 0, nodesTotal: 0 }
    const next = this.journal.patchInMemory(j.id, { progress: { ...base, ...patch } })
    if (next) this.events.emit('job', next)
  }

  fail(id: string, said: JobErrorSaid, details?: string[]): JobRecord {
    return this.update(id, {
      state: 'failed',
      finishedAt: this.clock.now(),
      error: jobError(said, details?.length ? { details } : {})
    })
  }

  /** Adds a note unless it is already the last one (waiting jobs are retried often). */
  noteOnce(id: string, note: JobNoteSaid): void {
    const last = this.get(id)?.notes.at(-1)
    if (!last || JSON.stringify(last) !== JSON.stringify(note)) this.update(id, {}, note)
  }

  addAttempt(id: string, serverId: string, serverUrl: string, result: AttemptSaid): JobRecord {
    const cur = this.get(id)!
    return this.update(id, {
      attempts: [...cur.attempts, { serverId, serverUrl, at: this.clock.now(), result }].slice(
        -MAX_ATTEMPTS
      )
    })
  }

  setLastAttemptResult(id: string, result: AttemptSaid): void {
    const cur = this.get(id)!
    const attempts = cur.attempts.slice()
    const last = attempts.at(-1)
    if (last) attempts[attempts.length - 1] = { ...last, result }
    this.update(id, { attempts })
  }
}

/**
 * The file that keeps whether sending is paused, next to its journal: `jobs.jsonl` ->
 * `jobs.queue.json`. The journal itself keeps each job's priority and order.
 */
export function queueStateFile(journalFile: string): string {
  const dir = path.dirname(journalFile)
  return path.join(dir, `${path.basename(journalFile).replace(/\.jsonl$/, '')}.queue.json`)
}

/** The saved queue state; not paused when the file is missing or unreadable. */
export function readQueueState(file: string): QueueState {
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<QueueState>
    return {
      paused: v?.paused === true,
      changedAt: typeof v?.changedAt === 'number' ? v.changedAt : null
    }
  } catch {
    return { paused: false, changedAt: null }
  }
}

/** Writes the queue state whole or not at all (a temporary file renamed over the old one). */
export function writeQueueState(file: string, state: QueueState): void {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  const tmp = `${file}.${process.pid}.tmp`
  const fd = fs.openSync(tmp, 'w')
  try {
    fs.writeSync(fd, JSON.stringify(state) + '\n')
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  try {
    fs.renameSync(tmp, file)
  } catch (err) {
    fs.rmSync(tmp, { force: true })
    throw err
  }
}
