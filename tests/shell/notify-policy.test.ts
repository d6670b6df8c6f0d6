import { describe, expect, it } from 'vitest'
import { translator } from '../../src/main/messages'
import { sayServer } from '../../src/main/core/log'
import type { ServerSaid } from '../../src/shared/said'
import {
  noticeText,
  NotifyPolicy,
  SERVER_COOLDOWN_MS,
  type Notice
} from '../../src/main/notify-policy'
import type { JobRecord, NotificationSettings, ServerStatus } from '../../src/shared/types'
import { fleet, server } from '../core/helpers'

const ALL: NotificationSettings = {
  serverDown: true,
  serverUp: true,
  jobDone: true,
  jobFailed: true
}
const ROUND_MS = 30_000

/**
 * Drives the policy like the core does: one round per call, each server up (`u`) or down (`d`)
 * as the pattern says, with `consecutiveFailures` counted as the monitor counts them.
 */
class Fleet {
  readonly policy = new NotifyPolicy()
  now = 0
  private round = 0
  private readonly failures = new Map<string, number>()
  prefs: NotificationSettings = ALL

  step(states: Record<string, 'u' | 'd'>): Notice[] {
    this.round++
    this.now += ROUND_MS
    const servers: ServerStatus[] = Object.entries(states).map(([id, st]) => {
      const failures = st === 'u' ? 0 : (this.failures.get(id) ?? 0) + 1
      this.failures.set(id, failures)
      return server(id, {
        healthy: st === 'u',
        error: st === 'u' ? null : 'Connection refused',
        consecutiveFailures: failures,
        lastCheck: this.round
      })
    })
    return this.policy.onRound(fleet(servers, null), this.now, this.prefs)
  }

  /** Runs a pattern such as `uudduu` for one server; returns every notice. */
  run(id: string, pattern: string): Notice[] {
    return [...pattern].flatMap((ch) => this.step({ [id]: ch as 'u' | 'd' }))
  }
}

const kinds = (notices: Notice[]) =>
  notices.map((n) =>
    n.kind === 'serverDown' || n.kind === 'serverUp'
      ? `${n.kind}:${n.servers.map((s) => s.id).join(',')}`
      : n.kind
  )

