import { crc32, deflateSync } from 'node:zlib'
import { PNG } from 'pngjs'
import { describe, expect, it } from 'vitest'
import {
  loadWorkflowBytes,
  MAX_WORKFLOW_BYTES,
  WorkflowError
} from '../../src/main/core/jobs/workflow'
import { readPngText } from '../../src/main/core/jobs/png-text'

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

function fails(bytes: Uint8Array | string, re: RegExp, source = 'wf.json') {
  const b = typeof bytes === 'string' ? Buffer.from(bytes) : bytes
  try {
    loadWorkflowBytes(b, source)
  } catch (err) {
    expect(err).toBeInstanceOf(WorkflowError)
    expect((err as Error).message.startsWith(`${source}: `)).toBe(true)
    expect((err as Error).message).toMatch(re)
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

  it('refuses a UI-format workflow and says what to do', () => {
    fails(
      JSON.stringify({ last_node_id: 9, nodes: [{ id: 1 }], links: [] }),
      /UI-format .*Save \(API\)/
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
    fails(pngWith([tEXt('workflow', '{}')]), /only a UI workflow/, 'ui.png')
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
})
