import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Journal } from '../../src/main/core/jobs/journal'
import type { JobRecord } from '../../src/shared/types'

let dir: string
let file: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-journal-damage-'))
  file = path.join(dir, 'jobs.jsonl')
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

const PROMPT = {
  '1': { class_type: 'CLIPTextEncode', inputs: { text: 'a red fox in the snow, '.repeat(20) } },
  '2': { class_type: 'SaveImage', inputs: { filename_prefix: 'fox' } }
}

/** Byte ranges [start, end) of the lines (without the newline) that mention job `id`. */
function linesOf(buf: Buffer, id: string): Array<[number, number]> {
  const out: Array<[number, number]> = []
  let start = 0
  while (start < buf.length) {
    let end = buf.indexOf(10, start)
    if (end === -1) end = buf.length
    const text = buf.toString('utf8', start, end)
    if (text.includes(`"id":"${id}"`)) out.push([start, end])
    start = end + 1
  }
  return out
}

/** Overwrites one byte in the middle of a line. */
function damage(buf: Buffer, [start, end]: [number, number], byte = 0): Buffer {
  const copy = Buffer.from(buf)
  copy[Math.floor((start + end) / 2)] = byte
  return copy
}

/** Job a: queued on s1, then running, then done; job b stays pending. */
function writeHistory(): Buffer {
  const j = new Journal({ file })
  j.open()
  j.put(job('a'), PROMPT)
  j.put(job('b'), PROMPT)
  j.patch('a', { state: 'queued', serverId: 's1', serverUrl: 'http://s1' })
  j.patch('a', { state: 'running', startedAt: 3 })
  j.patch('a', { state: 'done', finishedAt: 9, updatedAt: 9 })
  j.close()
  return fs.readFileSync(file)
}

function copiesIn(d: string): string[] {
  return fs
    .readdirSync(d)
    .filter((n) => n.startsWith('jobs.jsonl.damaged-'))
    .sort()
}

