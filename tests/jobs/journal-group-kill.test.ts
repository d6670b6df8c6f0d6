/**
 * A process runs 1000 jobs through the journal the way the engine does (the job, then a
 * "sending" attempt, then queued, running, done; each awaited with `flushed()` where the engine
 * must be sure) and prints a line each time `flushed()` said a change is on disk. It is killed
 * (SIGKILL) at points picked from fixed seeds; the journal it left must hold every job it
 * acknowledged, once, in at least the acknowledged state, with no damage beyond a half-written
 * last line.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { build } from 'vite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Journal } from '../../src/main/core/jobs/journal'

const ROOT = path.join(import.meta.dirname, '..', '..')
const JOBS = 1000
/** Acknowledgements of a run: the job, the sending attempt, done. */
const ACKS_PER_JOB = 3

let work: string
let child: string

const CHILD = (journalPath: string) => `
import { Journal } from ${JSON.stringify(journalPath)}
const [file, seedText, jobsText] = process.argv.slice(2)
let seed = Number(seedText) >>> 0
const rand = () => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0
  return seed / 4294967296
}
const jobs = Number(jobsText)
const journal = new Journal({ file, historyLimit: 100000, compactAfterLines: 1500 })
journal.open()
const ack = (id, stage) => process.stdout.write(id + ' ' + stage + '\\n')
const pause = () => new Promise((r) => setTimeout(r, Math.floor(rand() * 3)))
const record = (id) => ({
  id, clientId: 'c', source: 'wf.json', state: 'pending', createdAt: 1, updatedAt: 1,
  startedAt: null, finishedAt: null, pinnedServerId: null, serverId: null, serverUrl: null,
  attempts: [], reroutes: 0, queuePosition: null, progress: null, error: null, outputs: [], notes: []
})
let next = 0
async function worker() {
  while (next < jobs) {
    const id = 'job-' + next++
    journal.put(record(id), { '1': { class_type: 'KSampler', inputs: { seed: next } } })
    await journal.flushed()
    ack(id, 1)
    journal.patch(id, { attempts: [{ serverId: 's', serverUrl: 'http://s', at: 2, result: 'sending' }] })
    await journal.flushed()
    ack(id, 2)
    await pause()
    journal.patch(id, { state: 'queued', serverId: 's' })
    await pause()
    journal.patch(id, { state: 'running', startedAt: 3 })
    await pause()
    journal.patch(id, { state: 'done', finishedAt: 4 })
    await journal.flushed()
    ack(id, 3)
  }
}
await Promise.all(Array.from({ length: 32 }, worker))
journal.close()
process.stdout.write('end\\n')
`

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-journal-kill-'))
  const entry = path.join(work, 'child.ts')
  fs.writeFileSync(entry, CHILD(path.join(ROOT, 'src', 'main', 'core', 'jobs', 'journal.ts')))
  await build({
    configFile: false,
    root: work,
    logLevel: 'error',
    build: {
      ssr: entry,
      outDir: path.join(work, 'out'),
      target: 'node20',
      rollupOptions: { output: { format: 'es', entryFileNames: 'child.mjs' } }
    }
  })
  child = path.join(work, 'out', 'child.mjs')
}, 60_000)
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

interface Run {
  /** Job id -> the highest stage acknowledged. */
  acked: Map<string, number>
  ended: boolean
  killed: boolean
}

/** Runs the child; kills it once `killAfter` acknowledgements were read (never when null). */
function run(file: string, seed: number, killAfter: number | null): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, file, String(seed), String(JOBS)], {
      stdio: ['ignore', 'pipe', 'pipe']
    })
    const acked = new Map<string, number>()
    let count = 0
    let rest = ''
    let ended = false
    let err = ''
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000)
    p.stderr.on('data', (d: Buffer) => (err += d.toString()))
    p.stdout.on('data', (d: Buffer) => {
      const lines = (rest + d.toString()).split('\n')
      rest = lines.pop()!
      for (const line of lines) {
        if (line === 'end') {
          ended = true
          continue
        }
        const [id, stage] = line.split(' ')
        acked.set(id!, Math.max(acked.get(id!) ?? 0, Number(stage)))
        count++
        if (killAfter !== null && count === killAfter) p.kill('SIGKILL')
      }
    })
    p.on('error', reject)
    p.on('close', (code, signal) => {
      clearTimeout(timer)
      if (signal !== 'SIGKILL' && code !== 0) reject(new Error(`child failed: ${err}`))
      else resolve({ acked, ended, killed: signal === 'SIGKILL' })
    })
  })
}

/** The stage a job's record shows. */
function stageOf(r: { state: string; attempts: unknown[] }): number {
  if (r.state === 'done') return 3
  return r.attempts.length > 0 ? 2 : 1
}

function check(file: string, r: Run): void {
  // Exactly once: one workflow line per job in the file as the killed process left it.
  const puts = new Map<string, number>()
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^\{"t":"put","job":\{"id":"(job-\d+)"/.exec(line)
    if (m) puts.set(m[1]!, (puts.get(m[1]!) ?? 0) + 1)
  }
  const k = new Journal({ file, historyLimit: 100_000 })
  const report = k.open()
  try {
    expect(report.damagedLines).toBe(0)
    expect(report.badLines).toBe(report.tornTail ? 1 : 0)
    expect(report.lostJobs).toEqual([])
    const ids = k.jobs().map((j) => j.id)
    expect(new Set(ids).size).toBe(ids.length)
    for (const [id, stage] of r.acked) {
      const e = k.get(id)
      expect(e, `${id} was acknowledged`).toBeDefined()
      expect(puts.get(id), `${id} has one workflow line`).toBe(1)
      expect(stageOf(e!.job), `${id} is at least at its acknowledged stage`).toBeGreaterThanOrEqual(
        stage
      )
      expect(e!.prompt).not.toBeNull()
    }
    for (const [id, n] of puts) expect(n, `${id} is written once`).toBe(1)
  } finally {
    k.close()
  }
}

describe('journal group commits under SIGKILL', () => {
  it('a 1000-job run killed at random points keeps every acknowledged job exactly once', async () => {
    const total = JOBS * ACKS_PER_JOB
    // Fixed seeds: the same kill points each time (as far as a live process allows).
    const seeds = [11, 23, 37, 41, 59, 73]
    let state = 2024
    for (const seed of seeds) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0
      const killAfter = 1 + (state % (total - 1))
      const file = path.join(work, `kill-${seed}.jsonl`)
      const r = await run(file, seed, killAfter)
      expect(r.killed, `seed ${seed} was killed`).toBe(true)
      expect(r.acked.size).toBeGreaterThan(0)
      check(file, r)
    }
  }, 120_000)

  it('a run that is not killed ends with all 1000 jobs done, each once', async () => {
    const file = path.join(work, 'whole.jsonl')
    const r = await run(file, 7, null)
    expect(r.ended).toBe(true)
    expect(r.acked.size).toBe(JOBS)
    check(file, r)
    const k = new Journal({ file, historyLimit: 100_000 })
    expect(k.open().jobs).toBe(JOBS)
    expect(k.jobs().every((j) => j.state === 'done')).toBe(true)
    k.close()
  }, 60_000)
})
