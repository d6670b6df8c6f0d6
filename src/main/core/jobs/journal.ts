/**
 * The job journal: the promise that no job is lost. A job is on disk (written and flushed with
 * fsync) before it is sent, and every change of it is written soon after it is made; on open,
 * the lines are replayed and a restart resumes from them.
 *
 * Group commits: a change takes effect in memory at once and its line waits, with the other
 * changes of the same moment, for one write and one fsync at the end of the current turn of the
 * event loop (or after `commitDelayMs`). `flushed()` resolves when every change made before it
 * is on disk: whoever sends a job to a server awaits it first. `close()` writes what waits.
 *
 * The file is JSON lines, each followed by a tab and the CRC-32 of the JSON, so a changed byte
 * is noticed even when the text still parses. A job is written as two lines: its workflow (with
 * the record as it was then) and its record alone; every change writes the full record again
 * (without the workflow). So damage to one line costs at most that line: a damaged record is
 * rebuilt from the workflow line or the next change, a damaged change is replaced by the next
 * one, and only a damaged workflow line costs the workflow (the job is kept without it).
 *
 * Guarantees:
 * - A half-written last line (a crash during a write) is dropped and reported; the file is cut
 *   back to its last whole line, nothing else is touched.
 * - Before a file with unreadable lines is rewritten, the original is copied next to it
 *   (`jobs.jsonl.damaged-<time>`, never over an earlier copy); every readable line is kept, and
 *   the load report names the damaged lines, the jobs they touched and where the copy is.
 * - Any size opens: the file is read in bounded chunks and line by line, never as one string; a
 *   single line over `maxLineBytes` counts as damaged. A workflow that would not fit a line is
 *   refused when it is submitted.
 * - Compaction writes a temp file line by line, flushes it and renames it over the journal, so
 *   the journal is always either the old or the new file. It runs when the file has grown, when
 *   finished jobs beyond the history limit were pruned, and after damage; disk and memory stay
 *   flat.
 * - Lines of older versions (one line per job with its workflow, partial changes) still read.
 *
 * The line codec, the chunked reading and the file steps are in `journal-file.ts`; this file
 * holds the Journal itself: replay, repair decisions, writes, pruning and when to compact.
 */
import fs from 'node:fs'
import path from 'node:path'
import { FINISHED_JOB_STATES, type JobRecord } from '../../../shared/types'
import {
  ID_HEAD_BYTES,
  blankRecord,
  copyAside,
  cutBack,
  decode,
  encode,
  idIn,
  isBlank,
  readLines,
  syncDir,
  writeCompacted,
  type JournalEntry,
  type Line
} from './journal-file'
import { describeReport, type JournalLoadReport } from './journal-report'
import type { ApiPrompt } from './workflow'

export type { JournalEntry } from './journal-file'
export type { JournalLoadReport } from './journal-report'

export interface JournalOptions {
  file: string
  /** Finished jobs kept; older ones are pruned. @default 500 */
  historyLimit?: number
  /** Compact when the file has this many more lines than live jobs need. @default 2000 */
  compactAfterLines?: number
  /** Flush each write to disk. Off only in benchmarks that measure something else. @default true */
  fsync?: boolean
  /**
   * Share one write and one fsync among the changes of a few moments. Off: every change is
   * written and flushed at once, before `put`/`patch` return (the older behaviour). @default true
   */
  groupCommit?: boolean
  /** How long the first waiting change waits for others; 0: to the end of the turn. @default 0 */
  commitDelayMs?: number
  /** Bytes read at a time when opening, and written at a time when compacting. @default 1 MiB */
  chunkBytes?: number
  /** A longer line is damaged (not loaded); a longer workflow is refused. @default 256 MiB */
  maxLineBytes?: number
  /** Clock for the names of copies of a damaged file. @default Date.now */
  now?: () => number
}

const DEFAULT_CHUNK = 1024 * 1024
const DEFAULT_MAX_LINE = 256 * 1024 * 1024
function isFinished(j: JobRecord): boolean {
  return FINISHED_JOB_STATES.includes(j.state)
}

