/**
 * The queue from the command line: pause / resume of the app's sending, cancel --batch and
 * --all, and retry, on the journals of CLI runs that ended (fake servers on 127.0.0.1).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { commandUsage, main } from '../../src/cli/index'
import type { CliIo } from '../../src/cli/io'
import { readJournal } from '../../src/cli/runs'
import { startFakeFleet } from '../../src/fake-comfy'
import { Journal } from '../../src/main/core/jobs/journal'
import type { JobRecord } from '../../src/shared/types'

const FIXTURE = path.join(import.meta.dirname, '..', 'fixtures', 'txt2img.json')
const PROMPT = JSON.parse(fs.readFileSync(FIXTURE, 'utf8'))

const cleanups: Array<() => Promise<unknown> | void> = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

function dataDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-queue-'))
  cleanups.push(() => fs.rmSync(d, { recursive: true, force: true }))
  return d
}

function io(data: string) {
  const out: string[] = []
  const err: string[] = []
  const value: CliIo = {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    env: { COMFY_BALANCER_DATA: data },
    isTty: false,
    interrupted: new Promise(() => {})
  }
  return { io: value, out, err }
}

let n = 0
function job(more: Partial<JobRecord>): JobRecord {
  const now = Date.now() + n++
  return {
    id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    clientId: 'cli-test',
    source: 'txt2img.json',
    state: 'pending',
    createdAt: now,
    updatedAt: now,
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
    notes: [],
    ...more
  }
}

/** The journal of a CLI run that ended (no lock), holding these jobs. */
function deadRun(data: string, jobs: JobRecord[]): void {
  const dir = path.join(data, 'cli')
  fs.mkdirSync(dir, { recursive: true })
  const j = new Journal({ file: path.join(dir, `run-1000-1-ab${n++}.jsonl`), fsync: false })
  j.open()
  for (const x of jobs) j.put(x, PROMPT)
  j.close()
}

/** Every job in the CLI's journals, by id. */
function cliJobs(data: string): Map<string, JobRecord> {
  const dir = path.join(data, 'cli')
  const all = new Map<string, JobRecord>()
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.jsonl'))) {
    for (const e of readJournal(path.join(dir, f))) all.set(e.job.id, e.job)
  }
  return all
}

async function fleet(jobMs: number) {
  const f = await startFakeFleet({ count: 1, jobMs })
  cleanups.push(() => f.stop())
  return f
}

async function queueIds(url: string): Promise<string[]> {
  const q = (await (await fetch(`${url}/api/queue`)).json()) as {
    queue_running: unknown[][]
    queue_pending: unknown[][]
  }
  return [...q.queue_running, ...q.queue_pending].map((x) => String(x[1]))
}

describe('comfy-balancer pause / resume', () => {
  it("keeps the app's sending paused in the state file next to its journal", async () => {
    const data = dataDir()
    const file = path.join(data, 'jobs.queue.json')
    const p = io(data)
    expect(await main(['pause'], p.io)).toBe(0)
    expect(p.out.join('\n')).toMatch(/Sending paused/)
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).paused).toBe(true)
    const again = io(data)
    expect(await main(['pause', '--json'], again.io)).toBe(0)
    expect(JSON.parse(again.out.join('\n')).paused).toBe(true)
    const jobs = io(data)
    expect(await main(['jobs'], jobs.io)).toBe(0)
    expect(jobs.err.join('\n')).toMatch(/paused: comfy-balancer resume/)
    const r = io(data)
    expect(await main(['resume'], r.io)).toBe(0)
    expect(r.out.join('\n')).toMatch(/Sending resumed/)
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).paused).toBe(false)
  })

  it('has help per command and refuses what it cannot do', async () => {
    for (const cmd of ['pause', 'resume', 'retry', 'cancel']) {
      const h = io(dataDir())
      expect(await main([cmd, '--help'], h.io)).toBe(0)
      expect(h.out.join('\n')).toBe(commandUsage(cmd))
    }
    expect(commandUsage('cancel')).toMatch(/--batch ID[\s\S]*--all/)
    expect(commandUsage('retry')).toMatch(/--batch ID[\s\S]*--wait/)
    const data = dataDir()
    for (const args of [
      ['cancel'],
      ['cancel', 'abcd', '--all'],
      ['cancel', '--batch', 'x', '--all'],
      ['retry'],
      ['retry', 'abcd', '--batch', 'x'],
      ['pause', '--all']
    ]) {
      const t = io(data)
      expect(await main(args, t.io), args.join(' ')).toBe(2)
    }
  })
})

