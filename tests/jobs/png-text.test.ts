import { crc32, deflateSync } from 'node:zlib'
import { PNG } from 'pngjs'
import { describe, expect, it } from 'vitest'
import {
  MAX_PNG_TEXT_BYTES,
  MAX_TEXT_CHUNK_BYTES,
  PngError,
  readPngText
} from '../../src/main/core/jobs/png-text'

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4)
  len.writeUInt32BE(data.length)
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(td) >>> 0)
  return Buffer.concat([len, td, crc])
}

function pngWith(chunks: Buffer[]): Buffer {
  const png = new PNG({ width: 2, height: 2 })
  png.data.fill(100)
  const bytes = PNG.sync.write(png)
  const iend = bytes.length - 12
  return Buffer.concat([bytes.subarray(0, iend), ...chunks, bytes.subarray(iend)])
}

const tEXt = (k: string, v: string) =>
  chunk('tEXt', Buffer.concat([Buffer.from(`${k}\0`, 'latin1'), Buffer.from(v, 'utf8')]))
/** A zTXt chunk with the given (already compressed, or garbage) body. */
const zTXtRaw = (k: string, body: Buffer) =>
  chunk('zTXt', Buffer.concat([Buffer.from(`${k}\0\0`, 'latin1'), body]))
const iTXtRaw = (k: string, body: Buffer) =>
  chunk(
    'iTXt',
    Buffer.concat([Buffer.from(`${k}\0`, 'latin1'), Buffer.from([1, 0]), Buffer.from('\0\0'), body])
  )
/** Not a zlib stream: inflating it throws, so a chunk made of it shows whether it was inflated. */
const GARBAGE = Buffer.from('this is not deflate data at all')

function refused(bytes: Buffer, re: RegExp, options?: Parameters<typeof readPngText>[1]): void {
  let error: unknown
  try {
    readPngText(bytes, options)
  } catch (err) {
    error = err
  }
  expect(error).toBeInstanceOf(PngError)
  expect((error as Error).message).toMatch(re)
}

describe('readPngText', () => {
  it('reads prompt and workflow, skipping other keywords without inflating them', () => {
    const bytes = pngWith([
      zTXtRaw('parameters', GARBAGE),
      iTXtRaw('junk', GARBAGE),
      tEXt('prompt', '{"1":{}}'),
      zTXtRaw('workflow', deflateSync('{"nodes":[]}')),
      tEXt('Comment', 'hello')
    ])
    const text = readPngText(bytes)
    expect([...text.entries()]).toEqual([
      ['prompt', '{"1":{}}'],
      ['workflow', '{"nodes":[]}']
    ])
    // Asked for, the same garbage chunk is inflated, and fails.
    refused(bytes, /could not be read/, { keywords: ['parameters'] })
  })

  it('reads a keyword once: later chunks with the same keyword are not inflated', () => {
    const bytes = pngWith([
      tEXt('prompt', 'first'),
      zTXtRaw('prompt', GARBAGE),
      iTXtRaw('prompt', GARBAGE)
    ])
    expect(readPngText(bytes).get('prompt')).toBe('first')
  })

  it('reads the keywords a caller asks for', () => {
    const bytes = pngWith([tEXt('parameters', 'a cat'), tEXt('prompt', '{}')])
    const text = readPngText(bytes, { keywords: ['parameters'] })
    expect([...text.keys()]).toEqual(['parameters'])
    expect(text.get('parameters')).toBe('a cat')
  })

  it('caps the text of one PNG in all, even when each chunk is under the per-chunk cap', () => {
    expect(MAX_PNG_TEXT_BYTES).toBeLessThan(3 * (MAX_TEXT_CHUNK_BYTES - 1024))
    // Each chunk inflates to just under the per-chunk cap; one compressed body serves them all.
    const body = deflateSync(Buffer.alloc(MAX_TEXT_CHUNK_BYTES - 1024, 32))
    const keywords = Array.from({ length: 8 }, (_, i) => `k${i}`)
    const bytes = pngWith([
      tEXt('prompt', '{}'),
      ...keywords.map((k, i) => (i % 2 ? zTXtRaw(k, body) : iTXtRaw(k, body)))
    ])
    // The usual read takes only the prompt and never touches the big chunks.
    expect([...readPngText(bytes).keys()]).toEqual(['prompt'])
    refused(bytes, /larger than 64 MB in all/, { keywords })
  })

  it('counts uncompressed text against the cap as well', () => {
    const bytes = pngWith([tEXt('a', 'x'.repeat(600)), tEXt('b', 'y'.repeat(600))])
    expect(readPngText(bytes, { keywords: ['a'], maxTotalBytes: 1000 }).get('a')).toHaveLength(600)
    refused(bytes, /in all/, { keywords: ['a', 'b'], maxTotalBytes: 1000 })
  })

  it('refuses one chunk that inflates past the per-chunk cap', () => {
    const bomb = zTXtRaw('prompt', deflateSync(Buffer.alloc(MAX_TEXT_CHUNK_BYTES + 1, 32)))
    refused(pngWith([bomb]), /could not be read .*larger than 32 MB/)
  })

  it('falls back to latin1 for tEXt that is not UTF-8, and refuses what is not a PNG', () => {
    const latin = chunk('tEXt', Buffer.concat([Buffer.from('prompt\0'), Buffer.from([0xe9])]))
    expect(readPngText(pngWith([latin])).get('prompt')).toBe('é')
    refused(Buffer.from('not a png at all'), /not a PNG/)
  })
})
