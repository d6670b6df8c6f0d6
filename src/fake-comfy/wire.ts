/**
 * How aiohttp (and so ComfyUI) puts answers on the wire: reply helpers with its content
 * types and error bodies, request bodies, routing patterns, the origin check and paths.
 */
import fs from 'node:fs'
import { STATUS_CODES } from 'node:http'
import type { IncomingMessage } from 'node:http'
import { isIP } from 'node:net'
import path from 'node:path'
import { PyError, pyDumps } from './pyjson'

/** What aiohttp sends as `Server`. */
export const SERVER_HEADER = 'Python/3.12 aiohttp/3.11.18'
export const TROUBLE = '500 Internal Server Error\n\nServer got itself in trouble'
export const MIME: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.bmp': 'image/bmp',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
  '.mp3': 'audio/mpeg',
  '.wav': 'audio/x-wav',
  '.flac': 'audio/flac',
  '.json': 'application/json',
  '.txt': 'text/plain',
  '.svg': 'image/svg+xml'
}
const REASONS: Record<number, string> = { 413: 'Request Entity Too Large' }
/** A body produced piece by piece (large generated files), never held whole in memory. */
export interface BodySource {
  size: number
  read(offset: number, length: number): Buffer
}

export interface Reply {
  status: number
  headers?: Record<string, string>
  body?: Buffer | string
  /** Streamed instead of `body` when set. */
  source?: BodySource
}

export class TooLarge extends Error {
  constructor(readonly size: number) {
    super('too large')
  }
}

export const jsonReply = (value: unknown, status = 200): Reply => ({
  status,
  headers: { 'Content-Type': 'application/json; charset=utf-8' },
  body: pyDumps(value)
})

export const emptyReply = (status = 200): Reply => ({
  status,
  headers: { 'Content-Type': 'application/octet-stream' }
})

export const textReply = (status: number, text: string): Reply => ({
  status,
  headers: { 'Content-Type': 'text/plain; charset=utf-8' },
  body: text
})

/** aiohttp's body for an HTTP error status. */
export function errorReply(status: number): Reply {
  if (status === 500) return textReply(500, TROUBLE)
  return textReply(status, `${status}: ${REASONS[status] ?? STATUS_CODES[status] ?? 'Unknown'}`)
}

export function isJsonReply(r: Reply): boolean {
  return (r.headers?.['Content-Type'] ?? '').startsWith('application/json')
}

export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'))
  } catch (e) {
    throw new PyError('JSONDecodeError', e instanceof Error ? e.message : String(e))
  }
}

export function isInside(base: string, p: string): boolean {
  const b = path.resolve(base)
  const r = path.resolve(p)
  return r === b || r.startsWith(b + path.sep)
}

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase()
  if (h === 'localhost' || h.endsWith('.localhost')) return true
  if (isIP(h) === 4) return h.startsWith('127.')
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1'
  return false
}

function splitHostPort(hostport: string): { hostname: string; port: string | null } {
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(hostport)
  if (!m) return { hostname: hostport, port: null }
  return { hostname: (m[1] ?? '').replace(/^\[|\]$/g, ''), port: m[2] ? m[2] : null }
}

/** ComfyUI's origin_only_middleware: a loopback Host with a different Origin gets 403. */
export function originForbidden(req: IncomingMessage): boolean {
  const host = req.headers.host
  const origin = req.headers.origin
  if (!host || !origin) return false
  let hostDomain = host.toLowerCase()
  const hostParsed = splitHostPort(hostDomain)
  const originMatch = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(origin)
  let originDomain = (originMatch?.[1] ?? '').toLowerCase()
  const originParsed = splitHostPort(originDomain)
  if (!isLoopbackHost(hostParsed.hostname)) return false
  if (originParsed.port === null) hostDomain = hostParsed.hostname
  if (hostParsed.port === null) originDomain = originParsed.hostname
  return hostDomain.length > 0 && originDomain.length > 0 && hostDomain !== originDomain
}

export function compile(p: string): { re: RegExp; keys: string[] } {
  const keys: string[] = []
  const src = p
    .split(/(\{[^}]+\})/)
    .map((part) => {
      const m = /^\{([^}]+)\}$/.exec(part)
      if (m) {
        keys.push(m[1] ?? '')
        return '([^{}/]+)'
      }
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    })
    .join('')
  return { re: new RegExp(`^${src}$`), keys }
}

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > limit) return Promise.reject(new TooLarge(declared))
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size <= limit) chunks.push(c)
    })
    req.on('end', () =>
      size > limit ? reject(new TooLarge(size)) : resolve(Buffer.concat(chunks))
    )
    req.on('error', reject)
  })
}

/** folder_paths.annotated_filepath: `"x.png [output]"` -> `["x.png", "output"]`. */
export function annotated(name: string): [string, 'output' | 'input' | 'temp' | null] {
  if (name.endsWith('[output]')) return [name.slice(0, -9), 'output']
  if (name.endsWith('[input]')) return [name.slice(0, -8), 'input']
  if (name.endsWith('[temp]')) return [name.slice(0, -7), 'temp']
  return [name, null]
}

export function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile()
  } catch {
    return false
  }
}

export function stripExt(f: string): string {
  const ext = path.extname(f)
  return ext ? f.slice(0, -ext.length) : f
}

export function commonPath(a: string, b: string): string {
  const pa = path.resolve(a).split(path.sep)
  const pb = path.resolve(b).split(path.sep)
  const out: string[] = []
  for (let i = 0; i < Math.min(pa.length, pb.length) && pa[i] === pb[i]; i++) out.push(pa[i] ?? '')
  return out.join(path.sep) || path.sep
}
