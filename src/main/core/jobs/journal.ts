/**
 * The job journal: the promise that no job is lost. A job is written (and flushed to disk with
 * fsync) before it is sent, and every change of it is written before it takes effect; on open,
 * the lines are replayed and a restart resumes from them.
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
 */
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { FINISHED_JOB_STATES, type JobRecord } from '../../../shared/types'
import type { ApiPrompt } from './workflow'

export interface JournalEntry {
  job: JobRecord
  /** The API-format prompt, kept so the job can be re-sent (after a failure, or on request). */
  prompt: ApiPrompt | null
  /** ComfyUI's `extra_data` sent with the prompt (the UI graph as `extra_pnginfo.workflow`). */
  extra?: Record<string, unknown> | null
}

type Line =
  /** A job's workflow, with its record as it was when written (also the older one-line form). */
  | { t: 'put'; job: JobRecord; prompt?: ApiPrompt | null; extra?: Record<string, unknown> | null }
  /** A job's full record; its workflow stays as it was. */
  | { t: 'job'; job: JobRecord }
  /** Older versions: a partial change. */
  | { t: 'patch'; id: string; patch: Partial<JobRecord>; dropPrompt?: boolean }
  | { t: 'del'; id: string }

export interface JournalOptions {
  file: string
  /** Finished jobs kept; older ones are pruned. @default 500 */
  historyLimit?: number
  /** Compact when the file has this many more lines than live jobs need. @default 2000 */
  compactAfterLines?: number
  /** Flush each write to disk. Off only in benchmarks that measure something else. @default true */
  fsync?: boolean
  /** Bytes read at a time when opening, and written at a time when compacting. @default 1 MiB */
  chunkBytes?: number
  /** A longer line is damaged (not loaded); a longer workflow is refused. @default 256 MiB */
  maxLineBytes?: number
  /** Clock for the names of copies of a damaged file. @default Date.now */
  now?: () => number
}

export interface JournalLoadReport {
  jobs: number
  /** Lines that could not be used: the damaged ones plus a half-written last line. */
  badLines: number
  /** Unreadable lines before the end of the file (damage, not a crash during a write). */
  damagedLines: number
  /** A half-written last line (a crash during a write) was dropped. */
  tornTail: boolean
  /** Ids of the jobs a damaged line belonged to, as far as they could be told. */
  damagedJobs: string[]
  /** Of those, the ones no readable line was left for: they are gone from the list. */
  lostJobs: string[]
  /** Where the file was copied before being rewritten, or null when it was not damaged. */
  damagedCopy: string | null
  /** One sentence for the log, or null when there was nothing to say. */
  message: string | null
}

const DEFAULT_CHUNK = 1024 * 1024
const DEFAULT_MAX_LINE = 256 * 1024 * 1024
/** How much of a damaged line is searched for the job id. */
const ID_HEAD_BYTES = 4096

function isFinished(j: JobRecord): boolean {
  return FINISHED_JOB_STATES.includes(j.state)
}

const JOB_STATES = new Set<string>([...FINISHED_JOB_STATES, 'pending', 'queued', 'running'])

function isRecord(j: unknown): j is JobRecord {
  if (!j || typeof j !== 'object') return false
  const r = j as Partial<JobRecord>
  return typeof r.id === 'string' && !!r.id && JOB_STATES.has(r.state as string)
}

/** One line as written: the JSON, a tab, the CRC-32 of the JSON's UTF-8 bytes, a newline. */
function encode(line: Line): string {
  const json = JSON.stringify(line)
  return `${json}\t${zlib.crc32(json).toString(16).padStart(8, '0')}\n`
}

/** The line, or null when it is damaged (bad checksum, not JSON, not a known kind of line). */
function decode(bytes: Buffer): Line | null {
  let end = bytes.length
  const tab = bytes.lastIndexOf(9)
  if (tab !== -1) {
    // The checksum is over the bytes as written.
    const sum = bytes.toString('latin1', tab + 1)
    if (sum !== zlib.crc32(bytes.subarray(0, tab)).toString(16).padStart(8, '0')) return null
    end = tab
  }
  let line: Line
  try {
    line = JSON.parse(bytes.toString('utf8', 0, end)) as Line
  } catch {
    return null
  }
  if (!line || typeof line !== 'object') return null
  switch (line.t) {
    case 'put':
    case 'job':
      return isRecord(line.job) ? line : null
    case 'patch':
      return typeof line.id === 'string' && line.patch && typeof line.patch === 'object'
        ? line
        : null
    case 'del':
      return typeof line.id === 'string' ? line : null
    default:
      return null
  }
}

