/**
 * The e2e web bridge: serves the built renderer (out/renderer) on 127.0.0.1 and implements the
 * app's API over a WebSocket to a real BalancerCore, so Playwright drives the real page, the
 * real core and real sockets, with only the Electron glue left out.
 *
 * - `/` serves index.html with `<script src="./bridge.js">` added; that classic script runs
 *   before the page's deferred module script and defines `window.comfyBalancer`.
 * - `/bridge.js` is `bridge-client.ts` (and the preload's `createApi`) bundled by Vite.
 * - `/bridge` is the WebSocket. Calls go through the same `dispatch` (argument validation
 *   included) as Electron's ipcMain handlers; the core's events come back as the same pushes.
 *   Like the sender check in `src/main/ipc.ts`, only our own page's origin may connect.
 */
import { readFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname, join, normalize, resolve, sep } from 'node:path'
import { build } from 'vite'
import { WebSocketServer, type WebSocket } from 'ws'
import {
  createIpcHandlers,
  dispatch,
  forwardPushes,
  type IpcCore
} from '../../src/main/ipc-handlers'
import type { GatewayStatus } from '../../src/shared/ipc'
import type { BridgeMessage } from './bridge-client'
import { BYTES_KEY } from './bridge-protocol'

/** Turns `{ $bytes: base64 }` from the page back into bytes, as Electron's IPC would deliver them. */
function decodeBytes(_key: string, value: unknown): unknown {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const keys = Object.keys(value)
    const b64 = (value as Record<string, unknown>)[BYTES_KEY]
    if (keys.length === 1 && typeof b64 === 'string')
      return new Uint8Array(Buffer.from(b64, 'base64'))
  }
  return value
}

export interface BridgeOptions {
  core: IpcCore
  /** The built renderer. @default out/renderer under the repository root */
  rendererDir?: string
  /** @default 0 (any free port) */
  port?: number
  /** What `gateway:status` answers (the tray app's gateway service). */
  gatewayStatus?: () => GatewayStatus
}

export interface Bridge {
  /** The page's URL, e.g. `http://127.0.0.1:40123/`. */
  url: string
  /**
   * What the page asked the system to open (`jobs:openOutput`, `jobs:openFolder`), in order.
   * Electron would hand each to `shell.openPath`; here they are only recorded.
   */
  readonly opened: readonly string[]
  /** The answer of the next folder pickers (`settings:chooseOutputDir`); null = cancelled. */
  setChosenFolder(dir: string | null): void
  close(): Promise<void>
}

const ROOT = resolve(import.meta.dirname, '../..')
const HOST = '127.0.0.1'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json'
}

let clientScript: Promise<string> | null = null

/** Bundles bridge-client.ts (with the preload's createApi) into one classic script, once. */
function bundleClient(): Promise<string> {
  clientScript ??= build({
    configFile: false,
    logLevel: 'warn',
    build: {
      write: false,
      minify: false,
      lib: {
        entry: join(import.meta.dirname, 'bridge-client.ts'),
        formats: ['iife'],
        name: 'comfyBalancerBridge'
      }
    }
  }).then((out) => {
    const result = Array.isArray(out) ? out[0] : out
    if (!result || !('output' in result)) throw new Error('Could not bundle the bridge client')
    const chunk = result.output.find((o) => o.type === 'chunk')
    if (!chunk || chunk.type !== 'chunk') throw new Error('The bridge client bundle is empty')
    return chunk.code
  })
  return clientScript
}

export async function startBridge(opts: BridgeOptions): Promise<Bridge> {
  const dir = resolve(opts.rendererDir ?? join(ROOT, 'out/renderer'))
  const indexHtml = await readFile(join(dir, 'index.html'), 'utf8').catch(() => {
    throw new Error(`No built renderer at ${dir}: run \`npx electron-vite build\` first`)
  })
  if (!indexHtml.includes('</head>')) throw new Error(`${dir}/index.html has no </head>`)
  const page = indexHtml.replace('</head>', '    <script src="./bridge.js"></script>\n  </head>')
  const script = await bundleClient()
  const opened: string[] = []
  let chosenFolder: string | null = null
  const handlers = createIpcHandlers(opts.core, {
    openPath: async (target) => {
      opened.push(target)
      return ''
    },
    chooseFolder: async () => chosenFolder,
    ...(opts.gatewayStatus ? { gatewayStatus: opts.gatewayStatus } : {})
  })

  const server = createServer((req, res) => {
    void serve(req, res).catch((err: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err))
    })
  })

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)
    if (req.method !== 'GET') return void res.writeHead(405).end()
    if (path === '/' || path === '/index.html') {
      return void res.writeHead(200, { 'content-type': TYPES['.html'] }).end(page)
    }
    // Browsers ask for it; the Electron window (file://) never does.
    if (path === '/favicon.ico') return void res.writeHead(204).end()
    if (path === '/bridge.js') {
      return void res.writeHead(200, { 'content-type': TYPES['.js'] }).end(script)
    }
    const file = normalize(join(dir, path))
    if (!file.startsWith(dir + sep)) return void res.writeHead(403).end()
    const body = await readFile(file).catch(() => null)
    if (!body) return void res.writeHead(404).end()
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' })
    res.end(body)
  }

  await new Promise<void>((ok, fail) => {
    server.once('error', fail)
    server.listen(opts.port ?? 0, HOST, () => ok())
  })
  const origin = `http://${HOST}:${(server.address() as AddressInfo).port}`

  const wss = new WebSocketServer({
    server,
    path: '/bridge',
    verifyClient: ({ origin: from }: { origin: string }) => from === origin
  })
  wss.on('connection', (socket: WebSocket) => {
    const send = (msg: BridgeMessage) => {
      if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(msg))
    }
    const stop = forwardPushes(opts.core, (push, payload) => send({ push, payload }))
    socket.on('close', stop)
    socket.on('message', (data) => {
      let call: { id: number; channel: string; args: unknown[] }
      try {
        call = JSON.parse(String(data), decodeBytes) as typeof call
        if (typeof call.id !== 'number' || !Array.isArray(call.args)) throw new Error('bad call')
      } catch {
        return socket.close(1003, 'Not a bridge call')
      }
      dispatch(handlers, call.channel, call.args).then(
        (result) => send({ id: call.id, ok: true, result }),
        (err: unknown) =>
          send({ id: call.id, ok: false, error: err instanceof Error ? err.message : String(err) })
      )
    })
  })

  return {
    url: `${origin}/`,
    opened,
    setChosenFolder(dir) {
      chosenFolder = dir
    },
    async close() {
      for (const client of wss.clients) client.terminate()
      await new Promise<void>((ok) => wss.close(() => ok()))
      server.closeAllConnections()
      await new Promise<void>((ok) => server.close(() => ok()))
    }
  }
}
