/**
 * The HTTP transport the core talks through. The default is axios with one keep-alive agent
 * per server, so checks reuse one TCP connection round after round. Tests and simulators can
 * hand in their own transport.
 */
import http from 'node:http'
import https from 'node:https'
import axios, { type AxiosInstance } from 'axios'

export interface HttpRequest {
  method: 'GET' | 'POST'
  /** Absolute URL. */
  url: string
  headers?: Record<string, string>
  /** JSON-serialisable body for POST. */
  body?: unknown
  /** Multipart body for POST (uploads); takes precedence over `body`. */
  form?: FormData
  /** Keep the raw bytes (downloads) in `bytes`. */
  binary?: boolean
  /** Hard deadline for the whole request in ms. */
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

export interface HttpTransport {
  request(req: HttpRequest): Promise<HttpResponse>
  /** Closes idle keep-alive connections. Safe to call twice. */
  close(): void
}

/** Largest body accepted from a server (a full /queue can carry many workflows). */
export const MAX_RESPONSE_BYTES = 64 * 1024 * 1024

/** Largest output file downloaded from /view. */
export const MAX_DOWNLOAD_BYTES = 1024 * 1024 * 1024

/** How long an idle keep-alive connection is kept open between check rounds. */
const KEEP_ALIVE_MS = 60_000

export function createAxiosTransport(): HttpTransport {
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
  const ax: AxiosInstance = axios.create({
    httpAgent,
    httpsAgent,
    proxy: false,
    maxRedirects: 3,
    maxContentLength: MAX_RESPONSE_BYTES,
    responseType: 'text',
    // Keep the raw text: JSON is parsed by the caller so "not JSON" is its own failure.
    transformResponse: [(d: unknown) => d],
    validateStatus: () => true
  })
  return {
    async request(req) {
      const json = req.body !== undefined && !req.form
      const res = await ax.request<string | ArrayBuffer>({
        method: req.method,
        url: req.url,
        headers: json ? { 'Content-Type': 'application/json', ...req.headers } : req.headers,
        data: req.form ?? (json ? JSON.stringify(req.body) : undefined),
        responseType: req.binary ? 'arraybuffer' : 'text',
        // Outputs (videos) can be far larger than any JSON answer.
        maxContentLength: req.binary ? MAX_DOWNLOAD_BYTES : MAX_RESPONSE_BYTES,
        timeout: req.timeoutMs,
        signal: AbortSignal.timeout(req.timeoutMs + 50)
      })
      const ct = res.headers['content-type']
      const contentType = typeof ct === 'string' ? ct : undefined
      if (req.binary) {
        const bytes = Buffer.from(res.data as ArrayBuffer)
        return { status: res.status, contentType, text: '', bytes }
      }
      const d = res.data
      return {
        status: res.status,
        contentType,
        text: typeof d === 'string' ? d : d == null ? '' : String(d)
      }
    },
    close() {
      httpAgent.destroy()
      httpsAgent.destroy()
    }
  }
}
