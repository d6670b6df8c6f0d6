/** Dispatch against an in-memory fleet: choice, hold-back, send, failover, arrival checks. */
import { afterEach, describe, expect, it } from 'vitest'
import { systemClock, type Clock } from '../../src/main/core/clock'
import { ComfyClient } from '../../src/main/core/comfy/client'
import type { FleetMonitor } from '../../src/main/core/fleet/monitor'
import type { FleetPort } from '../../src/main/core/fleet/port'
import { Dispatcher, type Whereabouts } from '../../src/main/core/jobs/dispatch'
import type { JobStore } from '../../src/main/core/jobs/job-store'
import type { ApiPrompt } from '../../src/main/core/jobs/workflow'
import { FakeComfy, makeTxt2ImgPrompt } from '../../src/fake-comfy'
import { FakePort, makeStore, ManualClock, pendingJob, SETTINGS } from './fake-port'

// The check loop is the fleet jobs see, as it is.
export const monitorIsAPort = (m: FleetMonitor): FleetPort => m

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

async function server(opts: ConstructorParameters<typeof FakeComfy>[0] = {}): Promise<FakeComfy> {
  const s = new FakeComfy({ jobMs: 50, ...opts })
  await s.start()
  cleanups.push(() => s.stop())
  return s
}

/** A client that is never asked anything (the job does not get that far). */
const stubClient = () => new ComfyClient({ server: { url: 'http://127.0.0.1:9' }, timeoutMs: 50 })

function setUp(opts: { holdBack?: number | null; clock?: Clock } = {}) {
  const clock = opts.clock ?? systemClock
  const { store, close } = makeStore(clock)
  cleanups.push(close)
  const port = new FakePort()
  cleanups.push(() => port.close())
  const accepted: Array<[string, string, Whereabouts]> = []
  const stale: Array<[string, string]> = []
  const dropped: string[] = []
  const takenOff: Array<[string, string, Whereabouts]> = []
  const d = new Dispatcher({
    store,
    fleet: port,
    settings: () => SETTINGS,
    clock,
    log: () => undefined,
    holdBack: opts.holdBack === undefined ? 1 : opts.holdBack,
    running: () => true,
    prepare: async (id) => structuredClone(store.entry(id)!.prompt!),
    waitSocket: async () => undefined,
    onAccepted: (id, sid, where) => accepted.push([id, sid, where]),
    dropEarly: (id) => dropped.push(id),
    acceptedAfterEnd: (id, sid, where) => takenOff.push([id, sid, where]),
    markStale: (sid, id) => stale.push([sid, id]),
    unmarkStale: () => undefined
  })
  return { store, port, d, accepted, stale, dropped, takenOff, clock }
}

const PROMPT = makeTxt2ImgPrompt() as ApiPrompt

function put(store: JobStore, id: string, patch = {}): void {
  store.put(pendingJob(id, 1, patch), PROMPT)
}

