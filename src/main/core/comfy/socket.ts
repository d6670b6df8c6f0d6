/**
 * One WebSocket per server with our clientId, so ComfyUI routes our prompts' events to us.
 * Reconnects with backoff while open; text frames are parsed and passed on, binary previews
 * are ignored.
 */
import WebSocket from 'ws'
import { systemClock, type Clock } from '../clock'
import { Emitter } from '../events'

export interface ComfyEvent {
  type: string
  data: Record<string, unknown>
}

export interface SocketEvents {
  open: void
  close: { reason: string }
  event: ComfyEvent
}

/** Backoff between reconnects: 0.5 s doubling to 15 s. */
const BACKOFF_MIN_MS = 500
const BACKOFF_MAX_MS = 15_000
/** Largest frame accepted from a server (previews are small; prompts are not sent back). */
const MAX_FRAME_BYTES = 16 * 1024 * 1024

export function wsUrl(baseUrl: string, clientId: string): string {
  const u = new URL(baseUrl)
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:'
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/ws`
  u.search = `?clientId=${encodeURIComponent(clientId)}`
  return u.toString()
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

  constructor(
    private readonly baseUrl: string,
    private readonly clientId: string,
    private readonly opts: {
      headers?: Record<string, string>
      clock?: Clock
      handshakeTimeoutMs?: number
    } = {}
  ) {}

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
        headers: this.opts.headers,
        handshakeTimeout: this.opts.handshakeTimeoutMs ?? 10_000,
        maxPayload: MAX_FRAME_BYTES,
        perMessageDeflate: false
      })
    } catch (err) {
      this.scheduleRetry(String(err))
      return
    }
    this.ws = ws
    ws.on('open', () => {
      this.isOpen = true
      this.backoff = BACKOFF_MIN_MS
      this.events.emit('open', undefined)
    })
    ws.on('message', (data, isBinary) => {
      this.lastMessageAt = this.clock.now()
      if (isBinary) return
      let msg: unknown
      try {
        msg = JSON.parse(data.toString())
      } catch {
        return
      }
      if (!msg || typeof msg !== 'object') return
      const m = msg as { type?: unknown; data?: unknown }
      if (typeof m.type !== 'string') return
      const d =
        m.data && typeof m.data === 'object' && !Array.isArray(m.data)
          ? (m.data as Record<string, unknown>)
          : {}
      this.events.emit('event', { type: m.type, data: d })
    })
    ws.on('error', () => {
      // 'close' follows and handles the retry.
    })
    ws.on('close', (_code, reason) => {
      const wasOpen = this.isOpen
      this.isOpen = false
      this.ws = null
      if (wasOpen) this.events.emit('close', { reason: reason.toString() || 'closed' })
      if (this.wanted) this.scheduleRetry('closed')
    })
  }

  private scheduleRetry(_why: string): void {
    this.clearRetry()
    const delay = this.backoff
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
    const ws = this.ws
    this.ws = null
    this.isOpen = false
    if (ws) {
      ws.removeAllListeners('close')
      ws.on('error', () => undefined)
      ws.terminate()
    }
  }
}
