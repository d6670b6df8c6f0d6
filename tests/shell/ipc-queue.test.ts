/**
 * The queue channels: pause and resume sending, order and priority of waiting jobs, cancel a
 * batch or everything, retry. Through `dispatch` (argument validation included) on a real core
 * with jobs and no servers, so every job stays waiting here and nothing touches the network.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { BalancerCore } from '../../src/main/core/app'
import { parseSettings } from '../../src/main/core/settings'
import {
  createIpcHandlers,
  dispatch,
  forwardPushes,
  IpcArgumentError,
  JobsDisabledError
} from '../../src/main/ipc-handlers'
import type { IpcHandlers } from '../../src/shared/ipc'
import type { JobRecord, QueueState } from '../../src/shared/types'

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'txt2img.json')

let dir: string
let core: BalancerCore
let handlers: IpcHandlers
const call = (channel: string, ...args: unknown[]) => dispatch(handlers, channel, args)

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cb-ipc-queue-'))
  core = new BalancerCore({
    settings: parseSettings({ timeout: 1000 }).settings,
    jobs: { journalFile: join(dir, 'jobs.jsonl'), outputDir: join(dir, 'out') }
  })
  core.start()
  handlers = createIpcHandlers(core)
})

afterEach(async () => {
  await core.stop()
  rmSync(dir, { recursive: true, force: true })
})

async function submit(n = 1): Promise<JobRecord[]> {
  const out: JobRecord[] = []
  for (let i = 0; i < n; i++) out.push((await call('jobs:submit', { path: FIXTURE })) as JobRecord)
  return out
}

const ids = (list: unknown) => (list as JobRecord[]).map((j) => j.id)

describe('queue:pause, queue:resume, queue:state', () => {
  it('pause and resume sending, say so, and push each change', async () => {
    const send = vi.fn()
    const stop = forwardPushes(core, send)
    expect(((await call('queue:state')) as QueueState).paused).toBe(false)
    const paused = (await call('queue:pause')) as QueueState
    expect(paused.paused).toBe(true)
    expect(core.isSendingPaused()).toBe(true)
    expect(((await call('queue:state')) as QueueState).paused).toBe(true)
    expect(send).toHaveBeenCalledWith('queue:push', expect.objectContaining({ paused: true }))
    expect(((await call('queue:resume')) as QueueState).paused).toBe(false)
    expect(send).toHaveBeenLastCalledWith('queue:push', expect.objectContaining({ paused: false }))
    stop()
    await call('queue:pause')
    expect(send.mock.calls.filter(([c]) => c === 'queue:push')).toHaveLength(2)
  })

  it('refuse arguments', async () => {
    await expect(call('queue:pause', true)).rejects.toThrow(IpcArgumentError)
    await expect(call('queue:state', 1)).rejects.toThrow(IpcArgumentError)
  })
})

describe('jobs:move and jobs:setPriority', () => {
  it('move a waiting job to the top, down and up, and answer with the queue in order', async () => {
    await call('queue:pause')
    const [a, b, c] = await submit(3)
    expect(ids(core.waitingJobs())).toEqual([a!.id, b!.id, c!.id])
    expect(ids(await call('jobs:move', { jobId: c!.id }, 'top'))).toEqual([c!.id, a!.id, b!.id])
    expect(ids(await call('jobs:move', { jobId: c!.id }, 'down'))).toEqual([a!.id, c!.id, b!.id])
    expect(ids(await call('jobs:move', { jobId: b!.id }, 'up'))).toEqual([a!.id, b!.id, c!.id])
    expect(ids(await call('jobs:move', { jobId: a!.id }, 'bottom'))).toEqual([b!.id, c!.id, a!.id])
  })

  it('set a priority that sends a job before the others', async () => {
    await call('queue:pause')
    const [a, b] = await submit(2)
    const changed = (await call('jobs:setPriority', { jobId: b!.id }, 'high')) as JobRecord[]
    expect(changed.map((j) => [j.id, j.priority])).toEqual([[b!.id, 'high']])
    expect(ids(core.waitingJobs())).toEqual([b!.id, a!.id])
  })

  it('refuse a bad target, place or priority before the core sees it', async () => {
    const [a] = await submit(1)
    const bad: unknown[][] = [
      ['jobs:move', { jobId: a!.id }, 'first'],
      ['jobs:move', { jobId: 'not a job id' }, 'top'],
      ['jobs:move', { jobId: a!.id, batchId: 'b' }, 'top'],
      ['jobs:move', { jobId: a!.id }],
      ['jobs:move', { jobId: a!.id }, 'top', 'extra'],
      ['jobs:setPriority', { jobId: a!.id }, 'urgent'],
      ['jobs:setPriority', { batchId: 'has space' }, 'high'],
      ['jobs:cancelBatch', ''],
      ['jobs:cancelAll', 'all'],
      ['jobs:retry', 42],
      ['jobs:retryBatch', { batchId: 'x' }]
    ]
    for (const [channel, ...args] of bad) {
      await expect(call(channel as string, ...args), String(channel)).rejects.toThrow(
        IpcArgumentError
      )
    }
    expect(core.waitingJobs()[0]!.priority).toBeUndefined()
  })
})

describe('jobs:cancelBatch, jobs:cancelAll, jobs:retry, jobs:retryBatch', () => {
  it('cancel every run of a batch, and retry one in its place', async () => {
    await call('queue:pause')
    const first = (await call('jobs:submit', { path: FIXTURE, count: 3 })) as JobRecord
    const batchId = first.batch!.id
    const [other] = await submit(1)
    const runs = (await call('jobs:cancelBatch', batchId)) as JobRecord[]
    expect(runs.map((j) => j.state)).toEqual(['cancelled', 'cancelled', 'cancelled'])
    expect(core.jobs!.get(other!.id)!.state).toBe('pending')
    const retry = (await call('jobs:retry', first.id)) as JobRecord
    expect(retry.id).not.toBe(first.id)
    expect(retry.retryOf).toBe(first.id)
    expect(retry.batch).toEqual(first.batch)
    expect(core.jobs!.get(first.id)!.retriedAs).toBe(retry.id)
    await expect(call('jobs:retry', first.id)).rejects.toThrow(/retried already/)
    // Cancelled runs were the user's choice: a batch retry takes only failed ones.
    expect(await call('jobs:retryBatch', batchId)).toEqual([])
    await expect(call('jobs:retryBatch', 'no-such-batch')).rejects.toThrow(/Unknown batch/)
  })

  it('cancel everything unfinished', async () => {
    await call('queue:pause')
    const jobs = await submit(2)
    const cancelled = (await call('jobs:cancelAll')) as JobRecord[]
    expect(ids(cancelled).sort()).toEqual(ids(jobs).sort())
    expect(cancelled.every((j) => j.state === 'cancelled')).toBe(true)
    expect(core.waitingJobs()).toEqual([])
  })
})

describe('without jobs', () => {
  it('says the queue is not available', async () => {
    const bare = new BalancerCore({ settings: parseSettings({ timeout: 1000 }).settings })
    const h = createIpcHandlers(bare)
    expect(h['queue:state']()).toEqual({ paused: false, changedAt: null })
    expect(() => h['queue:pause']()).toThrow(JobsDisabledError)
    expect(() => h['jobs:cancelAll']()).toThrow(JobsDisabledError)
    expect(() => h['jobs:retry']('6f1c4a3e-0000-4000-8000-000000000001')).toThrow(JobsDisabledError)
  })
})