describe('dispatch', () => {
  it('sends a job to the chosen server and hands it over once accepted', async () => {
    const s = await server()
    const { store, port, d, accepted, dropped } = setUp()
    port.add('a', s.url)
    put(store, 'job-1')
    await d.dispatch('job-1')
    expect(store.get('job-1')).toMatchObject({ state: 'queued', serverId: 'a', serverUrl: s.url })
    expect(store.get('job-1')!.attempts.map((x) => x.result)).toEqual([{ code: 'accepted' }])
    expect(accepted).toEqual([['job-1', 'a', 'queued']])
    expect(port.sent.filter(([sid]) => sid === 'a').length).toBeGreaterThan(0)
    expect(dropped).toEqual(['job-1'])
    await s.waitForIdle()
    expect(s.executionCount('job-1')).toBe(1)
  })

  it('counts a job on its server while the POST is in flight', async () => {
    const s = await server()
    await s.setFault({ kind: 'slow', delayMs: 300, route: '/prompt' })
    const { store, port, d } = setUp()
    port.add('a', s.url)
    put(store, 'job-1')
    const sending = d.dispatch('job-1')
    await new Promise((r) => setTimeout(r, 100))
    expect(d.sendingTo('job-1')).toBe('a')
    expect(d.waitingCounts().get('a')).toBe(1)
    await sending
    expect(d.sendingTo('job-1')).toBeUndefined()
    expect(d.waitingCounts().get('a')).toBe(1) // now queued there
  })

  it('a job cancelled while its POST is under way stays cancelled and is handed to be taken off', async () => {
    const s = await server()
    await s.setFault({ kind: 'slow', delayMs: 300, route: '/prompt' })
    const { store, port, d, accepted, takenOff } = setUp()
    port.add('a', s.url)
    put(store, 'job-1')
    const sending = d.dispatch('job-1')
    await new Promise((r) => setTimeout(r, 100))
    store.update('job-1', { state: 'cancelled', finishedAt: Date.now() })
    await sending
    expect(store.get('job-1')!.state).toBe('cancelled')
    expect(accepted).toEqual([])
    expect(takenOff).toEqual([['job-1', 'a', 'queued']])
    expect(d.waitingCounts().get('a') ?? 0).toBe(0)
  })

  it('moves to the next server when the first refuses the connection', async () => {
    const [s1, s2] = [await server(), await server()]
    await s1.setFault({ kind: 'refuse' })
    const { store, port, d, stale } = setUp()
    port.add('a', s1.url)
    port.add('b', s2.url)
    put(store, 'job-1')
    await d.dispatch('job-1')
    const j = store.get('job-1')!
    expect(j).toMatchObject({ state: 'queued', serverId: 'b' })
    expect(j.attempts.map((x) => [x.serverId, x.result.code === 'accepted'])).toEqual([
      ['a', false],
      ['b', true]
    ])
    expect(stale).toEqual([['a', 'job-1']])
    // Counted on the first while being sent there, then no more.
    expect(port.gone).toContainEqual(['a', 'job-1'])
  })

  it('asks whether the prompt arrived after an ambiguous failure, and does not send it twice', async () => {
    const [s1, s2] = [await server({ jobMs: 1_500 }), await server()]
    // A proxy gives up with a 504 while the server queues the prompt a moment later.
    await s1.setFault({ kind: 'gateway-timeout', queueAfterMs: 300 })
    const { store, port, d, accepted } = setUp()
    port.add('a', s1.url)
    port.add('b', s2.url)
    put(store, 'job-1')
    await d.dispatch('job-1')
    expect(store.get('job-1')).toMatchObject({ state: 'running', serverId: 'a' })
    expect(accepted).toEqual([['job-1', 'a', 'running']])
    await s1.waitForIdle()
    expect(s1.executionCount('job-1')).toBe(1)
    expect(s2.executionCount('job-1')).toBe(0)
  })

  it('fails at once when every server is known to lack what the workflow needs', async () => {
    const { store, port, d } = setUp()
    port.add('a', '', { client: stubClient() })
    port.add('b', '', { client: stubClient() })
    port.unable = new Map([
      ['a', 'missing node Foo'],
      ['b', 'missing model x.safetensors']
    ])
    put(store, 'job-1')
    await d.dispatch('job-1')
    expect(store.get('job-1')).toMatchObject({
      state: 'failed',
      attempts: [],
      error: {
        message: 'No server can run this workflow',
        said: {
          code: 'none-can-run',
          servers: [
            { name: 'a', nodes: [], models: [], text: 'missing node Foo' },
            { name: 'b', nodes: [], models: [], text: 'missing model x.safetensors' }
          ]
        }
      }
    })
  })

  it('waits here for a healthy server, noting it once, and goes when one is back', async () => {
    const s = await server()
    const { store, port, d } = setUp()
    port.add('a', s.url, { healthy: false })
    put(store, 'job-1')
    await d.dispatch('job-1')
    await d.dispatch('job-1')
    expect(store.get('job-1')).toMatchObject({
      state: 'pending',
      notes: [{ code: 'waiting', why: { code: 'text', text: 'No healthy server (test)' } }]
    })
    port.setHealthy('a', true)
    d.pump()
    await new Promise((r) => setTimeout(r, 200))
    expect(store.get('job-1')).toMatchObject({ state: 'queued', serverId: 'a' })
  })

  it('holds a job back while its server already has our next job lined up', async () => {
    const { store, port, d } = setUp({ holdBack: 1, clock: new ManualClock() })
    port.add('a', '', { client: stubClient(), finishMs: 1_000 })
    port.add('b', '', { client: stubClient(), finishMs: 5_000 })
    put(store, 'job-0', { state: 'queued', serverId: 'a' })
    put(store, 'job-1', { createdAt: 2 })
    await d.dispatch('job-1')
    // b would finish it later than a will: it waits here.
    expect(store.get('job-1')).toMatchObject({
      state: 'pending',
      attempts: [],
      notes: [{ code: 'held-back' }]
    })
    expect(port.chooseCalls.at(-1)).toEqual(new Set(['a']))
    expect(d.sendingTo('job-1')).toBeUndefined()
  })

  it('without hold-back sends every job at once', async () => {
    const s = await server()
    const { store, port, d } = setUp({ holdBack: null })
    port.add('a', s.url)
    put(store, 'job-0', { state: 'queued', serverId: 'a' })
    put(store, 'job-1')
    await d.dispatch('job-1')
    expect(store.get('job-1')).toMatchObject({ state: 'queued', serverId: 'a' })
  })

  it('asks the last server before sending again a job left "sending" by a crash', async () => {
    const s = await server({ jobMs: 2_000 })
    const { store, port, d, accepted } = setUp()
    const client = port.add('a', s.url)
    port.add('b', s.url)
    const res = await fetch(`${s.url}/prompt`, {
      method: 'POST',
      body: JSON.stringify({ prompt: PROMPT, client_id: 'x', prompt_id: 'job-1' })
    })
    expect(res.status).toBe(200)
    put(store, 'job-1', {
      attempts: [{ serverId: 'a', serverUrl: client.url, at: 1, result: { code: 'sending' } }]
    })
    await d.dispatch('job-1')
    expect(accepted).toEqual([['job-1', 'a', 'running']])
    expect(store.get('job-1')!.attempts).toHaveLength(1)
  })
})
