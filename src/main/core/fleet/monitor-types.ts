/** The check loop's options and events (see monitor.ts). */
import type { FleetStatus, LogLevel, ServerConfig } from '../../../shared/types'
import type { Clock } from '../clock'
import type { ComfyEvent, SocketLimits } from '../comfy/socket'
import type { HttpTransport } from '../comfy/transport'
import type { FeedSocket, FeedTarget } from './live-feed'
import type { Policy } from './policy'

export interface FleetMonitorOptions {
  servers: ServerConfig[]
  /** ms from the start of one round to the start of the next (rounds never overlap). */
  intervalMs: number
  /** ms per request; a round costs at most about this much per server, in parallel. */
  timeoutMs: number
  policy?: Policy
  clock?: Clock
  /** Builds the transport for one server (default: axios with a keep-alive agent). */
  transportFactory?: (server: ServerConfig) => HttpTransport | undefined
  /** Failed checks in a row before a server is declared down. @default 2 */
  fall?: number
  /** Good checks in a row before a server that was down is chosen again. @default 2 */
  rise?: number
  /**
   * Keep one WebSocket per server open while running (with this clientId), for queue changes
   * within milliseconds and for the job engine's events. Off: polling only.
   */
  live?: { clientId: string } | null
  /** Randomness for the policy (tests pass a seeded one). @default Math.random */
  rng?: () => number
  /** Bounds on the work one server's socket may cause (see SocketLimits). */
  liveLimits?: Partial<SocketLimits>
  /** How long a server's live feed stays off after it flooded us. @default 5 min */
  liveBlockMs?: number
  /** Least gap between two fleet statuses published for live queue changes. @default 50 */
  publishGapMs?: number
  /**
   * Late binding: at most this many of our jobs waiting on one server (see placement.ts); the
   * "best server" shown follows the same rule. null: no limit. @default null
   */
  holdBack?: number | null
  /** Builds a server's socket (tests pass a fake). */
  socketFactory?: (t: FeedTarget) => FeedSocket
}

/** Least gap between two fleet statuses published for live queue changes. */
export const PUBLISH_GAP_MS = 50

/**
 * How often a quiet live socket is pinged: every check interval, but not more often than half
 * the pong timeout. A silent server is only given up once a ping went unanswered for the whole
 * timeout, so pinging more often finds it little sooner (now within 1.5 timeouts of going
 * silent; a server that closes its socket or refuses is found at once) while every quiet socket
 * of a large fleet pays a write and a read per ping.
 */
export function pingEveryMs(intervalMs: number, pongTimeoutMs: number): number {
  return Math.max(intervalMs, Math.round(pongTimeoutMs / 2))
}

/** A server's socket event, for the job engine. */
export interface ServerEvent {
  serverId: string
  event: ComfyEvent
}

export interface FleetEvents {
  /** After every round, with the new cached status. */
  round: FleetStatus
  /** Whenever the cached status changes (after a round, a config change, pause/resume). */
  status: FleetStatus
  /** A message on a server's WebSocket. */
  comfy: ServerEvent
  /** A server's WebSocket closed (the server may have died). */
  'socket-closed': { serverId: string }
  /** A line for the log (e.g. a server's live feed turned off, and why). */
  log: { level: LogLevel; message: string }
}