describe('server notices', () => {
  it('announces a server down only after two failed checks in a row', () => {
    const f = new Fleet()
    expect(f.run('gpu-1', 'uu')).toEqual([])
    expect(f.run('gpu-1', 'd')).toEqual([])
    expect(kinds(f.run('gpu-1', 'd'))).toEqual(['serverDown:gpu-1'])
    // Still down: said once.
    expect(f.run('gpu-1', 'dddd')).toEqual([])
  })

  it('carries the reason', () => {
    const f = new Fleet()
    const [notice] = f.run('gpu-1', 'udd')
    expect(notice).toEqual({
      kind: 'serverDown',
      servers: [{ id: 'gpu-1', name: 'gpu-1', reason: 'Connection refused' }]
    })
  })

  it('ignores a single failed check', () => {
    const f = new Fleet()
    expect(f.run('gpu-1', 'ududuudu')).toEqual([])
  })

  it('never announces a server that was not up in this run', () => {
    const f = new Fleet()
    expect(f.run('gpu-1', 'dddddd')).toEqual([])
  })

  it('announces it back only after it was announced down, and after two good checks', () => {
    const f = new Fleet()
    expect(kinds(f.run('gpu-1', 'udd'))).toEqual(['serverDown:gpu-1'])
    expect(f.run('gpu-1', 'u')).toEqual([])
    expect(kinds(f.run('gpu-1', 'u'))).toEqual(['serverUp:gpu-1'])
    expect(f.run('gpu-1', 'uuu')).toEqual([])
  })

  it('gives a flapping server one notice, not a flood', () => {
    const f = new Fleet()
    // Up, then failing two checks out of three for twenty minutes.
    const notices = f.run('gpu-1', `u${'ddu'.repeat(40)}`)
    expect(kinds(notices)).toEqual(['serverDown:gpu-1'])
  })

  it('waits out the cool-down before announcing the same server down again', () => {
    const f = new Fleet()
    expect(kinds(f.run('gpu-1', 'udduu'))).toEqual(['serverDown:gpu-1', 'serverUp:gpu-1'])
    // Down again at once: not yet (the user just heard about it).
    expect(f.run('gpu-1', 'dd')).toEqual([])
    // Still down when the cool-down is over: now it is said.
    const rounds = Math.ceil(SERVER_COOLDOWN_MS / ROUND_MS)
    const later = f.run('gpu-1', 'd'.repeat(rounds))
    expect(kinds(later)).toEqual(['serverDown:gpu-1'])
  })

  it('says nothing more when a server comes back within the cool-down unannounced', () => {
    const f = new Fleet()
    f.run('gpu-1', 'udduu')
    expect(f.run('gpu-1', 'dduuuu')).toEqual([])
  })

  it('groups servers that change in the same round into one notice', () => {
    const f = new Fleet()
    f.step({ a: 'u', b: 'u', c: 'u' })
    f.step({ a: 'd', b: 'd', c: 'u' })
    const [notice, ...rest] = f.step({ a: 'd', b: 'd', c: 'u' })
    expect(rest).toEqual([])
    expect(kinds([notice!])).toEqual(['serverDown:a,b'])
    f.step({ a: 'u', b: 'u', c: 'u' })
    expect(kinds(f.step({ a: 'u', b: 'u', c: 'u' }))).toEqual(['serverUp:a,b'])
  })

  it('counts a repeated status (same lastCheck) once', () => {
    const policy = new NotifyPolicy()
    const up = fleet([server('a', { lastCheck: 1 })], 'a')
    const bad = (lastCheck: number, consecutiveFailures: number) =>
      fleet([server('a', { healthy: false, lastCheck, consecutiveFailures, error: 'x' })], null)
    policy.onRound(up, 1, ALL)
    expect(policy.onRound(bad(2, 1), 2, ALL)).toEqual([])
    expect(policy.onRound(bad(2, 1), 3, ALL)).toEqual([])
    expect(policy.onRound(bad(3, 2), 4, ALL)).toHaveLength(1)
  })

  it('forgets a server that is disabled or removed', () => {
    const f = new Fleet()
    f.run('gpu-1', 'udd')
    const policy = f.policy
    policy.onRound(fleet([server('gpu-1', { enabled: false, lastCheck: 99 })], null), f.now, ALL)
    // Back in the list and down: it must be seen up first.
    expect(
      policy.onRound(
        fleet([server('gpu-1', { healthy: false, consecutiveFailures: 5, lastCheck: 100 })], null),
        f.now + 1,
        ALL
      )
    ).toEqual([])
  })

  it('follows the switches in settings, and keeps its memory while one is off', () => {
    const f = new Fleet()
    f.prefs = { ...ALL, serverDown: false }
    expect(f.run('gpu-1', 'udd')).toEqual([])
    f.prefs = ALL
    expect(kinds(f.run('gpu-1', 'uu'))).toEqual(['serverUp:gpu-1'])
    f.prefs = { ...ALL, serverUp: false }
    f.now += SERVER_COOLDOWN_MS
    expect(kinds(f.run('gpu-1', 'dd'))).toEqual(['serverDown:gpu-1'])
    expect(f.run('gpu-1', 'uu')).toEqual([])
  })
})

function job(patch: Partial<JobRecord>): JobRecord {
  return {
    id: '6f1c4a3e-0000-4000-8000-000000000001',
    clientId: 'c',
    source: 'portrait.json',
    state: 'running',
    createdAt: 1,
    updatedAt: 1,
    startedAt: 1,
    finishedAt: null,
    pinnedServerId: null,
    serverId: 'gpu-1',
    serverUrl: 'http://gpu-1:8188',
    attempts: [],
    reroutes: 0,
    queuePosition: null,
    progress: null,
    error: null,
    outputs: [],
    notes: [],
    ...patch
  }
}

