import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import type { AddressInfo } from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ComfyClient } from '../../src/main/core/comfy/client'
import { ComfyRequestError } from '../../src/main/core/comfy/errors'
import { downloadOutput, queuePrompt, uploadImage } from '../../src/main/core/comfy/prompt-api'
import { createHttpTransport, type HttpTransport } from '../../src/main/core/comfy/transport'

interface Seen {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  body: Buffer
  port: number
}

interface Local {
  url: string
  seen: Seen[]
}

const servers: http.Server[] = []
const transports: HttpTransport[] = []
let dir = ''

/** A small server on 127.0.0.1 that records every request (and the client port it came from). */
async function serve(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void
): Promise<Local> {
  const seen: Seen[] = []
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body,
        port: req.socket.remotePort ?? 0
      })
      handler(req, res, body)
    })
  })
  servers.push(srv)
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, seen }
}

function transport(): HttpTransport {
  const t = createHttpTransport()
  transports.push(t)
  return t
}

function client(url: string, headers?: Record<string, string>): ComfyClient {
  return new ComfyClient({ server: { url, headers }, timeoutMs: 3000, transport: transport() })
}

async function failure(p: Promise<unknown>): Promise<ComfyRequestError> {
  try {
    await p
  } catch (err) {
    expect(err).toBeInstanceOf(ComfyRequestError)
    return err as ComfyRequestError
  }
  throw new Error('expected a failure')
}

/** A ComfyUI-like server for the routes the tests use. */
function comfy(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = req.url ?? ''
  res.setHeader('Content-Type', 'application/json')
  if (url === '/api/queue') res.end(JSON.stringify({ queue_running: [], queue_pending: [] }))
  else if (url === '/api/prompt' && req.method === 'GET') {
    res.end(JSON.stringify({ exec_info: { queue_remaining: 0 } }))
  } else if (url === '/api/prompt') res.end('{"prompt_id":"p1","number":1,"node_errors":{}}')
  else if (url === '/api/upload/image') res.end('{"name":"in.png","subfolder":"","type":"input"}')
  else if (url.startsWith('/api/view')) {
    res.setHeader('Content-Type', 'image/png')
    res.end(Buffer.from('PNGDATA'))
  } else {
    res.statusCode = 404
    res.end('{}')
  }
}

const AXIOS_AGENT = /^axios\/\d/

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-routes-'))
})

afterEach(async () => {
  for (const t of transports.splice(0)) t.close()
  for (const s of servers.splice(0)) {
    s.closeAllConnections()
    await new Promise((r) => s.close(r))
  }
  fs.rmSync(dir, { recursive: true, force: true })
})

describe('which path a request takes', () => {
  it('sends checks over the lean path and submit, upload and download through axios', async () => {
    const home = await serve((req, res) => comfy(req, res))
    const c = client(home.url, { 'X-Api-Key': 'k-7' })
    await c.getQueue()
    await c.send('GET', '/prompt')
    await queuePrompt(c, { prompt: { '1': {} }, client_id: 'c', prompt_id: 'p1' })
    const up = await uploadImage(c, new Uint8Array([1, 2, 3]), 'in.png')
    expect(up.name).toBe('in.png')
    const dest = path.join(dir, 'out.png')
    const r = await downloadOutput(c, { filename: 'out.png', subfolder: '', type: 'output' }, dest)
    expect(r).toEqual({ bytes: 7, contentType: 'image/png' })
    expect(fs.readFileSync(dest, 'utf8')).toBe('PNGDATA')

    const byRoute = home.seen.map((s) => [
      `${s.method} ${s.url.split('?')[0]}`,
      AXIOS_AGENT.test(s.headers['user-agent'] ?? '') ? 'axios' : 'http'
    ])
    expect(byRoute).toEqual([
      ['GET /api/queue', 'http'],
      ['GET /api/prompt', 'http'],
      ['POST /api/prompt', 'axios'],
      ['POST /api/upload/image', 'axios'],
      ['GET /api/view', 'axios']
    ])
    for (const s of home.seen) expect(s.headers['x-api-key']).toBe('k-7')
    // Both paths share the transport's one keep-alive connection.
    expect(new Set(home.seen.map((s) => s.port)).size).toBe(1)
  })

  it('sends an upload as multipart with the file and its fields', async () => {
    const home = await serve((req, res) => comfy(req, res))
    await uploadImage(client(home.url), new Uint8Array([0x89, 0x50, 0x4e, 0x47]), 'a b.png', 'sub')
    const s = home.seen[0]!
    expect(s.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/)
    expect(Number(s.headers['content-length'])).toBe(s.body.length)
    const text = s.body.toString('latin1')
    expect(text).toContain('name="image"; filename="a b.png"')
    expect(text).toContain('\x89PNG')
    expect(text).toMatch(/name="type"\r\n\r\ninput\r\n/)
    expect(text).toMatch(/name="subfolder"\r\n\r\nsub\r\n/)
  })

  it('sends a JSON body with its type and length', async () => {
    const home = await serve((req, res) => comfy(req, res))
    await queuePrompt(client(home.url), { prompt: { '1': {} }, client_id: 'c9', prompt_id: 'p1' })
    const s = home.seen[0]!
    expect(s.headers['content-type']).toBe('application/json')
    expect(Number(s.headers['content-length'])).toBe(s.body.length)
    expect(JSON.parse(s.body.toString('utf8'))).toMatchObject({ client_id: 'c9', prompt_id: 'p1' })
  })
})