export class Journal {
  readonly file: string
  private historyLimit: number
  private readonly compactAfter: number
  private readonly sync: boolean
  private readonly chunkBytes: number
  private readonly maxLineBytes: number
  private readonly now: () => number
  private readonly entries = new Map<string, JournalEntry>()
  private fd: number | null = null
  private lines = 0
  private readonly group: boolean
  private readonly commitDelayMs: number
  /** Lines made in memory and not yet on disk, in order. */
  private waiting: Buffer[] = []
  private waitingBytes = 0
  /** Those awaiting `flushed()` for the lines in `waiting`. */
  private waiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = []
  private timer: NodeJS.Immediate | NodeJS.Timeout | null = null
  private commitCount = 0
  /** Written, but the fsync after it failed: the next flush tries it again. */
  private unsynced = false
  private changeCount = 0

  constructor(opts: JournalOptions) {
    this.file = opts.file
    this.historyLimit = opts.historyLimit ?? 500
    this.compactAfter = opts.compactAfterLines ?? 2000
    this.sync = opts.fsync ?? true
    this.chunkBytes = Math.max(1, Math.floor(opts.chunkBytes ?? DEFAULT_CHUNK))
    this.maxLineBytes = Math.max(1, Math.floor(opts.maxLineBytes ?? DEFAULT_MAX_LINE))
    this.now = opts.now ?? Date.now
    this.group = opts.groupCommit ?? true
    this.commitDelayMs = Math.max(0, opts.commitDelayMs ?? 0)
  }

  /** Writes (one write, one fsync) so far, and changes (lines) asked for: to count the saving. */
  get stats(): { commits: number; changes: number } {
    return { commits: this.commitCount, changes: this.changeCount }
  }

