/**
 * One ComfyUI server over HTTP: queue, system stats, with `/api` routes first and the plain
 * routes for servers older than mid-2024.
 */
import type { QueueCounts, ServerConfig, SystemInfo } from '../../../shared/types'
import { ComfyRequestError, classifyError, httpError, saidError } from './errors'
import { parsePromptInfo, parseQueue, parseSystemStats, ShapeError } from './schemas'
import fs from 'node:fs'
import {
  createHttpTransport,
  MAX_DOWNLOAD_BYTES,
  formatSize,
  type DownloadOptions,
  type DownloadResult,
  type HttpResponse,
  type HttpTransport
} from './transport'

/**
 * Splits `http://user:pass@host:8188` into the address without its credentials and the
 * `Authorization: Basic ...` value they stand for (null when the address has none). The
 * address comes back unchanged when it has no credentials or is not a valid URL.
 */
export function splitUrlCredentials(url: string): { url: string; authorization: string | null } {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return { url, authorization: null }
  }
  if (!u.username && !u.password) return { url, authorization: null }
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s)
    } catch {
      return s
    }
  }
  const pair = `${decode(u.username)}:${decode(u.password)}`
  u.username = ''
  u.password = ''
  return { url: u.href, authorization: `Basic ${Buffer.from(pair, 'utf8').toString('base64')}` }
}

export interface ComfyClientOptions {
  server: Pick<ServerConfig, 'url' | 'headers'>
  /** ms per request. */
  timeoutMs: number
  transport?: HttpTransport
  /** Monotonic-ish clock for latency; defaults to performance.now. */
  now?: () => number
}

export interface Timed<T> {
  value: T
  latencyMs: number
}

export class ComfyClient {
  readonly url: string
  private readonly headers: Record<string, string>
  private timeoutMs: number
  private readonly transport: HttpTransport
  private readonly ownsTransport: boolean
  private readonly now: () => number
  /** Set once a `/api/...` route answered 404 and its plain route did not. */
  private legacy = false

  constructor(opts: ComfyClientOptions) {
    const split = splitUrlCredentials(opts.server.url)
    this.url = split.url.replace(/\/+$/, '')
    const own = opts.server.headers ?? {}
    const hasAuth = Object.keys(own).some((k) => k.toLowerCase() === 'authorization')
    this.headers = {
      Accept: 'application/json',
      ...(split.authorization && !hasAuth ? { Authorization: split.authorization } : {}),
      ...own
    }
    this.timeoutMs = opts.timeoutMs
    this.ownsTransport = !opts.transport
    this.transport = opts.transport ?? createHttpTransport()
    this.now = opts.now ?? (() => performance.now())
  }

  /** True when the server only answers the plain routes. */
  get legacyRoutes(): boolean {
    return this.legacy
  }

  setTimeout(ms: number): void {
    this.timeoutMs = ms
  }

  /** The per-request timeout in ms. */
  get requestTimeoutMs(): number {
    return this.timeoutMs
  }

  /** The headers every request carries (the server's own, and Basic auth from its address). */
  get requestHeaders(): Readonly<Record<string, string>> {
    return this.headers
  }

  /**
   * Sends a request, `/api` route first. A 404 there (a server older than mid-2024) is retried
   * once on the plain route and remembered. `deadlineMs` caps the total time of both attempts.
   * Throws a ComfyRequestError for transport failures; any HTTP status is returned.
   */
  async send(
    method: 'GET' | 'POST',
    route: string,
    opts: {
      body?: unknown
      form?: FormData
      binary?: boolean
      maxBytes?: number
      deadlineMs?: number
    } = {}
  ): Promise<HttpResponse & { latencyMs: number }> {
    const deadlineMs = opts.deadlineMs ?? this.timeoutMs
    const start = this.now()
    const attempt = async (path: string) => {
      const left = Math.max(1, Math.round(deadlineMs - (this.now() - start)))
      const req = {
        method,
        url: this.url + path,
        headers: this.headers,
        body: opts.body,
        form: opts.form,
        binary: opts.binary,
        maxBytes: opts.maxBytes,
        timeoutMs: left
      }
      try {
        return await this.transport.request(req)
      } catch (err) {
        const first = classified(err, deadlineMs)
        // A kept-alive connection the server closed (restart, idle timeout) fails at once with a
        // reset; a GET is safe to repeat once on a fresh connection to learn the real state.
        const again = Math.round(deadlineMs - (this.now() - start))
        if (
          method === 'GET' &&
          first.kind === 'network' &&
          /closed by the server/.test(first.message) &&
          again > 1
        ) {
          try {
            return await this.transport.request({ ...req, timeoutMs: again })
          } catch (err2) {
            throw classified(err2, deadlineMs)
          }
        }
        throw first
      }
    }
    let res = await attempt(this.legacy ? route : `/api${route}`)
    // Unknown /api paths get 404 on GET and 405 on other methods (aiohttp's static route at /).
    const missing = (st: number) => st === 404 || (method !== 'GET' && st === 405)
    if (missing(res.status) && !this.legacy) {
      const plain = await attempt(route)
      if (!missing(plain.status)) this.legacy = true
      res = plain
    }
    return { ...res, latencyMs: this.now() - start }
  }

