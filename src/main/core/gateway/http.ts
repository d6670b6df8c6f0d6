/** Small HTTP pieces of the gateway: answers, bodies, errors, and GETs on a server. */
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import https from 'node:https'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ComfyClient } from '../app'

export const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Request Entity Too Large',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout'
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message?: string
  ) {
    super(message ?? `${status}: ${STATUS_TEXT[status] ?? 'Error'}`)
  }
}

/** A body that is not JSON (ComfyUI answers it with a 500). */
export class BadJson extends Error {}

/** ComfyUI's (aiohttp's) answer to a body that is not JSON. */
export const SERVER_TROUBLE = '500 Internal Server Error\n\nServer got itself in trouble'

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value), 'utf8')
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': body.length
  })
  res.end(body)
}

export function sendText(res: ServerResponse, status: number, text: string): void {
  const body = Buffer.from(text, 'utf8')
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': body.length
  })
  res.end(body)
}

export function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status, { 'Content-Length': 0 })
  res.end()
}

/** Reads a body up to `max` bytes; more is a 413. */
export function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > max) {
    req.resume()
    return Promise.reject(new HttpError(413))
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > max) {
        req.removeAllListeners('data')
        req.resume()
        reject(new HttpError(413))
        return
      }
      chunks.push(c)
    })
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

/** A path segment decoded; left as it is when it is not valid percent-encoding. */
export function dec(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

export function parseJson(buf: Buffer): unknown {
  try {
    return JSON.parse(buf.toString('utf8'))
  } catch {
    throw new BadJson()
  }
}

/** Extra data as shown back to clients: the secrets ComfyUI drops from history go here too. */
export function publicExtra(extra: Record<string, unknown>): Record<string, unknown> {
  const out = { ...extra }
  delete out.auth_token_comfy_org
  delete out.api_key_comfy_org
  return out
}

export interface OutputFile {
  filename: string
  subfolder: string
  type: string
}

/** Output files named by an `executed` output or a history entry's outputs. */
export function outputFiles(output: unknown): OutputFile[] {
  const out: OutputFile[] = []
  if (!isRecord(output)) return out
  for (const list of Object.values(output)) {
    if (!Array.isArray(list)) continue
    for (const f of list.slice(0, 10_000)) {
      if (isRecord(f) && typeof f.filename === 'string') {
        out.push({
          filename: f.filename,
          subfolder: typeof f.subfolder === 'string' ? f.subfolder : '',
          type: typeof f.type === 'string' ? f.type : 'output'
        })
      }
    }
  }
  return out
}

export function fileKey(type: string, subfolder: string, filename: string): string {
  return `${type}\n${subfolder}\n${filename}`
}

/**
 * Opens a GET on a server (`/api` route first, the plain one after a 404 there), with the
 * server's own headers. Resolves with the response once its headers are in.
 */
export function openUpstream(
  client: ComfyClient,
  route: string,
  timeoutMs: number
): Promise<IncomingMessage> {
  const once = (p: string) =>
    new Promise<IncomingMessage>((resolve, reject) => {
      const u = new URL(client.url + p)
      const headers: Record<string, string> = { ...client.requestHeaders }
      delete headers.Accept
      const lib = u.protocol === 'https:' ? https : http
      const req = lib.request(u, { method: 'GET', headers }, resolve)
      req.setTimeout(timeoutMs, () => req.destroy(new Error('The server did not answer in time')))
      req.on('error', reject)
      req.end()
    })
  if (client.legacyRoutes) return once(route)
  return once(`/api${route}`).then((res) => {
    if (res.statusCode !== 404) return res
    res.resume()
    return once(route)
  })
}

/** Passes a server's answer on as it arrives, at most `max` bytes. */
export async function relay(
  up: IncomingMessage,
  req: IncomingMessage,
  res: ServerResponse,
  max: number
): Promise<void> {
  const declared = Number(up.headers['content-length'])
  if (Number.isFinite(declared) && declared > max) {
    up.destroy()
    return sendText(res, 413, 'The file is too large')
  }
  const headers: Record<string, string> = {}
  for (const h of ['content-type', 'content-length', 'content-disposition', 'cache-control']) {
    const v = up.headers[h]
    if (typeof v === 'string') headers[h] = v
  }
  res.writeHead(up.statusCode ?? 502, headers)
  if (req.method === 'HEAD') {
    up.destroy()
    res.end()
    return
  }
  let seen = 0
  const cap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length
      if (seen > max) cb(new Error('too large'))
      else cb(null, chunk)
    }
  })
  try {
    await pipeline(up, cap, res)
  } catch {
    up.destroy()
    res.destroy()
  }
}
