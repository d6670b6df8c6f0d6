/**
 * The project's one fake ComfyUI: a real HTTP + WebSocket server on loopback that answers
 * like ComfyUI 0.3.64 (see docs/comfyui-api.md), runs prompts on a timer, and can simulate
 * faults, slow or fast GPUs, process death and restarts. Plain Node: `http`, `ws`, `pngjs`.
 */
import { randomInt, randomUUID } from 'node:crypto'
import { EventEmitter } from 'node:events'
import fs from 'node:fs'
import http, { STATUS_CODES } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { isIP } from 'node:net'
import type { AddressInfo, Socket } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import type { Duplex } from 'node:stream'
import { WebSocketServer } from 'ws'
import type { WebSocket } from 'ws'
import { Job } from './executor'
import type { JobHost, JobResult, OutputCache } from './executor'
import { heapPop, heapPush, heapify, itemLess } from './heap'
import {
  DEFAULT_MODELS,
  DEFAULT_NODE_CLASSES,
  MODEL_FOLDERS,
  buildNodeDefs,
  makeTxt2ImgPrompt,
  nodeInfo
} from './nodes'
import { makePng } from './png'
import {
  PyError,
  deepCopy,
  isDict,
  pyDumps,
  pyEquals,
  pyFloat,
  pyGetItem,
  pyIn,
  pyInt,
  pyIter,
  pyStr,
  pyTruthy
} from './pyjson'
import type {
  FakeComfyOptions,
  FakeComfyStats,
  FakeFault,
  FakeNodeDef,
  HistoryEntry,
  QueueItem
} from './types'
import { validatePrompt } from './validate'
import {
  NGINX_502,
  NGINX_504,
  NGINX_SERVER,
  corrupt,
  faultApplies,
  parseFault,
  wrongShape
} from './faults'
import { dirByType, saveFiles, saveImages, uploadImage, viewFile } from './files'
import type { Dirs, VirtualFiles } from './files'
import {
  SERVER_HEADER,
  TooLarge,
  annotated,
  compile,
  emptyReply,
  errorReply,
  isFile,
  isLoopbackHost,
  jsonReply,
  originForbidden,
  parseJson,
  readBody,
  stripExt,
  textReply
} from './wire'
import type { BodySource, Reply } from './wire'

/** `--max-upload-size` default, in bytes. */
const MAX_UPLOAD_BYTES = 100 * 1024 * 1024
/** execution.MAXIMUM_HISTORY_SIZE */
const MAX_HISTORY = 10000
/** aiohttp's default keep-alive timeout, in ms. */
const KEEP_ALIVE_MS = 75_000
/** Retries when listening again on the same port, and the pause between them, in ms. */
const RELISTEN_ATTEMPTS = 40
const RELISTEN_PAUSE_MS = 25
const INDEX_HTML =
  '<!doctype html>\n<html lang="en">\n<head><meta charset="UTF-8"><title>ComfyUI</title></head>\n<body></body>\n</html>\n'
const SENSITIVE_EXTRA_DATA_KEYS = ['auth_token_comfy_org', 'api_key_comfy_org']
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
/** A socket holding more unsent bytes than this is skipped by the 'ws-flood' fault. */
const FLOOD_BUFFER_LIMIT = 1024 * 1024
/** Chunk size when streaming a generated body, and the pacing of 'view-slow'. */
const STREAM_CHUNK = 64 * 1024
const SLOW_TICK_MS = 50
const IMAGE_EXTS = new Set(['.png', '.jpg', '.jpeg', '.webp', '.gif', '.bmp', '.tif', '.tiff'])
interface RequestContext {
  req: IncomingMessage
  query: URLSearchParams
  params: Record<string, string>
  body: () => Promise<Buffer>
}

type Handler = (ctx: RequestContext) => Reply | Promise<Reply>

interface Route {
  method: 'GET' | 'POST'
  path: string
  re: RegExp
  keys: string[]
  handler: Handler
}

/** Everything a real ComfyUI process keeps in memory (lost on death or restart). */
interface ProcessState {
  queue: QueueItem[]
  running: Map<number, QueueItem>
  taskCounter: number
  history: Map<string, HistoryEntry>
  number: number
  sockets: Map<string, WebSocket>
  socketFlags: Map<string, unknown>
  clientId: unknown
  lastNodeId: string | null
  job: Job | null
  flags: Record<string, unknown>
  modelsLoaded: boolean
  cache: OutputCache
  ramFree: number
}

/** Temp dirs of servers that were never stopped; removed when the process exits. */
const liveDirs = new Set<string>()
let exitHookInstalled = false

function trackDir(dir: string): void {
  liveDirs.add(dir)
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const d of liveDirs) fs.rmSync(d, { recursive: true, force: true })
  })
}

function jitter(n: number): number {
  return randomInt(0, Math.max(1, Math.floor(n)))
}

function checkSpeed(speed: unknown): number {
  if (typeof speed !== 'number' || !Number.isFinite(speed) || speed < 0) {
    throw new RangeError(`speed must be a finite number >= 0, got ${JSON.stringify(speed)}`)
  }
  return speed
}

export interface FakeComfyEvents {
  /** A prompt entered the queue (POST /prompt or enqueueDummy). */
  queued: [promptId: string]
  /** A prompt started running. */
  'job-start': [promptId: string]
  /** A prompt left the queue with a history entry. */
  'job-end': [promptId: string, status: 'success' | 'error']
}

