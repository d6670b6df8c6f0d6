/**
 * The gateway's HTTP + WebSocket server: ComfyUI's routes on the job engine. The client's
 * prompt_id is the job's id, and its extra_data travels with the job to the server.
 */
import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import path from 'node:path'
import { FINISHED_JOB_STATES, type JobRecord } from '../../../shared/types'
import type { BalancerCore } from '../app'
import type { ServerEvent } from '../app'
import { parseApiPrompt, summarize, WorkflowError } from '../app'
import { GatewayFiles, MAX_OUTPUT_INDEX } from './files'
import { checkPrompt, FleetInfo } from './fleet'
import { errorMessage, GatewayHistory } from './history'
import {
  BadJson,
  dec,
  HttpError,
  isRecord,
  outputFiles,
  parseJson,
  readBody,
  SERVER_TROUBLE,
  sendEmpty,
  sendJson,
  sendText
} from './http'
import { PromptMap, type GatewayPrompt } from './ids'
import {
  GatewayStartError,
  MAX_JSON_BODY,
  MAX_UPLOAD_BYTES,
  MAX_VIEW_BYTES,
  type GatewayOptions
} from './options'
import { checkAccess, type AccessRules } from './security'
import { BalancerApi } from './balancer-api'
import { PreviewRelay } from './previews'
import { goesHome, proxyHome } from './proxy'
import { GatewaySockets } from './sockets'
import { GatewayQueue, smallJson } from './queue-routes'
import { UploadStore } from './uploads'

/** A prompt id a client may choose (as the job engine takes it). */
const PROMPT_ID = /^[\x21-\x7e]{1,200}$/

function promptIdRefusal(message: string, details: string) {
  return {
    error: { type: 'invalid_prompt_id', message, details, extra_info: {} },
    node_errors: {}
  }
}

export class GatewayServer {
  private readonly rules: AccessRules
  private readonly fleet: FleetInfo
  private readonly ids: PromptMap
  private readonly files: GatewayFiles
  private readonly history: GatewayHistory
  private readonly uploads: UploadStore
  private readonly server: http.Server
  private readonly sockets: GatewaySockets
  private readonly previews = new PreviewRelay()
  private readonly balancer: BalancerApi
  private readonly queueRoutes: GatewayQueue
  /** Prompt id -> the prompt and extra_data as posted (memory only, while the job is unfinished). */
  /** Prompts whose end (error, interrupt, executing null) was relayed from a server. */
  private readonly ended = new Set<string>()
  private counter = 0
  private closed = false
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
    this.files = new GatewayFiles(core, this.fleet, this.uploads, this.opts)
    this.balancer = new BalancerApi(core, {
      inputDir: this.uploads.folder('input'),
      requestTimeoutMs: this.opts.requestTimeoutMs
    })
    this.queueRoutes = new GatewayQueue(core, this.ids)
    this.history = new GatewayHistory({
      fleet: this.fleet,
      ids: this.ids,
      ended: this.ended,
      job: (id) => this.core.jobs?.get(id),
      remember: (f, serverId) => this.files.remember(f, serverId)
    })
    for (const p of this.ids.all()) this.counter = Math.max(this.counter, Math.abs(p.number) + 1)
    this.server = http.createServer((req, res) => void this.handle(req, res))
    this.server.maxConnections = this.opts.maxConnections
    this.server.headersTimeout = 20_000
    this.server.requestTimeout = this.opts.requestTimeoutMs
    this.sockets = new GatewaySockets(this.rules, this.opts.maxSockets, {
      status: (sid) => this.statusMessage(sid),
      features: () => this.features()
    })
    this.server.on('upgrade', (req, socket, head) => this.sockets.upgrade(req, socket, head))
    this.offs.push(core.onServerEvent((e) => this.onServerEvent(e)))
    this.offs.push(core.onServerBinary((e) => this.onServerBinary(e.serverId, e.frame)))
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
    this.closed = true
    for (const off of this.offs.splice(0)) off()
    this.sockets.close()
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

  private unfinished(): Array<{ p: GatewayPrompt; j: JobRecord }> {
    return this.queueRoutes.unfinished()
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
    this.sockets.broadcast(this.statusMessage())
  }

