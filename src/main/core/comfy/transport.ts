/**
 * The HTTP transport the core talks through, with one keep-alive agent per server so requests
 * reuse one TCP connection round after round. The frequent checks and every other GET go over
 * Node's own http/https (lean: nothing but the exchange); a submit, an upload (POST) and an
 * output download go through axios on the same agents. Tests and simulators can hand in their
 * own transport.
 *
 * A server is not trusted: redirects to another address are never followed (they would carry
 * the server's auth header or the prompt elsewhere), bodies are capped, every request has one
 * hard deadline, and downloads stream to disk with a stall timeout instead of a total one.
 */
import fs from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import { Transform } from 'node:stream'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import axios, { type AxiosInstance, type AxiosResponse } from 'axios'
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

/** Largest request body sent (a workflow, an input image or video to upload). */
export const MAX_REQUEST_BYTES = 1024 * 1024 * 1024

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

type HeaderBag = Record<string, unknown> | { get(name: string): unknown }

function header(headers: HeaderBag, name: string): string | undefined {
  const v =
    typeof headers.get === 'function'
      ? (headers as { get(name: string): unknown }).get(name)
      : (headers as Record<string, unknown>)[name]
  return typeof v === 'string' ? v : undefined
}

function declaredLength(headers: HeaderBag): number | null {
  const cl = header(headers, 'content-length')?.trim()
  if (cl === undefined || !/^\d+$/.test(cl)) return null
  return Number(cl)
}

function contentTypeOf(headers: HeaderBag): string | undefined {
  return header(headers, 'content-type')
}

function parseUrl(rawUrl: string): URL {
  try {
    return new URL(rawUrl)
  } catch {
    throw new ComfyRequestError('network', 'The server address is not a valid URL')
  }
}

/**
 * Where a redirect answer sends the request next. Only a redirect that stays on the same
 * origin (scheme, host, port) is followed; one elsewhere, a 301/302/303 answer to a POST (which
 * would otherwise be repeated as a GET) and a redirect loop are the server's answer: a
 * `redirect` error, with nothing sent to the new address.
 */
function redirectTarget(
  method: 'GET' | 'POST',
  status: number,
  location: string,
  from: URL,
  origin: string,
  hop: number
): URL {
  let target: URL
  try {
    target = new URL(location, from)
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
  return target
}

/**
 * Reads a whole body, refusing more than `max` bytes (announced or sent). A body that closes
 * before its end is a connection the server closed.
 */
function readAll(
  body: Readable,
  announced: number | null,
  max: number,
  signal: AbortSignal
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (announced !== null && announced > max) {
      body.destroy()
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
        body.destroy()
        reject(err)
      } else resolve(value!)
    }
    const closed = () => Object.assign(new Error('aborted'), { code: 'ECONNRESET' })
    const onAbort = () => finish(signal.reason ?? new Error('aborted'))
    signal.addEventListener('abort', onAbort, { once: true })
    body.on('data', (chunk: Buffer) => {
      total += chunk.length
      if (total > max) finish(tooLarge('answer', max))
      else chunks.push(chunk)
    })
    body.once('end', () => finish(null, Buffer.concat(chunks, total)))
    body.once('aborted', () => finish(closed()))
    body.once('error', (e) => finish(e))
    body.once('close', () => finish(closed()))
  })
}

