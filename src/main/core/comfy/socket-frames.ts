/** Reading a socket's frames: the type of a ComfyUI message from its first bytes, and parsing. */
import type WebSocket from 'ws'
import type { ComfyEvent } from './socket'

const KEY = Buffer.from('"type"')

/**
 * The `type` of a ComfyUI message from its first bytes, without parsing it (ComfyUI writes
 * `{"type": "<event>", "data": ...}`). Null when the frame does not start that way.
 */
export function sniffType(buf: Buffer): string | null {
  const n = Math.min(buf.length, 96)
  const spaces = (i: number) => {
    while (i < n && (buf[i] === 0x20 || buf[i] === 0x0a || buf[i] === 0x0d || buf[i] === 0x09)) i++
    return i
  }
  let i = spaces(0)
  if (buf[i] !== 0x7b) return null // {
  i = spaces(i + 1)
  if (i + KEY.length > n || !buf.subarray(i, i + KEY.length).equals(KEY)) return null
  i = spaces(i + KEY.length)
  if (buf[i] !== 0x3a) return null // :
  i = spaces(i + 1)
  if (buf[i] !== 0x22) return null // "
  const start = ++i
  while (i < n && buf[i] !== 0x22) {
    if (buf[i] === 0x5c) return null // an escape: let the parser decide
    i++
  }
  if (i >= n) return null
  return buf.toString('latin1', start, i)
}

export function toBuffer(data: WebSocket.RawData): Buffer {
  if (Buffer.isBuffer(data)) return data
  if (Array.isArray(data)) return Buffer.concat(data)
  return Buffer.from(data)
}

export function parseEvent(buf: Buffer): ComfyEvent | null {
  let msg: unknown
  try {
    msg = JSON.parse(buf.toString())
  } catch {
    return null
  }
  if (!msg || typeof msg !== 'object') return null
  const m = msg as { type?: unknown; data?: unknown }
  if (typeof m.type !== 'string') return null
  const d =
    m.data && typeof m.data === 'object' && !Array.isArray(m.data)
      ? (m.data as Record<string, unknown>)
      : {}
  return { type: m.type, data: d }
}
