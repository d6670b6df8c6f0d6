/**
 * The CLI's journals: one per run, in a lasting folder (`<data folder>/cli/`), so a job of a
 * run that was killed can be followed, saved or cancelled by a later run.
 *
 *   run-<start ms>-<pid>-<random>.lock          {"pid", "startedAt", "host"} while the run lives
 *   run-<start ms>-<pid>-<random>.jsonl         its job journal
 *   run-<start ms>-<pid>-<random>.part-N.jsonl  journals it took over and is merging
 *
 * A run without a lock, or whose lock names a process that is gone, is dead. Taking over a dead
 * run's journal is a rename into the taker's own name: exactly one taker wins, and a journal
 * file is never written under the name of a run that may still live.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Journal } from '../main/core/app'
import type { ApiPrompt } from '../main/core/app'
import { FINISHED_JOB_STATES, type JobRecord } from '../shared/types'

export interface RunLock {
  pid: number
  /** Epoch ms when the run started. */
  startedAt: number
  host: string
}

export interface RunFiles {
  /** Folder + base name, e.g. `/x/cli/run-1700000000000-123-ab12`. */
  base: string
  lock: RunLock | null
  /** The lock file exists (possibly unreadable). */
  locked: boolean
  journals: string[]
}

export interface JournalJob {
  job: JobRecord
  prompt: ApiPrompt | null
}

const BASE = /^(run-\d+-\d+-[a-z0-9]+)\.(lock|jsonl|part-\d+\.jsonl)$/

export function isFinishedJob(j: JobRecord): boolean {
  return FINISHED_JOB_STATES.includes(j.state)
}

/** Start time of a Linux process (epoch ms), or null when it cannot be told. */
function linuxStartMs(pid: number): number | null {
  if (process.platform !== 'linux') return null
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ticks = Number(fields[19])
    const btime = /^btime (\d+)$/m.exec(fs.readFileSync('/proc/stat', 'utf8'))
    if (!btime || !Number.isFinite(ticks)) return null
    return Number(btime[1]) * 1000 + ticks * 10 // USER_HZ is 100 on Linux
  } catch {
    return null
  }
}

