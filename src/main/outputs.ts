/**
 * A job's output files, for the window: which paths the page may ask about (only files the job
 * engine saved and listed as a job's outputs), and small previews of them as `data:` URLs.
 * Plain Node (pngjs, no Electron), so the e2e web bridge runs exactly this code.
 */
import { lstat, open } from 'node:fs/promises'
import path from 'node:path'
import zlib from 'node:zlib'
import { PNG } from 'pngjs'
import type { JobRecord } from '../shared/types'

/** Longest side of a preview, in pixels (twice the size the window shows it at, for HiDPI). */
export const THUMBNAIL_PX = 256
/** Larger PNGs are not decoded for a preview (the page shows a plain tile instead). */
export const MAX_THUMBNAIL_SOURCE_BYTES = 64 * 1024 * 1024
/** Other image types go to the page as they are, up to this size (the browser scales them). */
export const MAX_PASSTHROUGH_BYTES = 3 * 1024 * 1024
/**
 * Images with more pixels are not decoded for a preview, whatever their file size (a small PNG
 * can claim 14000x14000 pixels and would need 800 MB to decode).
 */
export const MAX_PREVIEW_PIXELS = 40_000_000
/** Previews remembered (by path, size and modification time). */
const CACHE_ENTRIES = 300

const PASSTHROUGH_TYPES: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif'
}

/**
 * Outputs the window's "open" hands to the system's default app: pictures, video and sound.
 * Anything else (text, 3D, data, or a file saved under a name a server chose) is only shown in
 * its folder, so nothing a server named is ever run.
 */
// prettier-ignore
export const OPENABLE_EXTENSIONS: ReadonlySet<string> = new Set(
  [
    'png', 'jpg', 'jpeg', 'jfif', 'webp', 'gif', 'bmp', 'tif', 'tiff', 'avif', 'heic', 'heif',
    'mp4', 'm4v', 'webm', 'mov', 'mkv', 'avi',
    'mp3', 'wav', 'flac', 'ogg', 'oga', 'opus', 'm4a', 'aac'
  ].map((e) => `.${e}`)
)

/**
 * True when `file` may be opened with the system's default app (see `OPENABLE_EXTENSIONS`).
 * A name with `:` in it is refused too (on Windows it may name a hidden stream of another file).
 */
export function opensDirectly(file: string): boolean {
  const name = path.basename(file)
  return !name.includes(':') && OPENABLE_EXTENSIONS.has(path.extname(name).toLowerCase())
}

/** Thrown when the page names a file that is not an output of a known job. */
export class UnknownOutputError extends Error {
  constructor() {
    super('That file is not an output of a job in the history')
    this.name = 'UnknownOutputError'
  }
}

/** The job listing this exact path among its outputs, or undefined. */
export function jobWithOutput(jobs: readonly JobRecord[], file: string): JobRecord | undefined {
  if (!path.isAbsolute(file)) return undefined
  return jobs.find((j) => j.outputs.some((o) => o.path === file))
}

/**
 * Checks that a path from the page is an output of a journaled job and still a regular file
 * there (not a folder, not a link someone put in its place). Throws `UnknownOutputError`.
 */
export async function checkedOutputPath(jobs: readonly JobRecord[], file: string): Promise<string> {
  if (!jobWithOutput(jobs, file)) throw new UnknownOutputError()
  const stat = await lstat(file).catch(() => null)
  if (!stat) throw new Error('The file is no longer there (moved or deleted?)')
  if (!stat.isFile()) throw new UnknownOutputError()
  return file
}

const u16be = (b: Uint8Array, i: number) => (b[i]! << 8) | b[i + 1]!
const u16le = (b: Uint8Array, i: number) => b[i]! | (b[i + 1]! << 8)
const u24le = (b: Uint8Array, i: number) => b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16)
const u32be = (b: Uint8Array, i: number) => u16be(b, i) * 65536 + u16be(b, i + 2)
const ascii = (b: Uint8Array, i: number, n: number) => String.fromCharCode(...b.subarray(i, i + n))

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

/** What a PNG's header (its first 33 bytes: signature and IHDR) says, or null if it is none. */
export function pngHeader(
  b: Uint8Array
): { width: number; height: number; depth: number; colorType: number; interlaced: boolean } | null {
  if (b.length < 33 || PNG_SIGNATURE.some((v, i) => b[i] !== v)) return null
  if (u32be(b, 8) !== 13 || ascii(b, 12, 4) !== 'IHDR') return null
  return {
    width: u32be(b, 16),
    height: u32be(b, 20),
    depth: b[24]!,
    colorType: b[25]!,
    interlaced: b[28] === 1
  }
}

