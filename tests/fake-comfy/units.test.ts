import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  FakeComfy,
  buildNodeDefs,
  DEFAULT_MODELS,
  DEFAULT_NODE_CLASSES,
  decodePng,
  makeComfyPng,
  makePng,
  makeTxt2ImgPrompt,
  pyDumps,
  readPngText,
  validatePrompt
} from '../../src/fake-comfy'
import { heapPop, heapPush } from '../../src/fake-comfy/heap'
import { parseForm } from '../../src/fake-comfy/multipart'
import type { QueueItem } from '../../src/fake-comfy'
import { WsClient, multipart, postJson } from './helpers'

describe('python look-alikes', () => {
  it('dumps JSON like json.dumps', () => {
    expect(pyDumps({ a: [1, 'é', null, true], b: {} })).toBe(
      '{"a": [1, "\\u00e9", null, true], "b": {}}'
    )
    expect(
      pyDumps(
        new Map([
          ['2', 1],
          ['1', 2]
        ])
      )
    ).toBe('{"2": 1, "1": 2}')
  })

  it('orders the pending heap like heapq', () => {
    const heap: QueueItem[] = []
    for (const n of [5, 3, 8, 1]) heapPush(heap, [n, `p${n}`, {}, {}, []])
    expect(heap.map((i) => i[0])).toEqual([1, 3, 8, 5])
    expect([heapPop(heap), heapPop(heap)].map((i) => i?.[0])).toEqual([1, 3])
    const ties: QueueItem[] = []
    for (const id of ['b', 'a', 'c']) heapPush(ties, [0, id, {}, {}, []])
    expect(heapPop(ties)?.[1]).toBe('a')
  })
})

describe('png', () => {
  it('writes real PNGs with ComfyUI text chunks and reads them back', () => {
    const prompt = makeTxt2ImgPrompt({ seed: 3 })
    const png = makeComfyPng(prompt, { nodes: [{ id: 3 }] }, { width: 32, height: 16 })
    const img = decodePng(png)
    expect([img.width, img.height]).toEqual([32, 16])
    const text = readPngText(png)
    expect(JSON.parse(text.prompt ?? '')).toEqual(prompt)
    expect(text.prompt).toContain('"class_type": "KSampler"') // json.dumps spacing
    expect(JSON.parse(text.workflow ?? '')).toEqual({ nodes: [{ id: 3 }] })
    expect(readPngText(makePng({ text: { note: 'naïve ✓' } })).note).toBe('naïve ✓')
    expect(makePng({ seed: 1 }).equals(makePng({ seed: 2 }))).toBe(false)
  })
})

describe('multipart', () => {
  it('parses file and text fields; first value wins', () => {
    const form = multipart([
      {
        name: 'image',
        value: Buffer.from([0, 1, 2, 13, 10]),
        filename: 'a b.png',
        type: 'image/png'
      },
      { name: 'type', value: 'temp' },
      { name: 'type', value: 'output' }
    ])
    const parsed = parseForm(form.body, form.contentType)
    expect(parsed.get('image')?.filename).toBe('a b.png')
    expect([...(parsed.get('image')?.data ?? [])]).toEqual([0, 1, 2, 13, 10])
    expect(parsed.get('type')?.data.toString()).toBe('temp')
    expect(parseForm(Buffer.from('{"image": 1}'), 'application/json').size).toBe(0)
  })
})

describe('validation edge cases', () => {
  const defs = buildNodeDefs(DEFAULT_NODE_CLASSES, {
    models: DEFAULT_MODELS,
    inputFiles: () => [],
    inputExists: () => false
  })

  it('coerces widget values and reports conversion errors', () => {
    const p = makeTxt2ImgPrompt() as Record<string, { inputs: Record<string, unknown> }>
    p['3']!.inputs.seed = '42'
    const ok = validatePrompt(p, null, defs, { version: 'current' })
    expect(ok.ok).toBe(true)
    expect(p['3']!.inputs.seed).toBe(42)
    p['3']!.inputs.steps = 'many'
    const bad = validatePrompt(p, null, defs, { version: 'current' })
    expect(bad.ok).toBe(false)
    expect(bad.nodeErrors['3']?.errors[0]).toMatchObject({
      type: 'invalid_input_type',
      message: 'Failed to convert an input value to a INT value',
      details: "steps, many, invalid literal for int() with base 10: 'many'"
    })
  })

  it('reports dangling links as an exception during validation', () => {
    const p = makeTxt2ImgPrompt() as Record<string, { inputs: Record<string, unknown> }>
    p['9']!.inputs.images = ['99', 0]
    const r = validatePrompt(p, null, defs, { version: 'current' })
    expect(r.ok).toBe(false)
    if (r.ok) return
    expect(r.error.details).toBe("Exception when validating node: '99'")
    expect(r.nodeErrors['9']?.errors[0]).toMatchObject({
      type: 'exception_during_validation',
      extra_info: { exception_type: 'KeyError' }
    })
  })

  it('honours partial_execution_targets', () => {
    const p = makeTxt2ImgPrompt()
    const r = validatePrompt(p, ['8'], defs, { version: 'current' })
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.error.type).toBe('prompt_no_outputs')
  })
})

describe('output cache (opt-in)', () => {
  let fake: FakeComfy | null = null
  afterEach(async () => {
    await fake?.stop()
  })

  it('re-running an identical prompt reports cached nodes and re-sends executed', async () => {
    fake = new FakeComfy({ jobMs: 20, cache: true })
    await fake.start()
    const ws = await WsClient.open(fake.url, 'c')
    const prompt = makeTxt2ImgPrompt({ seed: 5 })
    await postJson(fake.url + '/prompt', { prompt, client_id: 'c', prompt_id: 'one' })
    await ws.waitDone('one')
    const changed = makeTxt2ImgPrompt({ seed: 6 })
    await postJson(fake.url + '/prompt', { prompt: changed, client_id: 'c', prompt_id: 'two' })
    await ws.waitDone('two')
    const cached = ws.messages.filter((m) => m.type === 'execution_cached')
    expect(cached[0]?.data.nodes).toEqual([])
    expect(cached[1]?.data.nodes).toEqual(['4', '5', '6', '7'])
    await postJson(fake.url + '/prompt', { prompt: changed, client_id: 'c', prompt_id: 'three' })
    await ws.waitDone('three')
    const third = ws.messages.filter((m) => m.type === 'execution_cached')[2]
    expect(third?.data.nodes).toEqual(['3', '4', '5', '6', '7', '8', '9'])
    const executed = ws.messages.filter(
      (m) => m.type === 'executed' && m.data.prompt_id === 'three'
    )
    expect(executed.map((m) => m.data.node)).toEqual(['9'])
    expect(fake.historyEntry('three')?.outputs).toEqual(fake.historyEntry('two')?.outputs)
    await ws.close()
  })
})

describe('fake timers', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('runs jobs on vitest fake timers (setTimeout + Date)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const f = new FakeComfy({ jobMs: 60_000 })
    await f.start()
    try {
      f.enqueueDummy(2)
      await vi.advanceTimersByTimeAsync(1)
      expect(f.queueSnapshot().running).toHaveLength(1)
      await vi.advanceTimersByTimeAsync(59_000)
      expect(f.historyIds()).toHaveLength(0)
      f.setSpeed(2)
      await vi.advanceTimersByTimeAsync(1_000)
      expect(f.historyIds()).toHaveLength(1)
      await vi.advanceTimersByTimeAsync(30_000)
      expect(f.historyIds()).toHaveLength(2)
    } finally {
      await f.stop()
    }
  })
})
