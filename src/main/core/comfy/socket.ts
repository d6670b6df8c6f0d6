/**
 * One WebSocket per server with our clientId, so ComfyUI routes our prompts' events to us.
 * Reconnects with backoff (jittered, so a restarted server is not dialled by every client at
 * once) while open; text frames are parsed and passed on, binary frames (previews, progress
 * text) are passed on as they came, within a byte budget. A quiet socket is pinged: one that
 * answers neither the ping nor with any frame within the pong timeout is closed (the server
 * stopped, or the path to it did), which reconnects and tells the owner through `close`.
 *
 * A server (or something posing as one) may send far more than ComfyUI ever does. The work per
 * socket is bounded: `status` updates are coalesced (latest wins), messages past a per-second
 * budget cost only a look at their first bytes, past a hard cap the socket is paused until the
 * second is over, and a socket that keeps flooding is closed with a `flood` event. Job events
 * are never dropped nor reordered.
 */
import WebSocket from 'ws'
import { systemClock, type Clock } from '../clock'
import { Emitter } from '../events'
import { splitUrlCredentials } from './client'
import { parseEvent, sniffType, toBuffer } from './socket-frames'

export { sniffType } from './socket-frames'

export interface ComfyEvent {
  type: string
  data: Record<string, unknown>
}

export interface SocketEvents {
  open: void
  close: { reason: string }
  event: ComfyEvent
  /**
   * The server kept sending more than `limits` allow: the socket was closed for good (no
   * reconnect). `reason` is a short sentence; `perSecond` the rate seen.
   */
  flood: { reason: string; perSecond: number }
  /**
   * A binary frame (ComfyUI's previews: a 4-byte big-endian type, then its data), as received.
   * Dropped, never queued, past the message budget or the byte budget of the second.
   */
  binary: { frame: Buffer }
}

/** Bounds on the work one socket may cause. */
export interface SocketLimits {
  /** Messages per second handled in full; past it, only job events and `status` are read. */
  budgetPerSec: number
  /** Messages per second at most; past it the socket is paused until the second is over. */
  hardCapPerSec: number
  /** Seconds in a row over budget after which the socket is closed as flooding. */
  floodSeconds: number
  /**
   * Least gap between two `status` events passed on; in between the latest one wins. Kept to
   * a few ms: every app sharing a fleet picks a server from these, and one that just took a job
   * must not look idle to the others for long (they would all send it theirs).
   */
  statusGapMs: number
  /** Bytes of binary frames per second passed on; past it they are dropped (previews only). */
  binaryBytesPerSec: number
}

// A real server sends a few dozen messages per prompt (progress per step, per node): a fast
// fleet running small prompts back to back stays well under the budget; a flood (seen at
// 140 000 a second) is paused at the hard cap and costs only a look at each message's start.
export const DEFAULT_SOCKET_LIMITS: SocketLimits = {
  budgetPerSec: 5_000,
  hardCapPerSec: 20_000,
  floodSeconds: 5,
  statusGapMs: 5,
  binaryBytesPerSec: 64 * 1024 * 1024
}

/** The events of one prompt, which the job engine follows: never dropped, never reordered. */
export const JOB_EVENT_TYPES: ReadonlySet<string> = new Set([
  'execution_start',
  'executing',
  'progress',
  'executed',
  'execution_success',
  'execution_error',
  'execution_interrupted',
  'execution_cached'
])

/** Backoff between reconnects: 0.5 s doubling to 15 s, each wait drawn from its upper half. */
export const BACKOFF_MIN_MS = 500
export const BACKOFF_MAX_MS = 15_000

/** The wait before a reconnect: between half of `backoffMs` and all of it. */
export function retryDelayMs(backoffMs: number, rng: () => number): number {
  const r = Math.min(1, Math.max(0, rng()))
  return Math.round(backoffMs * (0.5 + 0.5 * r))
}

/** The close reason of a socket that answered no ping in time. */
export const PING_TIMEOUT_REASON = 'no answer to ping'
/**
 * Heartbeats fall on this grid of the clock (never earlier than due), so the sockets of a large
 * fleet ping together in a few wake-ups a second instead of one wake-up each.
 */
