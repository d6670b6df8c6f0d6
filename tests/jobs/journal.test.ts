import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Journal } from '../../src/main/core/jobs/journal'
import type { JobRecord } from '../../src/shared/types'

let dir: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-journal-'))
})
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }))

function job(id: string, t = 1): JobRecord {
  return {
    id,
    clientId: 'c',
    source: 'wf.json',
    state: 'pending',
    createdAt: t,
    updatedAt: t,
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

const PROMPT = { '1': { class_type: 'SaveImage', inputs: { filename_prefix: 'x' } } }

describe('job journal', () => {
  it('survives a reopen with every job, its state and its prompt', () => {
    const file = path.join(dir, 'jobs.jsonl')
    const j = new Journal({ file })
    j.open()
    j.put(job('a'), PROMPT)
    j.put(job('b'), PROMPT)
    j.patch('a', { state: 'queued', serverId: 's1' })
    j.patch('b', { state: 'done', finishedAt: 5 })
    j.close()
    const k = new Journal({ file })
    expect(k.open()).toMatchObject({ jobs: 2, badLines: 0 })
    expect(k.get('a')!.job.state).toBe('queued')
    expect(k.get('a')!.prompt).toEqual(PROMPT)
    // A finished job keeps its prompt, so it can be sent again.
    expect(k.get('b')!.prompt).toEqual(PROMPT)
    expect(k.unfinished().map((e) => e.job.id)).toEqual(['a'])
    k.close()
  })

  it('skips a torn last line from a crash and keeps the rest', () => {
    const file = path.join(dir, 'jobs.jsonl')
    const j = new Journal({ file })
    j.open()
    j.put(job('a'), PROMPT)
    j.patch('a', { state: 'running' })
    j.close()
    fs.appendFileSync(file, '{"t":"patch","id":"a","patch":{"state":"do')
    const k = new Journal({ file })
    expect(k.open()).toMatchObject({ jobs: 1, badLines: 1, tornTail: true })
    expect(k.get('a')!.job.state).toBe('running')
    k.patch('a', { state: 'done' })
    k.close()
    const m = new Journal({ file })
    expect(m.open().badLines).toBe(0)
    expect(m.get('a')!.job.state).toBe('done')
    m.close()
  })

  it('keeps disk and memory bounded through 1000 jobs', () => {
    const file = path.join(dir, 'jobs.jsonl')
    const j = new Journal({ file, historyLimit: 50, compactAfterLines: 200, fsync: false })
    j.open()
    const sizes: number[] = []
    for (let i = 0; i < 1000; i++) {
      const id = `job-${i}`
      j.put(job(id, i), PROMPT)
      j.patch(id, { state: 'running', updatedAt: i })
      j.patch(id, { state: 'done', finishedAt: i, updatedAt: i })
      if (i % 100 === 99) sizes.push(fs.statSync(file).size)
    }
    expect(j.jobs()).toHaveLength(50)
    expect(j.jobs()[0]!.id).toBe('job-950')
    // The file does not grow with the number of jobs ever run.
    expect(Math.max(...sizes)).toBeLessThan(sizes[0]! * 3)
    j.close()
    const k = new Journal({ file, historyLimit: 50 })
    expect(k.open().jobs).toBe(50)
    k.close()
  })
})
