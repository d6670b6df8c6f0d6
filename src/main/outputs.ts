/**
 * A job's output files, for the window: which paths the page may ask about (only files the job
 * engine saved and listed as a job's outputs), and small previews of them as `data:` URLs.
 * Plain Node (pngjs, no Electron), so the e2e web bridge runs exactly this code.
 */
import { lstat, open } from 'node:fs/promises'
import path from 'node:path'
import { PNG } from 'pngjs'
import type { JobRecord } from '../shared/types'

/** Longest side of a preview, in pixels (twice the size the window shows it at, for HiDPI). */
export const THUMBNAIL_PX = 256
/** Larger PNGs are not decoded for a preview (the page shows a plain tile instead). */
export const MAX_THUMBNAIL_SOURCE_BYTES = 64 * 1024 * 1024
/** Other image types go to the page as they are, up to this size (the browser scales them). */
export const MAX_PASSTHROUGH_BYTES = 3 * 1024 * 1024
/** Previews remembered (by path, size and modification time). */
const CACHE_ENTRIES = 300

const PASSTHROUGH_TYPES: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif'
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
 * `THUMBNAIL_PX`; small JPEG, WebP and GIF files are passed as they are. Null for anything else
 * (videos, 3D files, unreadable or huge images): the page then shows a plain tile.
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
    const bytes = await handle.readFile()
    if (passthrough) return `data:${passthrough};base64,${bytes.toString('base64')}`
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
