/**
 * Reads the text chunks of a PNG (tEXt, iTXt, zTXt). ComfyUI's SaveImage stores the API-format
 * graph under the keyword `prompt` and the UI graph under `workflow`.
 */
import { inflateSync } from 'node:zlib'

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

/** Largest inflated text chunk accepted (a zip bomb in a zTXt chunk stops here). */
export const MAX_TEXT_CHUNK_BYTES = 32 * 1024 * 1024

export class PngError extends Error {}

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && Buffer.from(bytes.subarray(0, 8)).equals(SIGNATURE)
}

function inflate(data: Buffer): string {
  try {
    return inflateSync(data, { maxOutputLength: MAX_TEXT_CHUNK_BYTES }).toString('utf8')
  } catch (err) {
    throw new PngError(`a compressed text chunk could not be read (${(err as Error).message})`)
  }
}

/** All text chunks as keyword -> text (the first chunk wins when a keyword repeats). */
export function readPngText(bytes: Uint8Array): Map<string, string> {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (!isPng(buf)) throw new PngError('not a PNG file')
  const out = new Map<string, string>()
  let pos = 8
  while (pos + 12 <= buf.length) {
    const len = buf.readUInt32BE(pos)
    const type = buf.toString('latin1', pos + 4, pos + 8)
    const start = pos + 8
    const end = start + len
    if (end + 4 > buf.length)
      throw new PngError('the file is cut short (a chunk runs past the end)')
    const data = buf.subarray(start, end)
    if (type === 'tEXt' || type === 'zTXt' || type === 'iTXt') {
      const nul = data.indexOf(0)
      if (nul > 0) {
        const keyword = data.toString('latin1', 0, nul)
        let text: string | null = null
        if (type === 'tEXt') {
          text = data.toString('latin1', nul + 1)
          // ComfyUI writes UTF-8 through Pillow's tEXt; decode it as such when it is valid.
          const utf8 = data.subarray(nul + 1).toString('utf8')
          if (!utf8.includes('\uFFFD')) text = utf8
        } else if (type === 'zTXt') {
          text = inflate(data.subarray(nul + 2))
        } else {
          const compressed = data[nul + 1] === 1
          const langEnd = data.indexOf(0, nul + 3)
          const transEnd = langEnd < 0 ? -1 : data.indexOf(0, langEnd + 1)
          if (transEnd >= 0) {
            const body = data.subarray(transEnd + 1)
            text = compressed ? inflate(body) : body.toString('utf8')
          }
        }
        if (text !== null && !out.has(keyword)) out.set(keyword, text)
      }
    }
    if (type === 'IEND') break
    pos = end + 4
  }
  return out
}
