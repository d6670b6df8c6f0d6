/**
 * The HTTP transport the core talks through: Node's own http/https with one keep-alive agent
 * per server, so checks reuse one TCP connection round after round. Tests and simulators can
 * hand in their own transport.
 *
 * A server is not trusted: redirects to another address are never followed (they would carry
 * the server's auth header or the prompt elsewhere), bodies are capped, every request has one
 * hard deadline, and downloads stream to disk with a stall timeout instead of a total one.
 */
import fs from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { ComfyRequestError, classifyError, httpError } from './errors'

export interface HttpRequest {
  method: 'GET' | 'POST'
  /** Absolute URL. */
  url: string
  headers?: Record<string, string>
  /** JSON-serialisable body for POST. */
  body?: unknown
  /** Multipart body for POST (uploads); takes precedence over `body`. */
  form?: FormData
  /** Keep the raw bytes in `bytes` (small files such as input images). */
  binary?: boolean
  /** Largest body accepted; MAX_RESPONSE_BYTES when not set. */
  maxBytes?: number
  /** Hard deadline for the whole request (redirects and body included) in ms. */
  timeoutMs: number
}

export interface HttpResponse {
  status: number
  contentType: string | undefined
  /** Raw body text; parsing is the caller's job so a non-JSON answer can be reported as such. */
  text: string
  /** Raw bytes, when the request asked for `binary`. */
  bytes?: Buffer
}

/** A GET whose body goes to a file. */
export interface DownloadRequest {
  /** Absolute URL. */
  url: string
  headers?: Record<string, string>
}

export interface DownloadOptions {
  /** The finished file; the body is written next to it under a temporary name first. */
  destFile: string
  /** Fails when no byte arrives for this long (not a deadline for the whole file). */
  idleTimeoutMs: number
  /** Largest file accepted; MAX_DOWNLOAD_BYTES when not set. */
  maxBytes?: number
  /** Bytes written so far, and the announced size when the server sent one. */
  onProgress?: (bytes: number, total: number | null) => void
  /** Stops the download (quit, cancel). */
  signal?: AbortSignal
}

export interface DownloadResult {
  bytes: number
  contentType: string | undefined
}

export interface HttpTransport {
  request(req: HttpRequest): Promise<HttpResponse>
  /**
   * Streams a GET to `destFile`: renamed into place only when complete, removed on any failure.
   * Server-side failures are ComfyRequestErrors (`http` for non-2xx, `timeout` for a stall,
   * `too-large`, `redirect`, `network`); a file system failure is passed on as it is.
   * Optional so simple test transports need not implement it (the client then buffers).
   */
  download?(req: DownloadRequest, opts: DownloadOptions): Promise<DownloadResult>
  /** Closes keep-alive connections (and ends requests in flight). Safe to call twice. */
  close(): void
}

/** Largest body accepted from a server (a full /queue can carry many workflows). */
export const MAX_RESPONSE_BYTES = 64 * 1024 * 1024

/** Largest output file downloaded from /view. */
export const MAX_DOWNLOAD_BYTES = 1024 * 1024 * 1024

/** Same-address redirects followed per request, at most. */
export const MAX_REDIRECTS = 3

/** How long an idle keep-alive connection is kept open between check rounds. */
const KEEP_ALIVE_MS = 60_000

const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308])

/** "64 MB", "1 GB", "1500 bytes": sizes in the words of a limit. */
export function formatSize(bytes: number): string {
  const MB = 1024 * 1024
  if (bytes >= 1024 * MB && bytes % (1024 * MB) === 0) return `${bytes / (1024 * MB)} GB`
  if (bytes >= MB) return `${Math.round((bytes / MB) * 10) / 10} MB`
  if (bytes >= 1024) return `${Math.round((bytes / 1024) * 10) / 10} KB`
  return `${bytes} bytes`
}

/** A URL as it may be shown: no user name, password, query or fragment. */
export function displayUrl(u: URL): string {
  return `${u.protocol}//${u.host}${u.pathname}`
}

function tooLarge(what: 'answer' | 'file', max: number): ComfyRequestError {
  return new ComfyRequestError('too-large', `The ${what} was larger than ${formatSize(max)}`)
}

function declaredLength(res: http.IncomingMessage): number | null {
  const cl = res.headers['content-length']
  if (typeof cl !== 'string' || !/^\d+$/.test(cl.trim())) return null
  return Number(cl.trim())
}

function contentTypeOf(res: http.IncomingMessage): string | undefined {
  const ct = res.headers['content-type']
  return typeof ct === 'string' ? ct : undefined
}

