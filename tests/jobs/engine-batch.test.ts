/**
 * Batches: one workflow run N times, journaled before anything is sent, spread over the fleet
 * by late binding, cancelled as a whole.
 */
import http from 'node:http'
import { describe, expect, it } from 'vitest'
import type { JobRecord } from '../../src/shared/types'
import { makeCore, onCleanup, servers, sleep, tmp, until, workflow } from './helpers'

const FILE_SEED = 156680208700286

describe('a batch', () => {
  it('journals every run before sending any, then spreads 12 runs over 3 servers, each run once', async () => {
    const fleet = await servers(3, { jobMs: 150 })
    const core = makeCore(
      fleet.map((s) => s.url),
      tmp()
    )
    core.start()
    await core.checkNow()
    const engine = core.jobs!
    // How many jobs of the batch were journaled when the first one was sent.
    let journaledAtFirstSend: number | null = null
    engine.events.on('job', (j) => {
      if (journaledAtFirstSend === null && (j.attempts.length || j.state !== 'pending'))
        journaledAtFirstSend = engine.jobs().filter((x) => x.batch).length
    })
    const { batchId, jobs } = engine.submitBatch(workflow(), {
      count: 12,
      seed: 'increment',
      sets: [{ node: '6', input: 'text', value: 'a red fox' }]
    })
    expect(jobs.map((j) => j.batch)).toEqual(
      jobs.map((_, index) => ({ id: batchId, index, size: 12 }))
    )
    const done = await Promise.all(jobs.map((j) => engine.waitFor(j.id)))
    expect(done.map((j) => j.state)).toEqual(Array(12).fill('done'))
    // All twelve were written before the first one was sent.
    expect(journaledAtFirstSend).toBe(12)
    // Every server got some of them.
    expect(new Set(done.map((j) => j.serverUrl))).toEqual(new Set(fleet.map((s) => s.url)))
    // Each prompt ran exactly once, anywhere in the fleet, with its own seed and the new text.
    const seeds: number[] = []
    for (const j of done) {
      const runs = fleet.map((s) => s.executionCount(j.id))
      expect(runs.reduce((a, b) => a + b, 0)).toBe(1)
      const server = fleet.find((s) => s.url === j.serverUrl)!
      const prompt = server.historyEntry(j.id)!.prompt[2] as Record<
        string,
        { inputs: Record<string, unknown> }
      >
      expect(prompt['6']!.inputs.text).toBe('a red fox')
      seeds[j.batch!.index] = prompt['3']!.inputs.seed as number
    }
    expect(seeds).toEqual(Array.from({ length: 12 }, (_, i) => FILE_SEED + i))
    expect(engine.batchJobs(batchId).map((j) => j.id)).toEqual(jobs.map((j) => j.id))
  })

  it('takes the prompts it is given, one job each', async () => {
    const fleet = await servers(1, { jobMs: 20 })
    const core = makeCore([fleet[0]!.url], tmp())
    core.start()
    await core.checkNow()
    const wf = workflow()
    const prompts = [1, 2, 3].map((seed) => {
      const p = structuredClone(wf.prompt)
      p['3']!.inputs.seed = seed
      return p
    })
    const { jobs } = core.jobs!.submitBatch(wf, prompts)
    const done = await Promise.all(jobs.map((j) => core.jobs!.waitFor(j.id)))
    expect(
      done.map((j) => {
        const p = fleet[0]!.historyEntry(j.id)!.prompt[2] as Record<
          string,
          { inputs: Record<string, unknown> }
        >
        return p['3']!.inputs.seed
      })
    ).toEqual([1, 2, 3])
  })

  it('refuses variations that cannot be made, journaling nothing', async () => {
    const fleet = await servers(1)
    const core = makeCore([fleet[0]!.url], tmp())
    core.start()
    expect(() =>
      core.jobs!.submitBatch(workflow(), {
        count: 3,
        seed: 'random',
        sets: [{ node: 'CLIP Text Encode (Prompt)', input: 'text', value: 'x' }]
      })
    ).toThrow(/is on nodes 6, 7/)
    expect(() => core.jobs!.submitBatch(workflow(), [])).toThrow(/1 to 1000 runs/)
    expect(core.jobs!.jobs()).toEqual([])
  })

  it('cancels the whole batch: the running run is interrupted, the waiting ones never sent', async () => {
    const fleet = await servers(1, { jobMs: 20_000 })
    const core = makeCore([fleet[0]!.url], tmp())
    core.start()
    await core.checkNow()
    const engine = core.jobs!
    const { batchId, jobs } = engine.submitBatch(workflow(), {
      count: 5,
      seed: 'random',
      sets: []
    })
    await until(() => engine.get(jobs[0]!.id)!.state === 'running')
    const after = await engine.cancelBatch(batchId)
    expect(after.map((j: JobRecord) => j.state)).toEqual(Array(5).fill('cancelled'))
    await until(() => fleet[0]!.queueSnapshot().running.length === 0)
    expect(fleet[0]!.queueSnapshot().pending).toEqual([])
    // The runs still waiting here were never sent; at most the next one was on its way.
    const sent = after.filter((j) => j.attempts.length > 0)
    expect(sent.length).toBeLessThanOrEqual(2)
    for (const j of after.filter((x) => !x.attempts.length))
      expect(fleet[0]!.executionCount(j.id)).toBe(0)
    expect(fleet[0]!.executionCount(jobs[4]!.id)).toBe(0)
    await expect(engine.cancelBatch('no-such-batch')).rejects.toThrow('Unknown batch')
  })

  it('keeps each job’s place in its batch over a restart', async () => {
    const fleet = await servers(1, { jobMs: 20 })
    const dir = tmp()
    const first = makeCore([fleet[0]!.url], dir)
    first.start()
    await first.checkNow()
    const { batchId, jobs } = first.jobs!.submitBatch(workflow(), {
      count: 3,
      seed: 'increment',
      sets: []
    })
    await Promise.all(jobs.map((j) => first.jobs!.waitFor(j.id)))
    await first.stop()
    const again = makeCore([fleet[0]!.url], dir)
    again.start()
    expect(again.jobs!.batchJobs(batchId).map((j) => [j.id, j.batch])).toEqual(
      jobs.map((j, index) => [j.id, { id: batchId, index, size: 3 }])
    )
  })
})