/** A line with nothing on it (skipped, nothing lost). */
function isBlank(bytes: Buffer): boolean {
  return bytes.length < 64 && !bytes.toString('latin1').trim()
}

/** The job id a damaged line most likely belonged to (its first "id"), if it can be read. */
function idIn(head: string): string | null {
  const m = /"id":"((?:[^"\\]|\\.){1,200})"/.exec(head)
  if (!m) return null
  try {
    return JSON.parse(`"${m[1]}"`) as string
  } catch {
    return null
  }
}

/** A record for a job of an older journal whose first line was damaged; its changes fill it. */
function blankRecord(id: string): JobRecord {
  return {
    id,
    clientId: '',
    source: '(recovered)',
    state: 'lost',
    createdAt: 0,
    updatedAt: 0,
    startedAt: null,
    finishedAt: null,
    pinnedServerId: null,
    serverId: null,
    serverUrl: null,
    attempts: [],
    reroutes: 0,
    queuePosition: null,
    progress: null,
    error: null,
    outputs: [],
    notes: []
  }
}

interface RawLine {
  /** The line's bytes (without the newline), or null when it is longer than the limit. */
  bytes: Buffer | null
  /** The start of the line, to find the job id when it is damaged. */
  head: string
  /** Ended by a newline (the last line of a file cut by a crash is not). */
  terminated: boolean
  /** Byte offset just after the line (and its newline). */
  end: number
}

/**
 * The lines of a file, read `chunkBytes` at a time. Splitting on the newline byte is safe in
 * UTF-8 (it never occurs inside a multi-byte character), so each line is decoded whole. A line
 * within one chunk is a view of the read buffer, valid until the next line is asked for.
 */