/** What axios reports for its own size limits, as the transport's `too-large`. */
function axiosLimit(err: unknown, what: 'answer' | 'file', max: number): ComfyRequestError | null {
  const msg = (err as { message?: unknown } | null)?.message
  if (typeof msg !== 'string') return null
  if (msg.startsWith('maxContentLength size')) return tooLarge(what, max)
  if (msg.startsWith('Request body larger than maxBodyLength')) {
    return new ComfyRequestError(
      'too-large',
      `The request was larger than ${formatSize(MAX_REQUEST_BYTES)}`
    )
  }
  return null
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
  // Redirects are followed by `openAxios` (same origin only), never by axios itself; the
  // deadline is the caller's AbortSignal, so axios's own timeout stays off.
  const ax: AxiosInstance = axios.create({
    adapter: 'http',
    httpAgent,
    httpsAgent,
    proxy: false,
    maxRedirects: 0,
    timeout: 0,
    validateStatus: () => true,
    responseType: 'stream',
    decompress: true,
    maxBodyLength: MAX_REQUEST_BYTES,
    maxContentLength: MAX_RESPONSE_BYTES
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

  /** The lean path: sends the request with node:http, following same-origin redirects. */
  async function open(
    method: 'GET' | 'POST',
    rawUrl: string,
    enc: Encoded,
    signal: AbortSignal
  ): Promise<http.IncomingMessage> {
    let url = parseUrl(rawUrl)
    const origin = url.origin
    for (let hop = 0; ; hop++) {
      const res = await exchange(url, method, enc, signal)
      const status = res.statusCode ?? 0
      const location = res.headers.location
      if (!REDIRECT_STATUS.has(status) || !location) return res
      // Its body is of no use; a hostile one could be endless.
      res.destroy()
      url = redirectTarget(method, status, location, url, origin, hop)
    }
  }

  /**
   * The axios path: one exchange per hop (axios follows nothing), the same same-origin
   * redirect rule as `open`. `data` is sent again unchanged on a 307/308; a FormData is
   * encoded by axios each time, so the same fields and file go again.
   */
  async function openAxios(
    method: 'GET' | 'POST',
    rawUrl: string,
    headers: Record<string, string>,
    data: Buffer | FormData | undefined,
    maxContentLength: number,
    signal: AbortSignal
  ): Promise<AxiosResponse<Readable>> {
    let url = parseUrl(rawUrl)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ComfyRequestError('network', `Not an http or https address: ${url.protocol}`)
    }
    const origin = url.origin
    for (let hop = 0; ; hop++) {
      const res = await ax.request<Readable>({
        method,
        url: url.href,
        headers,
        data,
        maxContentLength,
        signal
      })
      const location = header(res.headers, 'location')
      if (!REDIRECT_STATUS.has(res.status) || !location) return res
      discard(res)
      url = redirectTarget(method, res.status, location, url, origin, hop)
    }
  }

  /** Drops an answer whose body is of no use, with its connection (a hostile one could be endless). */
  function discard(res: AxiosResponse<Readable>): void {
    res.data.destroy()
    const req = res.request as { destroy?: () => void } | undefined
    req?.destroy?.()
  }

  /** POST through axios: the body once, the same bytes on each same-address hop. */
  async function post(req: HttpRequest, max: number, signal: AbortSignal): Promise<HttpResponse> {
    const headers = { ...(req.headers ?? {}) }
    let data: Buffer | FormData | undefined
    if (req.form) {
      // axios writes the multipart type with its boundary.
      for (const k of Object.keys(headers)) {
        if (k.toLowerCase() === 'content-type') delete headers[k]
      }
      data = req.form
    } else if (req.body !== undefined) {
      const hasType = Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')
      if (!hasType) headers['Content-Type'] = 'application/json'
      data = Buffer.from(JSON.stringify(req.body), 'utf8')
    }
    const res = await openAxios('POST', req.url, headers, data, max, signal)
    let body: Buffer
    try {
      body = await readAll(res.data, declaredLength(res.headers), max, signal)
    } catch (err) {
      // Destroying axios's body stream alone leaves a silent connection open.
      discard(res)
      throw err
    }
    return answer(res.status, contentTypeOf(res.headers), body, req.binary)
  }

  /** GET through node:http. */
  async function get(req: HttpRequest, max: number, signal: AbortSignal): Promise<HttpResponse> {
    const res = await open(req.method, req.url, await encode(req), signal)
    const body = await readAll(res, declaredLength(res.headers), max, signal)
    return answer(res.statusCode ?? 0, contentTypeOf(res.headers), body, req.binary)
  }

  return {
    async request(req) {
      const max = req.maxBytes ?? MAX_RESPONSE_BYTES
      const deadline = new AbortController()
      const timeout = new ComfyRequestError('timeout', `Timed out after ${req.timeoutMs} ms`)
      const timer = setTimeout(() => deadline.abort(timeout), Math.max(1, req.timeoutMs))
      try {
        return req.method === 'POST'
          ? await post(req, max, deadline.signal)
          : await get(req, max, deadline.signal)
      } catch (err) {
        if (deadline.signal.aborted) throw timeout
        if (err instanceof ComfyRequestError) throw err
        throw axiosLimit(err, 'answer', max) ?? classifyError(err, req.timeoutMs)
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
      let res: AxiosResponse<Readable> | undefined
      try {
        arm()
        res = await openAxios(
          'GET',
          req.url,
          { ...(req.headers ?? {}) },
          undefined,
          max,
          ctl.signal
        )
        const status = res.status
        const contentType = contentTypeOf(res.headers)
        if (status < 200 || status >= 300) {
          discard(res)
          throw httpError(status, contentType)
        }
        const announced = declaredLength(res.headers)
        if (announced !== null && announced > max) {
          discard(res)
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
        // A body cut short of its Content-Length fails in the HTTP parser, compressed or not.
        await pipeline(res.data, counter, out, { signal: ctl.signal })
        await fs.promises.rename(part, opts.destFile)
        created = false
        return { bytes, contentType }
      } catch (err) {
        if (res) discard(res)
        if (ctl.signal.aborted) throw ctl.signal.reason
        if (writeError) throw writeError
        if (err instanceof ComfyRequestError) throw err
        if (isFsError(err)) throw err
        throw axiosLimit(err, 'file', max) ?? classifyError(err, opts.idleTimeoutMs)
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

function answer(
  status: number,
  contentType: string | undefined,
  body: Buffer,
  binary: boolean | undefined
): HttpResponse {
  if (binary) return { status, contentType, text: '', bytes: body }
  let text = body.toString('utf8')
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
  return { status, contentType, text }
}

let partCounter = 0

/** A file system failure (it names a path), as opposed to one of the server's. */
function isFsError(err: unknown): boolean {
  return typeof (err as { path?: unknown } | null)?.path === 'string'
}

/** The default transport (kept under its former name for callers that use it). */
export const createAxiosTransport = createHttpTransport
