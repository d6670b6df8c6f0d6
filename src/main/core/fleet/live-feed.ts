/**
 * One WebSocket per server with our clientId: queue changes within milliseconds and the events
 * of our prompts. The feed only opens, closes and listens; it says what it heard as events and
 * knows nothing of the check loop. A server that floods its socket has its feed turned off for
 * a while (the HTTP checks serve meanwhile).
 */
import type { Clock } from '../clock'
import { ComfySocket, type ComfyEvent, type SocketEvents, type SocketLimits } from '../comfy/socket'
import { Emitter } from '../events'

/**
 * The `type` of the event a binary frame is passed on as (`data.frame` is the frame, a Buffer).
 * No ComfyUI message has it; the job engine ignores it (it has no prompt_id).
 */
export const BINARY_FRAME_EVENT = 'binary_frame'

/** The binary frame an event carries (from a server's socket), or null. */
export function binaryFrame(ev: ComfyEvent): Buffer | null {
  if (ev.type !== BINARY_FRAME_EVENT) return null
  const f = ev.data.frame
  return Buffer.isBuffer(f) ? f : null
}

/** How long a flooding server's live feed stays off. */
export const LIVE_BLOCK_MS = 5 * 60_000
/** Pause between closing a silent socket and opening a new one. */
export const REDIAL_DELAY_MS = 1_000

export interface LiveFeedEvents {
  /**
   * A message on a server's socket. A binary frame comes as `{type: BINARY_FRAME_EVENT, data:
   * {frame}}` (read it with `binaryFrame`).
   */
  comfy: { serverId: string; event: ComfyEvent }
  /** A `status` message with a valid queue length (queue_remaining = running + pending). */
  queue: { serverId: string; remaining: number }
  /** The socket opened again after it had been open (the server may have restarted). */
  reconnected: { serverId: string }
  /** The socket closed (the server may have died); `reason` as the socket gave it. */
  closed: { serverId: string; reason?: string }
  /** The socket closed itself for good after a flood; the feed stays off for `offMs`. */
  flood: { serverId: string; reason: string; offMs: number }
}

/** Where one server's socket goes. */
export interface FeedTarget {
  id: string
  url: string
  headers?: Record<string, string>
}

export interface LiveFeedOptions {
  clientId: string
  clock: Clock
  /** Handshake timeout of a new socket (the per-request timeout). */
  handshakeTimeoutMs: () => number
  limits?: Partial<SocketLimits>
  /** How long a flooding server's feed stays off. @default LIVE_BLOCK_MS */
  blockMs?: number
  /** Builds a socket (tests pass a fake). */
  socketFactory?: (t: FeedTarget, o: LiveFeedOptions) => FeedSocket
  /** A socket quiet this long is pinged (the check interval); unset: never. */
  pingIntervalMs?: () => number
  /** A ping unanswered this long closes the socket (the per-request timeout). */
  pongTimeoutMs?: () => number
  /** Randomness for the sockets' reconnect jitter. @default Math.random */
  rng?: () => number
}

/** What the feed uses of a socket. */
export interface FeedSocket {
  readonly events: Pick<Emitter<SocketEvents>, 'on'>
  readonly open: boolean
  readonly lastMessageAt: number | null
  connect(): void
  close(): void
}

function realSocket(t: FeedTarget, o: LiveFeedOptions): FeedSocket {
  return new ComfySocket(t.url, o.clientId, {
    headers: t.headers,
    clock: o.clock,
    handshakeTimeoutMs: o.handshakeTimeoutMs(),
    limits: o.limits,
    pingIntervalMs: o.pingIntervalMs,
    pongTimeoutMs: o.pongTimeoutMs,
    rng: o.rng
  })
}

/** How long a feed stays off, in words for the log ("5 min", "30 s"). */
export function offFor(ms: number): string {
  return ms < 60_000 ? `${Math.max(1, Math.round(ms / 1000))} s` : `${Math.round(ms / 60_000)} min`
}

/** The queue length a `status` message gives, or null. */
export function queueRemaining(ev: ComfyEvent): number | null {
  if (ev.type !== 'status') return null
  const st = ev.data.status as { exec_info?: { queue_remaining?: unknown } } | undefined
  const n = st?.exec_info?.queue_remaining
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 ? n : null
}

export class LiveFeed {
  readonly events = new Emitter<LiveFeedEvents>()
  private readonly sockets = new Map<string, FeedSocket>()
  /** Server id -> epoch ms at which its socket last opened (gone once it closes). */
  private readonly openedAt = new Map<string, number>()
  /** Server id -> epoch ms until which no socket is opened (it flooded the last one). */
  private readonly blockedUntil = new Map<string, number>()
  private readonly blockMs: number

