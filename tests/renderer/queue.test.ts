// @vitest-environment jsdom
/**
 * The queue in the window: pause and resume sending, the waiting jobs' place, moving them and
 * their priority, retrying a failed job, a batch's cancel and retry of its failed runs (runs a
 * retry replaced are not counted), and "Cancel all" after a confirmation. In English and Chinese.
 */
import { cleanup, fireEvent, render, screen, within } from '@testing-library/svelte'
import { tick } from 'svelte'
import { afterEach, describe, expect, it } from 'vitest'
import App from '../../src/renderer/src/App.svelte'
import { setLocale } from '../../src/renderer/src/lib/i18n.svelte'
import { canRetry, countedRuns, queueOrder } from '../../src/renderer/src/lib/jobs-state.svelte'
import type { QueueTarget } from '../../src/shared/ipc'
import type { AppSettings, FleetStatus, JobRecord, QueueState } from '../../src/shared/types'
import { fleet, server } from '../core/helpers'
import { fakeApi, makeJob, type FakeApi } from './fake-api'

afterEach(() => {
  cleanup()
  window.location.hash = ''
  localStorage.clear()
  setLocale('en')
})

const settings: AppSettings = {
  healthCheckInterval: 30_000,
  timeout: 10_000,
  retryAttempts: 3,
  verboseLogging: false,
  queueWeightEnabled: true,
  failoverEnabled: true,
  notifications: { serverDown: true, serverUp: true, jobDone: true, jobFailed: true },
  startAtLogin: false,
  outputDir: '',
  language: 'system',
  theme: 'system',
  jobHistoryLimit: 500,
  servers: [{ id: 'gpu-1', name: 'gpu-1', url: 'http://10.0.0.1:8188', enabled: true }]
}
const status = (): FleetStatus => fleet([server('gpu-1', { url: 'http://10.0.0.1:8188' })], 'gpu-1')

