/**
 * One ComfyUI address for the whole fleet: a local HTTP + WebSocket server that speaks
 * ComfyUI's API (`comfyui-api.md` sections 2-9), so any ComfyUI client (the ComfyUI window,
 * Krita AI Diffusion, scripts) sends its prompts through the job engine and gets the events,
 * history and images back as from one server.
 *
 * Safe by default: loopback only unless a token is set; the Host header must name the gateway
 * (DNS rebinding); browser requests from other origins get 403; every body is capped and every
 * request has a deadline.
 */
import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import https from 'node:https'
import os from 'node:os'
import path from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { WebSocketServer, type WebSocket } from 'ws'
import { FINISHED_JOB_STATES, type JobRecord } from '../../../shared/types'
import type { BalancerCore } from '../app'
import type { ComfyClient } from '../comfy/client'
import type { ServerEvent } from '../fleet/monitor'
import { parseApiPrompt, summarize, WorkflowError, MAX_WORKFLOW_BYTES } from '../jobs/workflow'
import { checkPrompt, FleetInfo } from './fleet'
import { PromptMap, type GatewayPrompt } from './ids'
import { checkAccess, isLoopbackHost, type AccessRules } from './security'
import { parseMultipart, UploadError, UploadStore } from './uploads'

export { checkAccess, isLoopbackHost, sameSecret } from './security'
export { checkPrompt, mergeObjectInfo, FleetInfo } from './fleet'
export { PromptMap, type GatewayPrompt } from './ids'
export { UploadStore, parseMultipart } from './uploads'

/** The gateway's port when none is given (not 8188-8191, which artists use for ComfyUI). */
export const DEFAULT_GATEWAY_PORT = 8288
/** Largest JSON body (a prompt with its UI workflow in extra_data). */
export const MAX_JSON_BODY = MAX_WORKFLOW_BYTES
/** Largest body of routes other than /prompt and uploads. */
const MAX_SMALL_BODY = 1024 * 1024
/** Largest upload (ComfyUI's default --max-upload-size). */
export const MAX_UPLOAD_BYTES = 100 * 1024 * 1024
/** Largest file passed on from /view. */
export const MAX_VIEW_BYTES = 1024 * 1024 * 1024
/** History entries read per GET /history without max_items. */
const MAX_HISTORY_LIST = 1_000
/** Finished history entries kept in memory. */
const HISTORY_CACHE = 200
/** Output files remembered with the server that has them. */
const MAX_OUTPUT_INDEX = 20_000

export interface GatewayOptions {
  /** @default '127.0.0.1' */
  host?: string
  /** 0 picks a free port. @default 8288 */
  port?: number
  /** Required when `host` is not a loopback address. */
  token?: string | null
  /** Browser origins allowed besides the gateway's own (`http://host:port`). */
  allowedOrigins?: string[]
  /** Host header names accepted besides the bound address and localhost. */
  allowedHosts?: string[]
  /** Where the prompt id map and the uploads live. @default the journal's folder, else a temp folder */
  dataDir?: string
  maxUploadBytes?: number
  maxViewBytes?: number
  /** Deadline of a request that is not a file stream (which has an idle deadline instead). @default 60000 */
  requestTimeoutMs?: number
  /** Open connections at most. @default 256 */
  maxConnections?: number
  /** Open WebSockets at most. @default 64 */
  maxSockets?: number
  /** How long answers of the servers (object_info, models, system_stats) are reused. @default 10000 */
  cacheMs?: number
}

export interface Gateway {
  /** `http://127.0.0.1:8288` */
  url: string
  close(): Promise<void>
}

export class GatewayStartError extends Error {
  constructor(
    readonly code: 'token-required' | 'port-taken' | 'no-jobs' | 'listen',
    message: string
  ) {
    super(message)
    this.name = 'GatewayStartError'
  }
}

const STATUS_TEXT: Record<number, string> = {
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

class HttpError extends Error {
  constructor(
    readonly status: number,
    message?: string
  ) {
    super(message ?? `${status}: ${STATUS_TEXT[status] ?? 'Error'}`)
  }
}

/** ComfyUI's (aiohttp's) answer to a body that is not JSON. */
const SERVER_TROUBLE = '500 Internal Server Error\n\nServer got itself in trouble'

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value), 'utf8')
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': body.length
  })
  res.end(body)
}

function sendText(res: ServerResponse, status: number, text: string): void {
  const body = Buffer.from(text, 'utf8')
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': body.length
  })
  res.end(body)
}