  private sendTo(clientId: string | null, msg: string): void {
    this.sockets.sendTo(clientId, msg)
  }

  private onJob(j: JobRecord): void {
    const p = this.ids.byPromptId(j.id)
    if (!p) return
    if (FINISHED_JOB_STATES.includes(j.state)) {
      this.queueRoutes.posted.delete(j.id)
      // A job that ended without its server telling (refused everywhere, given up): say so, the
      // way ComfyUI ends a prompt, so a waiting client does not wait for ever.
      if (j.state === 'failed' && !this.ended.has(j.id)) {
        this.markEnded(j.id)
        const error = errorMessage(p.promptId, j, Date.now(), 'The job failed')
        this.sendTo(p.clientId, JSON.stringify({ type: 'execution_error', data: error }))
        this.broadcastStatus()
        this.sendTo(
          p.clientId,
          JSON.stringify({ type: 'executing', data: { node: null, prompt_id: p.promptId } })
        )
        return
      }
      // Done while its server's socket was away (the end came from the server's history): the
      // client still gets the end of its prompt. Checked once the server's own events for this
      // change are relayed.
      if (j.state === 'done' && !this.ended.has(j.id)) {
        setImmediate(() => {
          if (this.ended.has(j.id) || this.closed) return
          this.markEnded(j.id)
          const data = { prompt_id: p.promptId, timestamp: Date.now() }
          this.sendTo(p.clientId, JSON.stringify({ type: 'execution_success', data }))
          this.broadcastStatus()
          this.sendTo(
            p.clientId,
            JSON.stringify({ type: 'executing', data: { node: null, prompt_id: p.promptId } })
          )
        })
      }
    }
    this.broadcastStatus()
  }

  /** The gateway prompt `id` when it is on `serverId` now (not one it was moved away from). */
  private promptOn(serverId: string, id: string): GatewayPrompt | null {
    const p = this.ids.byPromptId(id)
    if (!p) return null
    const j = this.core.jobs?.get(id)
    if (!j || (j.serverId !== serverId && j.attempts.at(-1)?.serverId !== serverId)) return null
    return p
  }

  /** A server's preview goes to the client whose prompt runs there. */
  private onServerBinary(serverId: string, frame: Buffer): void {
    const f = this.previews.frame(serverId, frame)
    if (!f) return
    const p = this.promptOn(serverId, f.promptId)
    if (p) this.sockets.sendBinaryTo(p.clientId, f.withMetadata, f.plain)
  }

  private onServerEvent({ serverId, event }: ServerEvent): void {
    this.previews.track(serverId, event)
    const id = event.data?.prompt_id
    if (typeof id !== 'string') return
    const p = this.promptOn(serverId, id)
    if (!p) return
    const type = event.type
    if (type === 'executed') {
      for (const f of outputFiles(event.data.output)) this.files.remember(f, serverId)
    }
    const end =
      type === 'execution_error' ||
      type === 'execution_interrupted' ||
      (type === 'executing' && event.data.node === null)
    if (end) this.markEnded(id)
    else if (type === 'execution_start') this.ended.delete(id)
    if (type === 'executing' && event.data.node === null) this.broadcastStatus()
    this.sendTo(p.clientId, JSON.stringify(event))
  }