function jpegSize(b: Uint8Array): { width: number; height: number } | null {
  let i = 2
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return null
    const marker = b[i + 1]!
    if (marker === 0xff) {
      i++ // fill byte
      continue
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2
      continue
    }
    if (marker === 0xd9 || marker === 0xda) return null // no frame header before the image data
    const isFrame = marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)
    if (isFrame) return { width: u16be(b, i + 7), height: u16be(b, i + 5) }
    i += 2 + u16be(b, i + 2)
  }
  return null
}

/** Skips GIF data sub-blocks starting at `i`; returns the index after the terminator. */
function skipGifBlocks(b: Uint8Array, i: number): number {
  while (i < b.length && b[i] !== 0) i += b[i]! + 1
  return i + 1
}

function gifSize(b: Uint8Array): { width: number; height: number } | null {
  if (b.length < 13) return null
  // Browsers grow the canvas to fit frames that stick out of the logical screen.
  let width = u16le(b, 6)
  let height = u16le(b, 8)
  let i = 13
  if (b[10]! & 0x80) i += 3 << ((b[10]! & 7) + 1)
  while (i < b.length) {
    const block = b[i]
    if (block === 0x3b) break
    if (block === 0x21) {
      i = skipGifBlocks(b, i + 2)
    } else if (block === 0x2c) {
      if (i + 10 > b.length) break
      width = Math.max(width, u16le(b, i + 1) + u16le(b, i + 5))
      height = Math.max(height, u16le(b, i + 3) + u16le(b, i + 7))
      const flags = b[i + 9]!
      i += 10
      if (flags & 0x80) i += 3 << ((flags & 7) + 1)
      i = skipGifBlocks(b, i + 1)
    } else {
      break
    }
  }
  return { width, height }
}

function webpSize(b: Uint8Array): { width: number; height: number } | null {
  if (b.length < 30) return null
  const chunk = ascii(b, 12, 4)
  if (chunk === 'VP8 ') {
    if (b[23] !== 0x9d || b[24] !== 0x01 || b[25] !== 0x2a) return null
    return { width: u16le(b, 26) & 0x3fff, height: u16le(b, 28) & 0x3fff }
  }
  if (chunk === 'VP8L') {
    if (b[20] !== 0x2f) return null
    const bits = u16le(b, 21) + u16le(b, 23) * 65536
    return { width: (bits & 0x3fff) + 1, height: (Math.floor(bits / 16384) & 0x3fff) + 1 }
  }
  if (chunk === 'VP8X') return { width: u24le(b, 24) + 1, height: u24le(b, 27) + 1 }
  return null
}

/**
 * The size in pixels a PNG, JPEG, GIF or WebP file says it has, read from its headers (by its
 * bytes, not its name), or null when the bytes are none of these or the size is not there.
 */
export function imageDimensions(b: Uint8Array): { width: number; height: number } | null {
  const png = pngHeader(b)
  if (png) return { width: png.width, height: png.height }
  if (b[0] === 0xff && b[1] === 0xd8) return jpegSize(b)
  if (b.length >= 6 && (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a'))
    return gifSize(b)
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 4) === 'WEBP') return webpSize(b)
  return null
}

/** True when an image of this size may be decoded for a preview. */
function previewable(size: { width: number; height: number } | null): boolean {
  return (
    !!size && size.width > 0 && size.height > 0 && size.width * size.height <= MAX_PREVIEW_PIXELS
  )
}

const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }

/**
 * For interlaced PNGs, which pngjs inflates without a size limit: true when the image data
 * inflates to no more than its header allows (so a small file cannot expand to gigabytes).
 */
function interlacedDataFits(
  bytes: Buffer,
  header: NonNullable<ReturnType<typeof pngHeader>>
): boolean {
  const channels = PNG_CHANNELS[header.colorType]
  if (!channels) return false
  const rowBytes = Math.ceil((header.width * channels * header.depth) / 8) + 1
  // Seven passes: at most one filter byte and one partly used byte more per row and pass.
  const limit = rowBytes * header.height + 14 * header.height + 1024
  const parts: Buffer[] = []
  for (let i = 8; i + 12 <= bytes.length;) {
    const length = u32be(bytes, i)
    const type = ascii(bytes, i + 4, 4)
    if (type === 'IDAT') parts.push(bytes.subarray(i + 8, i + 8 + length))
    if (type === 'IEND') break
    i += 12 + length
  }
  try {
    zlib.inflateSync(Buffer.concat(parts), { maxOutputLength: limit })
    return true
  } catch {
    return false
  }
}