describe('job notices', () => {
  it('announces a finished job once, however often the engine reports it', () => {
    const policy = new NotifyPolicy()
    expect(policy.onJob(job({ state: 'running' }), ALL)).toEqual([])
    const done = job({ state: 'done' })
    expect(policy.onJob(done, ALL)).toEqual([{ kind: 'jobDone', job: done }])
    expect(policy.onJob(done, ALL)).toEqual([])
  })

  it('announces failed and interrupted jobs as failures, and no cancelled one', () => {
    const policy = new NotifyPolicy()
    const ids = ['a', 'b', 'c']
    const states = ['failed', 'interrupted', 'cancelled'] as const
    const out = states.flatMap((state, i) => policy.onJob(job({ id: ids[i]!, state }), ALL))
    expect(out.map((n) => n.kind)).toEqual(['jobFailed', 'jobFailed'])
  })

  it('announces a job someone removed on its server, and outputs that could not be saved', () => {
    const policy = new NotifyPolicy()
    const removed = job({ id: 'a', state: 'cancelled', cancelledOn: 'gpu-2' })
    expect(policy.onJob(removed, ALL)).toEqual([{ kind: 'jobCancelledOnServer', job: removed }])
    const partial = job({ id: 'b', state: 'done', missingOutputs: 1 })
    expect(policy.onJob(partial, { ...ALL, jobDone: false })).toEqual([
      { kind: 'jobDone', job: partial }
    ])
    const t = translator('en')
    expect(noticeText({ kind: 'jobCancelledOnServer', job: removed }, t, () => null)).toEqual({
      title: 'Job cancelled on its server: portrait.json',
      body: 'Someone removed it from the queue on gpu-2. It was not sent again.'
    })
    expect(noticeText({ kind: 'jobDone', job: partial }, t, () => null).title).toBe(
      'Job done with missing outputs: portrait.json'
    )
    const zh = translator('zh-CN')
    expect(noticeText({ kind: 'jobCancelledOnServer', job: removed }, zh, () => null).body).toBe(
      '有人在 gpu-2 上把它从队列中移除了。它不会被重新发送。'
    )
  })

  it('follows the switches in settings', () => {
    const policy = new NotifyPolicy()
    const off = { ...ALL, jobDone: false, jobFailed: false }
    expect(policy.onJob(job({ id: 'a', state: 'done' }), off)).toEqual([])
    expect(policy.onJob(job({ id: 'b', state: 'failed' }), off)).toEqual([])
  })
})

describe('noticeText', () => {
  const names = (id: string | null) => (id === 'gpu-1' ? 'GPU One' : null)

  it('words every notice in English', () => {
    const t = translator('en')
    expect(
      noticeText(
        {
          kind: 'serverDown',
          servers: [{ id: 'a', name: 'gpu-1', reason: 'Timed out after 1000 ms' }]
        },
        t,
        names
      )
    ).toEqual({ title: 'Server down: gpu-1', body: 'Timed out after 1000 ms' })
    expect(
      noticeText(
        {
          kind: 'serverDown',
          servers: [
            { id: 'a', name: 'gpu-1' },
            { id: 'b', name: 'gpu-2', reason: 'HTTP 502' }
          ]
        },
        t,
        names
      )
    ).toEqual({ title: '2 servers down', body: 'gpu-1: no answer\ngpu-2: HTTP 502' })
    expect(
      noticeText({ kind: 'serverUp', servers: [{ id: 'a', name: 'gpu-1' }] }, t, names)
    ).toEqual({
      title: 'Server back: gpu-1',
      body: 'gpu-1 answers again.'
    })
    const outputs = [{ nodeId: '9', path: '/o/a.png', filename: 'a.png', type: 'output' }]
    expect(noticeText({ kind: 'jobDone', job: job({ state: 'done', outputs }) }, t, names)).toEqual(
      {
        title: 'Job done: portrait.json',
        body: 'Finished on GPU One. 1 file(s) saved.'
      }
    )
    const failed = job({
      state: 'failed',
      serverId: 'x',
      error: {
        said: { code: 'comfy', text: 'CUDA out of memory' },
        message: 'CUDA out of memory',
        nodeType: 'KSampler'
      }
    })
    expect(noticeText({ kind: 'jobFailed', job: failed }, t, names)).toEqual({
      title: 'Job failed: portrait.json',
      body: 'KSampler: CUDA out of memory'
    })
    expect(
      noticeText({ kind: 'jobFailed', job: job({ state: 'interrupted' }) }, t, names).body
    ).toBe('The job was interrupted on the server.')
  })

  it('words them in Chinese', () => {
    const t = translator('zh-CN')
    expect(
      noticeText(
        { kind: 'serverDown', servers: [{ id: 'a', name: 'gpu-1', reason: 'HTTP 502' }] },
        t,
        names
      )
    ).toEqual({
      title: '服务器离线：gpu-1',
      body: 'HTTP 502'
    })
    expect(noticeText({ kind: 'jobDone', job: job({ state: 'done' }) }, t, names)).toEqual({
      title: '任务完成：portrait.json',
      body: '在 GPU One 上完成。没有保存任何文件。'
    })
  })

  it('keeps titles and bodies short', () => {
    const t = translator('en')
    const long = job({
      state: 'failed',
      source: 'x'.repeat(300),
      error: { said: { code: 'comfy', text: 'y'.repeat(1000) }, message: 'y'.repeat(1000) }
    })
    const text = noticeText({ kind: 'jobFailed', job: long }, t, names)
    expect(text.title.length).toBeLessThanOrEqual(80)
    expect(text.body.length).toBeLessThanOrEqual(240)
  })
})

