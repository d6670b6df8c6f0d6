import { crc32, deflateSync } from 'node:zlib'
import { PNG } from 'pngjs'
import { describe, expect, it } from 'vitest'
import {
  loadWorkflowBytes,
  MAX_PROMPT_DEPTH,
  MAX_PROMPT_NODES,
  MAX_WORKFLOW_BYTES,
  parseApiPrompt,
  WorkflowError
} from '../../src/main/core/jobs/workflow'
import { readPngText } from '../../src/main/core/jobs/png-text'
import { jsonShape, parsePythonJson, pythonJsonToJson } from '../../src/main/core/jobs/pyjson'

const API = {
  '3': { class_type: 'KSampler', inputs: { seed: 5, steps: 20, model: ['4', 0] } },
  '4': {
    class_type: 'CheckpointLoaderSimple',
    inputs: { ckpt_name: 'sd_xl_base_1.0.safetensors' }
  },
  '5': { class_type: 'LoraLoader', inputs: { lora_name: 'detail.safetensors', model: ['4', 0] } },
  '6': { class_type: 'CLIPVisionLoader', inputs: { clip_name: 'vit.safetensors' } },
  '7': { class_type: 'LoadImage', inputs: { image: 'photo.png', upload: 'image' } },
  '9': {
    class_type: 'SaveImage',
    inputs: { filename_prefix: 'ComfyUI', images: ['8', 0] },
    _meta: { title: 'Save' }
  }
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4)
  len.writeUInt32BE(data.length)
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(td) >>> 0)
  return Buffer.concat([len, td, crc])
}

/** A real 4x4 PNG with extra text chunks inserted before IEND. */
function pngWith(chunks: Buffer[]): Buffer {
  const png = new PNG({ width: 4, height: 4 })
  png.data.fill(200)
  const bytes = PNG.sync.write(png)
  const iend = bytes.length - 12
  return Buffer.concat([bytes.subarray(0, iend), ...chunks, bytes.subarray(iend)])
}

const tEXt = (k: string, v: string) =>
  chunk('tEXt', Buffer.concat([Buffer.from(`${k}\0`, 'latin1'), Buffer.from(v, 'utf8')]))
const zTXt = (k: string, v: string) =>
  chunk(
    'zTXt',
    Buffer.concat([Buffer.from(`${k}\0\0`, 'latin1'), deflateSync(Buffer.from(v, 'utf8'))])
  )
const iTXt = (k: string, v: string, compressed: boolean) =>
  chunk(
    'iTXt',
    Buffer.concat([
      Buffer.from(`${k}\0`, 'latin1'),
      Buffer.from([compressed ? 1 : 0, 0]),
      Buffer.from('en\0\0', 'latin1'),
      compressed ? deflateSync(Buffer.from(v, 'utf8')) : Buffer.from(v, 'utf8')
    ])
  )

/** What to do, in every refusal. */
const ADVICE = /[.?] (Save it again|Use |Choose |Check |Open it|Split |In ComfyUI use )/

function fails(bytes: Uint8Array | string, re: RegExp, source = 'wf.json') {
  const b = typeof bytes === 'string' ? Buffer.from(bytes) : bytes
  try {
    loadWorkflowBytes(b, source)
  } catch (err) {
    expect(err).toBeInstanceOf(WorkflowError)
    expect((err as Error).message.startsWith(`${source}: `)).toBe(true)
    expect((err as Error).message).toMatch(re)
    expect((err as Error).message).toMatch(ADVICE)
    return
  }
  throw new Error('expected the workflow to be refused')
}