function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status, { 'Content-Length': 0 })
  res.end()
}

/** Reads a body up to `max` bytes; more is a 413. */
function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
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

class BadJson extends Error {}

/** A path segment decoded; left as it is when it is not valid percent-encoding. */
function dec(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

function parseJson(buf: Buffer): unknown {
  try {
    return JSON.parse(buf.toString('utf8'))
  } catch {
    throw new BadJson()
  }
}

/** Replaces every occurrence of the job id (a UUID) with the client's prompt id. */
function renameIds<T>(value: T, jobId: string, promptId: string): T {
  if (jobId === promptId) return value
  const text = JSON.stringify(value)
  if (!text.includes(jobId)) return value
  return JSON.parse(text.split(jobId).join(JSON.stringify(promptId).slice(1, -1))) as T
}

/** Extra data as shown back to clients: the secrets ComfyUI drops from history go here too. */
function publicExtra(extra: Record<string, unknown>): Record<string, unknown> {
  const out = { ...extra }
  delete out.auth_token_comfy_org
  delete out.api_key_comfy_org
  return out
}

/** Output files named by an `executed` output or a history entry's outputs. */
function outputFiles(
  output: unknown
): Array<{ filename: string; subfolder: string; type: string }> {
  const out: Array<{ filename: string; subfolder: string; type: string }> = []
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

function fileKey(type: string, subfolder: string, filename: string): string {
  return `${type}\n${subfolder}\n${filename}`
}

/**
 * Opens a GET on a server (`/api` route first, the plain one after a 404 there), with the
 * server's own headers. Resolves with the response once its headers are in.
 */
function openUpstream(
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

class GatewayServer {
  private readonly rules: AccessRules
  private readonly fleet: FleetInfo
  private readonly ids: PromptMap
  private readonly uploads: UploadStore
  private readonly server: http.Server
  private readonly wss: WebSocketServer
  /** sid -> socket (a newer socket with the same clientId replaces the older, as in ComfyUI). */
  private readonly sockets = new Map<string, WebSocket>()
  /** Job id -> the prompt and extra_data as posted (memory only, while the job is unfinished). */
  private readonly posted = new Map<string, { prompt: unknown; extra: Record<string, unknown> }>()
  /** Jobs whose end (error, interrupt, executing null) was relayed from a server. */
  private readonly ended = new Set<string>()
  private readonly outputIndex = new Map<string, string>()
  private readonly historyCache = new Map<string, Record<string, unknown>>()
  private counter = 0
  private lastRemaining = -1
  private readonly offs: Array<() => void> = []
  private readonly opts: Required<
    Pick<
      GatewayOptions,
      'maxUploadBytes' | 'maxViewBytes' | 'requestTimeoutMs' | 'maxSockets' | 'maxConnections'
    >
  >

  constructor(
    private readonly core: BalancerCore,
    host: string,
    port: number,
    token: string | null,
    dataDir: string,
    o: GatewayOptions
  ) {
    this.opts = {
      maxUploadBytes: o.maxUploadBytes ?? MAX_UPLOAD_BYTES,
      maxViewBytes: o.maxViewBytes ?? MAX_VIEW_BYTES,
      requestTimeoutMs: o.requestTimeoutMs ?? 60_000,
      maxSockets: o.maxSockets ?? 64,
      maxConnections: o.maxConnections ?? 256
    }
    this.rules = {
      host,
      port,
      token,
      allowedOrigins: o.allowedOrigins ?? [],
      allowedHosts: o.allowedHosts ?? []
    }
    this.fleet = new FleetInfo(core, o.cacheMs, Math.max(2_000, core.settings.timeout))
    this.ids = new PromptMap(path.join(dataDir, 'gateway-prompts.json'))
    this.uploads = new UploadStore(path.join(dataDir, 'gateway-uploads'))
    fs.mkdirSync(this.uploads.folder('input'), { recursive: true })
    for (const p of this.ids.all()) this.counter = Math.max(this.counter, Math.abs(p.number) + 1)
    this.server = http.createServer((req, res) => void this.handle(req, res))
    this.server.maxConnections = this.opts.maxConnections
    this.server.headersTimeout = 20_000
    this.server.requestTimeout = this.opts.requestTimeoutMs
    this.wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 })
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head))
    this.offs.push(core.onServerEvent((e) => this.onServerEvent(e)))
    this.offs.push(core.events.on('job', (j) => this.onJob(j)))
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        reject(
          err.code === 'EADDRINUSE'
            ? new GatewayStartError(
                'port-taken',
                `Port ${port} is already in use. Choose another port for the gateway.`
              )
            : new GatewayStartError('listen', `The gateway could not start: ${err.message}`)
        )
      }
      this.server.once('error', onError)
      this.server.listen(port, host, () => {
        this.server.off('error', onError)
        const addr = this.server.address()
        const actual = typeof addr === 'object' && addr ? addr.port : port
        this.rules.port = actual
        resolve(actual)
      })
    })
  }

  async close(): Promise<void> {
    for (const off of this.offs.splice(0)) off()
    for (const ws of this.wss.clients) ws.terminate()
    this.wss.close()
    this.ids.save()
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve())
      this.server.closeAllConnections()
    })
  }

  // -------------------------------------------------------------- jobs and prompts

  private engine() {
    const jobs = this.core.jobs
    if (!jobs) throw new HttpError(503, 'Jobs are turned off')
    return jobs
  }

  private job(p: GatewayPrompt): JobRecord | undefined {
    return this.core.jobs?.get(p.jobId)
  }

  private unfinished(): Array<{ p: GatewayPrompt; j: JobRecord }> {
    const out: Array<{ p: GatewayPrompt; j: JobRecord }> = []
    for (const p of this.ids.all()) {
      const j = this.job(p)
      if (j && !FINISHED_JOB_STATES.includes(j.state)) out.push({ p, j })
    }
    return out
  }

  private statusMessage(sid?: string): string {
    const data: Record<string, unknown> = {
      status: { exec_info: { queue_remaining: this.unfinished().length } }
    }
    if (sid !== undefined) data.sid = sid
    return JSON.stringify({ type: 'status', data })
  }

  private broadcastStatus(): void {
    const n = this.unfinished().length
    if (n === this.lastRemaining) return
    this.lastRemaining = n
    const msg = this.statusMessage()
    for (const ws of this.sockets.values()) ws.send(msg)
  }

  private sendTo(clientId: string | null, msg: string): void {
    if (clientId === null) return
    const ws = this.sockets.get(clientId)
    if (ws && ws.readyState === ws.OPEN) ws.send(msg)
  }

  private onJob(j: JobRecord): void {
    const p = this.ids.byJobId(j.id)
    if (!p) return
    if (FINISHED_JOB_STATES.includes(j.state)) {
      this.posted.delete(j.id)
      // A job that ended without its server telling (refused everywhere, lost): say so, the
      // way ComfyUI ends a prompt, so a waiting client does not wait for ever.
      if ((j.state === 'failed' || j.state === 'lost') && !this.ended.has(j.id)) {
        this.markEnded(j.id)
        const now = Date.now()
        this.sendTo(
          p.clientId,
          JSON.stringify({
            type: 'execution_error',
            data: {
              prompt_id: p.promptId,
              node_id: j.error?.nodeId ?? null,
              node_type: j.error?.nodeType ?? null,
              executed: [],
              exception_message: j.error?.message ?? 'The job was lost',
              exception_type: 'ComfyBalancerError',
              traceback: j.error?.details ?? [],
              current_inputs: {},
              current_outputs: [],
              timestamp: now
            }
          })
        )
        this.broadcastStatus()
        this.sendTo(
          p.clientId,
          JSON.stringify({ type: 'executing', data: { node: null, prompt_id: p.promptId } })
        )
        return
      }
    }
    this.broadcastStatus()
  }

  private onServerEvent({ serverId, event }: ServerEvent): void {
    const jobId = event.data?.prompt_id
    if (typeof jobId !== 'string') return
    const p = this.ids.byJobId(jobId)
    if (!p) return
    const j = this.job(p)
    // Only the server the job is on now (not one it was moved away from).
    if (!j || (j.serverId !== serverId && j.attempts.at(-1)?.serverId !== serverId)) return
    const type = event.type
    if (type === 'executed') {
      for (const f of outputFiles(event.data.output)) this.remember(f, serverId)
    }
    const end =
      type === 'execution_error' ||
      type === 'execution_interrupted' ||
      (type === 'executing' && event.data.node === null)
    if (end) this.markEnded(jobId)
    else if (type === 'execution_start') this.ended.delete(jobId)
    if (type === 'executing' && event.data.node === null) this.broadcastStatus()
    this.sendTo(p.clientId, JSON.stringify(renameIds(event, jobId, p.promptId)))
  }

  private markEnded(jobId: string): void {
    this.ended.delete(jobId)
    this.ended.add(jobId)
    while (this.ended.size > MAX_OUTPUT_INDEX)
      this.ended.delete(this.ended.values().next().value as string)
  }

  private remember(f: { filename: string; subfolder: string; type: string }, serverId: string) {
    const k = fileKey(f.type, f.subfolder, f.filename)
    this.outputIndex.delete(k)
    this.outputIndex.set(k, serverId)
    while (this.outputIndex.size > MAX_OUTPUT_INDEX)
      this.outputIndex.delete(this.outputIndex.keys().next().value as string)
  }

  // -------------------------------------------------------------- HTTP

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let streaming = false
    const timer = setTimeout(() => {
      if (!res.headersSent) sendText(res, 504, '504: Gateway Timeout')
      else if (!streaming) res.destroy()
    }, this.opts.requestTimeoutMs)
    res.on('close', () => clearTimeout(timer))
    try {
      const url = new URL(req.url ?? '/', 'http://gateway.invalid')
      const refused = checkAccess(req, url, this.rules)
      if (refused) {
        req.resume()
        if (refused.status === 401) {
          res.setHeader('WWW-Authenticate', 'Bearer')
          sendText(res, 401, refused.reason)
        } else sendEmpty(res, refused.status)
        return
      }
      let route = url.pathname
      if (route === '/api' || route.startsWith('/api/')) route = route.slice(4) || '/'
      const method = req.method ?? 'GET'
      await this.route(method, route, url, req, res, () => {
        streaming = true
      })
    } catch (err) {
      if (res.headersSent) {
        res.destroy()
        return
      }
      if (err instanceof BadJson) sendText(res, 500, SERVER_TROUBLE)
      else if (err instanceof HttpError) sendText(res, err.status, err.message)
      else sendText(res, 500, SERVER_TROUBLE)
    }
  }

  private async route(
    method: string,
    route: string,
    url: URL,
    req: IncomingMessage,
    res: ServerResponse,
    stream: () => void
  ): Promise<void> {
    const get = method === 'GET' || method === 'HEAD'
    const post = method === 'POST'
    let m: RegExpExecArray | null
    if (route === '/prompt' && get) return sendJson(res, 200, this.promptInfo())
    if (route === '/prompt' && post) return this.postPrompt(req, res)
    if (route === '/queue' && get) return sendJson(res, 200, this.queue())
    if (route === '/queue' && post) return this.postQueue(req, res)
    if (route === '/interrupt' && post) return this.postInterrupt(req, res)
    if (route === '/history' && get) return sendJson(res, 200, await this.historyList(url))
    if (route === '/history' && post) return this.postHistory(req, res)
    if ((m = /^\/history\/([^/]+)$/.exec(route)) && get) {
      return sendJson(res, 200, await this.historyOne(dec(m[1]!)))
    }
    if (route === '/view' && get) return this.view(url, req, res, stream)
    if ((m = /^\/view_metadata\/([^/]+)$/.exec(route)) && get) {
      return this.viewMetadata(dec(m[1]!), url, req, res)
    }
    if ((route === '/upload/image' || route === '/upload/mask') && post) {
      return this.upload(req, res)
    }
    if (route === '/object_info' && get) {
      return sendJson(res, 200, (await this.fleet.objectInfo()) ?? {})
    }
    if ((m = /^\/object_info\/([^/]+)$/.exec(route)) && get) {
      const cls = dec(m[1]!)
      const info = (await this.fleet.objectInfo()) ?? {}
      return sendJson(res, 200, Object.hasOwn(info, cls) ? { [cls]: info[cls] } : {})
    }
    if (route === '/models' && get) {
      return sendJson(res, 200, (await this.fleet.stringUnion('/models')) ?? [])
    }
    if ((m = /^\/models\/([^/]+)$/.exec(route)) && get) {
      const folder = dec(m[1]!)
      const list = await this.fleet.stringUnion(`/models/${encodeURIComponent(folder)}`)
      return list ? sendJson(res, 200, list) : sendEmpty(res, 404)
    }
    if (route === '/embeddings' && get) {
      return sendJson(res, 200, (await this.fleet.stringUnion('/embeddings')) ?? [])
    }
    if (route === '/extensions' && get) {
      return sendJson(res, 200, (await this.fleet.stringUnion('/extensions')) ?? [])
    }
    if (route === '/features' && get) return sendJson(res, 200, this.features())
    if (route === '/system_stats' && get) {
      const s = await this.fleet.systemStats()
      return s ? sendJson(res, 200, s) : sendText(res, 503, 'No server is available')
    }
    req.resume()
    if (get) return sendText(res, 404, '404: Not Found')
    return sendText(res, 405, '405: Method Not Allowed')
  }

  private features(): Record<string, unknown> {
    return { supports_preview_metadata: false, max_upload_size: this.opts.maxUploadBytes }
  }

  private promptInfo() {
    return { exec_info: { queue_remaining: this.unfinished().length } }
  }

  private async postPrompt(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = parseJson(await readBody(req, MAX_JSON_BODY))
    if (!isRecord(body)) throw new BadJson()
    const number =
      typeof body.number === 'number' && Number.isFinite(body.number)
        ? body.number
        : body.front === true
          ? -this.counter++
          : this.counter++
    if (!('prompt' in body)) {
      return sendJson(res, 400, {
        error: {
          type: 'no_prompt',
          message: 'No prompt provided',
          details: 'No prompt provided',
          extra_info: {}
        },
        node_errors: {}
      })
    }
    const engine = this.engine()
    const promptId =
      body.prompt_id !== undefined && body.prompt_id !== null
        ? String(body.prompt_id)
        : randomUUID()
    const info = await this.fleet.objectInfo()
    const checked = checkPrompt(body.prompt, info, body.partial_execution_targets, (v) =>
      this.uploads.hasInput(v)
    )
    if ('error' in checked) return sendJson(res, 400, checked)
    let prompt
    try {
      prompt = parseApiPrompt(body.prompt, 'prompt')
    } catch (err) {
      if (!(err instanceof WorkflowError)) throw err
      return sendJson(res, 400, {
        error: { type: 'invalid_prompt', message: err.problem, details: '', extra_info: {} },
        node_errors: {}
      })
    }
    const clientId = typeof body.client_id === 'string' ? body.client_id : null
    const extra = isRecord(body.extra_data) ? { ...body.extra_data } : {}
    if (clientId !== null) extra.client_id = clientId
    const job = engine.submit(
      {
        source: `gateway ${promptId}`.slice(0, 120),
        format: 'json',
        prompt,
        summary: summarize(prompt)
      },
      { baseDir: this.uploads.folder('input') }
    )
    this.ids.add({
      promptId,
      jobId: job.id,
      clientId,
      number,
      outputs: checked.outputs,
      createdAt: Date.now()
    })
    this.historyCache.delete(promptId)
    if (!FINISHED_JOB_STATES.includes(engine.get(job.id)?.state ?? 'pending')) {
      this.posted.set(job.id, { prompt: body.prompt, extra })
    }
    sendJson(res, 200, { prompt_id: promptId, number, node_errors: {} })
    this.onJob(engine.get(job.id) ?? job)
  }

  private queueItem(p: GatewayPrompt): unknown[] {
    const posted = this.posted.get(p.jobId)
    const extra = posted ? publicExtra(posted.extra) : p.clientId ? { client_id: p.clientId } : {}
    return [p.number, p.promptId, posted?.prompt ?? {}, extra, p.outputs]
  }

  private queue() {
    const running: unknown[] = []
    const pending: unknown[] = []
    for (const { p, j } of this.unfinished()) {
      ;(j.state === 'running' ? running : pending).push(this.queueItem(p))
    }
    return { queue_running: running, queue_pending: pending }
  }

  private async smallJson(req: IncomingMessage, emptyOk = false): Promise<unknown> {
    const buf = await readBody(req, MAX_SMALL_BODY)
    if (emptyOk && buf.length === 0) return null
    return parseJson(buf)
  }

  private async cancel(p: GatewayPrompt | undefined, only: (j: JobRecord) => boolean) {
    if (!p) return
    const j = this.job(p)
    if (!j || FINISHED_JOB_STATES.includes(j.state) || !only(j)) return
    await this.engine().cancel(j.id)
  }

  private async postQueue(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await this.smallJson(req)
    if (!isRecord(body)) throw new BadJson()
    const waiting = (j: JobRecord) => j.state !== 'running'
    if (body.clear === true) {
      await Promise.all(this.unfinished().map(({ p }) => this.cancel(p, waiting)))
    }
    if (Array.isArray(body.delete)) {
      for (const id of body.delete.slice(0, 10_000)) {
        await this.cancel(this.ids.byPromptId(String(id)), waiting)
      }
    }
    sendEmpty(res, 200)
  }

  private async postInterrupt(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: unknown = null
    try {
      body = await this.smallJson(req, true)
    } catch (err) {
      if (!(err instanceof BadJson)) throw err
    }
    const running = (j: JobRecord) => j.state === 'running'
    if (isRecord(body) && body.prompt_id !== undefined && body.prompt_id !== null) {
      await this.cancel(this.ids.byPromptId(String(body.prompt_id)), running)
    } else {
      // A global interrupt: what runs for the gateway's clients now.
      await Promise.all(this.unfinished().map(({ p }) => this.cancel(p, running)))
    }
    sendEmpty(res, 200)
  }

  private async postHistory(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await this.smallJson(req)
    if (!isRecord(body)) throw new BadJson()
    if (body.clear === true) {
      for (const p of this.ids.all()) {
        const j = this.job(p)
        if (!j || FINISHED_JOB_STATES.includes(j.state)) this.ids.hide(p.promptId)
      }
      this.historyCache.clear()
    }
    if (Array.isArray(body.delete)) {
      for (const id of body.delete.slice(0, 10_000)) {
        this.ids.hide(String(id))
        this.historyCache.delete(String(id))
      }
    }
    sendEmpty(res, 200)
  }

  /** The history entry of one of the gateway's prompts, from the server that ran it. */
  private async entryFor(p: GatewayPrompt): Promise<Record<string, unknown> | null> {
    if (p.hidden) return null
    const j = this.job(p)
    if (!j || !this.inHistory(p, j)) return null
    const finished = FINISHED_JOB_STATES.includes(j.state)
    const cached = this.historyCache.get(p.promptId)
    if (cached) return cached
    let entry: Record<string, unknown> | null = null
    if (j.serverId) {
      try {
        const v = await this.fleet.get(j.serverId, `/history/${encodeURIComponent(j.id)}`)
        const raw = isRecord(v) ? v[j.id] : undefined
        if (isRecord(raw)) entry = raw
      } catch {
        // unreachable: answered from the job's record below
      }
    }
    if (entry) {
      for (const out of Object.values(isRecord(entry.outputs) ? entry.outputs : {})) {
        for (const f of outputFiles(out)) this.remember(f, j.serverId!)
      }
      entry = renameIds(entry, j.id, p.promptId)
      const item = Array.isArray(entry.prompt) ? [...entry.prompt] : []
      const extra = isRecord(item[3]) ? { ...item[3] } : {}
      if (p.clientId) extra.client_id = p.clientId
      else delete extra.client_id
      entry.prompt = [p.number, p.promptId, item[2] ?? {}, extra, item[4] ?? p.outputs]
    } else {
      // Ran to its end on the server, but the job is not done yet: nothing to show yet.
      if (!finished) return null
      const failed = j.state !== 'done'
      const now = j.finishedAt ?? Date.now()
      const last: [string, Record<string, unknown>] =
        j.state === 'interrupted' || j.state === 'cancelled'
          ? [
              'execution_interrupted',
              {
                prompt_id: p.promptId,
                node_id: null,
                node_type: null,
                executed: [],
                timestamp: now
              }
            ]
          : failed
            ? [
                'execution_error',
                {
                  prompt_id: p.promptId,
                  node_id: j.error?.nodeId ?? null,
                  node_type: j.error?.nodeType ?? null,
                  executed: [],
                  exception_message: j.error?.message ?? `The job ended: ${j.state}`,
                  exception_type: 'ComfyBalancerError',
                  traceback: j.error?.details ?? [],
                  current_inputs: {},
                  current_outputs: [],
                  timestamp: now
                }
              ]
            : ['execution_success', { prompt_id: p.promptId, timestamp: now }]
      entry = {
        prompt: [p.number, p.promptId, {}, p.clientId ? { client_id: p.clientId } : {}, p.outputs],
        outputs: {},
        status: { status_str: failed ? 'error' : 'success', completed: !failed, messages: [last] },
        meta: {}
      }
    }
    this.historyCache.set(p.promptId, entry)
    while (this.historyCache.size > HISTORY_CACHE)
      this.historyCache.delete(this.historyCache.keys().next().value as string)
    return entry
  }

  /** Finished, or its server said it ended (its history is there before the job is done). */
  private inHistory(p: GatewayPrompt, j: JobRecord): boolean {
    return FINISHED_JOB_STATES.includes(j.state) || this.ended.has(j.id)
  }

  private async historyOne(promptId: string): Promise<Record<string, unknown>> {
    const p = this.ids.byPromptId(promptId)
    const e = p ? await this.entryFor(p) : null
    return e ? { [promptId]: e } : {}
  }

  /** ComfyUI's paging: `max_items` alone gives the newest; `offset` counts from the oldest. */
  private async historyList(url: URL): Promise<Record<string, unknown>> {
    const done = this.ids.all().filter((p) => {
      const j = this.job(p)
      return !p.hidden && j && this.inHistory(p, j)
    })
    const maxRaw = url.searchParams.get('max_items')
    const max = maxRaw !== null && /^\d+$/.test(maxRaw) ? Number(maxRaw) : null
    const offRaw = url.searchParams.get('offset')
    let offset = offRaw !== null && /^-?\d+$/.test(offRaw) ? Number(offRaw) : -1
    if (offset < 0 && max !== null) offset = done.length - max
    const from = Math.max(0, offset)
    const limit = Math.min(max ?? MAX_HISTORY_LIST, MAX_HISTORY_LIST)
    const page = done.slice(from, from + limit)
    const out: Record<string, unknown> = {}
    const entries: Array<Record<string, unknown> | null> = new Array(page.length).fill(null)
    let next = 0
    const worker = async () => {
      while (next < page.length) {
        const i = next++
        entries[i] = await this.entryFor(page[i]!)
      }
    }
    await Promise.all(Array.from({ length: Math.min(8, page.length) }, worker))
    page.forEach((p, i) => {
      if (entries[i]) out[p.promptId] = entries[i]
    })
    return out
  }

  // -------------------------------------------------------------- files

  /** Passes a server's answer on as it arrives, at most `max` bytes. */
  private async relay(
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

  private async view(
    url: URL,
    req: IncomingMessage,
    res: ServerResponse,
    stream: () => void
  ): Promise<void> {
    let filename = url.searchParams.get('filename') ?? ''
    let type = url.searchParams.get('type') || 'output'
    const subfolder = url.searchParams.get('subfolder') ?? ''
    const ann = /\s\[(output|input|temp)\]$/.exec(filename)
    if (ann) {
      type = ann[1]!
      filename = filename.slice(0, ann.index)
    }
    if (!url.searchParams.has('filename')) return sendText(res, 404, '404: Not Found')
    if (!filename || filename.startsWith('/') || filename.includes('..')) {
      return sendText(res, 400, '400: Bad Request')
    }
    if (!['output', 'input', 'temp'].includes(type)) return sendText(res, 400, '400: Bad Request')
    if (subfolder.split(/[\\/]/).includes('..') || path.isAbsolute(subfolder)) {
      return sendText(res, 403, '403: Forbidden')
    }
    stream()
    res.setTimeout(Math.max(30_000, this.core.settings.timeout), () => res.destroy())
    const local = type === 'input' ? this.uploads.find(type, subfolder, filename) : null
    if (local && !url.searchParams.has('preview') && !url.searchParams.has('channel')) {
      const size = fs.statSync(local).size
      res.writeHead(200, {
        'Content-Type': /\.png$/i.test(local) ? 'image/png' : 'application/octet-stream',
        'Content-Length': size,
        'Content-Disposition': `filename="${path.basename(local).replace(/"/g, '')}"`
      })
      if (req.method === 'HEAD') return void res.end()
      await pipeline(fs.createReadStream(local), res).catch(() => res.destroy())
      return
    }
    const known = this.outputIndex.get(fileKey(type, subfolder, filename))
    const order = [
      ...(known ? [known] : []),
      ...this.fleet
        .healthy()
        .map((s) => s.id)
        .filter((id) => id !== known)
    ]
    const route = `/view?${url.searchParams.toString()}`
    for (const id of order) {
      const client = this.core.serverClient(id)
      if (!client) continue
      let up: IncomingMessage
      try {
        up = await openUpstream(client, route, Math.max(30_000, this.core.settings.timeout))
      } catch {
        continue
      }
      if (up.statusCode === 404 || (up.statusCode ?? 500) >= 500) {
        up.resume()
        continue
      }
      return this.relay(up, req, res, this.opts.maxViewBytes)
    }
    sendText(res, 404, '404: Not Found')
  }

  private async viewMetadata(
    folder: string,
    url: URL,
    req: IncomingMessage,
    res: ServerResponse
  ): Promise<void> {
    const route = `/view_metadata/${encodeURIComponent(folder)}?${url.searchParams.toString()}`
    for (const s of this.fleet.healthy()) {
      const client = this.core.serverClient(s.id)
      if (!client) continue
      try {
        const up = await openUpstream(client, route, Math.max(10_000, this.core.settings.timeout))
        if (up.statusCode !== 200) {
          up.resume()
          continue
        }
        return this.relay(up, req, res, MAX_SMALL_BODY * 16)
      } catch {
        // next server
      }
    }
    sendEmpty(res, 404)
  }

  private async upload(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const type = req.headers['content-type'] ?? ''
    const body = await readBody(req, this.opts.maxUploadBytes)
    let parts
    try {
      parts = parseMultipart(body, type)
    } catch (err) {
      if (err instanceof UploadError) return sendText(res, 400, '400: Bad Request')
      throw err
    }
    const field = (n: string) =>
      parts.find((p) => p.name === n && p.filename === null)?.data.toString('utf8')
    const image = parts.find((p) => p.name === 'image' && p.filename !== null)
    if (!image || !image.filename) return sendText(res, 400, '400: Bad Request')
    const overwrite = field('overwrite')
    try {
      const stored = this.uploads.put(image.data, image.filename, {
        subfolder: field('subfolder') ?? '',
        type: field('type') || 'input',
        overwrite: overwrite === 'true' || overwrite === '1'
      })
      sendJson(res, 200, stored)
    } catch (err) {
      if (err instanceof UploadError) return sendText(res, 400, '400: Bad Request')
      throw err
    }
  }

  // -------------------------------------------------------------- WebSocket

  private upgrade(req: IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) {
    const url = new URL(req.url ?? '/', 'http://gateway.invalid')
    const refuse = (status: number) => {
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`
      )
      socket.destroy()
    }
    if (url.pathname !== '/ws' && url.pathname !== '/api/ws') return refuse(404)
    const refused = checkAccess(req, url, this.rules)
    if (refused) return refuse(refused.status)
    if (this.wss.clients.size >= this.opts.maxSockets) return refuse(503)
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const given = url.searchParams.get('clientId')
      const sid = given && given.length <= 200 ? given : randomUUID().replace(/-/g, '')
      this.sockets.set(sid, ws)
      ws.send(this.statusMessage(sid))
      let first = true
      ws.on('message', (data, isBinary) => {
        if (!first || isBinary) return
        first = false
        try {
          const msg = JSON.parse(String(data)) as { type?: unknown }
          if (msg?.type === 'feature_flags') {
            ws.send(JSON.stringify({ type: 'feature_flags', data: this.features() }))
          }
        } catch {
          // ignored, as ComfyUI does
        }
      })
      ws.on('close', () => {
        if (this.sockets.get(sid) === ws) this.sockets.delete(sid)
      })
      ws.on('error', () => ws.terminate())
    })
  }
}

/**
 * Starts the gateway on `host:port`. Refuses a non-loopback host without a token, and a core
 * without its job engine. Fails with a GatewayStartError (`port-taken` when the port is in use).
 */
export async function startGateway(
  core: BalancerCore,
  opts: GatewayOptions = {}
): Promise<Gateway> {
  const host = opts.host ?? '127.0.0.1'
  const token = opts.token ? opts.token : null
  if (!isLoopbackHost(host) && token === null) {
    throw new GatewayStartError(
      'token-required',
      `Listening on ${host} lets other machines in: set a token (--token) first.`
    )
  }
  if (!core.jobs) throw new GatewayStartError('no-jobs', 'The gateway needs the job engine')
  const dataDir =
    opts.dataDir ?? core.dataDir() ?? fs.mkdtempSync(path.join(os.tmpdir(), 'comfy-gateway-'))
  const port = opts.port ?? DEFAULT_GATEWAY_PORT
  const gw = new GatewayServer(core, host, port, token, dataDir, opts)
  let actual: number
  try {
    actual = await gw.listen(host, port)
  } catch (err) {
    await gw.close()
    throw err
  }
  const shown = host.includes(':') ? `[${host}]` : host
  return { url: `http://${shown}:${actual}`, close: () => gw.close() }
}
