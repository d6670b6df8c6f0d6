/**
 * Reads the text chunks of a PNG (tEXt, iTXt, zTXt). ComfyUI's SaveImage stores the API-format
 * graph under the keyword `prompt` and the UI graph under `workflow`.
 *
 * Compressed chunks are zip bombs waiting to happen, so only the chunks whose keyword is asked
 * for are read (the others are skipped without inflating), only the first chunk of each keyword
 * counts, each chunk inflates to at most `MAX_TEXT_CHUNK_BYTES` and all of them together to at
 * most `MAX_PNG_TEXT_BYTES`.
 */
import { inflateSync } from 'node:zlib'

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

/** Largest inflated text chunk accepted (a zip bomb in a zTXt chunk stops here). */
export const MAX_TEXT_CHUNK_BYTES = 32 * 1024 * 1024

/** Largest amount of text read from one PNG, all chunks together. */
export const MAX_PNG_TEXT_BYTES = 64 * 1024 * 1024

/** The keywords ComfyUI writes and the app reads: the API prompt and the UI graph. */
export const COMFY_PNG_KEYWORDS: readonly string[] = ['prompt', 'workflow']

export class PngError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'PngError'
  }
}

export interface ReadPngTextOptions {
  /**
   * The keywords to read; chunks with other keywords are skipped unread. `'all'` reads every
   * keyword (still within the caps). @default COMFY_PNG_KEYWORDS
   */
  keywords?: readonly string[] | 'all'
  /** Cap on the text read from this PNG, all chunks together, in bytes. @default MAX_PNG_TEXT_BYTES */
  maxTotalBytes?: number
}

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && Buffer.from(bytes.subarray(0, 8)).equals(SIGNATURE)
}

const MB = (n: number) => `${Math.round(n / 1024 / 1024)} MB`

/** Inflates one chunk's text to at most `limit` bytes; `tooLarge` is the refusal past it. */
function inflate(data: Buffer, limit: number, tooLarge: string): Buffer {
  try {
    return inflateSync(data, { maxOutputLength: Math.max(1, limit) })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new PngError(tooLarge)
    throw new PngError(`a compressed text chunk could not be read (${(err as Error).message})`)
  }
}

/**
 * The wanted text chunks as keyword -> text (the first chunk wins when a keyword repeats).
 * Throws `PngError` when the bytes are not a PNG, are cut short, or hold too much text.
 */
export function readPngText(
  bytes: Uint8Array,
  options: ReadPngTextOptions = {}
): Map<string, string> {
  const keywords = options.keywords ?? COMFY_PNG_KEYWORDS
  const wanted = (k: string) => keywords === 'all' || keywords.includes(k)
  const maxTotal = options.maxTotalBytes ?? MAX_PNG_TEXT_BYTES
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (!isPng(buf)) throw new PngError('not a PNG file')
  const out = new Map<string, string>()
  let total = 0
  /** Reads a chunk's text within what is left of both caps. */
  const read = (body: Buffer, compressed: boolean): string => {
    const left = maxTotal - total
    const whole = left < MAX_TEXT_CHUNK_BYTES
    const limit = Math.max(0, whole ? left : MAX_TEXT_CHUNK_BYTES)
    const tooLarge = whole
      ? `the text inside this PNG is larger than ${MB(maxTotal)} in all, too much for a workflow`
      : `a text chunk could not be read (it is larger than ${MB(limit)}, too much for a workflow)`
    if (!compressed && body.length > limit) throw new PngError(tooLarge)
    const raw = compressed ? inflate(body, limit, tooLarge) : body
    if (raw.length > limit) throw new PngError(tooLarge)
    total += raw.length
    return raw.toString('utf8')
  }
  let pos = 8
  while (pos + 12 <= buf.length) {
    const len = buf.readUInt32BE(pos)
    const type = buf.toString('latin1', pos + 4, pos + 8)
    const start = pos + 8
    const end = start + len
    if (end + 4 > buf.length)
      throw new PngError('the file is cut short (a chunk runs past the end)')
    if (type === 'tEXt' || type === 'zTXt' || type === 'iTXt') {
      const data = buf.subarray(start, end)
      const nul = data.indexOf(0)
      const keyword = nul > 0 ? data.toString('latin1', 0, nul) : null
      if (keyword !== null && wanted(keyword) && !out.has(keyword)) {
        let text: string | null = null
        if (type === 'tEXt') {
          const body = data.subarray(nul + 1)
          // ComfyUI writes UTF-8 through Pillow's tEXt; decode it as such when it is valid.
          text = read(body, false)
          if (text.includes('\uFFFD')) text = body.toString('latin1')
        } else if (type === 'zTXt') {
          text = read(data.subarray(nul + 2), true)
        } else {
          const compressed = data[nul + 1] === 1
          const langEnd = data.indexOf(0, nul + 3)
          const transEnd = langEnd < 0 ? -1 : data.indexOf(0, langEnd + 1)
          if (transEnd >= 0) text = read(data.subarray(transEnd + 1), compressed)
        }
        if (text !== null) out.set(keyword, text)
      }
    }
    if (type === 'IEND') break
    pos = end + 4
  }
  return out
}