describe('loading workflows', () => {
  it('reads API-format JSON and lists what it needs', () => {
    const w = loadWorkflowBytes(Buffer.from(JSON.stringify(API)), 'a.json')
    expect(w.format).toBe('json')
    expect(Object.keys(w.prompt)).toEqual(['3', '4', '5', '6', '7', '9'])
    expect(w.summary.nodeCount).toBe(6)
    expect(w.summary.classes).toEqual([
      'CLIPVisionLoader',
      'CheckpointLoaderSimple',
      'KSampler',
      'LoadImage',
      'LoraLoader',
      'SaveImage'
    ])
    expect(w.summary.models).toEqual([
      { nodeId: '4', folder: 'checkpoints', name: 'sd_xl_base_1.0.safetensors' },
      { nodeId: '5', folder: 'loras', name: 'detail.safetensors' },
      { nodeId: '6', folder: 'clip_vision', name: 'vit.safetensors' }
    ])
    expect(w.summary.images).toEqual([{ nodeId: '7', input: 'image', name: 'photo.png' }])
  })

  it('unwraps {prompt: ...} and tolerates a BOM', () => {
    const w = loadWorkflowBytes(
      Buffer.from(`\uFEFF${JSON.stringify({ prompt: API, client_id: 'x' })}`),
      'b.json'
    )
    expect(w.summary.nodeCount).toBe(6)
  })

  for (const [kind, make] of [
    ['tEXt', () => tEXt('prompt', JSON.stringify(API))],
    ['zTXt', () => zTXt('prompt', JSON.stringify(API))],
    ['iTXt', () => iTXt('prompt', JSON.stringify(API), false)],
    ['compressed iTXt', () => iTXt('prompt', JSON.stringify(API), true)]
  ] as const) {
    it(`reads the prompt from a ComfyUI PNG (${kind})`, () => {
      const bytes = pngWith([tEXt('workflow', '{"nodes":[],"links":[]}'), make()])
      const w = loadWorkflowBytes(bytes, 'out.png')
      expect(w.format).toBe('png')
      expect(w.prompt['4']!.inputs.ckpt_name).toBe('sd_xl_base_1.0.safetensors')
      expect(readPngText(bytes).has('workflow')).toBe(true)
    })
  }

  it('keeps non-ASCII text from UTF-8 tEXt chunks', () => {
    const api = { '1': { class_type: 'CLIPTextEncode', inputs: { text: '猫, café' } } }
    const w = loadWorkflowBytes(pngWith([tEXt('prompt', JSON.stringify(api))]), 'cat.png')
    expect(w.prompt['1']!.inputs.text).toBe('猫, café')
  })

  it('asks for a server to convert a UI-format workflow, and says what to do', () => {
    fails(
      JSON.stringify({ last_node_id: 9, nodes: [{ id: 1 }], links: [] }),
      /UI-format .*needs a server.*Export \(API\)/
    )
  })

  it('refuses bad files with a clear reason naming the file', () => {
    fails('{not json', /not valid JSON/)
    fails('[1,2,3]', /expected a workflow object/)
    fails('{}', /has no nodes/)
    fails('{"1": 5}', /node "1" is not an object/)
    fails('{"1": {"inputs": {}}}', /node "1" has no class_type/)
    fails('{"1": {"class_type": "X", "inputs": [1]}}', /inputs that are not an object/)
    fails(pngWith([]), /holds no ComfyUI workflow/, 'photo.png')
    fails(pngWith([tEXt('workflow', '{}')]), /holds no ComfyUI workflow/, 'ui.png')
    fails(pngWith([tEXt('workflow', '{"nodes": [], "links": []}')]), /UI-format/, 'ui.png')
    fails(pngWith([tEXt('prompt', '{oops')]), /inside this PNG is not valid JSON/, 'x.png')
    const png = pngWith([tEXt('prompt', JSON.stringify(API))])
    fails(png.subarray(0, 60), /cut short/, 'cut.png')
    fails(Buffer.alloc(MAX_WORKFLOW_BYTES + 1, 32), /too large/, 'huge.json')
  })

  it('stops a zip bomb in a compressed text chunk', () => {
    const bomb = chunk(
      'zTXt',
      Buffer.concat([
        Buffer.from('prompt\0\0', 'latin1'),
        deflateSync(Buffer.alloc(40 * 1024 * 1024, 32))
      ])
    )
    fails(pngWith([bomb]), /could not be read/, 'bomb.png')
  })

  it('says what to do in every refusal of a PNG', () => {
    fails(pngWith([]), /Use the original image ComfyUI saved/, 'photo.png')
    fails(pngWith([tEXt('workflow', '{"nodes": [], "links": []}')]), /Export \(API\)/, 'ui.png')
    // The problem alone stays as it was (the window translates it by its text).
    for (const [bytes, problem] of [
      [pngWith([tEXt('prompt', '{oops')]), 'the workflow inside this PNG is not valid JSON'],
      [Buffer.from('{}'), 'the workflow has no nodes']
    ] as const) {
      try {
        loadWorkflowBytes(bytes, 'x')
        throw new Error('expected a refusal')
      } catch (err) {
        expect((err as WorkflowError).problem).toBe(problem)
        expect((err as WorkflowError).advice).toMatch(/^(Use|Save) /)
      }
    }
  })
})

