/**
 * The job journal's file format and the file work under it: the line codec (JSON, a tab, the
 * CRC-32 of the JSON; a bad checksum, bad JSON or an unknown kind of line is damage), the
 * reading of a file of any size in bounded chunks line by line, the search for the job id of a
 * damaged line, and the steps that change the file on disk (copying a damaged file aside,
 * cutting back a half-written last line, writing a compacted file, making a rename durable).
 * The Journal in `journal.ts` decides when each happens.
 */
import fs from 'node:fs'
import zlib from 'node:zlib'
import {
  attemptSaid,
  isKnownAttempt,
  isKnownJobError,
  isKnownNote,
  jobErrorSaid,
  noteSaid,
  type JobNoteSaid
} from '../../../shared/job-said'
import { FINISHED_JOB_STATES, type JobError, type JobRecord } from '../../../shared/types'
import type { ApiPrompt } from './workflow'

export interface JournalEntry {
  job: JobRecord
  /** The API-format prompt, kept so the job can be re-sent (after a failure, or on request). */
  prompt: ApiPrompt | null
  /** ComfyUI's `extra_data` sent with the prompt (the UI graph as `extra_pnginfo.workflow`). */
  extra?: Record<string, unknown> | null
}

export type Line =
  /** A job's workflow, with its record as it was when written (also the older one-line form). */
  | { t: 'put'; job: JobRecord; prompt?: ApiPrompt | null; extra?: Record<string, unknown> | null }
  /** A job's full record; its workflow stays as it was. */
  | { t: 'job'; job: JobRecord }
  /** Older versions: a partial change. */
  | { t: 'patch'; id: string; patch: Partial<JobRecord>; dropPrompt?: boolean }
  | { t: 'del'; id: string }

/** How much of a damaged line is searched for the job id. */
export const ID_HEAD_BYTES = 4096

/**
 * `lost` is a state older versions wrote (the server forgot the job and it could not be sent
 * again); it is read as `failed` (see `upgradeRecord`).
 */
const JOB_STATES = new Set<string>([...FINISHED_JOB_STATES, 'pending', 'queued', 'running', 'lost'])

/** The note a job an older version left `lost` gets when it is read as failed. */
export const LOST_NOTE: JobNoteSaid = {
  code: 'text',
  text: 'An older version marked this job lost (its server forgot it and it could not be sent again); it counts as failed'
}

function isRecord(j: unknown): j is JobRecord {
  if (!j || typeof j !== 'object') return false
  const r = j as Partial<JobRecord>
  return typeof r.id === 'string' && !!r.id && JOB_STATES.has(r.state as string)
}

/**
 * A record (or a change) as this version keeps it: notes, attempt results and the error of
 * older lines were sentences and are read as text saids (`{ code: 'text', text }`); the state
 * `lost` is read as `failed`, with a note that says so (a change without notes cannot add one
 * without losing the job's others, so it gets the state only). Returns the same object when
 * nothing was old.
 */
export function upgradeRecord<T extends Partial<JobRecord>>(r: T): T {
  let out = r
  const set = <K extends keyof JobRecord>(k: K, v: JobRecord[K]) => {
    if (out === r) out = { ...r }
    out[k] = v as T[K]
  }
  if (Array.isArray(r.notes) && r.notes.some((n) => !isKnownNote(n))) {
    set('notes', r.notes.map(noteSaid))
  }
  if ((r.state as string | undefined) === 'lost') {
    set('state', 'failed')
    if (Array.isArray(out.notes)) set('notes', [...out.notes, { ...LOST_NOTE }])
  }
  if (Array.isArray(r.attempts) && r.attempts.some((a) => !isKnownAttempt(a?.result))) {
    set(
      'attempts',
      r.attempts.map((a) =>
        isKnownAttempt(a?.result) ? a : { ...a, result: attemptSaid(a?.result) }
      )
    )
  }
  const e = r.error as (Partial<JobError> & { said?: unknown }) | null | undefined
  if (e && typeof e === 'object' && !isKnownJobError(e.said)) {
    const said = jobErrorSaid(e.said, e.message)
    set('error', { ...e, said, message: typeof e.message === 'string' ? e.message : '' })
  }
  return out
}

/** One line as written: the JSON, a tab, the CRC-32 of the JSON's UTF-8 bytes, a newline. */
export function encode(line: Line): string {
  const json = JSON.stringify(line)
  return `${json}\t${zlib.crc32(json).toString(16).padStart(8, '0')}\n`
}

/** The line, or null when it is damaged (bad checksum, not JSON, not a known kind of line). */
export function decode(bytes: Buffer): Line | null {
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
    case 'job': {
      if (!isRecord(line.job)) return null
      const job = upgradeRecord(line.job)
      return job === line.job ? line : { ...line, job }
    }
    case 'patch': {
      if (typeof line.id !== 'string' || !line.patch || typeof line.patch !== 'object') return null
      const patch = upgradeRecord(line.patch)
      return patch === line.patch ? line : { ...line, patch }
    }
    case 'del':
      return typeof line.id === 'string' ? line : null
    default:
      return null
  }
}

/** A line with nothing on it (skipped, nothing lost). */
export function isBlank(bytes: Buffer): boolean {
  return bytes.length < 64 && !bytes.toString('latin1').trim()
}

/** The job id a damaged line most likely belonged to (its first "id"), if it can be read. */
export function idIn(head: string): string | null {
  const m = /"id":"((?:[^"\\]|\\.){1,200})"/.exec(head)
  if (!m) return null
  try {
    return JSON.parse(`"${m[1]}"`) as string
  } catch {
    return null
  }
}

/** A record for a job of an older journal whose first line was damaged; its changes fill it. */
export function blankRecord(id: string): JobRecord {
  return {
    id,
    clientId: '',
    source: '(recovered)',
    state: 'failed',
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

export interface RawLine {
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
export function* readLines(
  fd: number,
  chunkBytes: number,
  maxLineBytes: number
): Generator<RawLine> {
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

/** Copies the journal next to itself, under a name no earlier copy has. */
export function copyAside(file: string, now: () => number): string {
  const stamp = new Date(now()).toISOString().replace(/:/g, '-')
  for (let n = 1; ; n++) {
    const dest = `${file}.damaged-${stamp}${n > 1 ? `-${n}` : ''}`
    try {
      fs.copyFileSync(file, dest, fs.constants.COPYFILE_EXCL)
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
export function cutBack(file: string, size: number): void {
  const fd = fs.openSync(file, 'r+')
  try {
    fs.ftruncateSync(fd, size)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * Writes the lines of `entries` to `tmp` line by line (a workflow line alone, record lines in
 * writes of about `chunkBytes`), flushes it and returns how many lines it holds.
 */
export function writeCompacted(
  tmp: string,
  entries: Iterable<JournalEntry>,
  chunkBytes: number
): number {
  const fd = fs.openSync(tmp, 'w')
  let lines = 0
  try {
    let pending = ''
    const flush = (): void => {
      if (pending) fs.writeSync(fd, pending)
      pending = ''
    }
    for (const e of entries) {
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
      if (pending.length >= chunkBytes) flush()
    }
    flush()
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  return lines
}

/** Makes a rename durable (POSIX); directories cannot be opened for this on Windows. */
export function syncDir(dir: string): void {
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
