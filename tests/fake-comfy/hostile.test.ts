/* eslint-disable @typescript-eslint/no-explicit-any -- these tests read deeply nested JSON */
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  FakeComfy,
  IS_CHANGED_CLASSES,
  fakeFileBytes,
  faultApplies,
  makePng,
  makeTxt2ImgPrompt,
  parseFault,
  readPngText
} from '../../src/fake-comfy'
import type { FakeFault } from '../../src/fake-comfy'
import { WsClient, postJson, request, sleep, until } from './helpers'

let fake: FakeComfy | null = null
const clients: WsClient[] = []

async function boot(opts: ConstructorParameters<typeof FakeComfy>[0] = {}): Promise<FakeComfy> {
  fake = new FakeComfy({ jobMs: 30, ...opts })
  await fake.start()
  return fake
}

async function ws(f: FakeComfy, clientId?: string): Promise<WsClient> {
  const c = await WsClient.open(f.url, clientId)
  clients.push(c)
  return c
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await fake?.stop()
  fake = null
})

const TROUBLE = '500 Internal Server Error\n\nServer got itself in trouble'

function saveFilePrompt(inputs: Record<string, unknown>): Record<string, unknown> {
  return { '1': { class_type: 'FakeSaveFile', inputs } }
}

async function submit(f: FakeComfy, body: Record<string, unknown>): Promise<string> {
  const r = await postJson(f.url + '/api/prompt', body)
  expect(r.status, r.text).toBe(200)
  return (r.json() as { prompt_id: string }).prompt_id
}

async function outputsOf(f: FakeComfy, id: string): Promise<any> {
  await f.waitForIdle()
  const h = (await request(`${f.url}/api/history/${id}`)).json() as any
  return h[id].outputs
}

/** Reads a body chunk by chunk, comparing it with the generated content as it arrives. */
function streamCompare(
  url: string,
  index: number
): Promise<{ status: number; size: number; chunks: number; same: boolean; headers: any }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let size = 0
        let chunks = 0
        let same = true
        res.on('data', (c: Buffer) => {
          if (same && !c.equals(fakeFileBytes(index, size, c.length))) same = false
          size += c.length
          chunks++
        })
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, size, chunks, same, headers: res.headers })
        )
        res.on('error', reject)
      })
      .on('error', reject)
  })
}