  /**
   * Streams a GET to `destFile`, `/api` route first and the plain one after a 404 there (as
   * `send` does). Fails with a ComfyRequestError for the server's part (`http` with the
   * status, `timeout` when nothing arrives for `idleTimeoutMs`, `too-large`, `redirect`).
   * `idleTimeoutMs` defaults to the request timeout.
   */
  async download(
    route: string,
    destFile: string,
    opts: Partial<Omit<DownloadOptions, 'destFile'>> = {}
  ): Promise<DownloadResult> {
    const full: DownloadOptions = {
      destFile,
      idleTimeoutMs: opts.idleTimeoutMs ?? this.timeoutMs,
      maxBytes: opts.maxBytes ?? MAX_DOWNLOAD_BYTES,
      onProgress: opts.onProgress,
      signal: opts.signal
    }
    const once = (path: string) => this.downloadOnce(this.url + path, full)
    if (this.legacy) return once(route)
    try {
      return await once(`/api${route}`)
    } catch (err) {
      if (!(err instanceof ComfyRequestError) || err.kind !== 'http' || err.status !== 404)
        throw err
    }
    const r = await once(route)
    this.legacy = true
    return r
  }

  private async downloadOnce(url: string, opts: DownloadOptions): Promise<DownloadResult> {
    if (this.transport.download) {
      try {
        return await this.transport.download({ url, headers: this.headers }, opts)
      } catch (err) {
        throw err instanceof ComfyRequestError || isFsError(err) ? err : classifyError(err, 0)
      }
    }
    // A transport without streaming (tests, simulators): buffered, then written the same way.
    const max = opts.maxBytes ?? MAX_DOWNLOAD_BYTES
    let res: HttpResponse
    try {
      res = await this.transport.request({
        method: 'GET',
        url,
        headers: this.headers,
        binary: true,
        maxBytes: max,
        timeoutMs: Math.max(opts.idleTimeoutMs, this.timeoutMs)
      })
    } catch (err) {
      throw classified(err, Math.max(opts.idleTimeoutMs, this.timeoutMs))
    }
    if (res.status < 200 || res.status >= 300) throw httpError(res.status, res.contentType)
    const bytes = res.bytes ?? Buffer.from(res.text, 'utf8')
    if (bytes.length > max) {
      throw new ComfyRequestError('too-large', `The file was larger than ${formatSize(max)}`)
    }
    const part = `${opts.destFile}.${process.pid}-buffered.part`
    try {
      await fs.promises.writeFile(part, bytes, { flag: 'wx' })
      await fs.promises.rename(part, opts.destFile)
    } catch (err) {
      await fs.promises.rm(part, { force: true }).catch(() => undefined)
      throw err
    }
    opts.onProgress?.(bytes.length, bytes.length)
    return { bytes: bytes.length, contentType: res.contentType }
  }

  /** GETs a JSON route; non-2xx and non-JSON answers are errors. */
  async getJson(route: string, deadlineMs = this.timeoutMs): Promise<Timed<unknown>> {
    const res = await this.send('GET', route, { deadlineMs })
    if (res.status < 200 || res.status >= 300) throw httpError(res.status, res.contentType)
    return { value: parseJsonBody(res), latencyMs: res.latencyMs }
  }

  async getQueue(deadlineMs?: number): Promise<Timed<QueueCounts>> {
    const r = await this.getJson('/queue', deadlineMs)
    try {
      return { value: parseQueue(r.value), latencyMs: r.latencyMs }
    } catch (err) {
      throw shape(err, 'queue')
    }
  }

  /** The cheap count: `GET /prompt` -> queue_remaining (running + pending). */
  async getQueueCount(deadlineMs?: number): Promise<Timed<number>> {
    const r = await this.getJson('/prompt', deadlineMs)
    try {
      return { value: parsePromptInfo(r.value), latencyMs: r.latencyMs }
    } catch (err) {
      throw shape(err, 'queue count')
    }
  }

  async getSystemStats(deadlineMs?: number): Promise<Timed<SystemInfo>> {
    const r = await this.getJson('/system_stats', deadlineMs)
    try {
      return { value: parseSystemStats(r.value), latencyMs: r.latencyMs }
    } catch (err) {
      throw shape(err, 'system_stats')
    }
  }

  /** Closes keep-alive connections if this client made its own transport. */
  close(): void {
    if (this.ownsTransport) this.transport.close()
  }
}

/** Parses a JSON body, telling a web page (proxy, login) apart from other non-JSON. */
export function parseJsonBody(res: HttpResponse): unknown {
  try {
    return JSON.parse(res.text)
  } catch {
    const html = /^\s*</.test(res.text) || res.contentType?.includes('text/html')
    throw new ComfyRequestError(
      'not-json',
      html
        ? 'Answered with a web page instead of JSON (a proxy or login page?)'
        : 'Answered with something that is not JSON'
    )
  }
}

/** A transport failure as a ComfyRequestError; a timeout is told against the whole deadline. */
function classified(err: unknown, deadlineMs: number): ComfyRequestError {
  if (err instanceof ComfyRequestError && err.kind === 'timeout') {
    return saidError({ code: 'timeout', ms: deadlineMs })
  }
  return classifyError(err, deadlineMs)
}

/** A file system failure (it names a path), as opposed to one of the server's. */
function isFsError(err: unknown): boolean {
  return typeof (err as { path?: unknown } | null)?.path === 'string'
}

function shape(err: unknown, what: string): ComfyRequestError {
  if (err instanceof ShapeError) {
    return new ComfyRequestError('bad-shape', `Unexpected ${what} answer: ${err.message}`)
  }
  return classifyError(err, 0)
}