/** The `prompt` chunk as ComfyUI 0.3.64 writes it: Python's json, bare NaN in `is_changed`. */
const PY_PROMPT =
  '{"3": {"inputs": {"seed": 42, "steps": 20, "cfg": 8.0, "model": ["4", 0]}, ' +
  '"class_type": "KSampler", "_meta": {"title": "KSampler"}}, ' +
  '"4": {"inputs": {"ckpt_name": "v1-5.safetensors"}, "class_type": "CheckpointLoaderSimple", ' +
  '"_meta": {"title": "Load Checkpoint"}, "is_changed": [NaN]}, ' +
  '"7": {"inputs": {"image": "NaN.png", "upload": "image"}, "class_type": "LoadImage", ' +
  '"_meta": {"title": "Load \\"NaN\\" Image"}, "is_changed": ["1f2e"]}, ' +
  '"8": {"inputs": {"text": "Infinity, -Infinity, NaN \\\\", "strength": Infinity, "low": -Infinity}, ' +
  '"class_type": "CLIPTextEncode", "is_changed": [Infinity]}}'

describe('prompts saved by a real ComfyUI (Python JSON)', () => {
  it('reads bare NaN, Infinity and -Infinity outside strings and leaves strings alone', () => {
    expect(() => JSON.parse(PY_PROMPT) as unknown).toThrow()
    const raw = parsePythonJson(PY_PROMPT) as Record<string, Record<string, unknown>>
    expect(raw['4']!.is_changed).toEqual([null])
    expect(raw['7']!._meta).toEqual({ title: 'Load "NaN" Image' })
    expect(raw['8']!.inputs).toEqual({
      text: 'Infinity, -Infinity, NaN \\',
      strength: null,
      low: null
    })
    expect(pythonJsonToJson('["NaN", "a\\"NaN", "\\\\", NaN]')).toBe(
      '["NaN", "a\\"NaN", "\\\\", null]'
    )
    expect(pythonJsonToJson('{"a": 1}')).toBe('{"a": 1}')
    expect(() => parsePythonJson('[Nan]')).toThrow()
  })

  for (const [kind, make] of [
    ['tEXt', () => tEXt('prompt', PY_PROMPT)],
    ['compressed iTXt', () => iTXt('prompt', PY_PROMPT, true)]
  ] as const) {
    it(`loads a ComfyUI PNG whose prompt holds NaN and drops is_changed (${kind})`, () => {
      const w = loadWorkflowBytes(pngWith([make(), tEXt('workflow', '{}')]), 'ComfyUI_00001_.png')
      expect(w.format).toBe('png')
      expect(Object.keys(w.prompt)).toEqual(['3', '4', '7', '8'])
      for (const node of Object.values(w.prompt)) expect(node).not.toHaveProperty('is_changed')
      expect(w.prompt['4']).toEqual({
        inputs: { ckpt_name: 'v1-5.safetensors' },
        class_type: 'CheckpointLoaderSimple',
        _meta: { title: 'Load Checkpoint' }
      })
      expect(w.prompt['7']!.inputs.image).toBe('NaN.png')
      expect(w.prompt['7']!._meta).toEqual({ title: 'Load "NaN" Image' })
      expect(JSON.stringify(w.prompt)).not.toContain('is_changed')
      expect(w.summary.images).toEqual([{ nodeId: '7', input: 'image', name: 'NaN.png' }])
    })
  }

  it('drops is_changed from JSON files and from prompts handed in directly', () => {
    const api = { '1': { class_type: 'SaveImage', inputs: {}, is_changed: ['x'], _meta: {} } }
    const w = loadWorkflowBytes(Buffer.from(JSON.stringify(api)), 'a.json')
    expect(w.prompt['1']).toEqual({ class_type: 'SaveImage', inputs: {}, _meta: {} })
    expect(parseApiPrompt(api, 'gateway')['1']).not.toHaveProperty('is_changed')
    // A JSON file written by a Python script with bare NaN loads too.
    const py = loadWorkflowBytes(Buffer.from(PY_PROMPT), 'py.json')
    expect(py.prompt['8']!.inputs.strength).toBeNull()
  })
})

