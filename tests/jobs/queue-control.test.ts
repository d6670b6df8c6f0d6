/**
 * The queue the user controls: pause and resume sending (kept across restarts), priority and
 * order of the jobs waiting here, cancelling a batch or everything, retrying what failed.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import type { BalancerCore } from '../../src/main/core/app'
import { queueOrder } from '../../src/main/core/jobs/dispatch'
import { queueStateFile, writeQueueState } from '../../src/main/core/jobs/job-store'
import type { JobRecord } from '../../src/shared/types'
import { makeCore, servers, sleep, tmp, until, workflow } from './helpers'

/** Job ids in the order a server accepted them. */
function acceptOrder(core: BalancerCore): string[] {
  const order: string[] = []
  core.jobs!.events.on('job', (j) => {
    if ((j.state === 'queued' || j.state === 'running') && !order.includes(j.id)) order.push(j.id)
  })
  return order
}

describe('pause and resume sending', () => {
  it('sends nothing while paused, lets jobs on a server finish, sends the rest on resume', async () => {
    const [fake] = await servers(1, { jobMs: 150 })
    const core = makeCore([fake!.url], tmp())
    core.start()
    await core.checkNow()
    const engine = core.jobs!
    const first = engine.submit(workflow())
    await until(() => engine.get(first.id)!.state !== 'pending')
    core.pauseSending()
    expect(core.isSendingPaused()).toBe(true)
    const waiting = [engine.submit(workflow()), engine.submit(workflow())]
    // The job already on the server goes on.
    expect((await engine.waitFor(first.id)).state).toBe('done')
    await sleep(300)
    for (const j of waiting) {
      expect(engine.get(j.id)!.state).toBe('pending')
      expect(fake!.executionCount(j.id)).toBe(0)
    }
    expect(engine.get(waiting[0]!.id)!.notes.at(-1)).toEqual({ code: 'paused' })
    core.resumeSending()
    const done = await Promise.all(waiting.map((j) => engine.waitFor(j.id)))
    expect(done.map((j) => j.state)).toEqual(['done', 'done'])
    expect(waiting.map((j) => fake!.executionCount(j.id))).toEqual([1, 1])
  })

  it('stays paused after a restart, with its waiting jobs kept', async () => {
    const [fake] = await servers(1, { jobMs: 30 })
    const dir = tmp()
    const a = makeCore([fake!.url], dir)
    a.start()
    await a.checkNow()
    a.pauseSending()
    const job = a.jobs!.submit(workflow())
    await a.stop()
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'jobs.queue.json'), 'utf8')).paused).toBe(true)
    const b = makeCore([fake!.url], dir)
    expect(b.isSendingPaused()).toBe(true)
    b.start()
    await b.checkNow()
    await sleep(200)
    expect(b.jobs!.get(job.id)!.state).toBe('pending')
    expect(fake!.executionCount(job.id)).toBe(0)
    const states: boolean[] = []
    b.onQueueState((s) => states.push(s.paused))
    b.resumeSending()
    expect(states).toEqual([false])
    expect((await b.jobs!.waitFor(job.id)).state).toBe('done')
    // And the resumed state is what the next start finds.
    await b.stop()
    expect(makeCore([fake!.url], dir).isSendingPaused()).toBe(false)
  })

  it('takes up a pause written to its state file by another program at the next check', async () => {
    const [fake] = await servers(1, { jobMs: 30 })
    const dir = tmp()
    const core = makeCore([fake!.url], dir)
    core.start()
    await core.checkNow()
    writeQueueState(queueStateFile(path.join(dir, 'jobs.jsonl')), {
      paused: true,
      changedAt: Date.now()
    })
    await until(() => core.isSendingPaused(), 5_000)
    const job = core.jobs!.submit(workflow())
    await sleep(200)
    expect(fake!.executionCount(job.id)).toBe(0)
    core.resumeSending()
    expect((await core.jobs!.waitFor(job.id)).state).toBe('done')
  })
})

