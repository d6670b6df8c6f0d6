/**
 * journal: job changes per second the job journal takes with fsync on, on the disk of
 * os.tmpdir(). A run is N jobs, `inFlight` at a time, each changed the way the engine changes
 * it: the job (put), awaited before sending; the "sending" attempt, awaited before the POST;
 * then queued, running and done, each a moment apart. Measured twice: every change written and
 * flushed at once (as before group commits) and with group commits. Also the fsync time of
 * this disk (one small write + fsync, median), so a slower disk can be judged: without groups
 * a change costs one fsync; with them, one fsync is shared by `changesPerCommit` changes.
 */
import fs from 'node:fs'
import path from 'node:path'
import { Journal } from '../../src/main/core/jobs/journal'
import type { JobRecord } from '../../src/shared/types'
import { now, percentile, rmDir, round1, round2, sleep, standardPrompt, tmpDir } from '../lib'

export interface JournalModeResult {
  changes: number
  ms: number
  changesPerSecond: number
  commits: number
  changesPerCommit: number
  /** Put to "on disk" (what a send waits for), per job. */
  durableP50Ms: number
  durableP99Ms: number
}

export interface JournalResult {
  config: { jobs: number; inFlight: number; changesPerJob: number; dir: string }
  fsyncP50Ms: number
  perChange: JournalModeResult
  grouped: JournalModeResult
  /** grouped / perChange changes per second. */
  speedup: number
}

function record(id: string): JobRecord {
  return {
    id,
    clientId: 'bench',
    source: 'txt2img.json',
    state: 'pending',
    createdAt: 1,
    updatedAt: 1,
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

async function runMode(
  dir: string,
  groupCommit: boolean,
  jobs: number,
  inFlight: number
): Promise<JournalModeResult> {
  const file = path.join(dir, `jobs-${groupCommit ? 'grouped' : 'each'}.jsonl`)
  const j = new Journal({ file, groupCommit, historyLimit: 500 })
  j.open()
  const prompt = standardPrompt() as never
  const durable: number[] = []
  let next = 0
  let changes = 0
  const worker = async (): Promise<void> => {
    while (next < jobs) {
      const id = `job-${next++}`
      const t = now()
      j.put(record(id), prompt)
      await j.flushed()
      durable.push(now() - t)
      j.patch(id, {
        attempts: [
          { serverId: 's1', serverUrl: 'http://s1', at: Date.now(), result: { code: 'sending' } }
        ]
      })
      await j.flushed()
      await sleep(0)
      j.patch(id, { state: 'queued', serverId: 's1', serverUrl: 'http://s1' })
      await sleep(0)
      j.patch(id, { state: 'running', startedAt: Date.now() })
      await sleep(0)
      j.patch(id, { state: 'done', finishedAt: Date.now() })
      changes += 5
    }
  }
  const c0 = j.stats.commits
  const t0 = now()
  await Promise.all(Array.from({ length: inFlight }, worker))
  await j.flushed()
  const ms = now() - t0
  const commits = j.stats.commits - c0
  j.close()
  return {
    changes,
    ms: Math.round(ms),
    changesPerSecond: Math.round((changes / ms) * 1000),
    commits,
    changesPerCommit: round1(changes / Math.max(1, commits)),
    durableP50Ms: round2(percentile(durable, 50)),
    durableP99Ms: round2(percentile(durable, 99))
  }
}

function fsyncMs(dir: string, n: number): number {
  const fd = fs.openSync(path.join(dir, 'fsync.bin'), 'a')
  const xs: number[] = []
  try {
    for (let i = 0; i < n; i++) {
      const t = now()
      fs.writeSync(fd, 'x'.repeat(300) + '\n')
      fs.fsyncSync(fd)
      xs.push(now() - t)
    }
  } finally {
    fs.closeSync(fd)
  }
  return round2(percentile(xs, 50))
}

export async function runJournal(jobs: number, inFlight = 50): Promise<JournalResult> {
  const dir = tmpDir('journal')
  try {
    const fsyncP50Ms = fsyncMs(dir, 200)
    const perChange = await runMode(dir, false, jobs, inFlight)
    const grouped = await runMode(dir, true, jobs, inFlight)
    return {
      config: { jobs, inFlight, changesPerJob: 5, dir: 'os.tmpdir() on disk, fsync on' },
      fsyncP50Ms,
      perChange,
      grouped,
      speedup: round2(grouped.changesPerSecond / perChange.changesPerSecond)
    }
  } finally {
    rmDir(dir)
  }
}