describe('the axios path', () => {
  it('does not follow a cross-origin 307 on POST, so neither prompt nor header leaves', async () => {
    const elsewhere = await serve((_req, res) => res.end('{"prompt_id":"p1","number":0}'))
    const home = await serve((_req, res) => {
      res.writeHead(307, { Location: `${elsewhere.url}/api/prompt?k=1` })
      res.end()
    })
    const err = await failure(
      transport().request({
        method: 'POST',
        url: `${home.url}/api/prompt`,
        headers: { 'X-Api-Key': 'k-3' },
        body: { prompt: {} },
        timeoutMs: 3000
      })
    )
    expect(err.kind).toBe('redirect')
    expect(err.status).toBe(307)
    expect(err.message).toContain(`${elsewhere.url}/api/prompt`)
    expect(err.message).not.toContain('k=1')
    expect(elsewhere.seen).toHaveLength(0)
    expect(home.seen).toHaveLength(1)
    expect(home.seen[0]!.headers['user-agent']).toMatch(AXIOS_AGENT)
  })

  it('sends the same upload again after a same-address 307', async () => {
    const home = await serve((req, res) => {
      if (req.url === '/api/upload/image') {
        res.writeHead(307, { Location: '/v2/upload/image' })
        res.end()
      } else res.end('{"name":"x.png"}')
    })
    const r = await uploadImage(client(home.url), new Uint8Array([5, 6, 7]), 'x.png')
    expect(r.name).toBe('x.png')
    expect(home.seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'POST /api/upload/image',
      'POST /v2/upload/image'
    ])
    const [a, b] = home.seen.map((s) => s.body.toString('latin1'))
    expect(a).toContain('filename="x.png"')
    expect(b!.length).toBe(a!.length)
  })

  it('reports a POST answer over its cap as too large, announced or streamed', async () => {
    const announced = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Length': '5000' })
      res.write('{')
      // Never finishes: the answer must come from the header alone.
    })
    const streamed = await serve((_req, res) => {
      res.writeHead(200)
      res.end(Buffer.alloc(5000, 0x20))
    })
    const t = transport()
    for (const url of [announced.url, streamed.url]) {
      const err = await failure(
        t.request({ method: 'POST', url, body: {}, maxBytes: 1024, timeoutMs: 3000 })
      )
      expect(err.kind).toBe('too-large')
      expect(err.message).toBe('The answer was larger than 1 KB')
    }
  })

  it.each(['POST', 'GET'] as const)(
    'closes the connection of a %s answer refused as too large',
    async (method) => {
      let closed!: () => void
      const gone = new Promise<string>((r) => (closed = () => r('closed')))
      const home = await serve((req, res) => {
        req.socket.once('close', closed)
        res.writeHead(200, { 'Content-Length': '5000' })
        res.write('{')
        // Then silence: only the client can end this connection.
      })
      const err = await failure(
        transport().request({
          method,
          url: home.url,
          body: method === 'POST' ? {} : undefined,
          maxBytes: 1024,
          timeoutMs: 3000
        })
      )
      expect(err.kind).toBe('too-large')
      let timer: ReturnType<typeof setTimeout> | undefined
      const waited = new Promise<string>((r) => (timer = setTimeout(() => r('still open'), 1500)))
      expect(await Promise.race([gone, waited])).toBe('closed')
      clearTimeout(timer)
    }
  )

  it('ends a POST whose answer trickles forever at its one deadline', async () => {
    let bytes = 0
    const home = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' })
      const t = setInterval(() => {
        bytes++
        res.write(' ')
      }, 20)
      res.on('close', () => clearInterval(t))
    })
    const err = await failure(
      transport().request({ method: 'POST', url: `${home.url}/prompt`, body: {}, timeoutMs: 300 })
    )
    expect(err.kind).toBe('timeout')
    expect(err.message).toBe('Timed out after 300 ms')
    expect(bytes).toBeGreaterThan(0)
  })

  it('reports a closed port as refused and any status as an answer', async () => {
    const gone = await serve(() => undefined)
    const srv = servers.pop()!
    await new Promise((r) => srv.close(r))
    const t = transport()
    const err = await failure(
      t.request({ method: 'POST', url: `${gone.url}/prompt`, body: {}, timeoutMs: 3000 })
    )
    expect(err.kind).toBe('refused')

    const home = await serve((_req, res) => {
      res.writeHead(400, { 'Content-Type': 'application/json' })
      res.end('{"error":{"type":"prompt_no_outputs"}}')
    })
    const r = await t.request({
      method: 'POST',
      url: `${home.url}/prompt`,
      body: {},
      timeoutMs: 3000
    })
    expect(r).toEqual({
      status: 400,
      contentType: 'application/json',
      text: '{"error":{"type":"prompt_no_outputs"}}'
    })
  })

  it('writes a compressed download as the file itself', async () => {
    const file = Buffer.from('frame '.repeat(2000))
    const home = await serve((_req, res) => {
      const gz = zlib.gzipSync(file)
      res.writeHead(200, {
        'Content-Type': 'text/plain',
        'Content-Encoding': 'gzip',
        'Content-Length': String(gz.length)
      })
      res.end(gz)
    })
    const dest = path.join(dir, 'log.txt')
    const r = await transport().download!(
      { url: home.url },
      { destFile: dest, idleTimeoutMs: 2000 }
    )
    expect(r.bytes).toBe(file.length)
    expect(fs.readFileSync(dest).equals(file)).toBe(true)
  })
})

describe('proxies', () => {
  const names = ['HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy'] as const
  let saved: Record<string, string | undefined> = {}

  beforeEach(() => {
    saved = Object.fromEntries(names.map((n) => [n, process.env[n]]))
  })

  afterEach(() => {
    for (const n of names) {
      if (saved[n] === undefined) delete process.env[n]
      else process.env[n] = saved[n]
    }
  })

  it('talks to the server itself even when a proxy is set in the environment', async () => {
    const proxy = await serve((_req, res) => res.end('{"prompt_id":"stolen"}'))
    const home = await serve((req, res) => comfy(req, res))
    process.env.HTTP_PROXY = process.env.http_proxy = proxy.url
    process.env.NO_PROXY = process.env.no_proxy = ''
    const c = client(home.url)
    const r = await queuePrompt(c, { prompt: {}, client_id: 'c', prompt_id: 'p1' })
    expect(r).toMatchObject({ ok: true, promptId: 'p1' })
    await downloadOutput(
      c,
      { filename: 'o.png', subfolder: '', type: 'output' },
      path.join(dir, 'o')
    )
    expect(proxy.seen).toHaveLength(0)
    expect(home.seen.map((s) => s.method)).toEqual(['POST', 'GET'])
  })
})