function* readLines(fd: number, chunkBytes: number, maxLineBytes: number): Generator<RawLine> {
  const buf = Buffer.alloc(chunkBytes)
  let parts: Buffer[] = []
  let partBytes = 0
  let head: string | null = null // set when the line went over the limit
  let pos = 0
  const headOf = (pieces: Buffer[]): string => {
    const b = Buffer.concat(pieces, Math.min(ID_HEAD_BYTES, partBytes))
    return b.toString('utf8')
  }
  for (;;) {
    const n = fs.readSync(fd, buf, 0, buf.length, pos)
    if (n === 0) break
    pos += n
    const view = buf.subarray(0, n)
    let from = 0
    while (from < n) {
      const nl = view.indexOf(10, from)
      const to = nl === -1 ? n : nl
      if (head === null) {
        if (partBytes + (to - from) > maxLineBytes) {
          parts.push(Buffer.from(view.subarray(from, Math.min(to, from + ID_HEAD_BYTES))))
          partBytes += Math.min(to - from, ID_HEAD_BYTES)
          head = headOf(parts)
          parts = []
        } else if (nl !== -1 && parts.length === 0) {
          // The whole line is in this chunk: no copy.
          yield {
            bytes: view.subarray(from, to),
            head: '',
            terminated: true,
            end: pos - n + nl + 1
          }
          from = nl + 1
          continue
        } else {
          parts.push(Buffer.from(view.subarray(from, to)))
          partBytes += to - from
        }
      }
      if (nl === -1) break
      yield finish(true, pos - n + nl + 1)
      from = nl + 1
    }
  }
  if (partBytes > 0 || head !== null) yield finish(false, pos)

  function finish(terminated: boolean, end: number): RawLine {
    const line: RawLine =
      head !== null
        ? { bytes: null, head, terminated, end }
        : { bytes: Buffer.concat(parts, partBytes), head: '', terminated, end }
    parts = []
    partBytes = 0
    head = null
    return line
  }
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

  constructor(opts: JournalOptions) {
    this.file = opts.file
    this.historyLimit = opts.historyLimit ?? 500
    this.compactAfter = opts.compactAfterLines ?? 2000
    this.sync = opts.fsync ?? true
    this.chunkBytes = Math.max(1, Math.floor(opts.chunkBytes ?? DEFAULT_CHUNK))
    this.maxLineBytes = Math.max(1, Math.floor(opts.maxLineBytes ?? DEFAULT_MAX_LINE))
    this.now = opts.now ?? Date.now
  }

  /** Reads the file (if any), repairs what it must, and opens it for appending. */
  open(): JournalLoadReport {
    fs.mkdirSync(path.dirname(this.file), { recursive: true })
    this.entries.clear()
    this.lines = 0
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
    if (damagedLines > 0 || rebuilt.size > 0) damagedCopy = this.copyAside()
    else if (tornTail) this.cutBack(goodEnd)
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

  /** Copies the journal next to itself, under a name no earlier copy has. */
  private copyAside(): string {
    const stamp = new Date(this.now()).toISOString().replace(/:/g, '-')
    for (let n = 1; ; n++) {
      const dest = `${this.file}.damaged-${stamp}${n > 1 ? `-${n}` : ''}`
      try {
        fs.copyFileSync(this.file, dest, fs.constants.COPYFILE_EXCL)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue
        throw err
      }
      const fd = fs.openSync(dest, 'r')
      try {
        fs.fsyncSync(fd)
      } finally {
        fs.closeSync(fd)
      }
      return dest
    }
  }

  /** Drops a half-written last line. */
  private cutBack(size: number): void {
    const fd = fs.openSync(this.file, 'r+')
    try {
      fs.ftruncateSync(fd, size)
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
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

  private appendRaw(text: string): void {
    if (this.fd === null) throw new Error('The job journal is not open')
    fs.writeSync(this.fd, text)
    if (this.sync) fs.fsyncSync(this.fd)
  }

  /** Appends encoded lines in one write (one flush). */
  private write(encoded: string[]): void {
    if (this.fd === null) throw new Error('The job journal is not open')
    this.appendRaw(encoded.length === 1 ? encoded[0]! : encoded.join(''))
    this.lines += encoded.length
  }

  /** Records a new job (or replaces one) on disk, then in memory. */
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

  /** Records a change of a job on disk, then in memory; returns the updated job. */
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
    const fd = fs.openSync(tmp, 'w')
    let lines = 0
    try {
      let pending = ''
      const flush = (): void => {
        if (pending) fs.writeSync(fd, pending)
        pending = ''
      }
      for (const e of this.entries.values()) {
        if (e.prompt) {
          // Written alone: a workflow line can be large.
          flush()
          const put: Line = e.extra
            ? { t: 'put', job: e.job, prompt: e.prompt, extra: e.extra }
            : { t: 'put', job: e.job, prompt: e.prompt }
          fs.writeSync(fd, encode(put))
          lines++
        }
        pending += encode({ t: 'job', job: e.job })
        lines++
        if (pending.length >= this.chunkBytes) flush()
      }
      flush()
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
    if (this.fd !== null) fs.closeSync(this.fd)
    this.fd = null
    fs.renameSync(tmp, this.file)
    syncDir(path.dirname(this.file))
    this.fd = fs.openSync(this.file, 'a')
    this.lines = lines
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

/** Makes a rename durable (POSIX); directories cannot be opened for this on Windows. */
function syncDir(dir: string): void {
  if (process.platform === 'win32') return
  let fd: number | null = null
  try {
    fd = fs.openSync(dir, 'r')
    fs.fsyncSync(fd)
  } catch {
    // Best effort: the data itself is already on disk.
  } finally {
    if (fd !== null) fs.closeSync(fd)
  }
}

function describeReport(r: JournalLoadReport): string | null {
  const parts: string[] = []
  if (r.damagedLines > 0) {
    parts.push(`${r.damagedLines} damaged line(s) in the job journal were skipped`)
    if (r.damagedJobs.length) parts.push(`jobs affected: ${r.damagedJobs.join(', ')}`)
    if (r.lostJobs.length) parts.push(`${r.lostJobs.length} job(s) could not be recovered`)
  } else if (r.damagedJobs.length) {
    parts.push(`jobs rebuilt from their changes: ${r.damagedJobs.join(', ')}`)
  }
  if (r.damagedCopy) parts.push(`the original file was copied to ${r.damagedCopy}`)
  if (r.tornTail) parts.push('a half-written last line (from a crash) was dropped')
  return parts.length ? `${parts.join('; ')}.` : null
}
