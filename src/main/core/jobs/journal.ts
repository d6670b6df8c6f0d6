/**
 * The job journal: append-only JSON lines, each write flushed to disk (fsync) before the change
 * it records takes effect. On open, the lines are replayed; a torn last line (a crash during a
 * write) is skipped. The file is compacted when it grows, and finished jobs beyond the history
 * limit are pruned, so disk and memory stay flat.
 */
import fs from 'node:fs'
import path from 'node:path'
import { FINISHED_JOB_STATES, type JobRecord } from '../../../shared/types'
import type { ApiPrompt } from './workflow'

export interface JournalEntry {
  job: JobRecord
  /** The API-format prompt, kept so the job can be re-sent (after a failure, or on request). */
  prompt: ApiPrompt | null
}

type Line =
  | { t: 'put'; job: JobRecord; prompt?: ApiPrompt | null }
  | { t: 'patch'; id: string; patch: Partial<JobRecord>; dropPrompt?: boolean }
  | { t: 'del'; id: string }

export interface JournalOptions {
  file: string
  /** Finished jobs kept; older ones are pruned. @default 500 */
  historyLimit?: number
  /** Compact when the file has this many more lines than live jobs. @default 2000 */
  compactAfterLines?: number
  /** Flush each write to disk. Off only in benchmarks that measure something else. @default true */
  fsync?: boolean
}

export interface JournalLoadReport {
  jobs: number
  badLines: number
}

function isFinished(j: JobRecord): boolean {
  return FINISHED_JOB_STATES.includes(j.state)
}

export class Journal {
  readonly file: string
  private historyLimit: number
  private readonly compactAfter: number
  private readonly sync: boolean
  private readonly entries = new Map<string, JournalEntry>()
  private fd: number | null = null
  private lines = 0

  constructor(opts: JournalOptions) {
    this.file = opts.file
    this.historyLimit = opts.historyLimit ?? 500
    this.compactAfter = opts.compactAfterLines ?? 2000
    this.sync = opts.fsync ?? true
  }

  /** Reads the file (if any) and opens it for appending. */
  open(): JournalLoadReport {
    fs.mkdirSync(path.dirname(this.file), { recursive: true })
    let badLines = 0
    let text = ''
    try {
      text = fs.readFileSync(this.file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    for (const raw of text.split('\n')) {
      if (!raw.trim()) continue
      let line: Line
      try {
        line = JSON.parse(raw) as Line
      } catch {
        badLines++
        continue
      }
      if (!this.apply(line)) badLines++
    }
    this.fd = fs.openSync(this.file, 'a')
    // Start from a clean file: drops torn lines and what pruning allows.
    this.prune()
    this.compact()
    return { jobs: this.entries.size, badLines }
  }

  private apply(line: Line): boolean {
    if (!line || typeof line !== 'object') return false
    if (line.t === 'put' && line.job && typeof line.job.id === 'string') {
      this.entries.set(line.job.id, {
        job: line.job,
        prompt: line.prompt ?? this.entries.get(line.job.id)?.prompt ?? null
      })
      return true
    }
    if (line.t === 'patch' && typeof line.id === 'string') {
      const e = this.entries.get(line.id)
      if (!e) return false
      e.job = { ...e.job, ...line.patch }
      if (line.dropPrompt) e.prompt = null
      return true
    }
    if (line.t === 'del' && typeof line.id === 'string') {
      this.entries.delete(line.id)
      return true
    }
    return false
  }

  private write(line: Line): void {
    if (this.fd === null) throw new Error('The job journal is not open')
    fs.writeSync(this.fd, `${JSON.stringify(line)}\n`)
    if (this.sync) fs.fsyncSync(this.fd)
    this.lines++
  }

  /** Records a new job (or replaces one) on disk, then in memory. */
  put(job: JobRecord, prompt: ApiPrompt | null): void {
    const line: Line = { t: 'put', job, prompt }
    this.write(line)
    this.apply(line)
    this.maintain()
  }

  /** Records a change of a job on disk, then in memory; returns the updated job. */
  patch(id: string, patch: Partial<JobRecord>): JobRecord {
    const e = this.entries.get(id)
    if (!e) throw new Error(`Unknown job ${id}`)
    const next = { ...e.job, ...patch }
    // The prompt stays with finished jobs too, so they can be sent again; the history limit
    // bounds how many are kept.
    const line: Line = { t: 'patch', id, patch }
    this.write(line)
    this.apply(line)
    if (isFinished(next)) this.maintain()
    return this.entries.get(id)!.job
  }

  /**
   * Changes a job in memory only (fast-changing, disposable fields such as progress); the next
   * written change or compaction carries it to disk.
   */
  patchInMemory(id: string, patch: Partial<JobRecord>): JobRecord | null {
    const e = this.entries.get(id)
    if (!e || this.fd === null) return null
    e.job = { ...e.job, ...patch }
    return e.job
  }

  get(id: string): JournalEntry | undefined {
    return this.entries.get(id)
  }

  /** All jobs, oldest first. */
  jobs(): JobRecord[] {
    return [...this.entries.values()].map((e) => e.job)
  }

  unfinished(): JournalEntry[] {
    return [...this.entries.values()].filter((e) => !isFinished(e.job))
  }

  private maintain(): void {
    this.prune()
    if (this.lines > this.entries.size + this.compactAfter) this.compact()
  }

  /** Drops the oldest finished jobs beyond the history limit. */
  private prune(): void {
    const finished = [...this.entries.values()].filter((e) => isFinished(e.job))
    const excess = finished.length - this.historyLimit
    if (excess <= 0) return
    finished
      .sort((a, b) => (a.job.finishedAt ?? a.job.updatedAt) - (b.job.finishedAt ?? b.job.updatedAt))
      .slice(0, excess)
      .forEach((e) => this.entries.delete(e.job.id))
  }

  /** Rewrites the file with one line per live job (write to a temp file, fsync, rename). */
  compact(): void {
    const tmp = `${this.file}.tmp`
    const body = [...this.entries.values()]
      .map((e) => JSON.stringify({ t: 'put', job: e.job, prompt: e.prompt } satisfies Line))
      .join('\n')
    const fd = fs.openSync(tmp, 'w')
    try {
      fs.writeSync(fd, body ? `${body}\n` : '')
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
    if (this.fd !== null) fs.closeSync(this.fd)
    fs.renameSync(tmp, this.file)
    this.fd = fs.openSync(this.file, 'a')
    this.lines = this.entries.size
  }

  /** Changes how many finished jobs are kept; prunes at once when it shrinks. */
  setHistoryLimit(n: number): void {
    this.historyLimit = n
    if (this.fd !== null) this.maintain()
  }

  get isOpen(): boolean {
    return this.fd !== null
  }

  /** Flushes and closes. Safe to call twice. */
  close(): void {
    if (this.fd === null) return
    if (this.sync) fs.fsyncSync(this.fd)
    fs.closeSync(this.fd)
    this.fd = null
  }
}