interface Encoded {
  headers: Record<string, string>
  body: Buffer | undefined
}

/** Serialises the body once, so a same-address 307/308 can send the very same bytes again. */
async function encode(req: Pick<HttpRequest, 'body' | 'form' | 'headers'>): Promise<Encoded> {
  const headers = { ...(req.headers ?? {}) }
  if (req.form) {
    // The platform's own multipart encoder (boundary and all).
    const r = new Request('http://localhost/', { method: 'POST', body: req.form })
    const body = Buffer.from(await r.arrayBuffer())
    headers['Content-Type'] = r.headers.get('content-type') ?? 'multipart/form-data'
    return { headers, body }
  }
  if (req.body !== undefined) {
    const hasType = Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')
    if (!hasType) headers['Content-Type'] = 'application/json'
    return { headers, body: Buffer.from(JSON.stringify(req.body), 'utf8') }
  }
  return { headers, body: undefined }
}

export function createHttpTransport(): HttpTransport {
  const httpAgent = new http.Agent({
    keepAlive: true,
    keepAliveMsecs: KEEP_ALIVE_MS,
    maxSockets: 6
  })
  const httpsAgent = new https.Agent({
    keepAlive: true,
    keepAliveMsecs: KEEP_ALIVE_MS,
    maxSockets: 6
  })

  /** One HTTP exchange up to the response head. */
  function exchange(
    url: URL,
    method: 'GET' | 'POST',
    enc: Encoded,
    signal: AbortSignal
  ): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const secure = url.protocol === 'https:'
      if (!secure && url.protocol !== 'http:') {
        reject(new ComfyRequestError('network', `Not an http or https address: ${url.protocol}`))
        return
      }
      const headers: Record<string, string> = { ...enc.headers }
      if (enc.body) headers['Content-Length'] = String(enc.body.length)
      const req = (secure ? https : http).request(url, {
        method,
        headers,
        agent: secure ? httpsAgent : httpAgent,
        signal
      })
      req.once('response', resolve)
      req.once('error', reject)
      req.end(enc.body)
    })
  }

  /**
   * Sends the request, following redirects that stay on the same origin (scheme, host, port)
   * with the same headers. A redirect elsewhere, a 301/302/303 answer to a POST (which would
   * otherwise be repeated as a GET) and a redirect loop are the server's answer: a `redirect`
   * error, with nothing sent to the new address.
   */
  async function open(
    method: 'GET' | 'POST',
    rawUrl: string,
    enc: Encoded,
    signal: AbortSignal
  ): Promise<http.IncomingMessage> {
    let url: URL
    try {
      url = new URL(rawUrl)
    } catch {
      throw new ComfyRequestError('network', 'The server address is not a valid URL')
    }
    const origin = url.origin
    for (let hop = 0; ; hop++) {
      const res = await exchange(url, method, enc, signal)
      const status = res.statusCode ?? 0
      const location = res.headers.location
      if (!REDIRECT_STATUS.has(status) || !location) return res
      // Its body is of no use; a hostile one could be endless.
      res.destroy()
      let target: URL
      try {
        target = new URL(location, url)
      } catch {
        throw new ComfyRequestError(
          'redirect',
          'The server redirected to an address that is not valid; it was not followed',
          status
        )
      }
      if (target.origin !== origin || origin === 'null') {
        throw new ComfyRequestError(
          'redirect',
          `The server redirected to another address (${displayUrl(target)}); it was not followed`,
          status
        )
      }
      if (method === 'POST' && status !== 307 && status !== 308) {
        throw new ComfyRequestError(
          'redirect',
          `The server answered with a redirect (HTTP ${status}) instead of taking the request; it was not sent again`,
          status
        )
      }
      if (hop >= MAX_REDIRECTS) {
        throw new ComfyRequestError('redirect', 'The server redirected too many times', status)
      }
      url = target
    }
  }

  /** Reads a whole body, refusing more than `max` bytes (announced or sent). */
  function readBody(res: http.IncomingMessage, max: number, signal: AbortSignal): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const announced = declaredLength(res)
      if (announced !== null && announced > max) {
        res.destroy()
        reject(tooLarge('answer', max))
        return
      }
      const chunks: Buffer[] = []
      let total = 0
      let done = false
      const finish = (err: unknown, value?: Buffer) => {
        if (done) return
        done = true
        signal.removeEventListener('abort', onAbort)
        if (err) {
          res.destroy()
          reject(err)
        } else resolve(value!)
      }
      const onAbort = () => finish(signal.reason ?? new Error('aborted'))
      signal.addEventListener('abort', onAbort, { once: true })
      res.on('data', (chunk: Buffer) => {
        total += chunk.length
        if (total > max) finish(tooLarge('answer', max))
        else chunks.push(chunk)
      })
      res.once('end', () => finish(null, Buffer.concat(chunks, total)))
      res.once('aborted', () => finish(Object.assign(new Error('aborted'), { code: 'ECONNRESET' })))
      res.once('error', (e) => finish(e))
      res.once('close', () => {
        if (!res.complete) finish(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }))
      })
    })
  }

  return {
    async request(req) {
      const enc = await encode(req)
      const deadline = new AbortController()
      const timeout = new ComfyRequestError('timeout', `Timed out after ${req.timeoutMs} ms`)
      const timer = setTimeout(() => deadline.abort(timeout), Math.max(1, req.timeoutMs))
      try {
        const res = await open(req.method, req.url, enc, deadline.signal)
        const body = await readBody(res, req.maxBytes ?? MAX_RESPONSE_BYTES, deadline.signal)
        const contentType = contentTypeOf(res)
        const status = res.statusCode ?? 0
        if (req.binary) return { status, contentType, text: '', bytes: body }
        let text = body.toString('utf8')
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
        return { status, contentType, text }
      } catch (err) {
        if (deadline.signal.aborted) throw timeout
        throw err instanceof ComfyRequestError ? err : classifyError(err, req.timeoutMs)
      } finally {
        clearTimeout(timer)
      }
    },

    async download(req, opts) {
      const max = opts.maxBytes ?? MAX_DOWNLOAD_BYTES
      const ctl = new AbortController()
      const stalled = new ComfyRequestError(
        'timeout',
        `The download stalled: nothing arrived for ${opts.idleTimeoutMs} ms`
      )
      const stopped = new ComfyRequestError('network', 'The download was stopped')
      let idle: ReturnType<typeof setTimeout> | undefined
      const arm = () => {
        clearTimeout(idle)
        idle = setTimeout(() => ctl.abort(stalled), Math.max(1, opts.idleTimeoutMs))
      }
      const onStop = () => ctl.abort(stopped)
      if (opts.signal?.aborted) throw stopped
      opts.signal?.addEventListener('abort', onStop, { once: true })
      const part = `${opts.destFile}.${process.pid}-${++partCounter}.part`
      let writeError: unknown = null
      let created = false
      try {
        arm()
        const res = await open('GET', req.url, await encode({ headers: req.headers }), ctl.signal)
        const status = res.statusCode ?? 0
        const contentType = contentTypeOf(res)
        if (status < 200 || status >= 300) {
          res.destroy()
          throw httpError(status, contentType)
        }
        const announced = declaredLength(res)
        if (announced !== null && announced > max) {
          res.destroy()
          throw tooLarge('file', max)
        }
        let bytes = 0
        const counter = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            arm()
            bytes += chunk.length
            if (bytes > max) {
              cb(tooLarge('file', max))
              return
            }
            opts.onProgress?.(bytes, announced)
            cb(null, chunk)
          }
        })
        // Opened before streaming, so a failure can never leave a file created after its removal.
        const fh = await fs.promises.open(part, 'wx')
        created = true
        const out = fh.createWriteStream()
        out.once('error', (e) => {
          writeError = e
        })
        await pipeline(res, counter, out, { signal: ctl.signal })
        if (announced !== null && bytes !== announced) {
          throw new ComfyRequestError('network', 'The connection was closed by the server')
        }
        await fs.promises.rename(part, opts.destFile)
        created = false
        return { bytes, contentType }
      } catch (err) {
        if (ctl.signal.aborted) throw ctl.signal.reason
        if (writeError) throw writeError
        if (err instanceof ComfyRequestError) throw err
        if (isFsError(err)) throw err
        throw classifyError(err, opts.idleTimeoutMs)
      } finally {
        clearTimeout(idle)
        opts.signal?.removeEventListener('abort', onStop)
        if (created) await fs.promises.rm(part, { force: true }).catch(() => undefined)
      }
    },

    close() {
      httpAgent.destroy()
      httpsAgent.destroy()
    }
  }
}

let partCounter = 0

/** A file system failure (it names a path), as opposed to one of the server's. */
function isFsError(err: unknown): boolean {
  return typeof (err as { path?: unknown } | null)?.path === 'string'
}

/** The default transport (kept under its former name for callers that use it). */
export const createAxiosTransport = createHttpTransport
