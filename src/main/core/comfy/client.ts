/**
 * One ComfyUI server over HTTP: queue, system stats, with `/api` routes first and the plain
 * routes for servers older than mid-2024.
 */
import type { QueueCounts, ServerConfig, SystemInfo } from '../../../shared/types'
import { ComfyRequestError, classifyError, httpError } from './errors'
import { parsePromptInfo, parseQueue, parseSystemStats, ShapeError } from './schemas'
import { createAxiosTransport, type HttpResponse, type HttpTransport } from './transport'

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
    this.url = opts.server.url.replace(/\/+$/, '')
    this.headers = { Accept: 'application/json', ...(opts.server.headers ?? {}) }
    this.timeoutMs = opts.timeoutMs
    this.ownsTransport = !opts.transport
    this.transport = opts.transport ?? createAxiosTransport()
    this.now = opts.now ?? (() => performance.now())
  }

  /** True when the server only answers the plain routes. */
  get legacyRoutes(): boolean {
    return this.legacy
  }

  setTimeout(ms: number): void {
    this.timeoutMs = ms
  }

  /**
   * Sends a request, `/api` route first. A 404 there (a server older than mid-2024) is retried
   * once on the plain route and remembered. `deadlineMs` caps the total time of both attempts.
   * Throws a ComfyRequestError for transport failures; any HTTP status is returned.
   */
  async send(
    method: 'GET' | 'POST',
    route: string,
    opts: { body?: unknown; form?: FormData; binary?: boolean; deadlineMs?: number } = {}
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
        timeoutMs: left
      }
      try {
        return await this.transport.request(req)
      } catch (err) {
        const first = classifyError(err, deadlineMs)
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
            throw classifyError(err2, deadlineMs)
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

function shape(err: unknown, what: string): ComfyRequestError {
  if (err instanceof ShapeError) {
    return new ComfyRequestError('bad-shape', `Unexpected ${what} answer: ${err.message}`)
  }
  return classifyError(err, 0)
}