describe('cancel while the POST is under way', () => {
  it('takes the job off its server once the server answers that it took it', async () => {
    const fleet = await servers(1, { jobMs: 20_000 })
    // A proxy that holds the answer to POST /prompt back for 400 ms: the prompt is queued
    // (and starts) while we still wait for the answer.
    const target = new URL(fleet[0]!.url)
    const proxy = http.createServer((req, res) => {
      const up = http.request(
        {
          host: target.hostname,
          port: target.port,
          path: req.url,
          method: req.method,
          headers: req.headers
        },
        (r) => {
          const hold = req.method === 'POST' && req.url?.endsWith('/prompt') ? 400 : 0
          setTimeout(() => {
            res.writeHead(r.statusCode ?? 502, r.headers)
            r.pipe(res)
          }, hold)
        }
      )
      up.on('error', () => res.destroy())
      req.pipe(up)
    })
    proxy.on('upgrade', (_req, socket) => socket.destroy())
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()))
    onCleanup(() => new Promise<void>((r) => proxy.close(() => r())))
    const url = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`
    const core = makeCore([url], tmp(), { timeout: 2_000, healthCheckInterval: 60_000 })
    core.start()
    await core.checkNow()
    const engine = core.jobs!
    const job = engine.submit(workflow())
    const states: string[] = []
    engine.events.on('job', (j) => {
      if (j.id === job.id && states.at(-1) !== j.state) states.push(j.state)
    })
    await until(() => engine.get(job.id)!.attempts.some((a) => a.result.code === 'sending'))
    expect((await engine.cancel(job.id)).state).toBe('cancelled')
    // The server took it (and started it) meanwhile: it is interrupted, and stays cancelled.
    await until(() => fleet[0]!.executionCount(job.id) === 1)
    await until(() => fleet[0]!.queueSnapshot().running.length === 0)
    await sleep(300)
    expect(engine.get(job.id)!.state).toBe('cancelled')
    expect(fleet[0]!.queueSnapshot()).toEqual({ running: [], pending: [] })
    // Never shown as queued or running again once cancelled, and cancelled once.
    expect(states.slice(states.indexOf('cancelled'))).toEqual(['cancelled'])
    expect(engine.get(job.id)!.notes.filter((n) => n.code === 'cancelled')).toHaveLength(1)
    // Cancelling it again (or everything) changes nothing.
    expect(await engine.cancelAll()).toEqual([])
    expect(engine.get(job.id)!.notes.filter((n) => n.code === 'cancelled')).toHaveLength(1)
  })
})