const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`

interface QueueApi extends FakeApi {
  pushQueue(state: QueueState): void
  failNext(message: string): void
}

/** The fake API with the queue calls: they record, and change the fake's jobs as main would. */
function queueApi(jobs: JobRecord[], paused = false): QueueApi {
  const base = fakeApi({ status: status(), settings, jobs }) as QueueApi
  let state: QueueState = { paused, changedAt: paused ? 1_000 : null }
  const listeners = new Set<(s: QueueState) => void>()
  let failure: string | null = null
  const all = async () => base.jobs.list()
  const record = async (name: string, ...args: unknown[]) => {
    base.calls.push([name, ...args])
    if (failure) {
      const m = failure
      failure = null
      throw new Error(m)
    }
  }
  const setQueue = (s: QueueState) => {
    state = s
    for (const fn of listeners) fn(s)
    return s
  }
  const targets = async (t: QueueTarget) =>
    (await all()).filter((j) => ('jobId' in t ? j.id === t.jobId : j.batch?.id === t.batchId))
  let clock = 10_000
  const change = (j: JobRecord, patch: Partial<JobRecord>) => {
    const next = { ...j, ...patch, updatedAt: ++clock }
    base.pushJob(next)
    return next
  }
  Object.assign(base, {
    queue: {
      state: async () => state,
      pause: async () => (await record('queue.pause'), setQueue({ paused: true, changedAt: 2 })),
      resume: async () => (await record('queue.resume'), setQueue({ paused: false, changedAt: 3 })),
      onState: (fn: (s: QueueState) => void) => {
        listeners.add(fn)
        return () => listeners.delete(fn)
      }
    },
    pushQueue: setQueue,
    failNext: (m: string) => (failure = m)
  })
  Object.assign(base.jobs, {
    move: async (t: QueueTarget, where: string) => {
      await record('jobs.move', t, where)
      const list = queueOrder(await all())
      const moved = await targets(t)
      // Only the top is modelled here: before the first waiting job.
      if (where === 'top')
        for (const j of moved) change(j, { order: (list[0]?.order ?? list[0]!.createdAt) - 1 })
      return queueOrder(await all())
    },
    setPriority: async (t: QueueTarget, priority: string) => {
      await record('jobs.setPriority', t, priority)
      return (await targets(t)).map((j) =>
        change(j, { priority: priority as JobRecord['priority'] })
      )
    },
    cancelBatch: async (batchId: string) => {
      await record('jobs.cancelBatch', batchId)
      return (await targets({ batchId })).map((j) => change(j, { state: 'cancelled' }))
    },
    cancelAll: async () => {
      await record('jobs.cancelAll')
      return (await all())
        .filter((j) => !['done', 'failed', 'cancelled', 'interrupted'].includes(j.state))
        .map((j) => change(j, { state: 'cancelled' }))
    },
    retry: async (jobId: string) => {
      await record('jobs.retry', jobId)
      const old = (await all()).find((j) => j.id === jobId)!
      const job = makeJob({
        ...old,
        id: id(900),
        state: 'pending',
        error: null,
        retryOf: old.id,
        createdAt: 20_000,
        updatedAt: 20_000
      })
      base.pushJob(job)
      return job
    },
    retryBatch: async (batchId: string) => {
      await record('jobs.retryBatch', batchId)
      return []
    }
  })
  return base
}

async function settle(): Promise<void> {
  for (let i = 0; i < 4; i++) await new Promise((r) => setTimeout(r, 0))
  await tick()
}

async function openJobs(api: FakeApi): Promise<void> {
  window.location.hash = '#jobs'
  render(App, { props: { api } })
  await settle()
}

const card = (jobId: string) =>
  document.querySelector<HTMLElement>(`[data-testid="job"][data-job-id="${jobId}"]`)!

describe('the queue order the window computes', () => {
  it('sends high before normal before low, then by place, and only waiting jobs', () => {
    const list = [
      makeJob({ id: 'a', createdAt: 1 }),
      makeJob({ id: 'b', createdAt: 2, priority: 'high' }),
      makeJob({ id: 'c', createdAt: 3, order: 0.5 }),
      makeJob({ id: 'd', createdAt: 4, priority: 'low' }),
      makeJob({ id: 'e', createdAt: 0, state: 'running' })
    ]
    expect(queueOrder(list).map((j) => j.id)).toEqual(['b', 'c', 'a', 'd'])
  })

  it('retries what ended without its pictures, once', () => {
    expect(canRetry(makeJob({ id: 'a', state: 'failed' }))).toBe(true)
    expect(canRetry(makeJob({ id: 'a', state: 'cancelled' }))).toBe(true)
    expect(canRetry(makeJob({ id: 'a', state: 'done' }))).toBe(false)
    expect(canRetry(makeJob({ id: 'a', state: 'running' }))).toBe(false)
    expect(canRetry(makeJob({ id: 'a', state: 'failed', retriedAs: 'b' }))).toBe(false)
    expect(countedRuns([makeJob({ id: 'a', retriedAs: 'b' }), makeJob({ id: 'b' })])).toHaveLength(
      1
    )
  })
})

describe('pause and resume sending', () => {
  it('says sending is paused, resumes on a click, and follows changes made elsewhere', async () => {
    const api = queueApi([makeJob({ id: id(1) })], true)
    await openJobs(api)
    const bar = screen.getByTestId('queue-bar')
    expect(bar).toHaveTextContent('Sending paused: jobs wait in Comfy Balancer')
    expect(card(id(1))).toHaveTextContent('Waiting here: sending is paused')
    await fireEvent.click(within(bar).getByRole('button', { name: 'Resume sending' }))
    await settle()
    expect(api.calls).toContainEqual(['queue.resume'])
    expect(bar).not.toHaveTextContent('Sending paused')
    expect(card(id(1))).not.toHaveTextContent('sending is paused')
    // The tray or the CLI paused it.
    api.pushQueue({ paused: true, changedAt: 9 })
    await settle()
    expect(within(bar).getByRole('button', { name: 'Resume sending' })).toBeInTheDocument()
    expect(bar).toHaveTextContent('Sending paused')
  })

  it('has no queue bar where the API has no queue', async () => {
    const api = fakeApi({ status: status(), settings, jobs: [makeJob({ id: id(1) })] })
    // An older API without the queue group.
    delete (api as { queue?: unknown }).queue
    await openJobs(api)
    expect(screen.getByTestId('job')).toBeInTheDocument()
    expect(screen.queryByTestId('queue-bar')).toBeNull()
  })
})

describe('a waiting job', () => {
  const waiting = () => [
    makeJob({ id: id(1), createdAt: 1_000 }),
    makeJob({ id: id(2), createdAt: 2_000 }),
    makeJob({ id: id(3), createdAt: 3_000 }),
    makeJob({ id: id(4), createdAt: 500, state: 'running', serverId: 'gpu-1' })
  ]

  it('shows its place in line and moves to the top', async () => {
    const api = queueApi(waiting())
    await openJobs(api)
    expect(within(card(id(1))).getByTestId('queue-place')).toHaveTextContent('In line here: 1 of 3')
    expect(within(card(id(3))).getByTestId('queue-place')).toHaveTextContent('In line here: 3 of 3')
    // A job on a server has no place here.
    expect(within(card(id(4))).queryByTestId('queue-controls')).toBeNull()
    expect(within(card(id(1))).getByRole('button', { name: 'Move up' })).toBeDisabled()
    expect(within(card(id(3))).getByRole('button', { name: 'Move down' })).toBeDisabled()
    await fireEvent.click(within(card(id(3))).getByRole('button', { name: 'Move to top' }))
    await settle()
    expect(api.calls).toContainEqual(['jobs.move', { jobId: id(3) }, 'top'])
    expect(within(card(id(3))).getByTestId('queue-place')).toHaveTextContent('In line here: 1 of 3')
    expect(within(card(id(1))).getByTestId('queue-place')).toHaveTextContent('In line here: 2 of 3')
    await fireEvent.click(within(card(id(1))).getByRole('button', { name: 'Move down' }))
    await settle()
    expect(api.calls).toContainEqual(['jobs.move', { jobId: id(1) }, 'down'])
  })

  it('made in the same millisecond, keeps the order main made them in', async () => {
    // Listed oldest first by the journal; their ids sort the other way.
    const api = queueApi([
      makeJob({ id: id(9), createdAt: 1_000 }),
      makeJob({ id: id(1), createdAt: 1_000 })
    ])
    await openJobs(api)
    expect(within(card(id(9))).getByTestId('queue-place')).toHaveTextContent('1 of 2')
    expect(within(card(id(1))).getByTestId('queue-place')).toHaveTextContent('2 of 2')
    // Pushed in the order they were made.
    api.pushJob(makeJob({ id: id(8), createdAt: 5_000 }))
    api.pushJob(makeJob({ id: id(2), createdAt: 5_000 }))
    await settle()
    expect(within(card(id(8))).getByTestId('queue-place')).toHaveTextContent('3 of 4')
    expect(within(card(id(2))).getByTestId('queue-place')).toHaveTextContent('4 of 4')
  })

  it('takes a priority, and is then sent before the others', async () => {
    const api = queueApi(waiting())
    await openJobs(api)
    const select = within(card(id(2))).getByLabelText('Priority') as HTMLSelectElement
    expect(select.value).toBe('normal')
    await fireEvent.change(select, { target: { value: 'high' } })
    await settle()
    expect(api.calls).toContainEqual(['jobs.setPriority', { jobId: id(2) }, 'high'])
    expect(select.value).toBe('high')
    expect(within(card(id(2))).getByTestId('queue-place')).toHaveTextContent('In line here: 1 of 3')
  })

  it('says why a move did not work, on its card', async () => {
    const api = queueApi(waiting())
    await openJobs(api)
    api.failNext('Unknown job')
    await fireEvent.click(within(card(id(2))).getByRole('button', { name: 'Move to top' }))
    await settle()
    expect(within(card(id(2))).getByRole('alert')).toHaveTextContent('Unknown job')
  })
})

describe('a failed job', () => {
  it('is retried as a new job, and says so', async () => {
    const api = queueApi([
      makeJob({
        id: id(1),
        state: 'failed',
        error: { message: 'Out of memory', said: { code: 'comfy', text: 'Out of memory' } }
      }),
      makeJob({ id: id(2), state: 'done', createdAt: 900 })
    ])
    await openJobs(api)
    expect(within(card(id(2))).queryByRole('button', { name: 'Retry' })).toBeNull()
    expect(within(card(id(2))).getByRole('button', { name: 'Run again' })).toBeInTheDocument()
    await fireEvent.click(within(card(id(1))).getByRole('button', { name: 'Retry' }))
    await settle()
    expect(api.calls).toContainEqual(['jobs.retry', id(1)])
    expect(card(id(900))).toHaveAttribute('data-state', 'pending')
    expect(within(card(id(1))).getByTestId('job-retried')).toHaveTextContent(
      'Tried again as a new job'
    )
    expect(within(card(id(1))).queryByRole('button', { name: 'Retry' })).toBeNull()
  })
})

describe('a batch', () => {
  const batch = (index: number, patch: Partial<JobRecord> & { id: string }) =>
    makeJob({ batch: { id: 'batch-7', index, size: 3 }, source: 'city.json', ...patch })
  const runs = () => [
    batch(0, { id: id(1), state: 'done', startedAt: 1_000, finishedAt: 3_000 }),
    // Run 2 failed and was retried: its retry stands in its place.
    batch(1, { id: id(2), state: 'failed', retriedAs: id(5) }),
    batch(1, { id: id(5), state: 'pending', retryOf: id(2), createdAt: 4_000 }),
    batch(2, {
      id: id(3),
      state: 'failed',
      error: { message: 'Out of memory', said: { code: 'comfy', text: 'Out of memory' } }
    })
  ]

  it('counts the retry, not the run it replaced, and cancels or retries the batch', async () => {
    const api = queueApi(runs())
    await openJobs(api)
    const cards = screen.getAllByTestId('batch-card')
    expect(cards).toHaveLength(1)
    const b = cards[0]!
    expect(b).toHaveTextContent('Batch of 3 runs')
    expect(within(b).getByTestId('batch-done')).toHaveTextContent('1/3 done')
    expect(b).toHaveTextContent('1 failed')
    await fireEvent.click(within(b).getByRole('button', { name: 'Retry the failed run' }))
    await settle()
    expect(api.calls).toContainEqual(['jobs.retryBatch', 'batch-7'])
    await fireEvent.click(within(b).getByRole('button', { name: 'Cancel batch' }))
    await settle()
    expect(api.calls).toContainEqual(['jobs.cancelBatch', 'batch-7'])
    expect(card(id(5))).toHaveAttribute('data-state', 'cancelled')
    expect(within(b).queryByRole('button', { name: 'Cancel batch' })).toBeNull()
  })

  it('says on its card why a batch action did not work', async () => {
    const api = queueApi(runs())
    await openJobs(api)
    api.failNext('Unknown batch batch-7')
    const b = screen.getByTestId('batch-card')
    await fireEvent.click(within(b).getByRole('button', { name: 'Cancel batch' }))
    await settle()
    expect(within(b).getByRole('alert')).toHaveTextContent('Unknown batch batch-7')
  })
})

describe('Cancel all', () => {
  const jobs = () => [
    makeJob({ id: id(1) }),
    makeJob({ id: id(2), state: 'running', serverId: 'gpu-1' }),
    makeJob({ id: id(3), state: 'done' })
  ]

  it('asks first, and does nothing when told to keep them', async () => {
    const api = queueApi(jobs())
    await openJobs(api)
    const bar = screen.getByTestId('queue-bar')
    await fireEvent.click(within(bar).getByRole('button', { name: 'Cancel all' }))
    const ask = screen.getByRole('alertdialog')
    expect(ask).toHaveTextContent('Cancel all 2 jobs that are waiting or running?')
    await fireEvent.click(within(ask).getByRole('button', { name: 'Keep them' }))
    expect(screen.queryByRole('alertdialog')).toBeNull()
    expect(api.calls.filter(([c]) => c === 'jobs.cancelAll')).toEqual([])
  })

  it('cancels everything waiting or running once confirmed', async () => {
    const api = queueApi(jobs())
    await openJobs(api)
    await fireEvent.click(screen.getByRole('button', { name: 'Cancel all' }))
    await fireEvent.click(screen.getByRole('button', { name: 'Yes, cancel all' }))
    await settle()
    expect(api.calls.filter(([c]) => c === 'jobs.cancelAll')).toHaveLength(1)
    expect(card(id(1))).toHaveAttribute('data-state', 'cancelled')
    expect(card(id(2))).toHaveAttribute('data-state', 'cancelled')
    expect(card(id(3))).toHaveAttribute('data-state', 'done')
    // Nothing left to cancel.
    expect(screen.queryByRole('button', { name: 'Cancel all' })).toBeNull()
  })
})

describe('in Chinese', () => {
  it('says all of it in Chinese', async () => {
    setLocale('zh-CN')
    const api = queueApi(
      [
        makeJob({ id: id(1), createdAt: 1_000 }),
        makeJob({ id: id(2), createdAt: 2_000 }),
        makeJob({ id: id(3), state: 'failed' })
      ],
      true
    )
    api.pushSettings({ ...settings, language: 'zh-CN' })
    await openJobs(api)
    const bar = screen.getByTestId('queue-bar')
    expect(bar).toHaveTextContent('已暂停发送：任务在 Comfy Balancer 中等待')
    expect(within(bar).getByRole('button', { name: '继续发送' })).toBeInTheDocument()
    expect(within(bar).getByRole('button', { name: '全部取消' })).toBeInTheDocument()
    expect(within(card(id(2))).getByTestId('queue-place')).toHaveTextContent(
      '本地排队：第 2 个，共 2 个'
    )
    expect(within(card(id(2))).getByRole('button', { name: '移到最前' })).toBeInTheDocument()
    expect(within(card(id(2))).getByLabelText('优先级')).toBeInTheDocument()
    expect(within(card(id(3))).getByRole('button', { name: '重试' })).toBeInTheDocument()
  })
})