describe('section 9 fidelity', () => {
  it('saved PNGs carry the executed prompt with a bare [NaN] is_changed, and the workflow', async () => {
    const f = await boot()
    fs.writeFileSync(path.join(f.inputDir, 'cat.png'), makePng({ width: 8, height: 8 }))
    const workflow = { last_node_id: 3, nodes: [{ id: 1, type: 'LoadImage' }] }
    const prompt = {
      '1': { class_type: 'LoadImage', inputs: { image: 'cat.png' } },
      '2': { class_type: 'LoadImageMask', inputs: { image: 'cat.png', channel: 'alpha' } },
      '3': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'nan' } },
      '4': {
        class_type: 'LoadImage',
        inputs: { image: 'cat.png' },
        is_changed: ['kept as sent']
      }
    }
    const id = await submit(f, { prompt, extra_data: { extra_pnginfo: { workflow } } })
    const out = await outputsOf(f, id)
    const img = out['3'].images[0]
    const png = await request(
      `${f.url}/api/view?filename=${img.filename}&subfolder=${img.subfolder}&type=output`
    )
    const text = readPngText(png.body)
    expect(text.prompt).toContain('"is_changed": [NaN]')
    expect(() => JSON.parse(text.prompt ?? '')).toThrow()
    const executed = JSON.parse((text.prompt ?? '').replaceAll('NaN', '"NaN"'))
    expect(executed['1'].is_changed).toEqual(['NaN'])
    expect(executed['2'].is_changed).toEqual(['NaN'])
    expect(executed['3']).not.toHaveProperty('is_changed')
    expect(executed['4'].is_changed).toEqual(['kept as sent'])
    expect(JSON.parse(text.workflow ?? '')).toEqual(workflow)
    // /history keeps the prompt as queued (a copy taken before execution)
    expect((f.historyEntry(id)?.prompt[2] as any)['1']).not.toHaveProperty('is_changed')
    expect(IS_CHANGED_CLASSES).toEqual(expect.arrayContaining(['LoadImage', 'LoadImageMask']))
  })

  it('a PNG has no workflow chunk when none was sent', async () => {
    const f = await boot()
    const id = await submit(f, { prompt: makeTxt2ImgPrompt({ steps: 2 }) })
    const img = (await outputsOf(f, id))['9'].images[0]
    const png = await request(`${f.url}/view?filename=${img.filename}&type=output`)
    const text = readPngText(png.body)
    expect(Object.keys(text)).toEqual(['prompt'])
    expect(text.prompt).not.toContain('is_changed') // no IS_CHANGED class in txt2img
  })

  it('POST /queue delete removes a pending prompt with only status broadcasts', async () => {
    const f = await boot({ speed: 0 }) // the first prompt runs forever
    const c = await ws(f, 'me')
    await submit(f, { prompt: makeTxt2ImgPrompt(), client_id: 'me' })
    const doomed = await submit(f, { prompt: makeTxt2ImgPrompt(), client_id: 'me' })
    await until(() => f.queueSnapshot().pending.includes(doomed))
    await sleep(20)
    const before = c.messages.length
    const r = await postJson(f.url + '/api/queue', { delete: [doomed] })
    expect(r.status).toBe(200)
    expect(r.body.length).toBe(0)
    await until(() => c.messages.length > before)
    await sleep(30)
    const after = c.messages.slice(before)
    expect(after.map((m) => m.type)).toEqual(after.map(() => 'status'))
    expect(after.at(-1)?.data).toEqual({ status: { exec_info: { queue_remaining: 1 } } })
    expect(c.ws.readyState).toBe(c.ws.OPEN)
    expect(f.queueSnapshot().pending).toEqual([])
    expect((await request(`${f.url}/api/history/${doomed}`)).json()).toEqual({})
    const next = await postJson(f.url + '/api/prompt', { prompt: makeTxt2ImgPrompt() })
    expect((next.json() as any).number).toBe(2)
  })

  it('restart drops every WebSocket without a close frame, empties queue and history, number 0', async () => {
    const f = await boot()
    const c = await ws(f, 'me')
    const code = new Promise<number>((resolve) => c.ws.once('close', (n) => resolve(n)))
    const done = await submit(f, { prompt: makeTxt2ImgPrompt({ steps: 2 }), client_id: 'me' })
    await c.waitDone(done)
    f.setSpeed(0)
    const pending = await submit(f, { prompt: makeTxt2ImgPrompt() })
    await submit(f, { prompt: makeTxt2ImgPrompt() })
    await f.restart()
    expect(await code).toBe(1006)
    expect((await request(f.url + '/api/queue')).json()).toEqual({
      queue_running: [],
      queue_pending: []
    })
    expect((await request(f.url + '/api/history')).json()).toEqual({})
    expect((await request(`${f.url}/api/history/${pending}`)).json()).toEqual({})
    const again = await postJson(f.url + '/api/prompt', { prompt: makeTxt2ImgPrompt() })
    expect((again.json() as any).number).toBe(0)
  })
})