export const BEAT_GRID_MS = 100
/**
 * Largest frame accepted from a server. The largest legit text frames are `executed` with
 * long output lists (a few hundred bytes per file); previews are small. A larger frame closes
 * the socket (it reconnects).
 */
export const MAX_FRAME_BYTES = 8 * 1024 * 1024

/** The socket address for a server's base URL, never with credentials in it. */
export function wsUrl(baseUrl: string, clientId: string): string {
  const u = new URL(splitUrlCredentials(baseUrl).url)
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:'
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/ws`
  u.search = `?clientId=${encodeURIComponent(clientId)}`
  return u.toString()
}

/** The handshake headers: the configured ones, plus Basic auth from the URL unless set. */
export function socketHeaders(
  baseUrl: string,
  headers: Record<string, string> | undefined
): Record<string, string> {
  const out: Record<string, string> = { ...(headers ?? {}) }
  const { authorization } = splitUrlCredentials(baseUrl)
  const has = Object.keys(out).some((k) => k.toLowerCase() === 'authorization')
  if (authorization && !has) out.Authorization = authorization
  return out
}

export class ComfySocket {
  readonly events = new Emitter<SocketEvents>()
  private ws: WebSocket | null = null
  /** Pending reconnect; set when a socket closes while we want it open. */
  private retryTimer: unknown = null
  private backoff = BACKOFF_MIN_MS
  private wanted = false
  private isOpen = false
  /** Epoch ms of the last frame received (for silence detection). */
  lastMessageAt: number | null = null
  private readonly limits: SocketLimits
  /** The current one-second window: its start and how many frames came in it. */
  private winStart = 0
  private winCount = 0
  /** Bytes of binary frames passed on in the current window. */
  private winBinaryBytes = 0
  /** Windows in a row over budget. */
  private hotWindows = 0
  /** Paused until the window ends (hard cap reached). */
  private resumeTimer: unknown = null
  /** The latest `status` frame not passed on yet (raw or parsed), and its flush timer. */
  private heldStatus: Buffer | ComfyEvent | null = null
  private statusTimer: unknown = null
  private lastStatusAt = -Infinity
  /** Why the last connection failed (for the close reason). */
  private lastError = ''
  /** Ping: when the one in flight was sent (null: none), the last sign of life, its timer. */
  private pingAt: number | null = null
  private aliveAt = 0
  private beatTimer: unknown = null
  /** Frames received and fully parsed since creation (for tests and diagnostics). */
  readonly stats = { frames: 0, parsed: 0, dropped: 0, pings: 0, pongs: 0 }

  constructor(
    private readonly baseUrl: string,
    private readonly clientId: string,
    private readonly opts: {
      headers?: Record<string, string>
      clock?: Clock
      handshakeTimeoutMs?: number
      limits?: Partial<SocketLimits>
      /** A socket quiet this long is pinged; 0 or unset: never. Read at each ping. */
      pingIntervalMs?: () => number
      /** How long a ping may go unanswered before the socket is closed. @default 10 000 */
      pongTimeoutMs?: () => number
      /** Randomness for the reconnect jitter (tests pass their own). @default Math.random */
      rng?: () => number
    } = {}
  ) {
    this.limits = { ...DEFAULT_SOCKET_LIMITS, ...(opts.limits ?? {}) }
  }

  private get clock(): Clock {
    return this.opts.clock ?? systemClock
  }

  get open(): boolean {
    return this.isOpen
  }

  connect(): void {
    this.wanted = true
    if (!this.ws) this.dial()
  }

  private dial(): void {
    this.clearRetry()
    let ws: WebSocket
    try {
      ws = new WebSocket(wsUrl(this.baseUrl, this.clientId), {
        headers: socketHeaders(this.baseUrl, this.opts.headers),
        handshakeTimeout: this.opts.handshakeTimeoutMs ?? 10_000,
        maxPayload: MAX_FRAME_BYTES,
        perMessageDeflate: false,
        // A redirect would carry our headers (auth) to another address: never follow one.
        followRedirects: false,
        // The messages of one read are handled together, in order: a prompt's events keep pace
        // with the answers to our HTTP requests. A flood costs a look at each message's first
        // bytes and is paused past the hard cap, so it cannot hold up other servers' checks.
        allowSynchronousEvents: true
      })
    } catch {
      this.scheduleRetry()
      return
    }
    this.ws = ws
    this.winStart = this.clock.now()
    this.winCount = 0
    this.winBinaryBytes = 0
    this.hotWindows = 0
    this.lastError = ''
    ws.on('open', () => {
      this.isOpen = true
      this.backoff = BACKOFF_MIN_MS
      this.alive()
      this.armBeat(ws, this.pingEvery())
      this.events.emit('open', undefined)
    })
    ws.on('message', (data, isBinary) => {
      if (this.ws !== ws) return
      this.alive()
      this.onFrame(ws, data, isBinary)
    })
    ws.on('pong', () => {
      if (this.ws !== ws) return
      this.stats.pongs++
      this.alive()
      // The next ping is due an interval from now, not when this one would have timed out.
      this.armBeat(ws, this.pingEvery())
    })
    ws.on('error', (err: Error & { code?: string }) => {
      // 'close' follows and handles the retry.
      this.lastError =
        err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'message too large' : 'error'
    })
    ws.on('close', (_code, reason) => {
      if (this.ws !== ws) return
      const wasOpen = this.isOpen
      this.isOpen = false
      this.ws = null
      this.clearFlowTimers()
      if (wasOpen) {
        this.events.emit('close', { reason: reason.toString() || this.lastError || 'closed' })
      }
      if (this.wanted) this.scheduleRetry()
    })
  }

  private onFrame(ws: WebSocket, data: WebSocket.RawData, isBinary: boolean): void {
    const now = this.clock.now()
    this.lastMessageAt = now
    this.stats.frames++
    if (now - this.winStart >= 1000) {
      if (this.endWindow(now)) return
    }
    const count = ++this.winCount
    if (count > this.limits.hardCapPerSec && !this.resumeTimer) {
      // Stop reading until the second is over: the kernel's buffers push back on the sender.
      ws.pause()
      this.resumeTimer = this.clock.setTimeout(
        () => {
          this.resumeTimer = null
          if (this.ws !== ws) return
          this.alive()
          if (!this.endWindow(this.clock.now())) ws.resume()
        },
        Math.max(1, this.winStart + 1000 - now)
      )
    }
    if (isBinary) {
      const frame = toBuffer(data)
      if (
        count > this.limits.budgetPerSec ||
        frame.length < 4 ||
        this.winBinaryBytes + frame.length > this.limits.binaryBytesPerSec
      ) {
        this.stats.dropped++
        return
      }
      this.winBinaryBytes += frame.length
      this.events.emit('binary', { frame })
      return
    }
    const buf = toBuffer(data)
    const sniffed = sniffType(buf)
    if (sniffed === 'status') {
      this.holdStatus(buf)
      return
    }
    const over = count > this.limits.budgetPerSec
    if (over && sniffed !== null && !JOB_EVENT_TYPES.has(sniffed)) {
      this.stats.dropped++
      return
    }
    const ev = parseEvent(buf)
    this.stats.parsed++
    if (!ev) return
    if (ev.type === 'status') {
      this.holdStatus(ev)
      return
    }
    if (over && !JOB_EVENT_TYPES.has(ev.type)) {
      this.stats.dropped++
      return
    }
    this.events.emit('event', ev)
  }

  /**
   * Closes the one-second window (at `now`). Returns true when the socket was closed for
   * flooding.
   */
  private endWindow(now: number): boolean {
    const hot = this.winCount > this.limits.budgetPerSec
    // A whole quiet second in between breaks the run.
    if (hot && now - this.winStart < 2000) this.hotWindows++
    else this.hotWindows = hot ? 1 : 0
    const rate = Math.round((this.winCount * 1000) / Math.max(1000, now - this.winStart))
    this.winStart = now
    this.winCount = 0
    this.winBinaryBytes = 0
    if (this.hotWindows < this.limits.floodSeconds) return false
    this.flood(rate)
    return true
  }

  private flood(perSecond: number): void {
    this.close()
    this.events.emit('flood', {
      reason: `it sent too many messages (about ${perSecond} a second)`,
      perSecond
    })
  }

  /** A `status` frame: passed on at once after a quiet gap, else the latest one a bit later. */
  private holdStatus(msg: Buffer | ComfyEvent): void {
    const now = this.clock.now()
    if (this.statusTimer === null && now - this.lastStatusAt >= this.limits.statusGapMs) {
      this.lastStatusAt = now
      this.emitStatus(msg)
      return
    }
    this.heldStatus = msg
    if (this.statusTimer === null) {
      this.statusTimer = this.clock.setTimeout(
        () => this.flushStatus(),
        Math.max(1, this.lastStatusAt + this.limits.statusGapMs - now)
      )
    }
  }

  private flushStatus(): void {
    this.statusTimer = null
    const msg = this.heldStatus
    this.heldStatus = null
    if (!msg || !this.ws) return
    this.lastStatusAt = this.clock.now()
    this.emitStatus(msg)
  }

  private emitStatus(msg: Buffer | ComfyEvent): void {
    let ev: ComfyEvent | null
    if (Buffer.isBuffer(msg)) {
      ev = parseEvent(msg)
      this.stats.parsed++
    } else ev = msg
    if (ev) this.events.emit('event', ev)
  }

  private pingEvery(): number {
    return this.opts.pingIntervalMs?.() ?? 0
  }

  /** A frame or a pong came: the server is there. */
  private alive(): void {
    this.aliveAt = this.clock.now()
    this.pingAt = null
  }

  private armBeat(ws: WebSocket, ms: number): void {
    if (this.beatTimer !== null) this.clock.clearTimeout(this.beatTimer)
    this.beatTimer = null
    if (!(ms > 0) || !Number.isFinite(ms)) return
    const now = this.clock.now()
    const at = Math.ceil((now + ms) / BEAT_GRID_MS) * BEAT_GRID_MS
    this.beatTimer = this.clock.setTimeout(() => this.beat(ws), Math.max(1, at - now))
  }

  /**
   * The heartbeat: pings a socket that was quiet for a whole interval, and closes one whose
   * ping went unanswered (nor any other frame came) within the pong timeout.
   */
  private beat(ws: WebSocket): void {
    this.beatTimer = null
    if (this.ws !== ws || !this.isOpen) return
    const every = this.pingEvery()
    if (!(every > 0)) return
    const now = this.clock.now()
    // Paused at the hard cap: we stopped reading (it kept sending), so no pong can be read.
    if (this.resumeTimer !== null) {
      this.alive()
      return this.armBeat(ws, every)
    }
    const timeout = Math.max(1, this.opts.pongTimeoutMs?.() ?? 10_000)
    if (this.pingAt !== null) {
      const left = this.pingAt + timeout - now
      if (left > 0) return this.armBeat(ws, left)
      this.lastError = PING_TIMEOUT_REASON
      // 'close' follows: the owner hears of it and a reconnect is scheduled.
      ws.terminate()
      return
    }
    const quiet = now - this.aliveAt
    if (quiet < every) return this.armBeat(ws, every - quiet)
    try {
      ws.ping()
    } catch {
      // Not open any more: 'close' follows.
      return
    }
    this.pingAt = now
    this.stats.pings++
    this.armBeat(ws, timeout)
  }

  private clearFlowTimers(): void {
    if (this.beatTimer !== null) {
      this.clock.clearTimeout(this.beatTimer)
      this.beatTimer = null
    }
    this.pingAt = null
    if (this.resumeTimer !== null) {
      this.clock.clearTimeout(this.resumeTimer)
      this.resumeTimer = null
    }
    if (this.statusTimer !== null) {
      this.clock.clearTimeout(this.statusTimer)
      this.statusTimer = null
    }
    this.heldStatus = null
  }

  private scheduleRetry(): void {
    this.clearRetry()
    const delay = retryDelayMs(this.backoff, this.opts.rng ?? Math.random)
    this.backoff = Math.min(BACKOFF_MAX_MS, this.backoff * 2)
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = null
      if (this.wanted && !this.ws) this.dial()
    }, delay)
  }

  private clearRetry(): void {
    if (this.retryTimer !== null) {
      this.clock.clearTimeout(this.retryTimer)
      this.retryTimer = null
    }
  }

  /** Closes for good. Safe to call twice. */
  close(): void {
    this.wanted = false
    this.clearRetry()
    this.clearFlowTimers()
    const ws = this.ws
    this.ws = null
    this.isOpen = false
    if (ws) {
      ws.removeAllListeners('close')
      ws.removeAllListeners('message')
      ws.on('error', () => undefined)
      ws.terminate()
    }
  }
}