/** Scales RGBA pixels down by averaging boxes of source pixels (never up). */
export function downscale(
  src: { width: number; height: number; data: Uint8Array },
  maxSide: number
): { width: number; height: number; data: Uint8Array } {
  const scale = Math.min(1, maxSide / Math.max(src.width, src.height))
  const width = Math.max(1, Math.round(src.width * scale))
  const height = Math.max(1, Math.round(src.height * scale))
  if (width === src.width && height === src.height) return src
  const data = new Uint8Array(width * height * 4)
  for (let y = 0; y < height; y++) {
    const y0 = Math.floor((y * src.height) / height)
    const y1 = Math.max(y0 + 1, Math.floor(((y + 1) * src.height) / height))
    for (let x = 0; x < width; x++) {
      const x0 = Math.floor((x * src.width) / width)
      const x1 = Math.max(x0 + 1, Math.floor(((x + 1) * src.width) / width))
      let r = 0
      let g = 0
      let b = 0
      let a = 0
      for (let sy = y0; sy < y1; sy++) {
        let i = (sy * src.width + x0) * 4
        for (let sx = x0; sx < x1; sx++, i += 4) {
          const alpha = src.data[i + 3]!
          // Weighted by alpha, so transparent pixels do not darken the edges.
          r += src.data[i]! * alpha
          g += src.data[i + 1]! * alpha
          b += src.data[i + 2]! * alpha
          a += alpha
        }
      }
      const n = (y1 - y0) * (x1 - x0)
      const o = (y * width + x) * 4
      if (a > 0) {
        data[o] = Math.round(r / a)
        data[o + 1] = Math.round(g / a)
        data[o + 2] = Math.round(b / a)
      }
      data[o + 3] = Math.round(a / n)
    }
  }
  return { width, height, data }
}

/**
 * A preview of an image file as a `data:` URL: PNGs are decoded and scaled down to
 * `THUMBNAIL_PX`; small JPEG, WebP and GIF files are passed as they are (the page decodes them).
 * Either way the size the file's header claims is read first, and nothing above
 * `MAX_PREVIEW_PIXELS` is decoded. Null for anything else (videos, 3D files, unreadable, huge
 * or unmeasurable images): the page then shows a plain tile.
 */
export async function makeThumbnail(file: string, maxSide = THUMBNAIL_PX): Promise<string | null> {
  const ext = path.extname(file).toLowerCase()
  const passthrough = PASSTHROUGH_TYPES[ext]
  if (ext !== '.png' && !passthrough) return null
  const handle = await open(file, 'r').catch(() => null)
  if (!handle) return null
  try {
    const stat = await handle.stat()
    const limit = passthrough ? MAX_PASSTHROUGH_BYTES : MAX_THUMBNAIL_SOURCE_BYTES
    if (!stat.isFile() || stat.size > limit) return null
    if (passthrough) {
      const bytes = await handle.readFile()
      if (!previewable(imageDimensions(bytes))) return null
      return `data:${passthrough};base64,${bytes.toString('base64')}`
    }
    // The header first: a huge image is refused before anything is read or decoded.
    const head = Buffer.alloc(33)
    const { bytesRead } = await handle.read(head, 0, head.length, 0)
    const header = pngHeader(head.subarray(0, bytesRead))
    if (!header || !previewable(header)) return null
    const bytes = await handle.readFile()
    if (header.interlaced && !interlacedDataFits(bytes, header)) return null
    let png: PNG
    try {
      png = PNG.sync.read(bytes)
    } catch {
      return null
    }
    const small = downscale(
      { width: png.width, height: png.height, data: new Uint8Array(png.data) },
      maxSide
    )
    const out = new PNG({ width: small.width, height: small.height })
    out.data = Buffer.from(small.data.buffer, small.data.byteOffset, small.data.byteLength)
    return `data:image/png;base64,${PNG.sync.write(out).toString('base64')}`
  } finally {
    await handle.close()
  }
}

/** `makeThumbnail` with a memory: each file is decoded once while it stays the same. */
export class ThumbnailCache {
  private readonly entries = new Map<string, { key: string; url: Promise<string | null> }>()

  constructor(private readonly make: (file: string) => Promise<string | null> = makeThumbnail) {}

  async get(file: string): Promise<string | null> {
    const stat = await lstat(file).catch(() => null)
    if (!stat) return null
    const key = `${stat.size}:${stat.mtimeMs}`
    const hit = this.entries.get(file)
    if (hit && hit.key === key) {
      // Most recently used goes last.
      this.entries.delete(file)
      this.entries.set(file, hit)
      return hit.url
    }
    const url = this.make(file).catch(() => null)
    this.entries.set(file, { key, url })
    while (this.entries.size > CACHE_ENTRIES) {
      const oldest = this.entries.keys().next().value
      if (oldest === undefined) break
      this.entries.delete(oldest)
    }
    return url
  }
}
