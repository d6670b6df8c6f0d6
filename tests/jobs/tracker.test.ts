/** The tracker against an in-memory fleet: socket events, early events, finish, the poll. */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { MovedSaid } from '../../src/shared/job-said'
import { afterEach, describe, expect, it } from 'vitest'
import { systemClock, type Clock } from '../../src/main/core/clock'
import { ComfyClient } from '../../src/main/core/comfy/client'
import type { ComfyEvent } from '../../src/main/core/comfy/socket'
import type { JobStore } from '../../src/main/core/jobs/job-store'
import { Tracker } from '../../src/main/core/jobs/tracker'
import type { ApiPrompt } from '../../src/main/core/jobs/workflow'
import { FakeComfy, makeTxt2ImgPrompt } from '../../src/fake-comfy'
import type { JobRecord } from '../../src/shared/types'
import { FakePort, makeStore, ManualClock, pendingJob, SETTINGS } from './fake-port'

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

const PROMPT = makeTxt2ImgPrompt() as ApiPrompt

function setUp(clock: Clock = new ManualClock()) {
  const { store, close } = makeStore(clock)
  cleanups.push(close)
  const port = new FakePort()
  cleanups.push(() => port.close())
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-tracker-'))
  cleanups.push(() => fs.rmSync(outDir, { recursive: true, force: true }))
  const sending = new Map<string, string>()
  const resent: Array<[string, MovedSaid]> = []
  const suspected: string[] = []
  const t = new Tracker({
    store,
    fleet: port,
    settings: () => SETTINGS,
    clock,
    log: () => undefined,
    running: () => true,
    outputDir: () => outDir,
    pollMs: 1_000,
    sendingTo: (id) => sending.get(id),
    suspect: (sid) => suspected.push(sid),
    resend: (j, why) => resent.push([j.id, why])
  })
  return { store, port, t, sending, resent, suspected, outDir, clock }
}

const ev = (type: string, data: Record<string, unknown>): ComfyEvent => ({ type, data })

/** A job the server `sid` accepted. */
function onServer(store: JobStore, id: string, sid: string, patch: Partial<JobRecord> = {}) {
  store.put(pendingJob(id, 1), PROMPT)
  store.update(id, { state: 'queued', serverId: sid, serverUrl: 'http://x', ...patch })
}

const stub = () => new ComfyClient({ server: { url: 'http://127.0.0.1:9' }, timeoutMs: 50 })

async function server(opts: ConstructorParameters<typeof FakeComfy>[0] = {}): Promise<FakeComfy> {
  const s = new FakeComfy({ jobMs: 30, ...opts })
  await s.start()
  cleanups.push(() => s.stop())
  return s
}

async function runThere(s: FakeComfy, id: string): Promise<void> {
  const res = await fetch(`${s.url}/prompt`, {
    method: 'POST',
    body: JSON.stringify({ prompt: PROMPT, client_id: 'x', prompt_id: id })
  })
  expect(res.status).toBe(200)
  await s.waitForIdle()
}

