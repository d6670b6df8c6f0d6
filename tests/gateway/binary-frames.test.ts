/** Binary frames from a server's socket: passed on as they came, within the socket's limits. */
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocketServer, type WebSocket } from 'ws'
import { ComfySocket } from '../../src/main/core/comfy/socket'
import { Emitter } from '../../src/main/core/events'
import { BINARY_FRAME_EVENT, binaryFrame, LiveFeed } from '../../src/main/core/fleet/live-feed'
import type { SocketEvents } from '../../src/main/core/comfy/socket'
import { systemClock } from '../../src/main/core/clock'
import { until } from './helpers'

const open: Array<() => void> = []
afterEach(() => {
  for (const f of open.splice(0)) f()
})

/** A socket server that sends `frames` to whoever connects, in one go. */
async function sender(frames: Array<Buffer | string>): Promise<string> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  await new Promise<void>((r) => wss.once('listening', () => r()))
  wss.on('connection', (ws: WebSocket) => {
    for (const f of frames) ws.send(f, { binary: Buffer.isBuffer(f) })
  })
  open.push(() => {
    for (const c of wss.clients) c.terminate()
    wss.close()
  })
  const port = (wss.address() as { port: number }).port
  return `http://127.0.0.1:${port}`
}

function preview(i: number, size: number): Buffer {
  const b = Buffer.alloc(size, i & 0xff)
  b.writeUInt32BE(1, 0)
  b.writeUInt32BE(2, 4)
  return b
}

describe('binary frames on a server socket', () => {
  it('passes them on in order, drops those past the byte budget, never job events', async () => {
    const frames: Array<Buffer | string> = []
    for (let i = 0; i < 10; i++) {
      frames.push(preview(i, 1000))
      frames.push(JSON.stringify({ type: 'progress', data: { prompt_id: 'p', value: i, max: 10 } }))
    }
    const url = await sender(frames)
    const sock = new ComfySocket(url, 'me', { limits: { binaryBytesPerSec: 4500 } })
    open.push(() => sock.close())
    const got: string[] = []
    sock.events.on('binary', ({ frame }) => got.push(`bin ${frame[8]}`))
    sock.events.on('event', (e) => got.push(`${e.type} ${String(e.data.value)}`))
    sock.connect()
    await until(() => got.filter((g) => g.startsWith('progress')).length === 10)
    // Four previews fit in 4500 bytes; the other six are dropped; every progress event came.
    expect(got.filter((g) => g.startsWith('bin'))).toEqual(['bin 0', 'bin 1', 'bin 2', 'bin 3'])
    expect(got.slice(0, 4)).toEqual(['bin 0', 'progress 0', 'bin 1', 'progress 1'])
    expect(sock.stats.dropped).toBe(6)
  })

  it('past the message budget previews are dropped first', async () => {
    const frames: Array<Buffer | string> = []
    for (let i = 0; i < 6; i++) frames.push(preview(i, 16))
    frames.push(JSON.stringify({ type: 'executed', data: { prompt_id: 'p', node: '9' } }))
    const url = await sender(frames)
    const sock = new ComfySocket(url, 'me', { limits: { budgetPerSec: 3 } })
    open.push(() => sock.close())
    const bins: number[] = []
    const evs: string[] = []
    sock.events.on('binary', ({ frame }) => bins.push(frame[8]!))
    sock.events.on('event', (e) => evs.push(e.type))
    sock.connect()
    await until(() => evs.includes('executed'))
    expect(bins).toEqual([0, 1, 2])
  })

  it('the live feed passes a binary frame on as an event with the server id', () => {
    const events = new Emitter<SocketEvents>()
    const feed = new LiveFeed({
      clientId: 'me',
      clock: systemClock,
      handshakeTimeoutMs: () => 500,
      socketFactory: () => ({
        events,
        open: true,
        lastMessageAt: null,
        connect: () => undefined,
        close: () => undefined
      })
    })
    const seen: Array<[string, Buffer | null, string]> = []
    feed.events.on('comfy', (e) => seen.push([e.serverId, binaryFrame(e.event), e.event.type]))
    feed.open({ id: 's1', url: 'http://127.0.0.1:1' })
    const frame = preview(7, 20)
    events.emit('binary', { frame })
    events.emit('event', { type: 'binary_frame', data: { frame: 'not bytes' } })
    expect(seen).toEqual([
      ['s1', frame, BINARY_FRAME_EVENT],
      ['s1', null, BINARY_FRAME_EVENT]
    ])
  })
})
