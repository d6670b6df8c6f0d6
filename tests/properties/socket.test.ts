/**
 * A server's WebSocket may send anything: ComfySocket passes on only events with a string
 * `type` and an object `data`, in order, drops the rest, and never throws, whatever the frames
 * (text that is not JSON, JSON that is not an event, binary frames, status floods).
 */
import type { AddressInfo } from 'node:net'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocketServer, type WebSocket } from 'ws'
import { ComfySocket, type ComfyEvent } from '../../src/main/core/comfy/socket'

let wss: WebSocketServer
let peer: WebSocket
let sock: ComfySocket
const got: ComfyEvent[] = []

beforeAll(async () => {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await new Promise<void>((r) => wss.once('listening', () => r()))
  const port = (wss.address() as AddressInfo).port
  const connected = new Promise<WebSocket>((r) => wss.once('connection', (ws) => r(ws)))
  sock = new ComfySocket(`http://127.0.0.1:${port}`, 'prop-client', {
    // statusGapMs 0: every status is passed on, so order can be checked exactly.
    limits: { budgetPerSec: 1e9, hardCapPerSec: 1e9, statusGapMs: 0 }
  })
  sock.events.on('event', (e) => got.push(e))
  sock.connect()
  peer = await connected
  const t0 = Date.now()
  while (!sock.open && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 5))
})

afterAll(async () => {
  sock.close()
  for (const c of wss.clients) c.terminate()
  await new Promise<void>((r) => wss.close(() => r()))
})

const { json } = fc.letrec((tie) => ({
  json: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.double(),
    fc.string(),
    fc.array(tie('json'), { maxLength: 3 }),
    fc.dictionary(
      fc.oneof(fc.constantFrom('type', 'data', 'prompt_id'), fc.string()),
      tie('json'),
      { maxKeys: 3 }
    )
  )
}))

type Frame = { text: string } | { binary: Uint8Array }

const frame: fc.Arbitrary<Frame> = fc.oneof(
  fc.string().map((text) => ({ text })),
  json.map((v) => ({ text: JSON.stringify(v) ?? 'null' })),
  fc
    .record({
      type: fc.oneof(
        fc.constantFrom('status', 'executing', 'progress', 'execution_error', 'x'),
        json
      ),
      data: json
    })
    .map((v) => ({ text: JSON.stringify(v) })),
  fc
    .constantFrom(
      '{"type":"status","data":{"status":{"exec_info":{"queue_remaining":"NaN"}}}}',
      '{"type":"st\\u0061tus"}',
      '{"type":"status",',
      '{"__proto__":{"type":"x"},"type":"y"}'
    )
    .map((text) => ({ text })),
  fc.uint8Array({ maxLength: 32 }).map((binary) => ({ binary }))
)

/** What the socket should pass on for one text frame, or null when it drops it. */
function expected(text: string): ComfyEvent | null {
  let m: unknown
  try {
    m = JSON.parse(text)
  } catch {
    return null
  }
  if (!m || typeof m !== 'object') return null
  const o = m as { type?: unknown; data?: unknown }
  if (typeof o.type !== 'string') return null
  const data = o.data && typeof o.data === 'object' && !Array.isArray(o.data) ? o.data : {}
  return { type: o.type, data: data as Record<string, unknown> }
}

let marker = 0

describe('ComfySocket frames', () => {
  it('passes on exactly the well-formed events, in order, and survives the rest', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(frame, { maxLength: 12 }), async (frames) => {
        got.length = 0
        const end = `end-${++marker}`
        for (const f of frames) {
          if ('text' in f) peer.send(f.text)
          else peer.send(Buffer.from(f.binary), { binary: true })
        }
        peer.send(JSON.stringify({ type: end, data: {} }))
        const t0 = Date.now()
        while (!got.some((e) => e.type === end)) {
          if (Date.now() - t0 > 5000) throw new Error('the socket stopped passing events on')
          await new Promise((r) => setTimeout(r, 2))
        }
        const want = frames
          .map((f) => ('text' in f ? expected(f.text) : null))
          .filter((e): e is ComfyEvent => e !== null)
        expect(got.slice(0, -1)).toEqual(want)
        for (const e of got) {
          expect(typeof e.type).toBe('string')
          expect(e.data !== null && typeof e.data === 'object' && !Array.isArray(e.data)).toBe(true)
        }
        expect(sock.open).toBe(true)
      }),
      { numRuns: 200, seed: 20261201 }
    )
  })
})