/** One fake ComfyUI server process. */
export class FakeComfy extends EventEmitter<FakeComfyEvents> {
  readonly stats: FakeComfyStats = { connections: 0, requests: 0, wsConnections: 0 }
  readonly name: string
  readonly host: string
  readonly jobMs: number
  readonly legacy: boolean
  readonly version: 'current' | 'newer'
  readonly gpuName: string
  readonly vramTotal: number
  private readonly opts: FakeComfyOptions
  private readonly nodeClasses: string[]
  private readonly models: Record<string, string[]>
  private readonly routes: Route[]
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false })
  private speedValue: number
  private faultValue: FakeFault | null = null
  private server: http.Server | null = null
  private readonly sockets = new Set<Socket>()
  /** Timers owned by this server (job ticks, slow answers, the worker kick); cleared on stop/die. */
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  /** Open sockets are silent while the 'hang' fault covers /ws (see socketsHung). */
  private wsHung = false
  private wsHeld: Array<() => void> = []
  /** Requests and upgrades parked by the 'hang' fault; resumed when it clears. */
  private hung: Array<() => void> = []
  private kickTimer: ReturnType<typeof setTimeout> | null = null
  private st: ProcessState
  private portValue: number
  private started = false
  private dead = false
  private stopPromise: Promise<void> | null = null
  private baseDir: string | null = null
  private dirs: Dirs = { output: '', input: '', temp: '' }
  /** FakeSaveFile outputs; like files on disk they outlive restarts. */
  private readonly virtualFiles: VirtualFiles = new Map()
  /** How many times each prompt_id started executing, over restarts. */
  private readonly runs = new Map<string, number>()
  private floodHandle: ReturnType<typeof setImmediate> | null = null
  private floodCounter = 0

  constructor(opts: FakeComfyOptions = {}) {
    super()
    this.opts = opts
    this.host = opts.host ?? '127.0.0.1'
    if (!isLoopbackHost(this.host)) {
      throw new RangeError(
        `FakeComfy only listens on loopback, got host ${JSON.stringify(this.host)}`
      )
    }
    const port = opts.port ?? 0
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(`port must be an integer 0-65535, got ${JSON.stringify(opts.port)}`)
    }
    this.portValue = port
    this.speedValue = checkSpeed(opts.speed ?? 1)
    const jobMs = opts.jobMs ?? 100
    if (typeof jobMs !== 'number' || !Number.isFinite(jobMs) || jobMs < 0) {
      throw new RangeError(`jobMs must be a finite number >= 0, got ${JSON.stringify(opts.jobMs)}`)
    }
    this.jobMs = jobMs
    this.name = opts.name ?? 'fake-comfy'
    this.legacy = opts.legacy ?? false
    this.version = opts.version ?? 'current'
    if (this.version !== 'current' && this.version !== 'newer') {
      throw new RangeError(
        `version must be 'current' or 'newer', got ${JSON.stringify(opts.version)}`
      )
    }
    this.gpuName = opts.gpuName ?? 'NVIDIA GeForce RTX 4090'
    this.vramTotal = opts.vramTotal ?? 25386352640
    this.nodeClasses = [...(opts.nodeClasses ?? DEFAULT_NODE_CLASSES)]
    this.models = { ...DEFAULT_MODELS }
    for (const [k, v] of Object.entries(opts.models ?? {})) this.models[k] = [...v]
    this.st = this.newState()
    this.routes = this.buildRoutes()
  }

  // ---------------------------------------------------------------- public API

  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  get url(): string {
    const h = isIP(this.host) === 6 ? `[${this.host}]` : this.host
    return `http://${h}:${this.portValue}`
  }

  get port(): number {
    return this.portValue
  }

  get speed(): number {
    return this.speedValue
  }

  get fault(): FakeFault | null {
    return this.faultValue
  }

  /** True between start() and stop(), while not dead and not refusing. */
  get listening(): boolean {
    return this.server !== null && this.server.listening
  }

  get isDead(): boolean {
    return this.dead
  }

  get outputDir(): string {
    return this.dirs.output
  }

  get inputDir(): string {
    return this.dirs.input
  }

  get tempDir(): string {
    return this.dirs.temp
  }

  /** Listens (once); resolves the base URL. After die(), use restart() to come back. */
  async start(): Promise<string> {
    if (this.stopPromise) throw new Error('FakeComfy was stopped; create a new instance')
    if (this.started) return this.url
    this.started = true
    try {
      this.setupDirs()
      await this.listen(this.portValue)
    } catch (e) {
      this.started = false
      this.removeDirs()
      throw e
    }
    if (this.faultValue?.kind === 'refuse') await this.unlisten()
    if (this.faultValue?.kind === 'ws-flood') this.startFlood()
    return this.url
  }

  /** Closes every socket, timer and the listener; removes its own temp dirs. Idempotent. */
  stop(): Promise<void> {
    if (this.stopPromise) return this.stopPromise
    this.stopPromise = (async () => {
      this.stopFlood()
      this.st.job?.cancel()
      this.clearTimers()
      this.hung = []
      await this.unlisten()
      for (const ws of this.wss.clients) ws.terminate()
      await new Promise<void>((resolve) => this.wss.close(() => resolve()))
      this.removeDirs()
    })()
    return this.stopPromise
  }

  setSpeed(speed: number): void {
    const s = checkSpeed(speed)
    this.st.job?.accrue()
    this.speedValue = s
    this.st.job?.reschedule()
  }

  /**
   * Sets (or with null clears) the fault. 'refuse' closes the listener and drops every
   * connection; clearing it listens again on the same port (await the result for that).
   * Clearing 'hang' resumes the parked requests.
   */
  setFault(fault: FakeFault | null): Promise<void> {
    const next = parseFault(fault)
    const prev = this.faultValue
    this.faultValue = next
    if (!this.started || this.stopPromise || this.dead) return Promise.resolve()
    if (next?.kind === 'ws-flood') this.startFlood()
    else this.stopFlood()
    if (prev?.kind === 'hang' && next?.kind !== 'hang') {
      const parked = this.hung
      this.hung = []
      this.socketsHung(false)
      for (const resume of parked) resume()
    } else if (next?.kind === 'hang' && faultApplies(next, '/ws')) {
      this.socketsHung(true)
    }
    if (next?.kind === 'refuse' && prev?.kind !== 'refuse') return this.unlisten()
    if (next?.kind !== 'refuse' && prev?.kind === 'refuse') {
      // Never rejects: callers often do not await. If the port stays taken, `listening` is false.
      return this.relisten().catch(() => undefined)
    }
    return Promise.resolve()
  }

  /** Process death: every socket destroyed, no listener, the running job and queue lost. */
  async die(): Promise<void> {
    if (!this.started || this.stopPromise || this.dead) return
    this.dead = true
    this.stopFlood()
    this.st.job?.cancel()
    this.clearTimers()
    this.hung = []
    this.st = this.newState()
    await this.unlisten()
  }

  /** Comes back on the same port with empty queue and history, number 0, no fault. */
  async restart(): Promise<void> {
    if (!this.started || this.stopPromise) throw new Error('FakeComfy is not running')
    this.stopFlood()
    if (!this.dead) {
      this.st.job?.cancel()
      this.clearTimers()
      this.hung = []
      await this.unlisten()
    }
    this.faultValue = null
    this.st = this.newState()
    this.cleanTempDir()
    this.dead = false
    await this.relisten()
  }

  /** Adds n pending prompts from "another user" (no client_id). */
  enqueueDummy(n: number, cost?: number): void {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be an integer >= 0, got ${n}`)
    if (cost !== undefined && (typeof cost !== 'number' || !(cost > 0))) {
      throw new RangeError(`cost must be a number > 0, got ${JSON.stringify(cost)}`)
    }
    const ckpt = this.models.checkpoints?.[0] ?? 'v1-5-pruned-emaonly.safetensors'
    for (let i = 0; i < n; i++) {
      const number = this.st.number++
      const extra: Record<string, unknown> = cost === undefined ? {} : { fake_cost: cost }
      const prompt = makeTxt2ImgPrompt({ seed: randomInt(0, 2 ** 47), ckpt, steps: 8 })
      this.put([number, randomUUID(), prompt, extra, ['9']])
    }
  }

  /** Prompt ids running and pending (pending in execution order). */
  queueSnapshot(): { running: string[]; pending: string[] } {
    return {
      running: [...this.st.running.values()].map((i) => i[1]),
      pending: [...this.st.queue].sort((a, b) => (itemLess(a, b) ? -1 : 1)).map((i) => i[1])
    }
  }

  /** History prompt ids, oldest first. */
  historyIds(): string[] {
    return [...this.st.history.keys()]
  }

  /** A copy of one history entry. */
  historyEntry(promptId: string): HistoryEntry | undefined {
    const e = this.st.history.get(promptId)
    return e ? deepCopy(e) : undefined
  }

  /** How many times this prompt_id started executing (0 if never), counted over restarts. */
  executionCount(promptId: string): number {
    return this.runs.get(promptId) ?? 0
  }

  /** prompt_id -> how many times it started executing, over restarts. */
  executionCounts(): Record<string, number> {
    return Object.fromEntries(this.runs)
  }

  /** Socket ids (clientIds) currently registered for messages. */
  clientIds(): string[] {
    return [...this.st.sockets.keys()]
  }

  /** Resolves once nothing is running or pending. */
  waitForIdle(timeoutMs = 10_000): Promise<void> {
    const idle = (): boolean => this.st.job === null && this.st.queue.length === 0
    if (idle()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const done = (): void => {
        if (!idle()) return
        clearTimeout(timer)
        this.off('job-end', done)
        resolve()
      }
      const timer = setTimeout(() => {
        this.off('job-end', done)
        reject(new Error(`FakeComfy ${this.name}: not idle after ${timeoutMs} ms`))
      }, timeoutMs)
      timer.unref?.()
      this.on('job-end', done)
    })
  }

  // ---------------------------------------------------------------- process state

  private newState(): ProcessState {
    return {
      queue: [],
      running: new Map(),
      taskCounter: 0,
      history: new Map(),
      number: 0,
      sockets: new Map(),
      socketFlags: new Map(),
      clientId: null,
      lastNodeId: null,
      job: null,
      flags: {},
      modelsLoaded: false,
      cache: new Map(),
      ramFree: 38_000_000_000 + jitter(12_000_000_000)
    }
  }

  private setupDirs(): void {
    this.baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'comfy-fake-'))
    trackDir(this.baseDir)
    this.dirs = {
      output: path.resolve(this.opts.outputDir ?? path.join(this.baseDir, 'output')),
      input: path.resolve(this.opts.inputDir ?? path.join(this.baseDir, 'input')),
      temp: path.join(this.baseDir, 'temp')
    }
    for (const d of Object.values(this.dirs)) fs.mkdirSync(d, { recursive: true })
  }

  private removeDirs(): void {
    if (this.baseDir) {
      fs.rmSync(this.baseDir, { recursive: true, force: true })
      liveDirs.delete(this.baseDir)
    }
    this.baseDir = null
  }

  /** ComfyUI empties its temp directory at startup. */
  private cleanTempDir(): void {
    if (!this.dirs.temp) return
    fs.rmSync(this.dirs.temp, { recursive: true, force: true })
    fs.mkdirSync(this.dirs.temp, { recursive: true })
  }

  private defs(): Record<string, FakeNodeDef> {
    return buildNodeDefs(
      this.nodeClasses,
      {
        models: this.models,
        inputFiles: () => this.inputFiles(),
        inputExists: (name) => {
          const [file, type] = annotated(name)
          const dir = dirByType(this.dirs, type ?? 'input')
          return dir !== null && file !== '' && isFile(path.join(dir, file))
        }
      },
      this.opts.customNodes
    )
  }

  private inputFiles(): string[] {
    try {
      return fs
        .readdirSync(this.dirs.input, { withFileTypes: true })
        .filter((d) => d.isFile() && IMAGE_EXTS.has(path.extname(d.name).toLowerCase()))
        .map((d) => d.name)
    } catch {
      return []
    }
  }

  private modelFolders(): string[] {
    const extra = Object.keys(this.models).filter((k) => !MODEL_FOLDERS.includes(k))
    return [...MODEL_FOLDERS, ...extra]
  }

  // ---------------------------------------------------------------- timers

  private later(ms: number, fn: () => void): ReturnType<typeof setTimeout> {
    const t = setTimeout(() => {
      this.timers.delete(t)
      fn()
    }, ms)
    t.unref?.()
    this.timers.add(t)
    return t
  }

  private cancelTimer(t: ReturnType<typeof setTimeout>): void {
    clearTimeout(t)
    this.timers.delete(t)
  }

  private clearTimers(): void {
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    this.kickTimer = null
  }

  // ---------------------------------------------------------------- listener

  private listen(port: number): Promise<void> {
    const srv = http.createServer((req, res) => this.onRequest(req, res))
    srv.keepAliveTimeout = KEEP_ALIVE_MS
    srv.on('connection', (socket: Socket) => {
      this.stats.connections++
      this.sockets.add(socket)
      socket.once('close', () => this.sockets.delete(socket))
    })
    srv.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.onUpgrade(req, socket, head)
    )
    srv.on('clientError', (_err, socket: Duplex) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')
      else socket.destroy()
    })
    this.server = srv
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => {
        srv.off('listening', onListening)
        if (this.server === srv) this.server = null
        reject(e)
      }
      const onListening = (): void => {
        srv.off('error', onError)
        this.portValue = (srv.address() as AddressInfo).port
        resolve()
      }
      srv.once('error', onError)
      srv.once('listening', onListening)
      srv.listen(port, this.host)
    })
  }

  /** Listens again on the same port, retrying briefly if the port is still held. */
  private async relisten(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (this.stopPromise || this.dead || this.faultValue?.kind === 'refuse') return
      if (this.server) return
      try {
        await this.listen(this.portValue)
        return
      } catch (e) {
        if (attempt >= RELISTEN_ATTEMPTS) throw e
        await new Promise<void>((r) => setTimeout(r, RELISTEN_PAUSE_MS).unref?.())
      }
    }
  }

  /** Stops listening and destroys every connection (HTTP, keep-alive, WebSocket, parked). */
  private unlisten(): Promise<void> {
    const srv = this.server
    this.server = null
    this.hung = []
    const closed = srv
      ? new Promise<void>((resolve) => srv.close(() => resolve()))
      : Promise.resolve()
    for (const s of this.sockets) s.destroy()
    this.sockets.clear()
    for (const ws of this.wss.clients) ws.terminate()
    return closed
  }

  // ---------------------------------------------------------------- HTTP

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    this.stats.requests++
    const raw = req.url ?? '/'
    const qi = raw.indexOf('?')
    let pathname = qi < 0 ? raw : raw.slice(0, qi)
    try {
      pathname = decodeURIComponent(pathname)
    } catch {
      // keep it raw, like yarl does with bad escapes
    }
    const query = new URLSearchParams(qi < 0 ? '' : raw.slice(qi + 1))
    if (pathname.startsWith('/__fake/')) {
      void this.control(req, res, pathname)
      return
    }
    const fault = this.faultValue
    if (fault?.kind === 'hang' && faultApplies(fault, pathname)) {
      this.hung.push(() => void this.serve(req, res, pathname, query))
      return
    }
    if (fault?.kind === 'slow' && faultApplies(fault, pathname)) {
      this.later(fault.delayMs, () => void this.serve(req, res, pathname, query))
      return
    }
    void this.serve(req, res, pathname, query)
  }

  private write(
    req: IncomingMessage,
    res: ServerResponse,
    r: Reply,
    bytesPerSec: number | null = null
  ): void {
    if (res.headersSent || res.destroyed || res.writableEnded) return
    const body = typeof r.body === 'string' ? Buffer.from(r.body) : (r.body ?? Buffer.alloc(0))
    const source: BodySource | null =
      r.source ??
      (bytesPerSec === null ? null : { size: body.length, read: (o, n) => body.subarray(o, o + n) })
    res.statusCode = r.status
    res.setHeader('Server', SERVER_HEADER)
    for (const [k, v] of Object.entries(r.headers ?? {})) res.setHeader(k, v)
    const cors = this.opts.corsOrigin
    if (cors !== undefined && !(req.url ?? '').startsWith('/__fake/')) {
      res.setHeader('Access-Control-Allow-Origin', cors || '*')
      res.setHeader('Access-Control-Allow-Methods', 'POST, GET, DELETE, PUT, OPTIONS')
      res.setHeader('Access-Control-Allow-Headers', 'Content-Type, Authorization')
      res.setHeader('Access-Control-Allow-Credentials', 'true')
    }
    if (source === null) {
      res.setHeader('Content-Length', body.length)
      res.end(req.method === 'HEAD' ? undefined : body)
      return
    }
    res.setHeader('Content-Length', source.size)
    if (req.method === 'HEAD') {
      res.end()
      return
    }
    this.stream(res, source, bytesPerSec)
  }

  /** Sends a body piece by piece, waiting for 'drain'; paced to `bytesPerSec` when given. */
  private stream(res: ServerResponse, source: BodySource, bytesPerSec: number | null): void {
    let offset = 0
    const chunk =
      bytesPerSec === null
        ? STREAM_CHUNK
        : Math.max(1, Math.min(STREAM_CHUNK, Math.round((bytesPerSec * SLOW_TICK_MS) / 1000)))
    const pause = bytesPerSec === null ? 0 : Math.max(1, Math.round((chunk * 1000) / bytesPerSec))
    const next = (): void => {
      while (!res.destroyed && !res.writableEnded) {
        if (offset >= source.size) {
          res.end()
          return
        }
        const n = Math.min(chunk, source.size - offset)
        const ok = res.write(source.read(offset, n))
        offset += n
        if (pause > 0) {
          this.later(pause, next)
          return
        }
        if (!ok) {
          res.once('drain', next)
          return
        }
      }
    }
    next()
  }

  /** `/x` and `/api/x` (not in legacy mode) resolve to the same route. */
  private routePath(pathname: string): string | null {
    if (pathname === '/api' || pathname.startsWith('/api/')) {
      return this.legacy ? null : pathname.slice(4)
    }
    return pathname
  }

  private async serve(
    req: IncomingMessage,
    res: ServerResponse,
    pathname: string,
    query: URLSearchParams
  ): Promise<void> {
    if (res.destroyed) return
    const cors = this.opts.corsOrigin
    if (cors === undefined && originForbidden(req)) {
      this.write(req, res, emptyReply(403))
      return
    }
    if (cors !== undefined && req.method === 'OPTIONS') {
      this.write(req, res, emptyReply(200))
      return
    }
    const fault = this.faultValue
    const applies = fault !== null && faultApplies(fault, pathname)
    const routePath = this.routePath(pathname)
    if (fault?.kind === 'status' && applies) {
      this.write(req, res, errorReply(fault.status))
      return
    }
    if (fault?.kind === 'html-502' && applies) {
      this.write(req, res, {
        status: 502,
        headers: { 'Content-Type': 'text/html', Server: NGINX_SERVER },
        body: NGINX_502
      })
      return
    }
    if (fault?.kind === 'redirect' && applies) {
      this.write(req, res, this.redirectReply(fault.status, fault.to, req.url ?? '/'))
      return
    }
    if (fault?.kind === 'view-status' && routePath === '/view') {
      this.write(req, res, errorReply(fault.status))
      return
    }
    if (fault?.kind === 'gateway-timeout' && routePath === '/prompt' && req.method === 'POST') {
      await this.gatewayTimeout(req, res, fault.delayMs ?? 0, fault.queueAfterMs ?? 0)
      return
    }
    const readOnly = req.method === 'GET' || req.method === 'HEAD'
    if ((fault?.kind === 'invalid-json' || fault?.kind === 'wrong-shape') && applies) {
      const real = readOnly ? await this.dispatch(req, routePath, query) : null
      this.write(
        req,
        res,
        fault.kind === 'invalid-json' ? corrupt(real) : wrongShape(fault, real, routePath)
      )
      return
    }
    const reply = await this.dispatch(req, routePath, query)
    if (fault?.kind === 'view-slow' && routePath === '/view' && reply.status === 200) {
      this.write(req, res, reply, fault.bytesPerSec)
      return
    }
    this.write(req, res, reply)
  }

  /** `status` with `Location: <to><path and query as requested>`, aiohttp's text body. */
  private redirectReply(status: number, to: string, rawUrl: string): Reply {
    const r = errorReply(status)
    r.headers = { ...r.headers, Location: to + rawUrl }
    return r
  }

  /** The 'gateway-timeout' fault: the prompt is queued, the answer is nginx's 504. */
  private async gatewayTimeout(
    req: IncomingMessage,
    res: ServerResponse,
    delayMs: number,
    queueAfterMs: number
  ): Promise<void> {
    let body: Buffer | null = null
    try {
      body = await readBody(req, MAX_UPLOAD_BYTES)
    } catch {
      body = null
    }
    const submit = (): void => {
      if (body === null) return
      try {
        this.postPrompt(body)
      } catch (e) {
        if (!(e instanceof PyError)) console.error('[fake-comfy] handler failed:', e)
      }
    }
    if (queueAfterMs > 0) this.later(queueAfterMs, submit)
    else submit()
    this.later(delayMs, () =>
      this.write(req, res, {
        status: 504,
        headers: { 'Content-Type': 'text/html', Server: NGINX_SERVER },
        body: NGINX_504
      })
    )
  }

  private async dispatch(
    req: IncomingMessage,
    routePath: string | null,
    query: URLSearchParams
  ): Promise<Reply> {
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET')
    const allowed = new Set<string>()
    let bodyPromise: Promise<Buffer> | null = null
    const body = (): Promise<Buffer> => (bodyPromise ??= readBody(req, MAX_UPLOAD_BYTES))
    if (routePath !== null && routePath !== '') {
      for (const r of this.routes) {
        const m = r.re.exec(routePath)
        if (!m) continue
        if (r.method !== method) {
          allowed.add(r.method)
          continue
        }
        const params: Record<string, string> = {}
        r.keys.forEach((k, i) => (params[k] = m[i + 1] ?? ''))
        try {
          return await r.handler({ req, query, params, body })
        } catch (e) {
          if (e instanceof TooLarge) {
            return textReply(
              413,
              `Maximum request body size ${MAX_UPLOAD_BYTES} exceeded, actual body size ${e.size}`
            )
          }
          // A PyError is what the real server raises too; anything else is a bug in the fake.
          if (!(e instanceof PyError)) console.error('[fake-comfy] handler failed:', e)
          return errorReply(500)
        }
      }
    }
    // Unmatched paths fall through to the static route at '/', which only knows GET/HEAD.
    if (method === 'GET') return errorReply(404)
    const reply = errorReply(405)
    reply.headers = { ...reply.headers, Allow: [...allowed, 'GET', 'HEAD'].join(',') }
    return reply
  }

  private buildRoutes(): Route[] {
    const routes: Route[] = []
    const add = (method: 'GET' | 'POST', p: string, handler: Handler): void => {
      routes.push({ method, path: p, handler, ...compile(p) })
    }
    add('GET', '/ws', (ctx) =>
      textReply(
        400,
        `No WebSocket UPGRADE hdr: ${ctx.req.headers.upgrade ?? 'None'}\n Can "Upgrade" only to "WebSocket".`
      )
    )
    add('GET', '/', () => ({
      status: 200,
      headers: { 'Content-Type': 'text/html', 'Cache-Control': 'no-cache' },
      body: INDEX_HTML
    }))
    add('GET', '/embeddings', () =>
      jsonReply((this.models.embeddings ?? []).map((f) => stripExt(f)))
    )
    add('GET', '/models', () => jsonReply(this.modelFolders()))
    add('GET', '/models/{folder}', (ctx) => {
      const folder = ctx.params.folder ?? ''
      if (!this.modelFolders().includes(folder)) return emptyReply(404)
      return jsonReply([...(this.models[folder] ?? [])].sort())
    })
    add('GET', '/extensions', () => jsonReply([]))
    add('POST', '/upload/image', async (ctx) =>
      uploadImage(this.dirs, await ctx.body(), ctx.req.headers['content-type'], false)
    )
    add('POST', '/upload/mask', async (ctx) =>
      uploadImage(this.dirs, await ctx.body(), ctx.req.headers['content-type'], true)
    )
    add('GET', '/view', (ctx) => viewFile(this.dirs, ctx.query, this.virtualFiles))
    add('GET', '/view_metadata/{folder_name}', () => emptyReply(404))
    add('GET', '/system_stats', () => jsonReply(this.systemStats()))
    if (!this.legacy) add('GET', '/features', () => jsonReply(this.features()))
    add('GET', '/prompt', () => jsonReply(this.queueInfo()))
    add('GET', '/object_info', () => {
      const out = new Map<string, unknown>()
      for (const [name, def] of Object.entries(this.defs())) out.set(name, nodeInfo(name, def))
      return jsonReply(out)
    })
    add('GET', '/object_info/{node_class}', (ctx) => {
      const cls = ctx.params.node_class ?? ''
      const defs = this.defs()
      const def = Object.hasOwn(defs, cls) ? defs[cls] : undefined
      return jsonReply(def ? { [cls]: nodeInfo(cls, def) } : {})
    })
    add('GET', '/history', (ctx) => {
      const mi = ctx.query.get('max_items')
      const off = ctx.query.get('offset')
      return jsonReply(
        this.getHistory(mi === null ? null : pyInt(mi), off === null ? -1 : pyInt(off))
      )
    })
    add('GET', '/history/{prompt_id}', (ctx) => {
      const id = ctx.params.prompt_id ?? ''
      const entry = this.st.history.get(id)
      return jsonReply(entry ? new Map([[id, entry]]) : {})
    })
    add('GET', '/queue', () =>
      jsonReply({
        queue_running: [...this.st.running.values()],
        queue_pending: [...this.st.queue]
      })
    )
    add('POST', '/prompt', async (ctx) => this.postPrompt(await ctx.body()))
    add('POST', '/queue', async (ctx) => {
      const data = parseJson(await ctx.body())
      if (pyIn('clear', data) && pyTruthy(pyGetItem(data, 'clear'))) this.wipeQueue()
      if (pyIn('delete', data)) {
        for (const id of pyIter(pyGetItem(data, 'delete'))) {
          this.deleteQueueItem((item) => pyEquals(item[1], id))
        }
      }
      return emptyReply()
    })
    add('POST', '/interrupt', async (ctx) => {
      let data: unknown
      try {
        data = JSON.parse((await ctx.body()).toString('utf8'))
      } catch (e) {
        if (e instanceof TooLarge) throw e
        data = {}
      }
      if (!isDict(data)) throw new PyError('AttributeError', "object has no attribute 'get'")
      const promptId = data.prompt_id
      if (pyTruthy(promptId)) {
        const running = [...this.st.running.values()].some((i) => pyEquals(i[1], promptId))
        if (running) this.st.job?.interrupt()
      } else {
        this.st.job?.interrupt()
      }
      return emptyReply()
    })
    add('POST', '/free', async (ctx) => {
      const data = parseJson(await ctx.body())
      if (!isDict(data)) throw new PyError('AttributeError', "object has no attribute 'get'")
      const unload = data.unload_models ?? false
      const free = data.free_memory ?? false
      if (pyTruthy(unload)) this.st.flags.unload_models = unload
      if (pyTruthy(free)) this.st.flags.free_memory = free
      // An idle worker wakes up on set_flag and handles the flags at once.
      if (this.st.job === null) this.handleFlags()
      return emptyReply()
    })
    add('POST', '/history', async (ctx) => {
      const data = parseJson(await ctx.body())
      if (pyIn('clear', data) && pyTruthy(pyGetItem(data, 'clear'))) this.st.history = new Map()
      if (pyIn('delete', data)) {
        for (const id of pyIter(pyGetItem(data, 'delete'))) {
          if (typeof id === 'string') this.st.history.delete(id)
        }
      }
      return emptyReply()
    })
    return routes
  }

  // ---------------------------------------------------------------- routes

  private queueInfo(): { exec_info: { queue_remaining: number } } {
    return { exec_info: { queue_remaining: this.st.queue.length + this.st.running.size } }
  }

  private features(): Record<string, unknown> {
    const f: Record<string, unknown> = {
      supports_preview_metadata: true,
      max_upload_size: MAX_UPLOAD_BYTES
    }
    if (this.version === 'newer') {
      f.supports_model_type_tags = true
      f.extension = { manager: { supports_v4: true } }
      f.node_replacements = true
      f.assets = false
    }
    return f
  }

  private systemStats(): Record<string, unknown> {
    const st = this.st
    const busy = st.job !== null
    const modelBytes = st.modelsLoaded ? 6_938_041_344 : 0
    const workBytes = busy ? 2_147_483_648 + jitter(268_435_456) : 0
    const vramFree = Math.max(0, this.vramTotal - 367_001_600 - modelBytes - workBytes)
    const system: Record<string, unknown> = {
      os: this.version === 'newer' ? 'linux' : 'posix',
      ram_total: 67_327_623_168,
      ram_free: st.ramFree - (busy ? 1_800_000_000 : 0) + jitter(64_000_000),
      comfyui_version: this.version === 'newer' ? '0.38.1' : '0.3.64',
      required_frontend_version: this.version === 'newer' ? '1.41.4' : '1.27.10',
      installed_templates_version: this.version === 'newer' ? '0.8.4' : '0.1.95',
      required_templates_version: this.version === 'newer' ? '0.8.4' : '0.1.95',
      python_version: '3.12.3 (main, Aug 14 2025, 17:47:21) [GCC 13.3.0]',
      pytorch_version: this.version === 'newer' ? '2.10.0+cu130' : '2.8.0+cu128',
      embedded_python: false,
      argv: ['main.py', '--listen', this.host, '--port', String(this.portValue)]
    }
    if (this.legacy) {
      // Servers from before the /api aliasing reported no version fields.
      delete system.comfyui_version
      delete system.required_frontend_version
      delete system.installed_templates_version
      delete system.required_templates_version
    }
    if (this.version === 'newer') {
      system.comfy_package_versions = {
        'comfyui-frontend-package': '1.41.4',
        'comfyui-workflow-templates': '0.8.4',
        'comfyui-embedded-docs': '0.3.1'
      }
      system.deploy_environment = 'local-git'
    }
    const label = this.opts.name ? `${this.gpuName} (${this.name})` : this.gpuName
    return {
      system,
      devices: [
        {
          name: `cuda:0 ${label} : cudaMallocAsync`,
          type: 'cuda',
          index: 0,
          vram_total: this.vramTotal,
          vram_free: vramFree,
          torch_vram_total: modelBytes + workBytes,
          torch_vram_free: st.modelsLoaded ? 402_653_184 + jitter(33_554_432) : 0
        }
      ]
    }
  }

  private postPrompt(body: Buffer): Reply {
    const data = parseJson(body)
    const st = this.st
    let number: number
    if (pyIn('number', data)) {
      number = pyFloat(pyGetItem(data, 'number'))
    } else {
      number = st.number
      if (pyIn('front', data) && pyTruthy(pyGetItem(data, 'front'))) number = -number
      st.number += 1
    }
    if (!pyIn('prompt', data)) {
      const error = {
        type: 'no_prompt',
        message: 'No prompt provided',
        details: 'No prompt provided',
        extra_info: {}
      }
      return jsonReply({ error, node_errors: {} }, 400)
    }
    const prompt = pyGetItem(data, 'prompt')
    const hasId = pyIn('prompt_id', data)
    const promptId = hasId ? pyStr(pyGetItem(data, 'prompt_id')) : randomUUID()
    if (this.version === 'newer' && hasId && !UUID_RE.test(promptId)) {
      const error = {
        type: 'invalid_prompt_id',
        message: 'prompt_id must be a valid UUID',
        details: `Invalid prompt_id: ${promptId}`,
        extra_info: {}
      }
      return jsonReply({ error, node_errors: {} }, 400)
    }
    const partial = pyIn('partial_execution_targets', data)
      ? pyGetItem(data, 'partial_execution_targets')
      : null
    const valid = validatePrompt(prompt, partial, this.defs(), { version: this.version })
    const extra = pyIn('extra_data', data) ? pyGetItem(data, 'extra_data') : {}
    if (!isDict(extra)) {
      throw new PyError('TypeError', "'extra_data' is not a dict")
    }
    if (pyIn('client_id', data)) extra.client_id = pyGetItem(data, 'client_id')
    if (!valid.ok) return jsonReply({ error: valid.error, node_errors: valid.nodeErrors }, 400)
    if (this.version === 'newer') extra.create_time = Date.now()
    this.put([number, promptId, prompt as Record<string, unknown>, extra, valid.outputs])
    return jsonReply({ prompt_id: promptId, number, node_errors: valid.nodeErrors })
  }

  private getHistory(maxItems: number | null, offset: number): Map<string, HistoryEntry> {
    const out = new Map<string, HistoryEntry>()
    let i = 0
    if (offset < 0 && maxItems !== null) offset = this.st.history.size - maxItems
    for (const [k, v] of this.st.history) {
      if (i >= offset) {
        out.set(k, v)
        if (maxItems !== null && out.size >= maxItems) break
      }
      i++
    }
    return out
  }

  // ---------------------------------------------------------------- queue and worker

  private broadcastStatus(): void {
    this.send('status', { status: this.queueInfo() }, null)
  }

  private put(item: QueueItem): void {
    heapPush(this.st.queue, item)
    this.broadcastStatus()
    this.emit('queued', item[1])
    this.kick()
  }

  private wipeQueue(): void {
    this.st.queue = []
    this.broadcastStatus()
  }

  private deleteQueueItem(match: (item: QueueItem) => boolean): boolean {
    const q = this.st.queue
    const x = q.findIndex(match)
    if (x < 0) return false
    if (q.length === 1) this.wipeQueue()
    else {
      q.splice(x, 1)
      heapify(q)
    }
    this.broadcastStatus()
    return true
  }

  /** Wakes the worker (on the next timer turn, so the HTTP answer usually goes out first). */
  private kick(): void {
    if (this.kickTimer || this.st.job || this.st.queue.length === 0 || this.dead) return
    this.kickTimer = this.later(0, () => {
      this.kickTimer = null
      this.runNext()
    })
  }

  private runNext(): void {
    const st = this.st
    if (st.job || this.dead || this.stopPromise) return
    const item = heapPop(st.queue)
    if (!item) return
    const itemId = st.taskCounter++
    st.running.set(itemId, deepCopy(item))
    this.broadcastStatus()
    st.modelsLoaded = true
    const job = new Job(
      this.jobHost(st),
      item,
      this.defs(),
      this.opts.cache ? st.cache : null,
      (r) => this.jobDone(st, itemId, item[1], r)
    )
    st.job = job
    st.clientId = job.clientId
    this.runs.set(item[1], (this.runs.get(item[1]) ?? 0) + 1)
    this.emit('job-start', item[1])
    job.start()
  }

  private jobHost(st: ProcessState): JobHost {
    return {
      jobMs: this.jobMs,
      previews: this.opts.previews ?? false,
      progressState: !this.legacy,
      speed: () => this.speedValue,
      now: () => Date.now(),
      setTimer: (ms, fn) => this.later(ms, fn),
      clearTimer: (t) => this.cancelTimer(t as ReturnType<typeof setTimeout>),
      send: (event, data, sid) => this.send(event, data, sid),
      sendBinary: (data, sid) => this.sendBinary(data, sid),
      supportsPreviewMetadata: (sid) => {
        const flags = typeof sid === 'string' ? st.socketFlags.get(sid) : undefined
        return isDict(flags) && flags.supports_preview_metadata === true
      },
      setLastNodeId: (id) => (st.lastNodeId = id),
      saveImages: (req) => saveImages(this.dirs, req),
      saveFiles: (req) => saveFiles(this.dirs, this.virtualFiles, req),
      previewPng: (seed, step) => makePng({ width: 16, height: 16, seed: seed + step }),
      onOutOfMemory: () => (st.modelsLoaded = false)
    }
  }

  private jobDone(st: ProcessState, itemId: number, promptId: string, r: JobResult): void {
    if (st !== this.st) return
    st.job = null
    const item = st.running.get(itemId)
    st.running.delete(itemId)
    if (!item) return
    if (st.history.size > MAX_HISTORY) {
      const oldest = st.history.keys().next()
      if (!oldest.done) st.history.delete(oldest.value)
    }
    for (const k of SENSITIVE_EXTRA_DATA_KEYS) delete item[3][k]
    const status = r.success ? 'success' : 'error'
    // 'no-history': as if someone cleared the history the moment the entry was written.
    if (this.faultValue?.kind === 'no-history') st.history.delete(item[1])
    else {
      st.history.set(item[1], {
        prompt: item,
        outputs: r.outputs,
        status: { status_str: status, completed: r.success, messages: r.messages },
        meta: r.meta
      })
    }
    if (this.opts.cache) st.cache = r.cache
    this.broadcastStatus()
    if (st.clientId !== null)
      this.send('executing', { node: null, prompt_id: promptId }, st.clientId)
    this.handleFlags()
    this.emit('job-end', promptId, status)
    this.kick()
  }

  /** The worker's between-prompts step: /free's flags. */
  private handleFlags(): void {
    const flags = this.st.flags
    this.st.flags = {}
    const free = flags.free_memory ?? false
    if (pyTruthy(flags.unload_models ?? free)) this.st.modelsLoaded = false
    if (pyTruthy(free)) this.st.cache = new Map()
  }

  // ---------------------------------------------------------------- WebSocket

  /**
   * A hung server (its event loop stuck) reads and sends nothing on its open sockets either:
   * pings go unanswered (no pong), events wait. Resumed when the fault clears.
   */
  private socketsHung(hung: boolean): void {
    this.wsHung = hung
    for (const ws of this.wss.clients) {
      const raw = (ws as unknown as { _socket?: Duplex })._socket
      if (hung) raw?.pause()
      else raw?.resume()
    }
    if (!hung) {
      const held = this.wsHeld
      this.wsHeld = []
      for (const send of held) send()
    }
  }

  /** An event of a hung server goes out when it is back (the oldest are kept, bounded). */
  private holdWhileHung(send: () => void): void {
    if (this.wsHeld.length < 10_000) this.wsHeld.push(send)
  }

  private send(event: string, data: unknown, sid: unknown): void {
    if (this.wsHung) return this.holdWhileHung(() => this.send(event, data, sid))
    const msg = pyDumps({ type: event, data })
    const sockets = this.st.sockets
    if (sid === null || sid === undefined) {
      for (const ws of [...sockets.values()]) safeSend(ws, msg)
    } else if (typeof sid === 'string') {
      const ws = sockets.get(sid)
      if (ws) safeSend(ws, msg)
    }
  }

  private sendBinary(data: Buffer, sid: unknown): void {
    if (this.wsHung) return this.holdWhileHung(() => this.sendBinary(data, sid))
    const sockets = this.st.sockets
    if (sid === null || sid === undefined) {
      for (const ws of [...sockets.values()]) safeSend(ws, data)
    } else if (typeof sid === 'string') {
      const ws = sockets.get(sid)
      if (ws) safeSend(ws, data)
    }
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy())
    const fault = this.faultValue
    const upgradePath = (req.url ?? '/').split('?')[0] ?? '/'
    if (fault?.kind === 'hang' && faultApplies(fault, upgradePath)) {
      this.hung.push(() => this.upgrade(req, socket, head))
      return
    }
    if (fault?.kind === 'slow' && faultApplies(fault, upgradePath)) {
      this.later(fault.delayMs, () => this.upgrade(req, socket, head))
      return
    }
    this.upgrade(req, socket, head)
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (socket.destroyed) return
    const raw = req.url ?? '/'
    const qi = raw.indexOf('?')
    const pathname = qi < 0 ? raw : raw.slice(0, qi)
    const query = new URLSearchParams(qi < 0 ? '' : raw.slice(qi + 1))
    const fault = this.faultValue
    const applies = fault !== null && faultApplies(fault, pathname)
    let reject: Reply | null = null
    if (this.opts.corsOrigin === undefined && originForbidden(req)) reject = emptyReply(403)
    else if (fault?.kind === 'status' && applies) reject = errorReply(fault.status)
    else if (fault?.kind === 'html-502' && applies) {
      reject = { status: 502, headers: { 'Content-Type': 'text/html' }, body: NGINX_502 }
    } else if (fault?.kind === 'redirect' && applies) {
      reject = this.redirectReply(fault.status, fault.to, raw)
    } else if (pathname !== '/ws' && (this.legacy || pathname !== '/api/ws')) {
      reject = errorReply(404)
    }
    if (reject) {
      const body = Buffer.from(reject.body ?? '')
      const head =
        `HTTP/1.1 ${reject.status} ${STATUS_CODES[reject.status] ?? ''}\r\n` +
        Object.entries({
          ...reject.headers,
          'Content-Length': String(body.length),
          Connection: 'close'
        })
          .map(([k, v]) => `${k}: ${v}`)
          .join('\r\n') +
        '\r\n\r\n'
      socket.end(Buffer.concat([Buffer.from(head), body]))
      return
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onWebSocket(ws, query))
  }

  private onWebSocket(ws: WebSocket, query: URLSearchParams): void {
    this.stats.wsConnections++
    const st = this.st
    let sid = query.get('clientId') ?? ''
    if (sid) st.sockets.delete(sid)
    else sid = randomUUID().replace(/-/g, '')
    st.sockets.set(sid, ws)
    st.socketFlags.set(sid, {})
    ws.on('error', () => ws.terminate())
    // server.py pops the sid when ANY socket with that sid closes, even a replaced one:
    // closing an old socket after reconnecting with the same clientId silences the new one.
    ws.on('close', () => {
      st.sockets.delete(sid)
      st.socketFlags.delete(sid)
    })
    this.send('status', { status: this.queueInfo(), sid }, sid)
    if (st.clientId === sid && st.lastNodeId !== null) {
      this.send('executing', { node: st.lastNodeId }, sid)
    }
    let first = true
    ws.on('message', (data, isBinary) => {
      if (isBinary) return
      let msg: unknown
      try {
        msg = JSON.parse(Buffer.isBuffer(data) ? data.toString('utf8') : String(data))
      } catch {
        return // JSONDecodeError: logged, first_message stays True
      }
      if (!isDict(msg)) return // AttributeError on .get: logged, first_message stays True
      if (first && msg.type === 'feature_flags' && !this.legacy) {
        st.socketFlags.set(sid, Object.hasOwn(msg, 'data') ? msg.data : {})
        this.send('feature_flags', this.features(), sid)
      }
      first = false
    })
  }

  // ---------------------------------------------------------------- ws-flood

  /** Sends `status` frames to every open socket, in setImmediate turns, while 'ws-flood' lasts. */
  private startFlood(): void {
    if (this.floodHandle !== null) return
    const step = (): void => {
      this.floodHandle = null
      const f = this.faultValue
      if (f?.kind !== 'ws-flood' || this.stopPromise || this.dead) return
      const perTick = f.perTick ?? 200
      for (const ws of this.wss.clients) {
        for (let i = 0; i < perTick; i++) {
          if (ws.readyState !== ws.OPEN || ws.bufferedAmount > FLOOD_BUFFER_LIMIT) break
          const remaining = this.floodCounter++ % 50
          safeSend(
            ws,
            pyDumps({
              type: 'status',
              data: { status: { exec_info: { queue_remaining: remaining } } }
            })
          )
        }
      }
      this.floodHandle = setImmediate(step)
    }
    this.floodHandle = setImmediate(step)
  }

  private stopFlood(): void {
    if (this.floodHandle !== null) clearImmediate(this.floodHandle)
    this.floodHandle = null
  }

  // ---------------------------------------------------------------- control API

  private async control(
    req: IncomingMessage,
    res: ServerResponse,
    pathname: string
  ): Promise<void> {
    const reply = (status: number, value: unknown): void =>
      this.write(req, res, {
        status,
        headers: { 'Content-Type': 'application/json; charset=utf-8' },
        body: JSON.stringify(value)
      })
    try {
      if (pathname === '/__fake/state' && req.method === 'GET') {
        reply(200, this.state())
        return
      }
      if (req.method !== 'POST') {
        reply(404, { error: `unknown control route ${req.method} ${pathname}` })
        return
      }
      const raw = (await readBody(req, 1024 * 1024)).toString('utf8')
      const body: unknown = raw.trim() === '' ? {} : JSON.parse(raw)
      const data = isDict(body) ? body : {}
      switch (pathname) {
        case '/__fake/fault': {
          const fault = parseFault(data.fault)
          if (fault?.kind === 'refuse') {
            // Answer first: the fault drops this very connection.
            res.once('finish', () => void this.setFault(fault))
            reply(200, { ok: true, fault })
          } else {
            await this.setFault(fault)
            reply(200, { ok: true, fault })
          }
          return
        }
        case '/__fake/speed':
          this.setSpeed(data.speed as number)
          reply(200, { ok: true, speed: this.speedValue })
          return
        case '/__fake/enqueue': {
          const count = data.count ?? 1
          if (typeof count !== 'number') throw new RangeError('count must be a number')
          this.enqueueDummy(count, data.cost === undefined ? undefined : (data.cost as number))
          reply(200, { ok: true, queue: this.queueSnapshot() })
          return
        }
        case '/__fake/restart':
          res.once('finish', () => void this.restart().catch(() => undefined))
          reply(200, { ok: true })
          return
        default:
          reply(404, { error: `unknown control route POST ${pathname}` })
      }
    } catch (e) {
      reply(400, { error: e instanceof Error ? e.message : String(e) })
    }
  }

  /** What GET /__fake/state answers. */
  state(): Record<string, unknown> {
    return {
      name: this.name,
      url: this.url,
      version: this.version,
      legacy: this.legacy,
      speed: this.speedValue,
      jobMs: this.jobMs,
      fault: this.faultValue,
      dead: this.dead,
      number: this.st.number,
      queue: this.queueSnapshot(),
      history: this.historyIds(),
      executions: this.executionCounts(),
      currentNode: this.st.job?.currentNode ?? null,
      clients: this.clientIds(),
      stats: { ...this.stats }
    }
  }
}

function safeSend(ws: WebSocket, data: string | Buffer): void {
  if (ws.readyState !== ws.OPEN) return
  try {
    ws.send(data, { binary: Buffer.isBuffer(data) })
  } catch {
    // send_socket_catch_exception: logged and ignored
  }
}
