/**
 * Runs in the page served by the web bridge (bundled by `bridge.ts` into `/bridge.js`): builds
 * `window.comfyBalancer` with the preload's own `createApi`, over a WebSocket instead of Electron
 * IPC. Only the transport differs from the app.
 *
 * Protocol (JSON text frames):
 *   page -> bridge  { id, channel, args }
 *   bridge -> page  { id, ok: true, result } | { id, ok: false, error } | { push, payload }
 */
import { createApi, type IpcRendererLike } from '../../src/preload/create-api'
import { API_GLOBAL } from '../../src/shared/ipc'
import { BYTES_KEY } from './bridge-protocol'

/** The few browser globals used here, typed locally (this file is also seen by the Node project). */
interface BrowserSocket {
  readonly readyState: number
  send(data: string): void
  addEventListener(type: 'open' | 'close', fn: () => void): void
  addEventListener(type: 'message', fn: (ev: { data: unknown }) => void): void
}
const page = globalThis as unknown as {
  WebSocket: new (url: string) => BrowserSocket
  location: { host: string }
} & Record<string, unknown>

const OPEN = 1

function encodeBytes(_key: string, value: unknown): unknown {
  if (!(value instanceof Uint8Array)) return value
  let text = ''
  for (let i = 0; i < value.length; i += 0x8000) {
    text += String.fromCharCode(...value.subarray(i, i + 0x8000))
  }
  return { [BYTES_KEY]: (globalThis as unknown as { btoa(s: string): string }).btoa(text) }
}

export type BridgeMessage =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: string }
  | { push: string; payload: unknown }

type Listener = (event: unknown, payload: unknown) => void

function socketIpc(url: string): IpcRendererLike {
  const socket = new page.WebSocket(url)
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>()
  const listeners = new Map<string, Set<Listener>>()
  const outbox: string[] = []
  let nextId = 1

  socket.addEventListener('open', () => {
    for (const m of outbox.splice(0)) socket.send(m)
  })
  socket.addEventListener('close', () => {
    for (const p of pending.values()) p.reject(new Error('The bridge connection closed'))
    pending.clear()
  })
  socket.addEventListener('message', (ev) => {
    const msg = JSON.parse(String(ev.data)) as BridgeMessage
    if ('push' in msg) {
      for (const fn of listeners.get(msg.push) ?? []) fn({}, msg.payload)
      return
    }
    const p = pending.get(msg.id)
    pending.delete(msg.id)
    if (!p) return
    if (msg.ok) p.resolve(msg.result)
    else p.reject(new Error(msg.error))
  })

  const ipc = {
    invoke(channel: string, ...args: unknown[]): Promise<unknown> {
      return new Promise((resolve, reject) => {
        const id = nextId++
        pending.set(id, { resolve, reject })
        const m = JSON.stringify({ id, channel, args }, encodeBytes)
        if (socket.readyState === OPEN) socket.send(m)
        else outbox.push(m)
      })
    },
    on(channel: string, fn: Listener) {
      if (!listeners.has(channel)) listeners.set(channel, new Set())
      listeners.get(channel)!.add(fn)
      return ipc
    },
    removeListener(channel: string, fn: Listener) {
      listeners.get(channel)?.delete(fn)
      return ipc
    }
  }
  return ipc as unknown as IpcRendererLike
}

page[API_GLOBAL] = createApi(socketIpc(`ws://${page.location.host}/bridge`))