describe('priority and order', () => {
  it('orders by priority, then by order key, else keeps the given order', () => {
    const j = (id: string, createdAt: number, more: Partial<JobRecord> = {}) =>
      ({ id, createdAt, ...more }) as JobRecord
    const list = [
      j('a', 1),
      j('b', 2, { priority: 'low' }),
      j('c', 3, { priority: 'high' }),
      j('d', 4, { order: 0 }),
      j('e', 1)
    ]
    expect(queueOrder(list).map((x) => x.id)).toEqual(['c', 'd', 'a', 'e', 'b'])
  })

  it('sends waiting jobs by priority and the order the user set, and keeps both after a restart', async () => {
    const [fake] = await servers(1, { jobMs: 40 })
    const dir = tmp()
    const a = makeCore([fake!.url], dir)
    a.start()
    await a.checkNow()
    a.pauseSending()
    const engine = a.jobs!
    const [j1, j2, j3, j4, j5] = Array.from({ length: 5 }, () => engine.submit(workflow()))
    a.setJobPriority({ jobId: j5!.id }, 'high')
    a.setJobPriority({ jobId: j1!.id }, 'low')
    // j5 (high), j2, j3, j4, j1 (low)
    expect(a.waitingJobs().map((j) => j.id)).toEqual([j5, j2, j3, j4, j1].map((j) => j!.id))
    // To the top: before j5, so it takes j5's priority.
    a.moveJobs({ jobId: j4!.id }, 'top')
    expect(engine.get(j4!.id)!.priority).toBe('high')
    a.moveJobs({ jobId: j3!.id }, 'up')
    // j4, j5, j3, j2, j1: j3 went up past j2 only (both normal).
    expect(a.waitingJobs().map((j) => j.id)).toEqual([j4, j5, j3, j2, j1].map((j) => j!.id))
    expect(engine.get(j3!.id)!.priority).toBeUndefined()
    // Down past j1 (low): it becomes low and comes last.
    a.moveJobs({ jobId: j2!.id }, 'down')
    const want = [j4, j5, j3, j1, j2].map((j) => j!.id)
    expect(a.waitingJobs().map((j) => j.id)).toEqual(want)
    expect(engine.get(j2!.id)!.priority).toBe('low')
    await a.stop()

    const b = makeCore([fake!.url], dir)
    b.start()
    expect(b.waitingJobs().map((j) => j.id)).toEqual(want)
    const order = acceptOrder(b)
    await b.checkNow()
    b.resumeSending()
    await Promise.all(want.map((id) => b.jobs!.waitFor(id)))
    expect(order).toEqual(want)
  })

  it('moves and prioritises a batch as a block, keeping its run order', async () => {
    const [fake] = await servers(1, { jobMs: 30 })
    const core = makeCore([fake!.url], tmp())
    core.start()
    await core.checkNow()
    core.pauseSending()
    const engine = core.jobs!
    const single = engine.submit(workflow())
    const { batchId, jobs } = engine.submitBatch(workflow(), {
      count: 3,
      seed: 'increment',
      sets: []
    })
    const last = engine.submit(workflow())
    core.moveJobs({ batchId }, 'top')
    expect(core.waitingJobs().map((j) => j.id)).toEqual([
      ...jobs.map((j) => j.id),
      single.id,
      last.id
    ])
    core.moveJobs({ batchId }, 'down')
    expect(core.waitingJobs().map((j) => j.id)).toEqual([
      single.id,
      ...jobs.map((j) => j.id),
      last.id
    ])
    const changed = core.setJobPriority({ batchId }, 'low')
    expect(changed.map((j) => j.id)).toEqual(jobs.map((j) => j.id))
    expect(core.waitingJobs().map((j) => j.id)).toEqual([
      single.id,
      last.id,
      ...jobs.map((j) => j.id)
    ])
    expect(() => core.setJobPriority({ batchId }, 'urgent' as never)).toThrow(/high, normal or low/)
    expect(() => core.moveJobs({ batchId: 'nope' }, 'top')).toThrow(/Unknown batch/)
  })
})