  constructor(private readonly o: LiveFeedOptions) {
    this.blockMs = o.blockMs ?? LIVE_BLOCK_MS
  }

  /** Opens the server's socket unless it has one or its feed is off for now. */
  open(t: FeedTarget): void {
    if (this.sockets.has(t.id)) return
    if (this.o.clock.now() < (this.blockedUntil.get(t.id) ?? 0)) return
    const sock = (this.o.socketFactory ?? realSocket)(t, this.o)
    const serverId = t.id
    sock.events.on('event', (event) => {
      const n = queueRemaining(event)
      if (n !== null) this.events.emit('queue', { serverId, remaining: n })
      this.events.emit('comfy', { serverId, event })
    })
    sock.events.on('binary', ({ frame }) => {
      this.events.emit('comfy', { serverId, event: { type: BINARY_FRAME_EVENT, data: { frame } } })
    })
    let opened = 0
    sock.events.on('open', () => {
      if (this.sockets.get(serverId) === sock) this.openedAt.set(serverId, this.o.clock.now())
      if (opened++ > 0) this.events.emit('reconnected', { serverId })
    })
    sock.events.on('close', ({ reason }) => {
      if (this.sockets.get(serverId) === sock) this.openedAt.delete(serverId)
      this.events.emit('closed', { serverId, reason })
    })
    sock.events.on('flood', ({ reason }) => {
      if (this.sockets.get(serverId) !== sock) return
      this.sockets.delete(serverId)
      this.blockedUntil.set(serverId, this.o.clock.now() + this.blockMs)
      this.events.emit('flood', { serverId, reason, offMs: this.blockMs })
    })
    this.sockets.set(serverId, sock)
    sock.connect()
  }

  close(serverId: string): void {
    this.sockets.get(serverId)?.close()
    this.sockets.delete(serverId)
    this.openedAt.delete(serverId)
  }

  /** Closes the socket and, after a pause, dials again if `still()` says so. */
  redial(t: FeedTarget, still: () => boolean): void {
    this.close(t.id)
    // ComfyUI drops a clientId when any socket with it closes, even after a newer one
    // registered: let the server see the close before dialling again.
    this.o.clock.setTimeout(() => {
      if (still()) this.open(t)
    }, REDIAL_DELAY_MS)
  }

  /** Some server's feed is off for a while (after a flood). */
  get anyBlocked(): boolean {
    return this.blockedUntil.size > 0
  }

  /** Opens again the feeds whose time off is over. */
  retryBlocked(targets: readonly FeedTarget[]): void {
    const now = this.o.clock.now()
    for (const t of targets) {
      const until = this.blockedUntil.get(t.id)
      if (this.sockets.has(t.id) || !until || now < until) continue
      this.blockedUntil.delete(t.id)
      this.open(t)
    }
  }

  /** The server left the fleet (or moved to another address). */
  forget(serverId: string): void {
    this.close(serverId)
    this.blockedUntil.delete(serverId)
  }

  closeAll(): void {
    for (const id of [...this.sockets.keys()]) this.close(id)
  }

  has(serverId: string): boolean {
    return this.sockets.has(serverId)
  }

  isOpen(serverId: string): boolean {
    return this.sockets.get(serverId)?.open ?? false
  }

  /** When the server's socket opened, while it is open; null otherwise. */
  openSince(serverId: string): number | null {
    return this.isOpen(serverId) ? (this.openedAt.get(serverId) ?? null) : null
  }

  lastMessageAt(serverId: string): number | null {
    return this.sockets.get(serverId)?.lastMessageAt ?? null
  }

  /**
   * Resolves once the server's socket is open, after `maxWaitMs`, or when `stop` calls back
   * (e.g. the server was found down). ComfyUI buffers no events: a job waits for this first.
   */
  whenOpen(
    serverId: string,
    maxWaitMs: number,
    stop?: (done: () => void) => () => void
  ): Promise<void> {
    const sock = this.sockets.get(serverId)
    if (!sock || sock.open) return Promise.resolve()
    return new Promise<void>((resolve) => {
      let settled = false
      const offs: Array<() => void> = []
      const timer = this.o.clock.setTimeout(() => done(), maxWaitMs)
      const done = (): void => {
        if (settled) return
        settled = true
        for (const off of offs) off()
        this.o.clock.clearTimeout(timer)
        resolve()
      }
      offs.push(sock.events.on('open', done))
      if (stop) offs.push(stop(done))
    })
  }
}
