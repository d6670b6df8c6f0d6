import { afterEach, describe, expect, it } from 'vitest'
import { FakeComfy, makeTxt2ImgPrompt } from '../../src/fake-comfy'
import { WsClient, postJson, request, until } from './helpers'

let fake: FakeComfy | null = null
const clients: WsClient[] = []

async function boot(opts: ConstructorParameters<typeof FakeComfy>[0] = {}): Promise<FakeComfy> {
  fake = new FakeComfy({ jobMs: 40, ...opts })
  await fake.start()
  return fake
}

async function open(clientId?: string, path?: string): Promise<WsClient> {
  const c = await WsClient.open((fake as FakeComfy).url, clientId, path)
  clients.push(c)
  return c
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await fake?.stop()
  fake = null
})

describe('WebSocket events', () => {
  it('sends status with sid first; sid is the clientId or a 32-hex uuid', async () => {
    await boot()
    const a = await open('client-a')
    const first = await a.waitFor(() => true)
    expect(first).toEqual({
      type: 'status',
      data: { status: { exec_info: { queue_remaining: 0 } }, sid: 'client-a' }
    })
    const b = await open()
    const m = await b.waitFor(() => true)
    expect(m.data.sid).toMatch(/^[0-9a-f]{32}$/)
    const c = await open(undefined, '/api/ws')
    expect((await c.waitFor(() => true)).type).toBe('status')
  })

  it('runs one prompt with the documented event order, only to its client', async () => {
    const f = await boot()
    const mine = await open('me')
    const other = await open('other')
    await mine.waitFor((m) => m.type === 'status')
    await other.waitFor((m) => m.type === 'status')
    const prompt = makeTxt2ImgPrompt({ seed: 7, steps: 4 })
    const res = await postJson(`${f.url}/prompt`, { prompt, client_id: 'me', prompt_id: 'p-1' })
    expect(res.status).toBe(200)
    expect(res.json()).toEqual({ prompt_id: 'p-1', number: 0, node_errors: {} })
    await mine.waitDone('p-1')

    const seq = mine.messages.slice(1) // after the connect status
    const types = seq.map((m) => m.type)
    // enqueue + dequeue status broadcasts come first
    expect(types.slice(0, 2)).toEqual(['status', 'status'])
    expect(seq[0]?.data).toEqual({ status: { exec_info: { queue_remaining: 1 } } })
    expect(types[2]).toBe('execution_start')
    expect(types[3]).toBe('execution_cached')
    expect(seq[3]?.data.nodes).toEqual([])
    // tail: success, status (task_done), executing null LAST
    expect(types.slice(-3)).toEqual(['execution_success', 'status', 'executing'])
    expect(seq.at(-2)?.data).toEqual({ status: { exec_info: { queue_remaining: 0 } } })
    expect(seq.at(-1)?.data).toEqual({ node: null, prompt_id: 'p-1' })
    for (const m of seq.filter((x) => x.type.startsWith('execution_'))) {
      expect(m.data.prompt_id).toBe('p-1')
      expect(typeof m.data.timestamp).toBe('number')
    }

    // every node that runs: progress_state, then executing; KSampler sends 4 progress steps
    const executing = seq.filter((m) => m.type === 'executing' && m.data.node !== null)
    expect(executing.map((m) => m.data.node)).toEqual(['4', '6', '7', '5', '3', '8', '9'])
    for (const m of executing) expect(m.data.display_node).toBe(m.data.node)
    const idx = types.indexOf('executing')
    expect(types[idx - 1]).toBe('progress_state')
    const progress = seq.filter((m) => m.type === 'progress')
    expect(progress.map((m) => m.data)).toEqual(
      [1, 2, 3, 4].map((v) => ({ value: v, max: 4, prompt_id: 'p-1', node: '3' }))
    )
    const ps = seq.filter((m) => m.type === 'progress_state').at(-1)
    const nodes = ps?.data.nodes as Record<string, Record<string, unknown>>
    expect(nodes['9']).toMatchObject({ state: 'finished', node_id: '9', prompt_id: 'p-1' })
    expect(Object.keys(nodes).sort()).toEqual(['3', '4', '5', '6', '7', '8', '9'])

    const executed = seq.filter((m) => m.type === 'executed')
    expect(executed).toHaveLength(1)
    expect(executed[0]?.data).toEqual({
      node: '9',
      display_node: '9',
      output: { images: [{ filename: 'ComfyUI_00001_.png', subfolder: '', type: 'output' }] },
      prompt_id: 'p-1'
    })

    // the other socket gets only the status broadcasts
    await until(() => other.messages.length >= 4)
    expect(new Set(other.types())).toEqual(new Set(['status']))
    expect(other.messages).toHaveLength(4) // connect, enqueue, dequeue, task_done

    // the history entry matches the messages
    const hist = (await request(`${f.url}/api/history/p-1`)).json() as Record<string, unknown>
    const entry = hist['p-1'] as Record<string, unknown>
    const status = entry.status as { messages: Array<[string, unknown]> }
    expect(status.messages.map((m) => m[0])).toEqual([
      'execution_start',
      'execution_cached',
      'execution_success'
    ])
  })

  it('without client_id: progress broadcast, executing/executed never sent', async () => {
    const f = await boot()
    const a = await open('a')
    const res = await postJson(`${f.url}/prompt`, { prompt: makeTxt2ImgPrompt({ steps: 2 }) })
    const id = (res.json() as { prompt_id: string }).prompt_id
    expect(id).toMatch(/^[0-9a-f-]{36}$/)
    await f.waitForIdle()
    await until(() => a.messages.filter((m) => m.type === 'status').length >= 4)
    const types = new Set(a.types())
    expect(types.has('progress')).toBe(true)
    expect(types.has('progress_state')).toBe(true)
    for (const t of ['executing', 'executed', 'execution_start', 'execution_success']) {
      expect(types.has(t)).toBe(false)
    }
  })

  it('replies to a first feature_flags message and can send preview frames', async () => {
    const f = await boot({ previews: true })
    const a = await open('a')
    a.ws.send(JSON.stringify({ type: 'feature_flags', data: { supports_preview_metadata: true } }))
    const ff = await a.waitFor((m) => m.type === 'feature_flags')
    expect(ff.data).toEqual({ supports_preview_metadata: true, max_upload_size: 104857600 })
    const b = await open('b')
    const res = await postJson(`${f.url}/prompt`, {
      prompt: makeTxt2ImgPrompt({ steps: 2 }),
      client_id: 'a',
      prompt_id: 'x'
    })
    expect(res.status).toBe(200)
    await a.waitDone('x')
    expect(a.binaries).toHaveLength(2)
    expect(a.binaries[0]?.readUInt32BE(0)).toBe(4) // PREVIEW_IMAGE_WITH_METADATA
    const metaLen = a.binaries[0]?.readUInt32BE(4) ?? 0
    const meta = JSON.parse(a.binaries[0]?.subarray(8, 8 + metaLen).toString() ?? '{}')
    expect(meta).toMatchObject({ node_id: '3', prompt_id: 'x', image_type: 'image/png' })
    expect(b.binaries).toHaveLength(0)
  })

  it('a second socket with the same clientId replaces the first', async () => {
    const f = await boot()
    const old = await open('dup')
    await old.waitFor((m) => m.type === 'status')
    const fresh = await open('dup')
    await fresh.waitFor((m) => m.type === 'status')
    await postJson(`${f.url}/prompt`, {
      prompt: makeTxt2ImgPrompt({ steps: 1 }),
      client_id: 'dup',
      prompt_id: 'd1'
    })
    await fresh.waitDone('d1')
    expect(old.messages).toHaveLength(1)
    expect(f.clientIds()).toEqual(['dup'])
  })

  it('on reconnect during a running prompt sends executing with the current node', async () => {
    const f = await boot({ jobMs: 400 })
    const a = await open('r')
    await postJson(`${f.url}/prompt`, {
      prompt: makeTxt2ImgPrompt({ steps: 20 }),
      client_id: 'r',
      prompt_id: 'long'
    })
    await a.waitFor((m) => m.type === 'progress')
    await a.close()
    const b = await open('r')
    const m = await b.waitFor((x) => x.type === 'executing')
    expect(m.data).toEqual({ node: '3' })
    await b.waitDone('long')
  })

  it('a failing node sends execution_error and records an error in history', async () => {
    const f = await boot()
    const a = await open('e')
    await postJson(`${f.url}/prompt`, {
      prompt: makeTxt2ImgPrompt({ seed: 666, steps: 4 }),
      client_id: 'e',
      prompt_id: 'boom'
    })
    await a.waitDone('boom')
    const types = a.types()
    expect(types).not.toContain('execution_success')
    const err = a.messages.find((m) => m.type === 'execution_error')
    expect(err?.data).toMatchObject({
      prompt_id: 'boom',
      node_id: '3',
      node_type: 'KSampler',
      executed: ['4', '6', '7', '5'],
      exception_type: 'torch.OutOfMemoryError',
      current_outputs: []
    })
    expect((err?.data.current_inputs as Record<string, unknown>).seed).toEqual([666])
    expect(Array.isArray(err?.data.traceback)).toBe(true)
    expect(a.messages.filter((m) => m.type === 'progress')).toHaveLength(1)
    expect(types.indexOf('execution_error')).toBeLessThan(types.lastIndexOf('executing'))
    const entry = f.historyEntry('boom')
    expect(entry?.status.status_str).toBe('error')
    expect(entry?.status.completed).toBe(false)
    expect(entry?.status.messages.at(-1)?.[0]).toBe('execution_error')

    await postJson(`${f.url}/prompt`, {
      prompt: { '1': { class_type: 'FakeFail', inputs: { message: 'nope' } } },
      client_id: 'e',
      prompt_id: 'ff'
    })
    await a.waitDone('ff')
    const err2 = a.messages.filter((m) => m.type === 'execution_error').at(-1)
    expect(err2?.data).toMatchObject({ node_type: 'FakeFail', exception_message: 'nope\n' })
  })

  it('interrupt ends the running prompt with execution_interrupted', async () => {
    const f = await boot({ jobMs: 2000 })
    const a = await open('i')
    await postJson(`${f.url}/prompt`, {
      prompt: makeTxt2ImgPrompt({ steps: 50 }),
      client_id: 'i',
      prompt_id: 'int'
    })
    await a.waitFor((m) => m.type === 'progress')
    // a targeted interrupt of something not running does nothing
    expect((await postJson(`${f.url}/interrupt`, { prompt_id: 'nope' })).status).toBe(200)
    const r = await request(`${f.url}/api/interrupt`, { method: 'POST' }) // empty body: global
    expect(r.status).toBe(200)
    expect(r.body.length).toBe(0)
    await a.waitDone('int')
    const m = a.messages.find((x) => x.type === 'execution_interrupted')
    expect(m?.data).toMatchObject({ prompt_id: 'int', node_id: '3', node_type: 'KSampler' })
    expect(a.types()).not.toContain('execution_success')
    const entry = f.historyEntry('int')
    expect(entry?.status).toMatchObject({ status_str: 'error', completed: false })
  })

  it('speed changes apply to the running job', async () => {
    const f = await boot({ jobMs: 100, speed: 0 })
    const a = await open('s')
    await postJson(`${f.url}/prompt`, {
      prompt: makeTxt2ImgPrompt({ steps: 2 }),
      client_id: 's',
      prompt_id: 'sp'
    })
    await a.waitFor((m) => m.type === 'execution_start')
    expect(f.queueSnapshot().running).toEqual(['sp']) // paused at speed 0
    const t0 = Date.now()
    f.setSpeed(4)
    await a.waitDone('sp')
    const took = Date.now() - t0
    expect(took).toBeGreaterThanOrEqual(20)
    expect(took).toBeLessThan(400)
  })
})
