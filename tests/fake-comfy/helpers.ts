/** Small HTTP and WebSocket clients for the fake ComfyUI tests (real sockets, loopback only). */
import http from 'node:http'
import { WebSocket } from 'ws'

export interface HttpResult {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
  text: string
  json: () => unknown
}

export interface RequestOptions {
  method?: string
  body?: string | Buffer
  headers?: Record<string, string>
  agent?: http.Agent
  timeoutMs?: number
}

/** One HTTP request with node:http (so error codes like ECONNREFUSED surface as-is). */
export function request(url: string, opts: RequestOptions = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent ?? false },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const body = Buffer.concat(chunks)
          const text = body.toString('utf8')
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            text,
            json: () => JSON.parse(text)
          })
        })
        res.on('error', reject)
      }
    )
    if (opts.timeoutMs !== undefined) {
      req.setTimeout(opts.timeoutMs, () =>
        req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }))
      )
    }
    req.on('error', reject)
    req.end(opts.body)
  })
}

export function postJson(url: string, value: unknown, agent?: http.Agent): Promise<HttpResult> {
  return request(url, {
    method: 'POST',
    body: JSON.stringify(value),
    headers: { 'Content-Type': 'application/json' },
    agent
  })
}

export interface WsMessage {
  type: string
  data: Record<string, unknown>
}

/** A WebSocket client that records every frame it gets. */
export class WsClient {
  readonly messages: WsMessage[] = []
  readonly binaries: Buffer[] = []
  private waiters: Array<() => void> = []

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer)
      if (isBinary) this.binaries.push(buf)
      else this.messages.push(JSON.parse(buf.toString('utf8')) as WsMessage)
      for (const w of this.waiters) w()
    })
    ws.on('close', () => {
      for (const w of this.waiters) w()
    })
  }

  static open(baseUrl: string, clientId?: string, path = '/ws'): Promise<WsClient> {
    const url = baseUrl.replace(/^http/, 'ws') + path + (clientId ? `?clientId=${clientId}` : '')
    const ws = new WebSocket(url)
    const client = new WsClient(ws)
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client))
      ws.once('error', reject)
      ws.once('unexpected-response', (_req, res) =>
        reject(Object.assign(new Error(`unexpected ${res.statusCode}`), { status: res.statusCode }))
      )
    })
  }

  types(): string[] {
    return this.messages.map((m) => m.type)
  }

  /** Resolves with the first recorded message matching `pred` (waiting if needed). */
  waitFor(pred: (m: WsMessage) => boolean, timeoutMs = 5000): Promise<WsMessage> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const m = this.messages.find(pred)
        if (m) {
          cleanup()
          resolve(m)
          return true
        }
        return false
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(new Error(`timed out; got ${this.types().join(', ')}`))
      }, timeoutMs)
      const waiter = (): void => void check()
      const cleanup = (): void => {
        clearTimeout(timer)
        this.waiters = this.waiters.filter((w) => w !== waiter)
      }
      this.waiters.push(waiter)
      check()
    })
  }

  /** Waits for `executing {node: null, prompt_id}`, the "prompt finished" signal. */
  waitDone(promptId: string, timeoutMs = 5000): Promise<WsMessage> {
    return this.waitFor(
      (m) => m.type === 'executing' && m.data.node === null && m.data.prompt_id === promptId,
      timeoutMs
    )
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve()
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve())
      this.ws.close()
    })
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

/** Polls `fn` until it returns true. */
export async function until(fn: () => boolean, timeoutMs = 5000, stepMs = 5): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!fn()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await sleep(stepMs)
  }
}

/** Builds a multipart/form-data body. */
export function multipart(
  fields: Array<{ name: string; value: string | Buffer; filename?: string; type?: string }>
): { body: Buffer; contentType: string } {
  const boundary = '----fakecomfy' + Math.random().toString(16).slice(2)
  const parts: Buffer[] = []
  for (const f of fields) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${f.name}"`
    if (f.filename !== undefined) head += `; filename="${f.filename}"`
    head += '\r\n'
    if (f.type) head += `Content-Type: ${f.type}\r\n`
    parts.push(Buffer.from(head + '\r\n'), Buffer.from(f.value), Buffer.from('\r\n'))
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`))
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` }
}