describe('batch notices', () => {
  const BATCH = 'b7e1c0de-0000-4000-8000-00000000b001'
  const run = (index: number, patch: Partial<JobRecord>, size = 12): JobRecord =>
    job({
      id: `run-${index}`,
      source: 'lighthouse.json',
      createdAt: 1_000,
      batch: { id: BATCH, index, size },
      ...patch
    })

  it('gives one notice when the last of twelve runs ends: 11 done, 1 failed, the first image', () => {
    const policy = new NotifyPolicy()
    const notices: Notice[] = []
    for (let i = 0; i < 12; i++) {
      notices.push(...policy.onJob(run(i, { state: 'running' }), ALL))
      const end = 1_000 + 180_000 * ((i + 1) / 12)
      const finished =
        i === 4
          ? run(i, {
              state: 'failed',
              finishedAt: end,
              error: {
                said: { code: 'comfy', text: 'CUDA out of memory' },
                message: 'CUDA out of memory'
              }
            })
          : run(i, {
              state: 'done',
              finishedAt: end,
              outputs: [
                { path: `/out/lighthouse_${i}.png`, filename: `l_${i}.png`, nodeId: '9' }
              ] as JobRecord['outputs']
            })
      notices.push(...policy.onJob(finished, ALL))
      // Reported again: still nothing new.
      notices.push(...policy.onJob(finished, ALL))
    }
    expect(notices).toHaveLength(1)
    const [n] = notices
    expect(n!.kind).toBe('jobDone')
    if (n!.kind !== 'jobDone') throw new Error('unexpected')
    expect(n!.batch).toEqual({
      id: BATCH,
      size: 12,
      done: 11,
      failed: 1,
      cancelled: 0,
      durationMs: 180_000
    })
    // The picture is the first run with an image.
    expect(n!.job.id).toBe('run-0')
    expect(noticeText(n!, translator('en'), () => null)).toEqual({
      title: '12 runs finished, some failed: lighthouse.json',
      body: '11 done, 1 failed in 3 min.'
    })
    expect(noticeText(n!, translator('zh-CN'), () => null)).toEqual({
      title: '12 次运行已结束，部分失败：lighthouse.json',
      body: '11 个完成，1 个失败，用时 3 分钟。'
    })
  })

  it('ends a batch whose first runs finished before a restart, from the engine’s list', () => {
    const policy = new NotifyPolicy()
    const before = [0, 1].map((i) => run(i, { state: 'done', finishedAt: 20_000 }, 3))
    const last = run(2, { state: 'done', finishedAt: 41_000 }, 3)
    const [n] = policy.onJob(last, ALL, [...before, last])
    expect(n?.kind).toBe('jobDone')
    if (n?.kind !== 'jobDone') throw new Error('unexpected')
    expect(n.batch).toMatchObject({ done: 3, failed: 0, durationMs: 40_000 })
    expect(noticeText(n, translator('en'), () => null)).toEqual({
      title: '3 runs finished: lighthouse.json',
      body: '3 done in 40 s.'
    })
    // Without the list, the runs seen here are all it knows: no notice yet.
    const fresh = new NotifyPolicy()
    expect(fresh.onJob(run(2, { state: 'done', finishedAt: 41_000 }, 3), ALL)).toEqual([])
  })

  it('says nothing for a batch the user cancelled, and a failure when none was done', () => {
    const policy = new NotifyPolicy()
    const cancelled = [0, 1].flatMap((i) =>
      policy.onJob(run(i, { state: 'cancelled', finishedAt: 5_000 }, 2), ALL)
    )
    expect(cancelled).toEqual([])
    const other = new NotifyPolicy()
    const failed = [0, 1].flatMap((i) =>
      other.onJob(
        run(i, { id: `f-${i}`, state: i ? 'interrupted' : 'failed', finishedAt: 5_000 }, 2),
        ALL
      )
    )
    expect(failed.map((n) => n.kind)).toEqual(['jobFailed'])
    expect(noticeText(failed[0]!, translator('en'), () => null).body).toBe(
      '0 done, 2 failed in 4 s.'
    )
  })

  it('follows the switches: all done needs jobDone; failures show with either switch', () => {
    const done = (p: NotifyPolicy, prefs: NotificationSettings) =>
      [0, 1].flatMap((i) => p.onJob(run(i, { state: 'done', finishedAt: 2_000 }, 2), prefs))
    expect(done(new NotifyPolicy(), { ...ALL, jobDone: false })).toEqual([])
    expect(done(new NotifyPolicy(), { ...ALL, jobFailed: false })).toHaveLength(1)
    const mixed = (p: NotifyPolicy, prefs: NotificationSettings) =>
      [0, 1].flatMap((i) =>
        p.onJob(run(i, { state: i ? 'failed' : 'done', finishedAt: 2_000 }, 2), prefs)
      )
    expect(mixed(new NotifyPolicy(), { ...ALL, jobDone: false })).toHaveLength(1)
    expect(mixed(new NotifyPolicy(), { ...ALL, jobDone: false, jobFailed: false })).toEqual([])
  })
})

