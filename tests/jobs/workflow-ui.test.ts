/** Loading UI-format workflows (the plain "Save", a PNG with only its graph) through the loader. */
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { describe, expect, it } from 'vitest'
import {
  loadWorkflowBytes,
  NeedsObjectInfoError,
  WorkflowError
} from '../../src/main/core/jobs/workflow'
import { parseObjectInfo } from '../../src/main/core/jobs/ui-workflow'

const UI = path.join(import.meta.dirname, '..', 'fixtures', 'ui')
const read = (name: string) => fs.readFileSync(path.join(UI, name))
const objectInfo = parseObjectInfo(JSON.parse(read('object_info.json').toString()))

/** A PNG holding the given text chunks (tEXt), as ComfyUI's SaveImage writes them. */
function pngWith(chunks: Record<string, string>): Buffer {
  const crcTable = (buf: Buffer) => zlib.crc32(buf)
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4)
    len.writeUInt32BE(data.length)
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data])
    const crc = Buffer.alloc(4)
    crc.writeUInt32BE(crcTable(td) >>> 0)
    return Buffer.concat([len, td, crc])
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(1, 0)
  ihdr.writeUInt32BE(1, 4)
  ihdr[8] = 8
  ihdr[9] = 6
  const idat = zlib.deflateSync(Buffer.from([0, 0, 0, 0, 0]))
  const texts = Object.entries(chunks).map(([k, v]) =>
    chunk('tEXt', Buffer.concat([Buffer.from(k, 'latin1'), Buffer.from([0]), Buffer.from(v)]))
  )
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    ...texts,
    chunk('IDAT', idat),
    chunk('IEND', Buffer.alloc(0))
  ])
}

describe('UI-format workflows', () => {
  it('a plain "Save" file is converted with the servers\' object_info and keeps its graph', () => {
    const wf = loadWorkflowBytes(read('txt2img.json'), 'txt2img.json', objectInfo)
    expect(wf.converted).toBe(true)
    expect(wf.prompt).toEqual(JSON.parse(read('txt2img.api.json').toString()))
    expect(wf.graph).toEqual(JSON.parse(read('txt2img.json').toString()))
    expect(wf.summary.classes).toContain('KSampler')
  })

  it('without object_info it says a server is needed, not that the file is bad', () => {
    expect(() => loadWorkflowBytes(read('txt2img.json'), 'txt2img.json')).toThrow(
      NeedsObjectInfoError
    )
  })

  it('a PNG with only a workflow chunk is converted; one with a prompt keeps the graph too', () => {
    const graph = read('txt2img.json').toString()
    const only = loadWorkflowBytes(pngWith({ workflow: graph }), 'only.png', objectInfo)
    expect(only.converted).toBe(true)
    expect(only.format).toBe('png')
    const api = read('txt2img.api.json').toString()
    const both = loadWorkflowBytes(pngWith({ prompt: api, workflow: graph }), 'both.png')
    expect(both.converted).toBeUndefined()
    expect(both.prompt).toEqual(JSON.parse(api))
    expect(both.graph).toEqual(JSON.parse(graph))
  })

  it('a node the servers lack is refused, naming it', () => {
    const graph = JSON.parse(read('txt2img.json').toString()) as {
      nodes: Array<{ type: string; id: number }>
    }
    graph.nodes[0]!.type = 'NoSuchNode'
    let err: unknown
    try {
      loadWorkflowBytes(Buffer.from(JSON.stringify(graph)), 'x.json', objectInfo)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(WorkflowError)
    expect((err as Error).message).toMatch(/NoSuchNode/)
    expect((err as Error).message).toMatch(new RegExp(`node ${graph.nodes[0]!.id}\\b`))
  })
})