describe('new faults', () => {
  it('parses the new shapes and rejects bad ones', () => {
    expect(parseFault({ kind: 'redirect', status: 308, to: 'http://127.0.0.1:9/' })).toEqual({
      kind: 'redirect',
      status: 308,
      to: 'http://127.0.0.1:9'
    })
    expect(parseFault({ kind: 'gateway-timeout' })).toEqual({ kind: 'gateway-timeout' })
    expect(parseFault({ kind: 'ws-flood', perTick: 5 })).toEqual({ kind: 'ws-flood', perTick: 5 })
    expect(parseFault({ kind: 'status', status: 503, route: ['/view', '/queue/'] })).toEqual({
      kind: 'status',
      status: 503,
      route: ['/view', '/queue']
    })
    const bad: unknown[] = [
      { kind: 'redirect', status: 300, to: 'http://127.0.0.1:9' },
      { kind: 'redirect', status: 302, to: '127.0.0.1:9' },
      { kind: 'gateway-timeout', delayMs: -1 },
      { kind: 'ws-flood', perTick: 0 },
      { kind: 'view-status', status: 42 },
      { kind: 'view-slow', bytesPerSec: 0 },
      { kind: 'no-history', route: '/history' },
      { kind: 'status', status: 500, route: 'view' }
    ]
    for (const b of bad) expect(() => parseFault(b), JSON.stringify(b)).toThrow(RangeError)
  })

  it('route filters match the plain and the /api path, or only the /api one', () => {
    const f = { kind: 'status', status: 500, route: '/history' } as FakeFault
    expect(faultApplies(f, '/history')).toBe(true)
    expect(faultApplies(f, '/api/history')).toBe(true)
    expect(faultApplies(f, '/api/history/abc')).toBe(true)
    expect(faultApplies(f, '/history_x')).toBe(false)
    expect(faultApplies(f, '/queue')).toBe(false)
    const api = { kind: 'hang', route: '/api/queue' } as FakeFault
    expect(faultApplies(api, '/api/queue')).toBe(true)
    expect(faultApplies(api, '/queue')).toBe(false)
    expect(faultApplies({ kind: 'hang' }, '/anything')).toBe(true)
  })

  it('redirect: answers the status with Location to + original path and query, runs nothing', async () => {
    const f = await boot()
    const to = 'http://127.0.0.1:1'
    const set = await postJson(f.url + '/__fake/fault', {
      fault: { kind: 'redirect', status: 307, to, route: '/prompt' }
    })
    expect(set.status).toBe(200)
    const r = await postJson(f.url + '/api/prompt?a=1&b=%20', { prompt: makeTxt2ImgPrompt() })
    expect(r.status).toBe(307)
    expect(r.headers.location).toBe(`${to}/api/prompt?a=1&b=%20`)
    const plain = await postJson(f.url + '/prompt', { prompt: makeTxt2ImgPrompt() })
    expect(plain.headers.location).toBe(`${to}/prompt`)
    // other routes are not redirected
    expect((await request(f.url + '/api/queue')).status).toBe(200)
    await sleep(20)
    expect(f.queueSnapshot()).toEqual({ running: [], pending: [] })
    expect(f.executionCounts()).toEqual({})
    for (const status of [301, 302, 303, 308] as const) {
      await f.setFault({ kind: 'redirect', status, to })
      const any = await request(f.url + '/queue?x=y')
      expect(any.status).toBe(status)
      expect(any.headers.location).toBe(`${to}/queue?x=y`)
    }
    // the socket upgrade is redirected too when the filter covers /ws
    await expect(WsClient.open(f.url, 'r')).rejects.toMatchObject({ status: 308 })
  })

  it('gateway-timeout: the prompt is queued at once, the answer is nginx 504 after delayMs', async () => {
    const f = await boot({ speed: 0 })
    await f.setFault({ kind: 'gateway-timeout', delayMs: 60 })
    let queuedBeforeAnswer = false
    f.once('queued', () => (queuedBeforeAnswer = true))
    const id = 'ambiguous-1'
    const r = await postJson(f.url + '/api/prompt', {
      prompt: makeTxt2ImgPrompt(),
      prompt_id: id
    })
    expect(r.status).toBe(504)
    expect(r.headers['content-type']).toBe('text/html')
    expect(r.headers.server).toMatch(/^nginx/)
    expect(r.text).toContain('<title>504 Gateway Time-out</title>')
    expect(queuedBeforeAnswer).toBe(true)
    expect(f.queueSnapshot().running).toEqual([id])
    // other routes answer normally
    expect((await request(f.url + '/api/queue')).status).toBe(200)
  })

  it('gateway-timeout with queueAfterMs: the 504 comes first, the prompt appears later', async () => {
    const f = await boot({ speed: 0 })
    await f.setFault({ kind: 'gateway-timeout', queueAfterMs: 80 })
    const r = await postJson(f.url + '/prompt', { prompt: makeTxt2ImgPrompt(), prompt_id: 'late' })
    expect(r.status).toBe(504)
    expect(f.queueSnapshot()).toEqual({ running: [], pending: [] })
    await until(() => f.queueSnapshot().running.includes('late'))
    expect(f.executionCount('late')).toBe(1)
  })

  it('no-history: prompts run with every event but /history never lists them', async () => {
    const f = await boot()
    const c = await ws(f, 'me')
    await f.setFault({ kind: 'no-history' })
    const id = await submit(f, { prompt: makeTxt2ImgPrompt({ steps: 2 }), client_id: 'me' })
    await c.waitDone(id)
    const types = c.messages.filter((m) => m.data.prompt_id === id).map((m) => m.type)
    expect(types).toEqual(
      expect.arrayContaining(['execution_start', 'executing', 'executed', 'execution_success'])
    )
    expect((await request(f.url + '/api/history')).json()).toEqual({})
    expect((await request(`${f.url}/history/${id}`)).json()).toEqual({})
    await f.setFault(null)
    const seen = await submit(f, { prompt: makeTxt2ImgPrompt({ steps: 2 }), client_id: 'me' })
    await c.waitDone(seen)
    expect(Object.keys((await request(f.url + '/api/history')).json() as object)).toEqual([seen])
  })

  it('ws-flood: every socket gets status messages with varying queue_remaining until cleared', async () => {
    const f = await boot()
    const a = await ws(f, 'a')
    const b = await ws(f)
    await f.setFault({ kind: 'ws-flood', perTick: 50 })
    // the HTTP side stays responsive while flooding
    for (let i = 0; i < 5; i++) expect((await request(f.url + '/api/queue')).status).toBe(200)
    await until(() => a.messages.length > 1000 && b.messages.length > 1000, 10_000)
    expect(a.messages.every((m) => m.type === 'status')).toBe(true)
    const values = new Set(a.messages.map((m) => (m.data as any).status.exec_info.queue_remaining))
    expect(values.size).toBeGreaterThan(10)
    await postJson(f.url + '/__fake/fault', { fault: null })
    await sleep(50)
    const count = a.messages.length
    await sleep(100)
    expect(a.messages.length).toBe(count)
    expect(a.ws.readyState).toBe(a.ws.OPEN)
  })

  it('view-status: only /view answers the status', async () => {
    const f = await boot()
    const id = await submit(f, { prompt: makeTxt2ImgPrompt({ steps: 2 }) })
    const img = (await outputsOf(f, id))['9'].images[0]
    await f.setFault({ kind: 'view-status', status: 500 })
    for (const p of ['/view', '/api/view']) {
      const r = await request(`${f.url}${p}?filename=${img.filename}&type=output`)
      expect(r.status).toBe(500)
      expect(r.text).toBe(TROUBLE)
    }
    expect((await request(`${f.url}/api/history/${id}`)).status).toBe(200)
    await f.setFault(null)
    expect((await request(`${f.url}/api/view?filename=${img.filename}`)).status).toBe(200)
  })

  it('view-slow: streams the body in many small chunks, bytes intact', async () => {
    const f = await boot()
    const id = await submit(f, { prompt: saveFilePrompt({ filename: 'a.bin', bytes: 6000 }) })
    await outputsOf(f, id)
    await f.setFault({ kind: 'view-slow', bytesPerSec: 20_000 }) // 1000-byte chunks
    const r = await streamCompare(`${f.url}/api/view?filename=a.bin&type=output`, 0)
    expect(r).toMatchObject({ status: 200, size: 6000, same: true })
    expect(r.headers['content-length']).toBe('6000')
    expect(r.chunks).toBeGreaterThanOrEqual(3)
    // a PNG on disk is slowed down too
    const png = await submit(f, { prompt: makeTxt2ImgPrompt({ steps: 2 }) })
    const img = (await outputsOf(f, png))['9'].images[0]
    const body = await request(`${f.url}/view?filename=${img.filename}`)
    expect(body.body.equals(fs.readFileSync(path.join(f.outputDir, img.filename)))).toBe(true)
  })

  it('route filters: a status only on /view, only on /api/queue, a hang only on /prompt', async () => {
    const f = await boot()
    await f.setFault({ kind: 'status', status: 503, route: '/view' })
    expect((await request(f.url + '/view?filename=x.png')).status).toBe(503)
    expect((await request(f.url + '/api/view?filename=x.png')).status).toBe(503)
    expect((await request(f.url + '/api/queue')).status).toBe(200)
    await ws(f, 'ok') // the socket is not covered
    await f.setFault({ kind: 'status', status: 500, route: '/api/queue' })
    expect((await request(f.url + '/api/queue')).status).toBe(500)
    expect((await request(f.url + '/queue')).status).toBe(200)
    await f.setFault({ kind: 'hang', route: '/prompt' })
    const parked = request(f.url + '/api/prompt')
    expect((await request(f.url + '/api/queue')).status).toBe(200)
    await f.setFault(null)
    expect((await parked).status).toBe(200)
  })
})