describe('workflows that are too deep or too large', () => {
  const nested = (depth: number, leaf = '0') => '['.repeat(depth) + leaf + ']'.repeat(depth)

  it('refuses a file nested 200 000 deep with a clear error, not a stack overflow', () => {
    const deep = nested(200_000)
    expect(() => JSON.parse(deep) as unknown).not.toThrow()
    fails(deep, /nested too deeply/, 'deep.json')
    fails(`{"1": {"class_type": "X", "inputs": {"a": ${deep}}}}`, /nested too deeply/, 'deep.json')
    fails(`{"prompt": {"1": ${nested(200_000, '{}')}}}`, /nested too deeply/, 'deep.json')
    fails(
      pngWith([tEXt('prompt', `{"1": {"class_type": "X", "inputs": {"a": ${deep}}}}`)]),
      /nested too deeply/,
      'deep.png'
    )
  })

  it('measures depth without recursion', () => {
    const v = JSON.parse(nested(200_000)) as unknown
    expect(jsonShape(v, Infinity)).toEqual({ depth: 200_000, values: 200_001, over: null })
    expect(jsonShape(v, 64).over).toBe('depth')
    expect(jsonShape({ a: [1, 2], b: { c: 'x' } }, 10)).toEqual({
      depth: 2,
      values: 6,
      over: null
    })
    expect(jsonShape([1, 2, 3], 10, 2).over).toBe('values')
  })

  it('takes nesting up to the limit, which the journal can still write', () => {
    // prompt > node > inputs > value: 3 levels before the value's own.
    const ok = `{"1": {"class_type": "X", "inputs": {"a": ${nested(MAX_PROMPT_DEPTH - 3)}}}}`
    const w = loadWorkflowBytes(Buffer.from(ok), 'ok.json')
    expect(JSON.parse(JSON.stringify(w.prompt))).toEqual(JSON.parse(ok))
    const over = `{"1": {"class_type": "X", "inputs": {"a": ${nested(MAX_PROMPT_DEPTH - 2)}}}}`
    fails(over, /nested too deeply \(more than 64 levels\)/, 'over.json')
  })

  it('refuses a prompt with too many nodes', () => {
    const many: Record<string, unknown> = {}
    for (let i = 0; i <= MAX_PROMPT_NODES; i++) many[i] = { class_type: 'X', inputs: {} }
    fails(JSON.stringify(many), /too large \(20001 nodes/, 'many.json')
  })
})

describe('node ids and input names that are also object keys', () => {
  it('keeps a node with the id __proto__', () => {
    const text = '{"__proto__": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}}}'
    const w = loadWorkflowBytes(Buffer.from(text), 'proto.json')
    expect(Object.keys(w.prompt)).toEqual(['__proto__'])
    expect(Object.getPrototypeOf(w.prompt)).toBe(Object.prototype)
    expect(JSON.parse(JSON.stringify(w.prompt))).toEqual(JSON.parse(text))
    expect(JSON.stringify(w.prompt)).toContain('"__proto__":{"class_type":"SaveImage"')
    expect(w.summary.nodeCount).toBe(1)
    // Through the journal (JSON out and back in) it is still there.
    const back = JSON.parse(JSON.stringify({ prompt: w.prompt })) as { prompt: object }
    expect(Object.keys(back.prompt)).toEqual(['__proto__'])
  })

  it('keeps constructor, toString, hasOwnProperty as node ids, input names and classes', () => {
    const names = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']
    // fromEntries makes own properties, even `__proto__` (assignment would set the prototype).
    const api = Object.fromEntries(
      names.map((n) => [
        n,
        {
          class_type: n,
          inputs: Object.fromEntries(names.map((i) => [i, `${n}.${i}`])),
          _meta: { title: n }
        }
      ])
    )
    const text = JSON.stringify(api)
    expect(text).toContain('"__proto__":{')
    const w = loadWorkflowBytes(Buffer.from(text), 'names.json')
    expect(Object.keys(w.prompt)).toEqual(names)
    const sent = JSON.parse(JSON.stringify(w.prompt)) as Record<string, { inputs: object }>
    expect(Object.keys(sent)).toEqual(names)
    for (const n of names) expect(Object.keys(sent[n]!.inputs)).toEqual(names)
    expect(w.summary.classes).toEqual([...names].sort())
    expect(w.summary.models).toEqual([])
    expect(w.summary.images).toEqual([])
    // A PNG's prompt goes the same way.
    const png = loadWorkflowBytes(pngWith([tEXt('prompt', text)]), 'names.png')
    expect(Object.keys(JSON.parse(JSON.stringify(png.prompt)) as object)).toEqual(names)
  })
})