describe('comfy-balancer cancel --batch / --all', () => {
  it("cancels a batch's unfinished runs of ended runs, on the server too, and nothing else", async () => {
    const f = await fleet(60_000)
    const url = f.urls[0]!
    f.servers[0]!.enqueueDummy(1) // ours waits behind it
    const data = dataDir()
    const batch = (index: number) => ({ id: 'b0000000-batch', index, size: 3 })
    const queued = job({ state: 'queued', serverUrl: url, serverId: 's', batch: batch(0) })
    const waiting = job({ batch: batch(1) })
    const done = job({ state: 'done', finishedAt: Date.now(), batch: batch(2) })
    const other = job({})
    deadRun(data, [queued, waiting, done])
    deadRun(data, [other])
    const res = await fetch(`${url}/api/prompt`, {
      method: 'POST',
      body: JSON.stringify({ prompt: PROMPT, client_id: 'cli-test', prompt_id: queued.id })
    })
    expect(res.status).toBe(200)
    expect(await queueIds(url)).toContain(queued.id)

    const t = io(data)
    expect(await main(['cancel', '--batch', 'b0000000', '--servers', url], t.io)).toBe(0)
    expect(await queueIds(url)).not.toContain(queued.id)
    expect(t.out.filter((l) => l.startsWith('Cancelled ')).sort()).toEqual(
      [`Cancelled ${queued.id} on ${url}`, `Cancelled ${waiting.id}`].sort()
    )
    // Their run now has nothing unfinished (its journal goes); the other run's job waits on.
    const after = cliJobs(data)
    for (const j of [queued, waiting, done]) {
      expect(['cancelled', 'done', undefined]).toContain(after.get(j.id)?.state)
      const rec = after.get(j.id)
      if (rec?.state === 'cancelled') expect(rec.notes.at(-1)).toEqual({ code: 'cancelled' })
    }
    expect(after.get(other.id)!.state).toBe('pending')

    const all = io(data)
    expect(await main(['cancel', '--all', '--servers', url], all.io)).toBe(0)
    expect(cliJobs(data).get(other.id)?.state ?? 'cancelled').toBe('cancelled')
    expect(all.out.join('\n')).toMatch(new RegExp(`Cancelled ${other.id}`))
  })

  it("leaves the app's jobs to the app, saying so", async () => {
    const data = dataDir()
    const app = new Journal({ file: path.join(data, 'jobs.jsonl'), fsync: false })
    app.open()
    const mine = job({ batch: { id: 'app-batch', index: 0, size: 1 } })
    app.put(mine, PROMPT)
    app.close()
    const t = io(data)
    expect(await main(['cancel', '--all'], t.io)).toBe(1)
    expect(t.err.join('\n')).toMatch(/1 job\(s\) are the app's: cancel them in the app/)
    expect(readJournal(path.join(data, 'jobs.jsonl'))[0]!.job.state).toBe('pending')
  })
})

describe('comfy-balancer retry', () => {
  it('runs the failed run of a batch again in its place, with the same workflow', async () => {
    const f = await fleet(30)
    const url = f.urls[0]!
    const data = dataDir()
    const batch = { id: 'c0000000-batch', index: 1, size: 2 }
    const failed = job({
      state: 'failed',
      finishedAt: Date.now(),
      error: {
        message: 'No server could take the job',
        said: { code: 'no-server-took', tries: [] }
      },
      batch,
      priority: 'high'
    })
    const ok = job({ state: 'done', batch: { ...batch, index: 0 } })
    deadRun(data, [ok, failed])
    const t = io(data)
    // Without --wait: sent, and left in the journal of a run that ended.
    const code = await main(['retry', '--batch', 'c0000000', '--servers', url], t.io)
    expect(code, t.err.join('\n')).toBe(0)
    const jobs = cliJobs(data)
    const retry = [...jobs.values()].find((j) => j.retryOf === failed.id)!
    expect(retry.id).not.toBe(failed.id)
    expect(retry.batch).toEqual(batch)
    expect(retry.priority).toBe('high')
    expect(['queued', 'running', 'done']).toContain(retry.state)
    expect(jobs.get(failed.id)!.retriedAs).toBe(retry.id)
    // The records say it as codes, not sentences.
    expect(jobs.get(failed.id)!.notes.at(-1)).toEqual({ code: 'retried-as', id: retry.id })
    expect(retry.notes[0]).toEqual({ code: 'retry-of', id: failed.id })
    expect(t.out.join('\n')).toMatch(new RegExp(`Retrying ${failed.id} as ${retry.id}`))
    await f.servers[0]!.waitForIdle()
    expect(f.servers[0]!.executionCount(retry.id)).toBe(1)
    expect(f.servers[0]!.executionCount(failed.id)).toBe(0)
    const sent = f.servers[0]!.historyEntry(retry.id)!.prompt[2] as Record<
      string,
      { inputs: Record<string, unknown> }
    >
    expect(sent['3']!.inputs.seed).toBe(PROMPT['3'].inputs.seed)
    // Retried once: it is replaced, and a second retry of the old one finds nothing to do.
    const again = io(data)
    expect(await main(['retry', failed.id, '--servers', url], again.io)).toBe(1)
  })

  it('refuses a job it does not know', async () => {
    const t = io(dataDir())
    expect(await main(['retry', 'deadbeef'], t.io)).toBe(1)
    expect(t.err.join('\n')).toMatch(/No job deadbeef/)
  })
})
