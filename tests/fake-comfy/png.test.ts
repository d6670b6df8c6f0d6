/**
 * The fake's PNGs: chunk CRCs come from Node's zlib.crc32, and their text is read by the app's
 * own PNG text reader, so the fake and the app read a file the same way.
 */
import zlib from 'node:zlib'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { PngError, readPngText as coreRead } from '../../src/main/core/jobs/png-text'
import { crc32, decodePng, makeComfyPng, makePng, readPngText } from '../../src/fake-comfy/png'

afterEach(() => {
  vi.restoreAllMocks()
})

/** Every chunk of a PNG: type, data and the stored CRC. */
function chunks(png: Buffer): Array<{ type: string; data: Buffer; crc: number }> {
  const out = []
  let pos = 8
  while (pos + 12 <= png.length) {
    const len = png.readUInt32BE(pos)
    const type = png.toString('latin1', pos + 4, pos + 8)
    out.push({
      type,
      data: png.subarray(pos + 8, pos + 8 + len),
      crc: png.readUInt32BE(pos + 8 + len)
    })
    pos += 12 + len
  }
  return out
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8)
  head.writeUInt32BE(data.length, 0)
  head.write(type, 4, 'latin1')
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(zlib.crc32(Buffer.concat([head.subarray(4), data])) >>> 0)
  return Buffer.concat([head, data, crc])
}

/** A PNG with extra chunks put just before IEND. */
function withChunks(png: Buffer, extra: Buffer[]): Buffer {
  const iend = png.length - 12
  return Buffer.concat([png.subarray(0, iend), ...extra, png.subarray(iend)])
}

describe('fake PNG chunk CRCs', () => {
  it("are Node's zlib.crc32 of type and data, for every chunk the fake writes", () => {
    const spy = vi.spyOn(zlib, 'crc32')
    const png = makePng({ width: 3, height: 2, text: { prompt: '{}', note: 'naïve ✓' } })
    // The two text chunks the fake adds are summed by zlib.crc32, not by a table of its own.
    expect(spy.mock.calls.length).toBeGreaterThanOrEqual(2)
    spy.mockRestore()
    const all = chunks(png)
    expect(all.map((c) => c.type)).toEqual(expect.arrayContaining(['IHDR', 'tEXt', 'iTXt', 'IEND']))
    for (const c of all) {
      expect(c.crc).toBe(zlib.crc32(Buffer.concat([Buffer.from(c.type, 'latin1'), c.data])))
    }
    expect(decodePng(png).width).toBe(3) // pngjs checks the CRCs too
    const sample = Buffer.from('IEND')
    expect(crc32(sample)).toBe(0xae426082)
  })
})

describe('fake PNG text reading', () => {
  it('gives what the app reads, for every keyword', () => {
    const png = makeComfyPng({ '1': { class_type: 'KSampler', inputs: {} } }, { nodes: [] })
    const both = withChunks(png, [
      chunk('zTXt', Buffer.concat([Buffer.from('extra\0\0'), zlib.deflateSync('deflated')]))
    ])
    const fake = readPngText(both)
    expect(fake).toEqual(Object.fromEntries(coreRead(both, { keywords: 'all' })))
    expect(Object.keys(fake).sort()).toEqual(['extra', 'prompt', 'workflow'])
    expect(fake.extra).toBe('deflated')
  })

  it('keeps the first chunk of a repeated keyword, as the app does', () => {
    const png = withChunks(makePng({ text: { prompt: 'first' } }), [
      chunk('tEXt', Buffer.from('prompt\0second'))
    ])
    expect(readPngText(png).prompt).toBe('first')
    expect(coreRead(png).get('prompt')).toBe('first')
  })

  it("refuses a zTXt bomb within the app's cap instead of inflating it whole", () => {
    const bomb = zlib.deflateSync(Buffer.alloc(40 * 1024 * 1024, 0x61))
    const png = withChunks(makePng(), [
      chunk('zTXt', Buffer.concat([Buffer.from('bomb\0\0'), bomb]))
    ])
    expect(() => readPngText(png)).toThrow(PngError)
  })

  it('reads UTF-8 written in a tEXt chunk as UTF-8', () => {
    const png = withChunks(makePng(), [
      chunk('tEXt', Buffer.concat([Buffer.from('prompt\0'), Buffer.from('名前 ✓', 'utf8')]))
    ])
    expect(readPngText(png).prompt).toBe('名前 ✓')
  })
})