describe('job journal with a damaged byte', () => {
  it('keeps a job whose first record is damaged, with its later changes', () => {
    const buf = writeHistory()
    const first = linesOf(buf, 'a')[0]!
    fs.writeFileSync(file, damage(buf, first))
    const k = new Journal({ file })
    const report = k.open()
    const a = k.get('a')
    expect(a).toBeDefined()
    expect(a!.job).toMatchObject({ state: 'done', serverId: 's1', startedAt: 3, finishedAt: 9 })
    expect(k.get('b')!.prompt).toEqual(PROMPT)
    expect(report.damagedLines).toBe(1)
    expect(report.damagedJobs).toEqual(['a'])
    expect(report.lostJobs).toEqual([])
    k.close()
  })

  it('keeps a job whose change is damaged, with its other changes and its prompt', () => {
    const buf = writeHistory()
    const lines = linesOf(buf, 'a')
    // The change to "queued" (the one that set the server) is damaged.
    const queued = lines.find(([s, e]) => buf.toString('utf8', s, e).includes('"queued"'))!
    expect(queued).toBeDefined()
    fs.writeFileSync(file, damage(buf, queued))
    const k = new Journal({ file })
    const report = k.open()
    expect(k.get('a')!.job).toMatchObject({ state: 'done', serverId: 's1', serverUrl: 'http://s1' })
    expect(k.get('a')!.prompt).toEqual(PROMPT)
    expect(report.damagedJobs).toEqual(['a'])
    k.close()
  })

  it('keeps a just-submitted job whichever of its lines is damaged', () => {
    const j = new Journal({ file })
    j.open()
    j.put(job('a'), PROMPT)
    j.put(job('c'), PROMPT)
    j.close()
    const buf = fs.readFileSync(file)
    const lines = linesOf(buf, 'c')
    let withPrompt = 0
    for (const line of lines) {
      fs.writeFileSync(file, damage(buf, line))
      const k = new Journal({ file })
      const report = k.open()
      expect(k.get('c')?.job.state).toBe('pending')
      expect(k.get('c')?.job.source).toBe('wf.json')
      expect(k.get('a')!.prompt).toEqual(PROMPT)
      expect(report.damagedJobs).toEqual(['c'])
      expect(report.lostJobs).toEqual([])
      if (k.get('c')!.prompt) {
        expect(k.get('c')!.prompt).toEqual(PROMPT)
        withPrompt++
      }
      k.close()
    }
    // The record and the workflow are on separate lines: damage to one keeps the other.
    expect(withPrompt).toBeGreaterThan(0)
  })

  it('detects a changed letter that still reads as valid text', () => {
    const buf = writeHistory()
    const lines = linesOf(buf, 'a')
    const last = lines[lines.length - 1]!
    const at = buf.indexOf('"state":"done"', last[0]) + '"state":"do'.length
    expect(at).toBeGreaterThan(last[0])
    expect(at).toBeLessThan(last[1])
    const bad = Buffer.from(buf)
    bad[at] = 'x'.charCodeAt(0) // "done" becomes "doxe"
    fs.writeFileSync(file, bad)
    const k = new Journal({ file })
    const report = k.open()
    // The damaged change is not taken; the one before it is.
    expect(k.get('a')!.job.state).toBe('running')
    expect(report.damagedLines).toBe(1)
    k.close()
  })

  it('copies the damaged file aside before rewriting it, never over an earlier copy', () => {
    const buf = writeHistory()
    const damaged = damage(buf, linesOf(buf, 'a')[0]!)
    fs.writeFileSync(file, damaged)
    const now = () => Date.UTC(2025, 0, 2, 3, 4, 5)
    const k = new Journal({ file, now })
    const report = k.open()
    k.close()
    const copies = copiesIn(dir)
    expect(copies).toHaveLength(1)
    expect(report.damagedCopy).toBe(path.join(dir, copies[0]!))
    expect(copies[0]).toContain('2025-01-02T03-04-05')
    expect(fs.readFileSync(report.damagedCopy!)).toEqual(damaged)
    expect(report.message).toContain(report.damagedCopy!)
    // The rewritten file reads clean and has every job.
    const m = new Journal({ file, now })
    const clean = m.open()
    expect(clean.badLines).toBe(0)
    expect(clean.damagedCopy).toBeNull()
    expect(m.jobs().map((x) => x.id)).toEqual(['a', 'b'])
    m.close()

    // Damaged again at the same second: a second copy, the first one is untouched.
    const buf2 = fs.readFileSync(file)
    const damaged2 = damage(buf2, linesOf(buf2, 'b')[0]!)
    fs.writeFileSync(file, damaged2)
    const n = new Journal({ file, now })
    const report2 = n.open()
    n.close()
    expect(copiesIn(dir)).toHaveLength(2)
    expect(report2.damagedCopy).not.toBe(report.damagedCopy)
    expect(fs.readFileSync(report.damagedCopy!)).toEqual(damaged)
    expect(fs.readFileSync(report2.damagedCopy!)).toEqual(damaged2)
  })

  it('rebuilds a job of an older journal from its changes when its first line is damaged', () => {
    const lines = [
      JSON.stringify({ t: 'put', job: job('a'), prompt: PROMPT }),
      JSON.stringify({ t: 'put', job: job('b'), prompt: PROMPT }),
      JSON.stringify({ t: 'patch', id: 'a', patch: { state: 'queued', serverId: 's1' } }),
      JSON.stringify({ t: 'patch', id: 'a', patch: { state: 'done', finishedAt: 9 } })
    ]
    lines[0] = lines[0]!.slice(0, 40) + '\u0000' + lines[0]!.slice(41)
    fs.writeFileSync(file, lines.join('\n') + '\n')
    const k = new Journal({ file })
    const report = k.open()
    expect(k.get('a')!.job).toMatchObject({ id: 'a', state: 'done', serverId: 's1', finishedAt: 9 })
    expect(k.get('a')!.prompt).toBeNull()
    expect(k.get('b')!.job.state).toBe('pending')
    expect(report.damagedLines).toBe(1)
    expect(report.damagedJobs).toEqual(['a'])
    expect(report.lostJobs).toEqual([])
    k.close()
  })

  it('names a job that could not be kept at all', () => {
    const lines = [
      JSON.stringify({ t: 'put', job: job('a'), prompt: PROMPT }),
      JSON.stringify({ t: 'put', job: job('b'), prompt: PROMPT })
    ]
    lines[0] = lines[0]!.slice(0, 60) + '\u0000' + lines[0]!.slice(61)
    fs.writeFileSync(file, lines.join('\n') + '\n')
    const k = new Journal({ file })
    const report = k.open()
    expect(k.get('a')).toBeUndefined()
    expect(report.lostJobs).toEqual(['a'])
    expect(report.message).toMatch(/1 job/)
    k.close()
  })

  it('drops a half-written last line quietly: reported, no copy, the file cut back', () => {
    writeHistory()
    const good = fs.readFileSync(file)
    fs.appendFileSync(file, '{"t":"job","job":{"id":"a","state":"fa')
    const k = new Journal({ file })
    const report = k.open()
    k.close()
    expect(report).toMatchObject({ badLines: 1, damagedLines: 0, tornTail: true })
    expect(report.damagedCopy).toBeNull()
    expect(report.damagedJobs).toEqual([])
    expect(report.message).toMatch(/half-written/)
    expect(copiesIn(dir)).toEqual([])
    expect(fs.readFileSync(file)).toEqual(good)
  })

  it('keeps a last line that only lacks its newline, and appends after it cleanly', () => {
    writeHistory()
    const buf = fs.readFileSync(file)
    fs.writeFileSync(file, buf.subarray(0, buf.length - 1))
    const k = new Journal({ file })
    const report = k.open()
    expect(report).toMatchObject({ badLines: 0, tornTail: false })
    expect(k.get('a')!.job.state).toBe('done')
    k.patch('b', { state: 'queued' })
    k.close()
    const m = new Journal({ file })
    expect(m.open().badLines).toBe(0)
    expect(m.get('a')!.job.state).toBe('done')
    expect(m.get('b')!.job.state).toBe('queued')
    m.close()
  })

  it('reports nothing for a clean file', () => {
    writeHistory()
    const k = new Journal({ file })
    expect(k.open()).toEqual({
      jobs: 2,
      badLines: 0,
      damagedLines: 0,
      tornTail: false,
      damagedJobs: [],
      lostJobs: [],
      damagedCopy: null,
      message: null
    })
    k.close()
  })
})