describe('the tracker', () => {
  it('follows socket events: start, progress, errors; ignores other servers', () => {
    const clock = new ManualClock()
    const { store, port, t } = setUp(clock)
    port.add('a', '', { client: stub() })
    onServer(store, 'j1', 'a')
    clock.advance(100)
    t.onSocketEvent('b', ev('execution_start', { prompt_id: 'j1' }))
    expect(store.get('j1')!.state).toBe('queued')
    t.onSocketEvent('a', ev('execution_start', { prompt_id: 'j1' }))
    expect(store.get('j1')).toMatchObject({ state: 'running', startedAt: clock.now() })
    t.onSocketEvent('a', ev('executing', { prompt_id: 'j1', node: '3' }))
    t.onSocketEvent('a', ev('progress', { prompt_id: 'j1', value: 4, max: 20 }))
    expect(store.get('j1')!.progress).toMatchObject({ node: '3', value: 4, max: 20 })
    t.onSocketEvent(
      'a',
      ev('execution_error', {
        prompt_id: 'j1',
        exception_type: 'RuntimeError',
        exception_message: 'out of memory',
        node_id: '3',
        node_type: 'KSampler'
      })
    )
    expect(store.get('j1')).toMatchObject({
      state: 'failed',
      error: {
        said: { code: 'comfy', text: 'RuntimeError: out of memory' },
        message: 'RuntimeError: out of memory',
        nodeId: '3',
        nodeType: 'KSampler'
      }
    })
  })

  it('keeps events that come before the POST answer and replays them on acceptance', () => {
    const { store, port, t, sending } = setUp()
    port.add('a', '', { client: stub() })
    store.put(pendingJob('j1', 1), PROMPT)
    // Not being sent there: dropped.
    t.onSocketEvent('a', ev('execution_start', { prompt_id: 'j1' }))
    sending.set('j1', 'a')
    t.onSocketEvent('a', ev('execution_start', { prompt_id: 'j1' }))
    t.onSocketEvent('a', ev('progress', { prompt_id: 'j1', value: 2, max: 10 }))
    expect(store.get('j1')!.state).toBe('pending')
    store.update('j1', { state: 'queued', serverId: 'a', serverUrl: 'http://x' })
    t.accepted('j1', 'a', 'queued')
    expect(store.get('j1')).toMatchObject({ state: 'running', progress: { value: 2, max: 10 } })
    expect(store.get('j1')!.startedAt).not.toBeNull()
  })

  it('saves the outputs of a job that finished and learns the run time', async () => {
    const s = await server()
    const { store, port, t, outDir } = setUp(systemClock)
    port.add('a', s.url)
    onServer(store, 'j1', 'a')
    await runThere(s, 'j1')
    await t.finalize('j1')
    const j = store.get('j1')!
    expect(j.state).toBe('done')
    expect(j.outputs).toHaveLength(1)
    expect(j.outputs[0]!.path.startsWith(outDir)).toBe(true)
    expect(fs.existsSync(j.outputs[0]!.path)).toBe(true)
    expect(port.runs.map((r) => r.serverId)).toEqual(['a'])
  })

  it('finishes from its events a job whose server keeps no history', async () => {
    const s = await server()
    await s.setFault({ kind: 'no-history' })
    const { store, port, t } = setUp(systemClock)
    port.add('a', s.url)
    onServer(store, 'j1', 'a')
    t.accepted('j1', 'a', 'queued')
    await runThere(s, 'j1')
    const file = fs.readdirSync(s.outputDir)[0]!
    t.onSocketEvent(
      'a',
      ev('executed', {
        prompt_id: 'j1',
        node: '9',
        output: { images: [{ filename: file, subfolder: '', type: 'output' }] }
      })
    )
    t.onSocketEvent('a', ev('execution_success', { prompt_id: 'j1' }))
    await t.poll()
    expect(store.get('j1')).toMatchObject({ state: 'done', outputs: [{ filename: file }] })
  })

  it('polls: a job gone while the socket stayed open was cancelled there; after a close it is sent again', async () => {
    const s = await server()
    const { store, port, t, resent } = setUp()
    port.add('a', s.url)
    onServer(store, 'j1', 'a')
    onServer(store, 'j2', 'a')
    t.accepted('j1', 'a', 'queued')
    t.accepted('j2', 'a', 'queued')
    // An event after the acceptance proves the socket was open throughout.
    t.onSocketEvent('a', ev('status', { status: { exec_info: { queue_remaining: 0 } } }))
    expect(t.watchedThroughout('j1', 'a')).toBe(true)
    await t.poll()
    expect(store.get('j1')).toMatchObject({ state: 'cancelled', cancelledOn: 'a' })
    expect(store.get('j2')).toMatchObject({ state: 'cancelled', cancelledOn: 'a' })
    expect(resent).toEqual([])

    onServer(store, 'j3', 'a')
    t.accepted('j3', 'a', 'queued')
    t.onSocketEvent('a', ev('status', {}))
    t.socketClosed('a') // a restart closes every socket
    t.onSocketEvent('a', ev('status', {}))
    expect(t.watchedThroughout('j3', 'a')).toBe(false)
    await t.poll()
    expect(store.get('j3')!.state).toBe('queued')
    expect(resent).toEqual([['j3', { code: 'forgotten', server: 'a' }]])
  })

  it('polls: follows queue positions and suspects a server that does not answer', async () => {
    const s = await server({ jobMs: 2_000 })
    const { store, port, t, suspected } = setUp()
    port.add('a', s.url)
    port.add('dead', 'http://127.0.0.1:9')
    for (const id of ['j1', 'j2']) {
      onServer(store, id, 'a')
      await fetch(`${s.url}/prompt`, {
        method: 'POST',
        body: JSON.stringify({ prompt: PROMPT, client_id: 'x', prompt_id: id })
      })
    }
    onServer(store, 'j3', 'dead')
    await t.poll()
    expect(store.get('j1')!.state).toBe('running')
    expect(store.get('j2')).toMatchObject({ state: 'queued', queuePosition: 1 })
    expect(suspected).toEqual(['dead'])
  })

  it('polls every interval of its clock while running', async () => {
    const clock = new ManualClock()
    const { t } = setUp(clock)
    t.startPolling()
    expect(clock.pending).toBe(1)
    t.stopPolling()
    expect(clock.pending).toBe(0)
  })
})