/** True while the run that wrote the lock may still be going. */
export function isAlive(lock: RunLock | null): boolean {
  if (!lock) return false
  if (lock.host !== os.hostname()) return true // cannot tell: never take it over
  if (lock.pid === process.pid) return true
  try {
    process.kill(lock.pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  // The pid lives; it is another process if that one started well after the run did.
  const started = linuxStartMs(lock.pid)
  return started === null || started <= lock.startedAt + 5_000
}

function readLock(file: string): RunLock | null {
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<RunLock>
    if (typeof v.pid !== 'number' || typeof v.startedAt !== 'number') return null
    return { pid: v.pid, startedAt: v.startedAt, host: typeof v.host === 'string' ? v.host : '' }
  } catch {
    return null
  }
}

/** Every run found in the folder, oldest first. */
export function listRuns(dir: string): RunFiles[] {
  let names: string[]
  try {
    names = fs.readdirSync(dir)
  } catch {
    return []
  }
  const runs = new Map<string, RunFiles>()
  for (const name of names.sort()) {
    const m = BASE.exec(name)
    if (!m) continue
    const base = path.join(dir, m[1]!)
    const r = runs.get(base) ?? { base, lock: null, locked: false, journals: [] }
    runs.set(base, r)
    if (m[2] === 'lock') {
      r.locked = true
      r.lock = readLock(path.join(dir, name))
    } else {
      r.journals.push(path.join(dir, name))
    }
  }
  return [...runs.values()].sort((a, b) => runStart(a) - runStart(b))
}

function runStart(r: RunFiles): number {
  return Number(/run-(\d+)-/.exec(path.basename(r.base))?.[1] ?? 0)
}

/** A run is dead when it has no lock, or its lock's process is gone. */
export function isDead(r: RunFiles): boolean {
  if (!r.locked) return true
  if (r.lock) return !isAlive(r.lock)
  // An unreadable lock: a crash while writing it, or a run writing it right now.
  try {
    return Date.now() - fs.statSync(`${r.base}.lock`).mtimeMs > 10_000
  } catch {
    return true
  }
}

/**
 * The jobs of a journal file, read only: the file is copied aside and the copy is read by the
 * journal itself (which may repair or compact what it reads), so the original is never
 * touched and the format is the journal's own.
 */
export function readJournal(file: string): JournalJob[] {
  if (!fs.existsSync(file)) return []
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'comfy-balancer-read-'))
  try {
    const copy = path.join(tmp, 'jobs.jsonl')
    try {
      fs.copyFileSync(file, copy)
    } catch {
      return [] // gone meanwhile (taken over, or removed at the end of its run)
    }
    const j = new Journal({ file: copy, fsync: false, historyLimit: 1_000_000 })
    j.open()
    try {
      return j.jobs().map((job) => ({ job, prompt: j.get(job.id)?.prompt ?? null }))
    } finally {
      j.close()
    }
  } catch {
    return []
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

/** The jobs of every journal of a run. */
export function runJobs(r: RunFiles): JournalJob[] {
  const byId = new Map<string, JournalJob>()
  for (const f of r.journals) for (const e of readJournal(f)) byId.set(e.job.id, e)
  return [...byId.values()]
}

/** True when `id` names the job: the whole id, or a start of it of at least 4 characters. */
export function matchesId(jobId: string, id: string): boolean {
  const want = id.trim().toLowerCase()
  return jobId === want || (want.length >= 4 && jobId.startsWith(want))
}

/** The current run: its lock and its journal. */
export class CliRun {
  readonly base: string
  readonly journalFile: string
  private readonly lockFile: string
  private released = false

  private constructor(base: string) {
    this.base = base
    this.journalFile = `${base}.jsonl`
    this.lockFile = `${base}.lock`
  }

  /** Creates the folder and this run's lock (a new name: two runs never share a file). */
  static create(dir: string): CliRun {
    fs.mkdirSync(dir, { recursive: true })
    for (;;) {
      const now = Date.now()
      const base = path.join(dir, `run-${now}-${process.pid}-${randomBytes(3).toString('hex')}`)
      const lock: RunLock = { pid: process.pid, startedAt: now, host: os.hostname() }
      try {
        fs.writeFileSync(`${base}.lock`, JSON.stringify(lock), { flag: 'wx' })
        return new CliRun(base)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      }
    }
  }

  /**
   * Takes over the journals of dead runs and merges their jobs into this run's journal;
   * `adapt` may change a job on the way (server ids). Returns the runs taken over (a run
   * another taker got first is left out).
   */
  takeOver(runs: RunFiles[], adapt: (j: JobRecord) => JobRecord = (j) => j): RunFiles[] {
    const parts: string[] = []
    const taken: RunFiles[] = []
    let n = 0
    for (const r of runs) {
      if (r.base === this.base || !isDead(r)) continue
      let got = false
      for (const f of r.journals) {
        let part: string
        do part = `${this.base}.part-${n++}.jsonl`
        while (fs.existsSync(part))
        try {
          fs.renameSync(f, part)
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue // someone else got it
          throw err
        }
        parts.push(part)
        got = true
      }
      if (got) {
        taken.push(r)
        // The dead run's lock goes once its journals are ours; with none left, so does it.
        if (r.journals.every((f) => !fs.existsSync(f))) fs.rmSync(`${r.base}.lock`, { force: true })
      }
    }
    this.merge(parts, adapt)
    return taken
  }

  /** Takes over this run's own part files (merging is idempotent: a job put twice is one job). */
  private merge(parts: string[], adapt: (j: JobRecord) => JobRecord): void {
    if (!parts.length) return
    const mine = new Journal({ file: this.journalFile, historyLimit: 100_000 })
    mine.open()
    try {
      for (const part of parts) {
        for (const e of readJournal(part)) {
          const have = mine.get(e.job.id)
          // A job already here is newer than a copy being merged only if it changed later.
          if (have && have.job.updatedAt >= e.job.updatedAt) continue
          mine.put(adapt(e.job), e.prompt)
        }
      }
    } finally {
      mine.close()
    }
    for (const part of parts) {
      fs.rmSync(part, { force: true })
      fs.rmSync(`${part}.tmp`, { force: true })
    }
  }

  /**
   * Ends the run: the lock goes (the run counts as dead from now on, so a later run may take
   * its journal over). A journal with no unfinished job is removed with it.
   */
  release(): void {
    if (this.released) return
    this.released = true
    const jobs = readJournal(this.journalFile)
    if (jobs.every((e) => isFinishedJob(e.job))) {
      fs.rmSync(this.journalFile, { force: true })
      fs.rmSync(`${this.journalFile}.tmp`, { force: true })
    }
    fs.rmSync(this.lockFile, { force: true })
  }
}
