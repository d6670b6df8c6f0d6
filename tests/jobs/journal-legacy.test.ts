import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Journal } from '../../src/main/core/jobs/journal'
import { decode, encode, LOST_NOTE, type Line } from '../../src/main/core/jobs/journal-file'
import { sayAttempt, sayJobError, sayJobNote } from '../../src/main/core/log'
import { pendingJob } from './fake-port'

let dir: string
let file: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-journal-legacy-'))
  file = path.join(dir, 'jobs.jsonl')
})
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }))

const PROMPT = { '1': { class_type: 'SaveImage', inputs: {} } }

/** A line as an older version wrote it: notes, results and the error as sentences. */
function oldLine(line: unknown): string {
  return encode(line as Line)
}

/** Opens the journal file, hands it and its load report to `look`, and closes it. */
function reading(look: (j: Journal, report: ReturnType<Journal['open']>) => void): void {
  const j = new Journal({ file, fsync: false })
  const report = j.open()
  try {
    look(j, report)
  } finally {
    j.close()
  }
}

describe('journal lines of an older version', () => {
  it('reads sentences in notes, attempt results and errors as text codes', () => {
    const old = {
      ...pendingJob('old-1', 1),
      state: 'failed',
      notes: ['gpu-1 is down (Connection refused)', 'Cancelled by the user'],
      attempts: [{ serverId: 'a', serverUrl: 'http://a', at: 1, result: 'Connection refused' }],
      error: { message: 'No server could take the job. a: Connection refused', details: ['x'] }
    }
    const patched = { ...pendingJob('old-2', 2) }
    fs.writeFileSync(
      file,
      oldLine({ t: 'put', job: old, prompt: PROMPT }) +
        oldLine({ t: 'put', job: patched, prompt: PROMPT }) +
        oldLine({
          t: 'patch',
          id: 'old-2',
          patch: {
            notes: ['Retried as old-3'],
            attempts: [{ serverId: 'a', serverUrl: 'http://a', at: 2, result: 'sending' }]
          }
        })
    )
    reading((j) => {
      const a = j.get('old-1')!.job
      expect(a.notes).toEqual([
        { code: 'text', text: 'gpu-1 is down (Connection refused)' },
        { code: 'text', text: 'Cancelled by the user' }
      ])
      expect(a.attempts[0]!.result).toEqual({ code: 'text', text: 'Connection refused' })
      expect(a.error).toEqual({
        message: 'No server could take the job. a: Connection refused',
        details: ['x'],
        said: { code: 'text', text: 'No server could take the job. a: Connection refused' }
      })
      const b = j.get('old-2')!.job
      expect(b.notes).toEqual([{ code: 'text', text: 'Retried as old-3' }])
      // An old "sending" is still the state it was: after a crash, the server is asked first.
      expect(b.attempts[0]!.result).toEqual({ code: 'sending' })
    })
  })

  it('reads codes it does not know (a newer version, a hand edit) as text, so every face can say them', () => {
    const odd = {
      ...pendingJob('odd-1', 1),
      state: 'failed',
      notes: [{ code: 'from-a-newer-version', n: 3 }, { code: 'cancelled' }],
      attempts: [{ serverId: 'a', serverUrl: 'http://a', at: 1, result: { code: 'teleported' } }],
      error: { said: { code: 'no-such-error' }, message: 'It broke' }
    }
    fs.writeFileSync(file, oldLine({ t: 'put', job: odd, prompt: PROMPT }))
    reading((j) => {
      const a = j.get('odd-1')!.job
      expect(a.notes).toEqual([
        { code: 'text', text: '{"code":"from-a-newer-version","n":3}' },
        { code: 'cancelled' }
      ])
      expect(a.attempts[0]!.result).toEqual({ code: 'text', text: '{"code":"teleported"}' })
      expect(a.error!.said).toEqual({ code: 'text', text: 'It broke' })
      // The English renderers take every one of them.
      expect(a.notes.map(sayJobNote)).toEqual([
        '{"code":"from-a-newer-version","n":3}',
        'Cancelled by the user'
      ])
      expect(sayAttempt(a.attempts[0]!.result)).toBe('{"code":"teleported"}')
      expect(sayJobError(a.error!.said)).toBe('It broke')
    })
  })

  it('reads a job an older version left lost as failed, with a note that says so', () => {
    const lost = {
      ...pendingJob('lost-1', 1),
      state: 'lost',
      finishedAt: 5,
      notes: ['gpu-1 forgot the job'],
      error: { message: 'The server forgot the job' }
    }
    const patched = { ...pendingJob('lost-2', 2), notes: [{ code: 'cancelled' }] }
    fs.writeFileSync(
      file,
      oldLine({ t: 'put', job: lost, prompt: PROMPT }) +
        oldLine({ t: 'put', job: patched, prompt: PROMPT }) +
        oldLine({ t: 'patch', id: 'lost-2', patch: { state: 'lost', finishedAt: 6 } })
    )
    reading((j, report) => {
      expect(report.lostJobs).toEqual([])
      const a = j.get('lost-1')!.job
      expect(a.state).toBe('failed')
      expect(a.notes).toEqual([{ code: 'text', text: 'gpu-1 forgot the job' }, LOST_NOTE])
      expect(LOST_NOTE.code === 'text' && LOST_NOTE.text).toMatch(/older version .*lost/)
      expect(a.error).toMatchObject({ said: { code: 'text', text: 'The server forgot the job' } })
      // A change of an older version: the state; the job keeps the notes it had.
      const b = j.get('lost-2')!.job
      expect(b).toMatchObject({ state: 'failed', finishedAt: 6, notes: [{ code: 'cancelled' }] })
      expect(j.jobs().map((r) => r.state)).not.toContain('lost')
      // Written back in this version's form.
      j.compact()
    })
    expect(fs.readFileSync(file, 'utf8')).not.toContain('"lost"')
    reading((again) => {
      // Read again, it is the same failed job, with the note once.
      expect(again.get('lost-1')!.job).toMatchObject({
        state: 'failed',
        notes: [{ code: 'text', text: 'gpu-1 forgot the job' }, LOST_NOTE]
      })
    })
  })

  it('keeps lines of this version as they are', () => {
    const now = {
      ...pendingJob('new-1', 1),
      notes: [{ code: 'cancelled' as const }],
      attempts: [
        { serverId: 'a', serverUrl: 'http://a', at: 1, result: { code: 'accepted' as const } }
      ]
    }
    const bytes = Buffer.from(encode({ t: 'job', job: now }).trimEnd())
    const line = decode(bytes)
    expect(line).toEqual({ t: 'job', job: now })
  })
})