describe('cancel a batch or everything', () => {
  it('cancels every job waiting or running, on the servers too', async () => {
    const fleet = await servers(2, { jobMs: 2_000 })
    const core = makeCore(
      fleet.map((s) => s.url),
      tmp()
    )
    core.start()
    await core.checkNow()
    const engine = core.jobs!
    const { jobs } = engine.submitBatch(workflow(), { count: 4, seed: 'increment', sets: [] })
    const other = engine.submit(workflow())
    await until(() => engine.jobs().some((j) => j.state === 'running'))
    const cancelled = await core.cancelAllJobs()
    expect(cancelled.map((j) => j.id).sort()).toEqual([...jobs, other].map((j) => j.id).sort())
    for (const j of [...jobs, other]) expect(engine.get(j.id)!.state).toBe('cancelled')
    // Nothing of ours is left in any server's queue.
    for (const s of fleet) {
      const q = (await (await fetch(`${s.url}/api/queue`)).json()) as {
        queue_running: unknown[][]
        queue_pending: unknown[][]
      }
      const ids = [...q.queue_running, ...q.queue_pending].map((x) => x[1])
      for (const j of [...jobs, other]) expect(ids).not.toContain(j.id)
    }
  })

  it('cancels a batch through the front door and leaves other jobs alone', async () => {
    const [fake] = await servers(1, { jobMs: 100 })
    const core = makeCore([fake!.url], tmp())
    core.start()
    await core.checkNow()
    core.pauseSending()
    const other = core.jobs!.submit(workflow())
    const { batchId } = core.jobs!.submitBatch(workflow(), {
      count: 3,
      seed: 'increment',
      sets: []
    })
    const runs = await core.cancelBatch(batchId)
    expect(runs.map((j) => j.state)).toEqual(['cancelled', 'cancelled', 'cancelled'])
    expect(core.jobs!.get(other.id)!.state).toBe('pending')
  })
})

describe('retry', () => {
  it('runs a failed job again as a new job in its place in the batch', async () => {
    const [fake] = await servers(1, { jobMs: 20 })
    const core = makeCore([fake!.url], tmp(), { retryAttempts: 0 })
    core.start()
    await core.checkNow()
    const engine = core.jobs!
    // Run 1 runs out of memory on the server (the fake's seed 666).
    const prompts = [0, 1, 2].map((i) => {
      const p = structuredClone(workflow().prompt) as Record<
        string,
        { inputs: Record<string, unknown> }
      >
      p['3']!.inputs.seed = i === 1 ? 666 : 1000 + i
      return p as never
    })
    const { batchId, jobs } = engine.submitBatch(workflow(), prompts)
    const ended = await Promise.all(jobs.map((j) => engine.waitFor(j.id)))
    expect(ended.map((j) => j.state)).toEqual(['done', 'failed', 'done'])
    expect(() => core.retryJob(jobs[0]!.id)).toThrow(/finished well/)

    const [again] = core.retryBatch(batchId)
    expect(again!.id).not.toBe(jobs[1]!.id)
    expect(again!.batch).toEqual({ id: batchId, index: 1, size: 3 })
    expect(again!.retryOf).toBe(jobs[1]!.id)
    expect(engine.get(jobs[1]!.id)!.retriedAs).toBe(again!.id)
    // The retry stands in for the failed run in its batch.
    expect(engine.batchJobs(batchId).map((j) => j.id)).toEqual([
      jobs[0]!.id,
      again!.id,
      jobs[2]!.id
    ])
    await engine.waitFor(again!.id)
    // The same workflow reached the server again, under the new id.
    expect(fake!.executionCount(again!.id)).toBe(1)
    const sent = fake!.historyEntry(again!.id)!.prompt[2] as Record<
      string,
      { inputs: Record<string, unknown> }
    >
    expect(sent['3']!.inputs.seed).toBe(666)
    expect(() => core.retryJob(jobs[1]!.id)).toThrow(/retried already/)
  })

  it('retries a job that failed because no server took it, keeping its priority', async () => {
    const [fake] = await servers(1, { jobMs: 20 })
    const core = makeCore([fake!.url], tmp(), { retryAttempts: 0 })
    core.start()
    await core.checkNow()
    const engine = core.jobs!
    core.pauseSending()
    const job = engine.submit(workflow())
    core.setJobPriority({ jobId: job.id }, 'high')
    fake!.setFault({ kind: 'status', status: 500 })
    core.resumeSending()
    expect((await engine.waitFor(job.id)).state).toBe('failed')
    fake!.setFault(null)
    expect(() => core.retryJob('nope')).toThrow(/Unknown job/)
    const again = core.retryJob(job.id)
    expect(again.priority).toBe('high')
    expect(again.batch).toBeUndefined()
    expect((await engine.waitFor(again.id)).state).toBe('done')
  })
})