  /** Reads the file (if any), repairs what it must, and opens it for appending. */
  open(): JournalLoadReport {
    fs.mkdirSync(path.dirname(this.file), { recursive: true })
    if (this.fd !== null) this.close()
    this.entries.clear()
    this.lines = 0
    this.dropWaiting()
    let damagedLines = 0
    let tornTail = false
    let goodEnd = 0 // byte offset after the last line that is not a torn tail
    let unterminated = false
    const touched: string[] = []
    const rebuilt = new Set<string>()
    let fd: number | null = null
    try {
      fd = fs.openSync(this.file, 'r')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    if (fd !== null) {
      try {
        for (const raw of readLines(fd, this.chunkBytes, this.maxLineBytes)) {
          const line =
            raw.bytes === null ? null : isBlank(raw.bytes) ? undefined : decode(raw.bytes)
          if (line === undefined) {
            // An empty line: nothing lost.
            if (raw.terminated) goodEnd = raw.end
            continue
          }
          if (line === null) {
            if (!raw.terminated) {
              tornTail = true
              break
            }
            damagedLines++
            const id = idIn(raw.bytes?.toString('utf8', 0, ID_HEAD_BYTES) ?? raw.head)
            if (id !== null && !touched.includes(id)) touched.push(id)
            goodEnd = raw.end
            continue
          }
          const id = line.t === 'put' || line.t === 'job' ? line.job.id : line.id
          if (line.t === 'patch' && !this.entries.has(id)) {
            // A change of a job whose first line is gone: rebuild what the changes tell.
            this.entries.set(id, { job: blankRecord(id), prompt: null })
            rebuilt.add(id)
          }
          if (line.t === 'del') rebuilt.delete(id)
          this.apply(line)
          this.lines++
          goodEnd = raw.end
          unterminated = !raw.terminated
        }
      } finally {
        fs.closeSync(fd)
      }
    }
    for (const id of rebuilt) if (!touched.includes(id)) touched.push(id)
    const lostJobs = touched.filter((id) => !this.entries.has(id))
    let damagedCopy: string | null = null
    // Damage that is not a torn tail and rebuilt jobs mean lines the next compaction would not
    // carry over: keep the evidence first.
    if (damagedLines > 0 || rebuilt.size > 0) damagedCopy = copyAside(this.file, this.now)
    else if (tornTail) cutBack(this.file, goodEnd)
    this.fd = fs.openSync(this.file, 'a')
    if (unterminated && !tornTail) this.appendRaw('\n')
    const before = this.entries.size
    this.prune()
    if (damagedCopy !== null || this.entries.size < before || this.needsCompaction()) this.compact()
    const report: JournalLoadReport = {
      jobs: this.entries.size,
      badLines: damagedLines + (tornTail ? 1 : 0),
      damagedLines,
      tornTail,
      damagedJobs: touched,
      lostJobs,
      damagedCopy,
      message: null
    }
    report.message = describeReport(report)
    return report
  }

  private apply(line: Line): void {
    if (line.t === 'put' || line.t === 'job') {
      const prev = this.entries.get(line.job.id)
      const prompt = line.t === 'put' ? line.prompt : undefined
      const extra = line.t === 'put' && line.prompt ? (line.extra ?? null) : (prev?.extra ?? null)
      this.entries.set(line.job.id, {
        job: line.job,
        prompt: prompt ?? prev?.prompt ?? null,
        ...(extra ? { extra } : {})
      })
    } else if (line.t === 'patch') {
      const e = this.entries.get(line.id)
      if (!e) return
      e.job = { ...e.job, ...line.patch }
      if (line.dropPrompt) {
        e.prompt = null
        delete e.extra
      }
    } else {
      this.entries.delete(line.id)
    }
  }

  private appendRaw(text: string | Buffer): void {
    if (this.fd === null) throw new Error('The job journal is not open')
    const buf = typeof text === 'string' ? Buffer.from(text) : text
    let off = 0
    try {
      while (off < buf.length) off += fs.writeSync(this.fd, buf, off, buf.length - off)
      if (this.sync) fs.fsyncSync(this.fd)
    } catch (err) {
      // What did not reach the file waits for the next try (a partial line then reads as one
      // damaged line, never as a wrong one).
      if (this.group && off < buf.length) this.requeue(buf.subarray(off))
      else if (this.group) this.unsynced = true
      throw err
    }
    this.unsynced = false
    this.commitCount++
  }

  /** Appends encoded lines: now (one write, one flush), or with the next group. */
  private write(encoded: string[]): void {
    if (this.fd === null) throw new Error('The job journal is not open')
    const text = encoded.length === 1 ? encoded[0]! : encoded.join('')
    this.lines += encoded.length
    this.changeCount += encoded.length
    if (!this.group) {
      this.appendRaw(text)
      return
    }
    const buf = Buffer.from(text)
    this.waiting.push(buf)
    this.waitingBytes += buf.length
    this.schedule()
  }

  private requeue(rest: Buffer): void {
    this.waiting.unshift(Buffer.from(rest))
    this.waitingBytes += rest.length
  }

  private schedule(): void {
    if (this.timer !== null) return
    const run = (): void => {
      this.timer = null
      try {
        this.flushSync()
      } catch {
        // The waiters were told; the lines wait for the next write, flushed() or close().
      }
    }
    this.timer = this.commitDelayMs > 0 ? setTimeout(run, this.commitDelayMs) : setImmediate(run)
  }

  private cancelTimer(): void {
    if (this.timer === null) return
    clearTimeout(this.timer as NodeJS.Timeout)
    clearImmediate(this.timer as NodeJS.Immediate)
    this.timer = null
  }

  /** Forgets waiting lines that something newer made needless (a compaction, a reopen). */
  private dropWaiting(): void {
    this.unsynced = false
    this.waiting = []
    this.waitingBytes = 0
    const waiters = this.waiters
    this.waiters = []
    this.cancelTimer()
    for (const w of waiters) w.resolve()
  }

  /**
   * Writes every waiting change now (one write, one fsync) and tells those awaiting
   * `flushed()`. Throws when the disk refuses (they are told too).
   */
  flushSync(): void {
    this.cancelTimer()
    if (!this.waiting.length && !this.unsynced) return
    const buf =
      this.waiting.length === 1 ? this.waiting[0]! : Buffer.concat(this.waiting, this.waitingBytes)
    const waiters = this.waiters
    this.waiting = []
    this.waitingBytes = 0
    this.waiters = []
    try {
      this.appendRaw(buf)
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err))
      for (const w of waiters) w.reject(e)
      throw e
    }
    for (const w of waiters) w.resolve()
  }

  /**
   * Resolves when every change made so far is on disk (flushed with fsync unless `fsync` is
   * off); rejects when the disk refused it. Await it before a job is sent anywhere.
   */
  flushed(): Promise<void> {
    if (!this.waiting.length && !this.unsynced) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ resolve, reject })
      this.schedule()
    })
  }

  /** Changes made in memory and not on disk yet. */
  get unflushed(): number {
    return this.waiting.length
  }

  /**
   * Records a new job (or replaces one): in memory at once, on disk with the next group (see
   * `flushed()`); without group commits, on disk before it returns.
   */
  put(job: JobRecord, prompt: ApiPrompt | null, extra?: Record<string, unknown> | null): void {
    if (this.fd === null) throw new Error('The job journal is not open')
    const lines: Line[] = []
    const encoded: string[] = []
    if (prompt) {
      const withPrompt: Line = extra ? { t: 'put', job, prompt, extra } : { t: 'put', job, prompt }
      const text = encode(withPrompt)
      const bytes = Buffer.byteLength(text)
      if (bytes > this.maxLineBytes) {
        throw new Error(
          `This workflow is too large to keep (${Math.ceil(bytes / 1048576)} MB, at most ${Math.floor(this.maxLineBytes / 1048576)} MB)`
        )
      }
      lines.push(withPrompt)
      encoded.push(text)
    }
    lines.push({ t: 'job', job })
    encoded.push(encode(lines[lines.length - 1]!))
    this.write(encoded)
    for (const line of lines) this.apply(line)
    this.maintain()
  }

  /** Records a change of a job (as `put` does); returns the updated job. */
  patch(id: string, patch: Partial<JobRecord>): JobRecord {
    const e = this.entries.get(id)
    if (!e) throw new Error(`Unknown job ${id}`)
    const next = { ...e.job, ...patch }
    // The full record, so a damaged earlier line costs nothing once this one is read. The
    // prompt stays with finished jobs too, so they can be sent again; the history limit bounds
    // how many are kept.
    const line: Line = { t: 'job', job: next }
    this.write([encode(line)])
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

  /** Lines a compacted file has: a workflow line and a record line per job. */
  private needsCompaction(): boolean {
    return this.lines > 2 * this.entries.size + this.compactAfter
  }

  private maintain(): void {
    this.prune()
    if (this.needsCompaction()) this.compact()
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

  /**
   * Rewrites the file with the lines of the live jobs: written line by line to a temp file,
   * flushed, then renamed over the journal.
   */
  compact(): void {
    const tmp = `${this.file}.tmp`
    // Memory holds every change, the waiting ones too: the new file carries them all.
    const lines = writeCompacted(tmp, this.entries.values(), this.chunkBytes)
    if (this.fd !== null) fs.closeSync(this.fd)
    this.fd = null
    fs.renameSync(tmp, this.file)
    syncDir(path.dirname(this.file))
    this.fd = fs.openSync(this.file, 'a')
    this.lines = lines
    this.commitCount++
    this.dropWaiting()
  }

  /** Changes how many finished jobs are kept; prunes at once when it shrinks. */
  setHistoryLimit(n: number): void {
    this.historyLimit = n
    if (this.fd !== null) this.maintain()
  }

  get isOpen(): boolean {
    return this.fd !== null
  }

  /** Writes what waits, flushes and closes. Safe to call twice. */
  close(): void {
    if (this.fd === null) return
    try {
      this.flushSync()
      if (this.sync) fs.fsyncSync(this.fd)
    } finally {
      fs.closeSync(this.fd)
      this.fd = null
      // Lines the disk refused are lost with the file handle: say so to whoever still waits.
      const waiters = this.waiters
      this.waiters = []
      this.waiting = []
      this.waitingBytes = 0
      this.unsynced = false
      this.cancelTimer()
      const err = new Error('The job journal was closed before these changes were written')
      for (const w of waiters) w.reject(err)
    }
  }
}