describe('FakeSaveFile outputs', () => {
  it('appears in object_info with its inputs', async () => {
    const f = await boot()
    const info = (await request(f.url + '/api/object_info/FakeSaveFile')).json() as any
    expect(info.FakeSaveFile).toMatchObject({
      output_node: true,
      input: {
        required: { filename: ['STRING', { default: 'fake_output.bin' }] },
        optional: {
          count: ['INT', { default: 1, min: 0 }],
          bytes: ['INT', { default: 1024, min: 0 }],
          subfolders: [['same', 'different'], { default: 'same' }]
        }
      }
    })
    const all = (await request(f.url + '/api/object_info')).json() as any
    expect(Object.keys(all)).toContain('FakeSaveFile')
  })

  it('reports hostile names exactly, in different subfolders, and /view serves them', async () => {
    const f = await boot()
    const name = '\u202egnp.bat'
    const id = await submit(f, {
      prompt: saveFilePrompt({ filename: name, count: 3, bytes: 300, subfolders: 'different' })
    })
    const images = (await outputsOf(f, id))['1'].images
    expect(images).toEqual(
      ['1', '2', '3'].map((subfolder) => ({ filename: name, subfolder, type: 'output' }))
    )
    for (const [i, img] of images.entries()) {
      const q = new URLSearchParams({ filename: img.filename, subfolder: img.subfolder })
      const r = await request(`${f.url}/api/view?${q.toString()}`)
      expect(r.status).toBe(200)
      expect(r.body.equals(fakeFileBytes(i, 0, 300))).toBe(true)
      const disposition = Buffer.from(r.headers['content-disposition'] ?? '', 'latin1')
      expect(disposition.toString('utf8')).toBe(`filename="${name}"`)
    }
    // the same name in the same subfolder, twice, as a real server can report it
    const twice = await submit(f, {
      prompt: saveFilePrompt({ filename: 'COM1 .txt', count: 2, bytes: 10, subfolder: 'x' })
    })
    const dup = (await outputsOf(f, twice))['1'].images
    expect(dup).toEqual([
      { filename: 'COM1 .txt', subfolder: 'x', type: 'output' },
      { filename: 'COM1 .txt', subfolder: 'x', type: 'output' }
    ])
    const txt = await request(`${f.url}/view?filename=COM1%20.txt&subfolder=x`)
    expect(txt.status).toBe(200)
    expect(txt.headers['content-type']).toBe('text/plain')
    expect(txt.body.length).toBe(10)
    const evil = await submit(f, { prompt: saveFilePrompt({ filename: 'evil.bat', bytes: 1 }) })
    expect((await outputsOf(f, evil))['1'].images[0].filename).toBe('evil.bat')
    expect((await request(`${f.url}/view?filename=evil.bat`)).status).toBe(200)
  })

  it('serves a 40 MB output streamed from a generator, nothing written to disk', async () => {
    const f = await boot()
    const bytes = 40 * 1024 * 1024
    const id = await submit(f, { prompt: saveFilePrompt({ filename: 'big.safetensors', bytes }) })
    await outputsOf(f, id)
    const r = await streamCompare(`${f.url}/api/view?filename=big.safetensors`, 0)
    expect(r).toMatchObject({ status: 200, size: bytes, same: true })
    expect(r.headers['content-length']).toBe(String(bytes))
    expect(fs.readdirSync(f.outputDir)).toEqual([])
  })
})

describe('execution counts', () => {
  it('counts how many times each prompt_id ran, over restarts', async () => {
    const f = await boot()
    const body = { prompt: makeTxt2ImgPrompt({ steps: 2 }), prompt_id: 'twice' }
    await submit(f, body)
    await f.waitForIdle()
    await submit(f, body)
    const once = await submit(f, { prompt: makeTxt2ImgPrompt({ steps: 2 }) })
    await f.waitForIdle()
    expect(f.executionCount('twice')).toBe(2)
    expect(f.executionCount(once)).toBe(1)
    expect(f.executionCount('never')).toBe(0)
    await f.restart()
    expect(f.executionCounts()).toEqual({ twice: 2, [once]: 1 })
    const state = (await request(f.url + '/__fake/state')).json() as any
    expect(state.executions).toEqual({ twice: 2, [once]: 1 })
  })
})