  private markEnded(id: string): void {
    this.ended.delete(id)
    this.ended.add(id)
    while (this.ended.size > MAX_OUTPUT_INDEX)
      this.ended.delete(this.ended.values().next().value as string)
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
    if (this.balancer.owns(route)) return this.balancer.handle(method, route, url, req, res, stream)
    if (route === '/prompt' && get) return sendJson(res, 200, this.promptInfo())
    if (route === '/prompt' && post) return this.postPrompt(req, res)
    if (route === '/queue' && get) return sendJson(res, 200, this.queueRoutes.queue())
    if (route === '/queue' && post) return this.queueRoutes.postQueue(req, res)
    if (route === '/interrupt' && post) return this.queueRoutes.postInterrupt(req, res)
    if (route === '/history' && get) return sendJson(res, 200, await this.history.list(url))
    if (route === '/history' && post) return this.history.post(await smallJson(req), res)
    if ((m = /^\/history\/([^/]+)$/.exec(route)) && get) {
      return sendJson(res, 200, await this.history.one(dec(m[1]!)))
    }
    if (route === '/view' && get) return this.files.view(url, req, res, stream)
    if ((m = /^\/view_metadata\/([^/]+)$/.exec(route)) && get) {
      return this.files.viewMetadata(dec(m[1]!), url, req, res)
    }
    if ((route === '/upload/image' || route === '/upload/mask') && post) {
      return this.files.upload(req, res)
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
    for (const r of ['/embeddings', '/extensions']) {
      if (route === r && get) return sendJson(res, 200, (await this.fleet.stringUnion(r)) ?? [])
    }
    if (route === '/features' && get) return sendJson(res, 200, this.features())
    if (route === '/system_stats' && get) {
      const s = await this.fleet.systemStats()
      return s ? sendJson(res, 200, s) : sendText(res, 503, 'No server is available')
    }
    if (goesHome(method, route)) {
      stream()
      return proxyHome(this.core, this.fleet, url, req, res, {
        maxBodyBytes: this.opts.maxUploadBytes,
        maxAnswerBytes: this.opts.maxViewBytes,
        timeoutMs: Math.max(30_000, this.core.settings.timeout)
      })
    }
    req.resume()
    return sendText(res, 405, '405: Method Not Allowed')
  }

  private features(): Record<string, unknown> {
    return { supports_preview_metadata: true, max_upload_size: this.opts.maxUploadBytes }
  }

  private promptInfo() {
    return { exec_info: { queue_remaining: this.unfinished().length } }
  }

  private async postPrompt(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = parseJson(await readBody(req, MAX_JSON_BODY))
    if (!isRecord(body)) throw new BadJson()
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
    const given = body.prompt_id !== undefined && body.prompt_id !== null
    const promptId = given ? String(body.prompt_id) : randomUUID()
    if (given && !PROMPT_ID.test(promptId)) {
      return sendJson(
        res,
        400,
        promptIdRefusal('Invalid prompt_id', 'A prompt_id must be 1 to 200 visible characters')
      )
    }
    if (given && (engine.get(promptId) || this.ids.byPromptId(promptId))) {
      return sendJson(res, 400, this.repeated(promptId))
    }
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
    // The servers get the gateway's own client_id (set by the engine), the rest as posted.
    const extraData = isRecord(body.extra_data) ? { ...body.extra_data } : {}
    delete extraData.client_id
    let job: JobRecord
    try {
      job = engine.submit(
        {
          source: `gateway ${promptId}`.slice(0, 120),
          format: 'json',
          prompt,
          summary: summarize(prompt)
        },
        { baseDir: this.uploads.folder('input'), promptId, extraData }
      )
    } catch (err) {
      // Posted twice at the same moment: the engine keeps the first.
      if (engine.get(promptId)) return sendJson(res, 400, this.repeated(promptId))
      throw err
    }
    const number =
      typeof body.number === 'number' && Number.isFinite(body.number)
        ? body.number
        : body.front === true
          ? -this.counter++
          : this.counter++
    this.ids.add({
      promptId,
      clientId,
      number,
      outputs: checked.outputs,
      createdAt: Date.now()
    })
    this.history.forget(promptId)
    if (!FINISHED_JOB_STATES.includes(engine.get(job.id)?.state ?? 'pending')) {
      const extra = { ...extraData, ...(clientId !== null ? { client_id: clientId } : {}) }
      this.queueRoutes.posted.set(job.id, { prompt: body.prompt, extra })
    }
    sendJson(res, 200, { prompt_id: promptId, number, node_errors: {} })
    this.onJob(engine.get(job.id) ?? job)
  }

  /** The refusal of a prompt_id already used: a prompt runs once. */
  private repeated(promptId: string) {
    return promptIdRefusal(
      'prompt_id already used',
      `A prompt with the id ${promptId} was already queued; each prompt runs once. Post it with a new prompt_id.`
    )
  }
}
