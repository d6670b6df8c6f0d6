/**
 * Tiny real PNGs (via pngjs) with optional text chunks, written the way ComfyUI's SaveImage
 * writes them: one `tEXt` chunk `prompt` holding `json.dumps(prompt)` and one chunk per
 * `extra_pnginfo` key (normally `workflow`). Also reads those chunks back.
 */
import zlib from 'node:zlib'
import { PNG } from 'pngjs'
import { readPngText as readPngTextChunks } from '../main/core/jobs/png-text'
import { pyDumps } from './pyjson'

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

/** CRC-32 as used by PNG chunks (Node's own). */
export function crc32(buf: Buffer): number {
  return zlib.crc32(buf) >>> 0
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8)
  head.writeUInt32BE(data.length, 0)
  head.write(type, 4, 'latin1')
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0)
  return Buffer.concat([head, data, crc])
}

/** Like PIL's `PngInfo.add_text`: `tEXt` when the text is latin-1, otherwise `iTXt` (UTF-8). */
function textChunk(keyword: string, text: string): Buffer {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\xff]*$/.test(text)) {
    return chunk(
      'tEXt',
      Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0]), Buffer.from(text, 'latin1')])
    )
  }
  return chunk(
    'iTXt',
    Buffer.concat([
      Buffer.from(keyword, 'latin1'),
      Buffer.from([0, 0, 0, 0, 0]), // null, compression flag, method, empty language, empty translated keyword
      Buffer.from(text, 'utf8')
    ])
  )
}

/** Inserts text chunks right after IHDR (where PIL puts them, before IDAT). */
export function addPngText(png: Buffer, text: Record<string, string>): Buffer {
  const entries = Object.entries(text)
  if (entries.length === 0) return png
  if (!png.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG')
  const ihdrLen = png.readUInt32BE(8)
  const afterIhdr = 8 + 12 + ihdrLen
  return Buffer.concat([
    png.subarray(0, afterIhdr),
    ...entries.map(([k, v]) => textChunk(k, v)),
    png.subarray(afterIhdr)
  ])
}

/**
 * Every `tEXt`, `zTXt` and `iTXt` chunk (what PIL exposes as `img.text`), read by the app's own
 * PNG text reader so the fake and the app never disagree about a file.
 */
export function readPngText(png: Buffer): Record<string, string> {
  return Object.fromEntries(readPngTextChunks(png, { keywords: 'all' }))
}

export interface PngOptions {
  /** @default 64 */
  width?: number
  /** @default 64 */
  height?: number
  /** Seed for the colours; the same seed gives the same picture. @default 0 */
  seed?: number
  /** Raw RGBA pixels (width*height*4 bytes); overrides `seed`. */
  rgba?: Buffer
  /** Text chunks, keyword -> text. */
  text?: Record<string, string>
}

function seedColor(seed: number): [number, number, number] {
  // A small integer hash so neighbouring seeds give visibly different colours.
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) >>> 0
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0
  h ^= h >>> 16
  return [h & 0xff, (h >>> 8) & 0xff, (h >>> 16) & 0xff]
}

/** Encodes a small real PNG: a seed-coloured diagonal gradient, or the given pixels. */
export function makePng(opts: PngOptions = {}): Buffer {
  const width = Math.max(1, Math.round(opts.width ?? 64))
  const height = Math.max(1, Math.round(opts.height ?? 64))
  const png = new PNG({ width, height })
  if (opts.rgba) {
    if (opts.rgba.length !== width * height * 4) throw new RangeError('rgba size does not match')
    opts.rgba.copy(png.data)
  } else {
    const [r, g, b] = seedColor(opts.seed ?? 0)
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = (y * width + x) * 4
        const t = (x + y) / Math.max(1, width + height - 2)
        png.data[i] = Math.round(r * (1 - t) + 255 * t * 0.3)
        png.data[i + 1] = Math.round(g * (1 - t * 0.5))
        png.data[i + 2] = Math.round(b * (0.5 + t * 0.5))
        png.data[i + 3] = 255
      }
    }
  }
  const buf = PNG.sync.write(png)
  return opts.text ? addPngText(buf, opts.text) : buf
}

/** The text chunks ComfyUI's SaveImage writes: `prompt` plus each `extra_pnginfo` key. */
export function comfyPngText(
  prompt: unknown,
  extraPngInfo?: Record<string, unknown> | null
): Record<string, string> {
  const text: Record<string, string> = {}
  if (prompt !== null && prompt !== undefined) text.prompt = pyDumps(prompt)
  if (extraPngInfo) for (const [k, v] of Object.entries(extraPngInfo)) text[k] = pyDumps(v)
  return text
}

/** A PNG like one saved by ComfyUI: carries the API prompt and (optionally) the UI workflow. */
export function makeComfyPng(
  prompt: unknown,
  workflow?: unknown,
  opts: Omit<PngOptions, 'text'> = {}
): Buffer {
  const extra = workflow === undefined ? null : { workflow }
  return makePng({ ...opts, text: comfyPngText(prompt, extra) })
}

export interface DecodedPng {
  width: number
  height: number
  data: Buffer
}

/** Decodes a PNG to RGBA; throws when the bytes are not a PNG. */
export function decodePng(buf: Buffer): DecodedPng {
  const png = PNG.sync.read(buf)
  return { width: png.width, height: png.height, data: png.data }
}

export function isPng(buf: Buffer): boolean {
  return buf.length >= 8 && buf.subarray(0, 8).equals(SIGNATURE)
}
