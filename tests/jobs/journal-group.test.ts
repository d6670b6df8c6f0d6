import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Journal } from '../../src/main/core/jobs/journal'
import type { JobRecord } from '../../src/shared/types'

let dir: string
let file: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-journal-group-'))
  file = path.join(dir, 'jobs.jsonl')
})
afterEach(() => {
  vi.restoreAllMocks()
  fs.rmSync(dir, { recursive: true, force: true })
})

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

function reopen(): Journal {
  const k = new Journal({ file, historyLimit: 10_000 })
  k.open()
  return k
}

describe('journal group commits', () => {
  it('writes the changes of one moment with one write and one fsync, then says they are on disk', async () => {
    const j = new Journal({ file, historyLimit: 10_000 })
    j.open()
    const fsyncs = vi.spyOn(fs, 'fsyncSync')
    const writes = vi.spyOn(fs, 'writeSync')
    for (let i = 0; i < 100; i++) {
      j.put(job(`j${i}`), PROMPT)
      j.patch(`j${i}`, { state: 'queued', serverId: 's1' })
    }
    // Taken in memory at once, on disk with the group.
    expect(j.get('j7')?.job.state).toBe('queued')
    expect(fs.statSync(file).size).toBe(0)
    expect(j.unflushed).toBeGreaterThan(0)
    await j.flushed()
    expect(writes).toHaveBeenCalledTimes(1)
    expect(fsyncs).toHaveBeenCalledTimes(1)
    expect(j.stats).toEqual({ commits: 1, changes: 300 })
    expect(j.unflushed).toBe(0)
    // Nothing waits: resolves at once, no write.
    await j.flushed()
    expect(writes).toHaveBeenCalledTimes(1)
    // A reader that never saw this process finds every job in its last state.
    const k = reopen()
    expect(k.jobs()).toHaveLength(100)
    expect(k.jobs().every((r) => r.state === 'queued' && r.serverId === 's1')).toBe(true)
    expect(k.get('j42')?.prompt).toEqual(PROMPT)
    k.close()
    j.close()
  })

  it('changes made while a group is written go with the next group', async () => {
    const j = new Journal({ file, historyLimit: 10_000 })
    j.open()
    j.put(job('a'), PROMPT)
    const first = j.flushed()
    let later: Promise<void> | null = null
    let laterDone = false
    void first.then(() => {
      j.patch('a', { state: 'running' })
      later = j.flushed()
      void later.then(() => (laterDone = true))
    })
    await first
    expect(laterDone).toBe(false)
    await later
    expect(j.stats.commits).toBe(2)
    const k = reopen()
    expect(k.get('a')?.job.state).toBe('running')
    k.close()
    j.close()
  })

  it('close writes what still waits', () => {
    const j = new Journal({ file })
    j.open()
    j.put(job('a'), PROMPT)
    j.patch('a', { state: 'queued' })
    j.close()
    const k = reopen()
    expect(k.get('a')?.job.state).toBe('queued')
    expect(k.get('a')?.prompt).toEqual(PROMPT)
    k.close()
  })

  it('a refused write rejects flushed(); the change is written on the next try, once', async () => {
    const j = new Journal({ file })
    j.open()
    const real = fs.writeSync.bind(fs) as (...a: unknown[]) => number
    const spy = vi.spyOn(fs, 'writeSync').mockImplementationOnce(() => {
      throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' })
    })
    j.put(job('a'), PROMPT)
    await expect(j.flushed()).rejects.toThrow(/no space/)
    spy.mockImplementation((...a: unknown[]) => real(...a))
    expect(j.unflushed).toBeGreaterThan(0)
    await j.flushed()
    j.close()
    const text = fs.readFileSync(file, 'utf8')
    expect(text.match(/"t":"put"/g)).toHaveLength(1)
    const k = reopen()
    expect(k.jobs().map((r) => r.id)).toEqual(['a'])
    k.close()
  })

  it('a failed fsync rejects flushed(), and the next flushed() flushes again before it resolves', async () => {
    const j = new Journal({ file })
    j.open()
    const fsyncs = vi.spyOn(fs, 'fsyncSync').mockImplementationOnce(() => {
      throw Object.assign(new Error('input/output error'), { code: 'EIO' })
    })
    j.put(job('a'), PROMPT)
    await expect(j.flushed()).rejects.toThrow(/input\/output/)
    expect(fsyncs).toHaveBeenCalledTimes(1)
    await j.flushed()
    expect(fsyncs).toHaveBeenCalledTimes(2)
    // Written once: the retry only flushed.
    expect(fs.readFileSync(file, 'utf8').match(/"t":"put"/g)).toHaveLength(1)
    await j.flushed()
    expect(fsyncs).toHaveBeenCalledTimes(2)
    j.close()
  })

  it('a compaction carries the waiting changes and releases those awaiting them', async () => {
    const j = new Journal({ file, historyLimit: 10_000, compactAfterLines: 20 })
    j.open()
    const waits: Array<Promise<void>> = []
    for (let i = 0; i < 30; i++) {
      j.put(job(`j${i}`), PROMPT)
      waits.push(j.flushed())
      j.patch(`j${i}`, { state: 'queued' })
      j.patch(`j${i}`, { state: 'running' })
    }
    await Promise.all(waits)
    await j.flushed()
    const k = reopen()
    expect(k.jobs()).toHaveLength(30)
    expect(k.jobs().every((r) => r.state === 'running')).toBe(true)
    k.close()
    const text = fs.readFileSync(file, 'utf8')
    for (let i = 0; i < 30; i++) {
      expect(text.split(`"t":"put","job":{"id":"j${i}"`).length - 1).toBe(1)
    }
    j.close()
  })

  it('without group commits, every change is on disk before put and patch return', () => {
    const j = new Journal({ file, groupCommit: false })
    j.open()
    const fsyncs = vi.spyOn(fs, 'fsyncSync')
    j.put(job('a'), PROMPT)
    const size = fs.statSync(file).size
    expect(size).toBeGreaterThan(0)
    j.patch('a', { state: 'queued' })
    expect(fs.statSync(file).size).toBeGreaterThan(size)
    expect(fsyncs).toHaveBeenCalledTimes(2)
    expect(j.unflushed).toBe(0)
    j.close()
  })

  it('waits commitDelayMs for more changes when asked to', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate'] })
    try {
      const j = new Journal({ file, commitDelayMs: 5 })
      j.open()
      j.put(job('a'), PROMPT)
      let done = false
      void j.flushed().then(() => (done = true))
      await vi.advanceTimersByTimeAsync(4)
      j.put(job('b'), PROMPT)
      expect(done).toBe(false)
      expect(fs.statSync(file).size).toBe(0)
      await vi.advanceTimersByTimeAsync(1)
      expect(done).toBe(true)
      expect(j.stats.commits).toBe(1)
      j.close()
    } finally {
      vi.useRealTimers()
    }
  })
})
