/**
 * The gateway's WebSockets (`/ws?clientId=X`): one per client id (a newer one replaces the
 * older, as in ComfyUI); the first message is `status` with `sid`.
 */
import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import { STATUS_TEXT } from './http'
import { checkAccess, type AccessRules } from './security'

/** Unsent bytes past which a client's socket gets no more previews until it catches up. */
export const MAX_UNREAD_BYTES = 16 * 1024 * 1024

export interface SocketHooks {
  /** The `status` message, with `sid` for a new socket. */
  status(sid?: string): string
  features(): Record<string, unknown>
}

export class GatewaySockets {
  /** sid -> socket. */
  private readonly sockets = new Map<string, WebSocket>()
  /** Sockets whose first message asked for previews with metadata (type 4). */
  private readonly wantsMetadata = new WeakSet<WebSocket>()
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 })

  constructor(
    private readonly rules: AccessRules,
    private readonly maxSockets: number,
    private readonly hooks: SocketHooks
  ) {}

  sendTo(clientId: string | null, msg: string): void {
    if (clientId === null) return
    const ws = this.sockets.get(clientId)
    if (ws && ws.readyState === ws.OPEN) ws.send(msg)
  }

  /**
   * A binary frame for a client: `withMetadata` when its socket asked for
   * `supports_preview_metadata`, else `plain`. Skipped when the client has not read the
   * previews before (a preview is worth nothing late; JSON events are never skipped).
   */
  sendBinaryTo(clientId: string | null, withMetadata: Buffer, plain: Buffer): void {
    if (clientId === null) return
    const ws = this.sockets.get(clientId)
    if (!ws || ws.readyState !== ws.OPEN || ws.bufferedAmount > MAX_UNREAD_BYTES) return
    ws.send(this.wantsMetadata.has(ws) ? withMetadata : plain, { binary: true })
  }

  broadcast(msg: string): void {
    for (const ws of this.sockets.values()) if (ws.readyState === ws.OPEN) ws.send(msg)
  }

  close(): void {
    for (const ws of this.wss.clients) ws.terminate()
    this.wss.close()
  }

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
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
    if (this.wss.clients.size >= this.maxSockets) return refuse(503)
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const given = url.searchParams.get('clientId')
      const sid = given && given.length <= 200 ? given : randomUUID().replace(/-/g, '')
      this.sockets.set(sid, ws)
      ws.send(this.hooks.status(sid))
      let first = true
      ws.on('message', (data, isBinary) => {
        if (!first || isBinary) return
        first = false
        try {
          const msg = JSON.parse(String(data)) as { type?: unknown; data?: unknown }
          if (msg?.type === 'feature_flags') {
            const flags = msg.data as { supports_preview_metadata?: unknown } | null | undefined
            if (flags?.supports_preview_metadata === true) this.wantsMetadata.add(ws)
            ws.send(JSON.stringify({ type: 'feature_flags', data: this.hooks.features() }))
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