describe('why a server is down, in a notice', () => {
  const down = (said: ServerSaid, error: string): ServerStatus =>
    server('gpu-1', { healthy: false, error, said, consecutiveFailures: 3, lastCheck: 2 })

  it('carries the said and says it in Chinese, with no English sentence', () => {
    const policy = new NotifyPolicy()
    policy.onRound(fleet([server('gpu-1')], null), 1000, ALL)
    const said: ServerSaid = { code: 'http', status: 502, proxyPage: true }
    const [notice] = policy.onRound(
      fleet([down(said, 'HTTP 502 Bad Gateway (an error page from a proxy)')], null),
      60_000,
      ALL
    )
    expect(notice).toEqual({
      kind: 'serverDown',
      servers: [
        {
          id: 'gpu-1',
          name: 'gpu-1',
          reason: 'HTTP 502 Bad Gateway (an error page from a proxy)',
          said
        }
      ]
    })
    const zh = noticeText(notice!, translator('zh-CN'), () => null)
    expect(zh).toEqual({
      title: '服务器离线：gpu-1',
      body: '服务器返回错误 502（来自代理的错误页面）'
    })
    expect(zh.body).not.toMatch(/[A-Za-z]{3,}/)
    const en = noticeText(notice!, translator('en'), () => null)
    expect(en.body).toBe(sayServer(said))
  })

  it('several servers down: each reason in Chinese', () => {
    const zh = noticeText(
      {
        kind: 'serverDown',
        servers: [
          { id: 'a', name: 'gpu-1', reason: 'Connection refused', said: { code: 'refused' } },
          { id: 'b', name: 'gpu-2', reason: 'Timed out', said: { code: 'timeout', ms: 900 } }
        ]
      },
      translator('zh-CN'),
      () => null
    )
    expect(zh.body).toBe(
      'gpu-1: 连接被拒绝（ComfyUI 是否在该端口运行？）\ngpu-2: 超时（900 毫秒内无响应）'
    )
  })
})
