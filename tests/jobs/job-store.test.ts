/** The job store: the only writer of job records, its notes, attempts, waiters and change hook. */
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { MAX_ATTEMPTS, MAX_NOTES, type JobStore } from '../../src/main/core/jobs/job-store'
import type { Journal } from '../../src/main/core/jobs/journal'
import type { JobRecord } from '../../src/shared/types'
import { makeStore, ManualClock, pendingJob } from './fake-port'

const PROMPT = { '1': { class_type: 'SaveImage', inputs: {} } }
let cleanup: (() => void) | null = null
afterEach(() => {
  cleanup?.()
  cleanup = null
})

function setUp(): { store: JobStore; journal: Journal; clock: ManualClock; file: string } {
  const clock = new ManualClock()
  const s = makeStore(clock)
  cleanup = s.close
  return { store: s.store, journal: s.journal, clock, file: path.join(s.dir, 'jobs.jsonl') }
}

describe('the job store', () => {
  it('keeps the last 50 notes of a job', () => {
    const { store } = setUp()
    store.put(pendingJob('a', 1), PROMPT)
    for (let i = 0; i < 80; i++) store.update('a', {}, { code: 'retried-as', id: `j${i}` })
    const notes = store.get('a')!.notes
    expect(notes).toHaveLength(MAX_NOTES)
    expect(notes[0]).toEqual({ code: 'retried-as', id: 'j30' })
    expect(notes.at(-1)).toEqual({ code: 'retried-as', id: 'j79' })
  })

  it('adds a repeated note once, and keeps the last 50 attempts', () => {
    const { store } = setUp()
    store.put(pendingJob('a', 1), PROMPT)
    store.noteOnce('a', { code: 'waiting', why: { code: 'none-healthy', total: 2 } })
    store.noteOnce('a', { code: 'waiting', why: { code: 'none-healthy', total: 2 } })
    expect(store.get('a')!.notes).toEqual([
      { code: 'waiting', why: { code: 'none-healthy', total: 2 } }
    ])
    for (let i = 0; i < 60; i++) store.addAttempt('a', `s${i}`, `http://s${i}`, { code: 'sending' })
    store.setLastAttemptResult('a', { code: 'accepted' })
    const attempts = store.get('a')!.attempts
    expect(attempts).toHaveLength(MAX_ATTEMPTS)
    expect(attempts[0]!.serverId).toBe('s10')
    expect(attempts.at(-1)).toMatchObject({ serverId: 's59', result: { code: 'accepted' } })
  })

  it('resolves waiters when the job finishes, not before', async () => {
    const { store, clock } = setUp()
    store.put(pendingJob('a', 1), PROMPT)
    let got: JobRecord | null = null
    const waiting = store.waitFor('a').then((j) => (got = j))
    store.update('a', { state: 'queued', serverId: 's1' })
    store.update('a', { state: 'running' })
    await Promise.resolve()
    expect(got).toBeNull()
    clock.advance(5)
    store.fail('a', { code: 'internal', text: 'broke' }, ['why'])
    await waiting
    expect(got).toMatchObject({
      state: 'failed',
      finishedAt: clock.now(),
      error: { message: 'broke', said: { code: 'internal', text: 'broke' }, details: ['why'] }
    })
    // Already finished: at once. Unknown: refused.
    await expect(store.waitFor('a')).resolves.toMatchObject({ state: 'failed' })
    await expect(store.waitFor('nope')).rejects.toThrow('Unknown job nope')
  })

  it('tells change hooks and listeners of each journaled change, and nothing after shutdown', () => {
    const { store, journal } = setUp()
    const seen: string[] = []
    const emitted: string[] = []
    store.events.on('job', (j) => emitted.push(j.state))
    const off = store.onChange((a, b) => seen.push(`${a.state}->${b.state}`))
    store.put(pendingJob('a', 1), PROMPT)
    store.update('a', { state: 'queued' })
    store.update('a', { state: 'running' })
    off()
    store.update('a', { state: 'done' })
    expect(seen).toEqual(['pending->queued', 'queued->running'])
    expect(emitted).toEqual(['pending', 'queued', 'running', 'done'])
    store.put(pendingJob('b', 1), PROMPT)
    journal.close()
    expect(store.update('b', { state: 'queued' }).state).toBe('pending')
    expect(emitted.at(-1)).toBe('pending')
  })

  it('keeps live progress in memory only', () => {
    const { store, file, journal } = setUp()
    store.put(pendingJob('a', 1), PROMPT)
    store.update('a', { state: 'running', startedAt: 1 })
    // Changes may be written in groups: what is waiting goes to disk before each look.
    journal.flushSync()
    const size = fs.statSync(file).size
    for (let i = 0; i < 20; i++) store.progress(store.get('a')!, { value: i, max: 20 })
    journal.flushSync()
    expect(fs.statSync(file).size).toBe(size)
    expect(store.get('a')!.progress).toMatchObject({ value: 19, max: 20 })
    // A queued job that reports progress is running from now on (journaled).
    store.put(pendingJob('b', 1, { state: 'queued' }), PROMPT)
    store.progress(store.get('b')!, { value: 1, max: 2 })
    expect(store.get('b')).toMatchObject({ state: 'running', progress: { value: 1 } })
    journal.flushSync()
    expect(fs.statSync(file).size).toBeGreaterThan(size)
  })

  it('is the only writer of job records among the job engine files', () => {
    const dir = path.join(import.meta.dirname, '..', '..', 'src', 'main', 'core', 'jobs')
    const writers = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.ts') && f !== 'journal.ts')
      .filter((f) =>
        /journal\s*\.\s*(put|patch|patchInMemory)\s*\(/.test(
          fs.readFileSync(path.join(dir, f), 'utf8')
        )
      )
    expect(writers).toEqual(['job-store.ts'])
  })
})
