import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import type { AddressInfo } from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ComfyClient } from '../../src/main/core/comfy/client'
import { ComfyRequestError } from '../../src/main/core/comfy/errors'
import { queuePrompt } from '../../src/main/core/comfy/prompt-api'
import {
  createHttpTransport,
  MAX_RESPONSE_BYTES,
  type HttpTransport
} from '../../src/main/core/comfy/transport'

interface Seen {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  body: string
}

interface Local {
  url: string
  seen: Seen[]
}

const servers: http.Server[] = []
const transports: HttpTransport[] = []
let dir = ''

/** A small server on 127.0.0.1 that records every request and answers with `handler`. */
async function serve(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void
): Promise<Local> {
  const seen: Seen[] = []
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body })
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

const QUEUE = JSON.stringify({ queue_running: [], queue_pending: [] })

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-transport-'))
})

afterEach(async () => {
  for (const t of transports.splice(0)) t.close()
  for (const s of servers.splice(0)) {
    s.closeAllConnections()
    await new Promise((r) => s.close(r))
  }
  fs.rmSync(dir, { recursive: true, force: true })
})

describe('redirects', () => {
  it('does not follow a redirect to another address, so the auth header stays home', async () => {
    const elsewhere = await serve((_req, res) => res.end(QUEUE))
    const target = elsewhere.url.replace('127.0.0.1', 'u:secret@127.0.0.1') + '/steal?token=abc'
    const home = await serve((_req, res) => {
      res.writeHead(302, { Location: target })
      res.end()
    })
    const err = await failure(client(home.url, { 'X-Api-Key': 'k-123' }).getQueue())
    expect(err.kind).toBe('redirect')
    expect(err.message).toContain('redirected to another address')
    expect(err.message).toContain('not followed')
    expect(err.message).toContain(`${elsewhere.url}/steal`)
    expect(err.message).not.toMatch(/secret|token|abc|u:/)
    expect(err.status).toBe(302)
    expect(elsewhere.seen).toHaveLength(0)
    expect(home.seen[0]!.headers['x-api-key']).toBe('k-123')
  })

  it('does not run a prompt on another address when POST /prompt answers 307', async () => {
    const elsewhere = await serve((_req, res) => res.end('{"prompt_id":"p1","number":0}'))
    const home = await serve((_req, res) => {
      res.writeHead(307, { Location: `${elsewhere.url}/api/prompt` })
      res.end()
    })
    const err = await failure(
      queuePrompt(client(home.url), { prompt: { '1': {} }, client_id: 'c', prompt_id: 'p1' })
    )
    expect(err.kind).toBe('redirect')
    expect(elsewhere.seen).toHaveLength(0)
  })

  it('treats another port or scheme on the same host as another address', async () => {
    const home = await serve((_req, res) => {
      res.writeHead(301, { Location: 'https://127.0.0.1/api/queue' })
      res.end()
    })
    const err = await failure(client(home.url).getQueue())
    expect(err.kind).toBe('redirect')
    expect(err.message).toContain('https://127.0.0.1/api/queue')
  })

  it('follows a same-address redirect on GET with the same headers', async () => {
    const home = await serve((req, res) => {
      if (req.url === '/api/queue') {
        res.writeHead(302, { Location: '/comfy/api/queue' })
        res.end()
      } else res.end(QUEUE)
    })
    const r = await client(home.url, { 'X-Api-Key': 'k-1' }).getQueue()
    expect(r.value.total).toBe(0)
    expect(home.seen.map((s) => s.url)).toEqual(['/api/queue', '/comfy/api/queue'])
    expect(home.seen[1]!.headers['x-api-key']).toBe('k-1')
  })

  it('keeps method, body and headers on a same-address 307/308 POST', async () => {
    const home = await serve((req, res) => {
      if (req.url === '/api/prompt') {
        res.writeHead(307, { Location: '/v2/api/prompt' })
        res.end()
      } else if (req.url === '/v2/api/prompt') {
        res.writeHead(308, { Location: '/v3/api/prompt' })
        res.end()
      } else res.end('{"prompt_id":"p9","number":4,"node_errors":{}}')
    })
    const r = await queuePrompt(client(home.url, { 'X-Api-Key': 'k-2' }), {
      prompt: { '1': { class_type: 'X', inputs: {} } },
      client_id: 'c',
      prompt_id: 'p9'
    })
    expect(r).toMatchObject({ ok: true, promptId: 'p9', number: 4 })
    expect(home.seen).toHaveLength(3)
    for (const s of home.seen) {
      expect(s.method).toBe('POST')
      expect(s.headers['x-api-key']).toBe('k-2')
      expect(JSON.parse(s.body)).toMatchObject({ prompt_id: 'p9', client_id: 'c' })
    }
  })

  it('does not repeat a POST as a GET after 301/302/303', async () => {
    for (const status of [301, 302, 303]) {
      const home = await serve((req, res) => {
        if (req.url === '/api/prompt') {
          res.writeHead(status, { Location: '/elsewhere' })
          res.end()
        } else res.end('{"prompt_id":"x"}')
      })
      const err = await failure(
        queuePrompt(client(home.url), { prompt: {}, client_id: 'c', prompt_id: 'x' })
      )
      expect(err.kind).toBe('redirect')
      expect(err.status).toBe(status)
      expect(home.seen.map((s) => `${s.method} ${s.url}`)).toEqual(['POST /api/prompt'])
    }
  })

  it('stops after a few same-address redirects', async () => {
    let n = 0
    const home = await serve((_req, res) => {
      res.writeHead(302, { Location: `/loop${++n}` })
      res.end()
    })
    const err = await failure(
      transport().request({ method: 'GET', url: `${home.url}/start`, timeoutMs: 3000 })
    )
    expect(err.kind).toBe('redirect')
    expect(err.message).toContain('too many')
    expect(home.seen.length).toBeLessThanOrEqual(5)
  })
})

describe('sizes and deadlines', () => {
  it('reports an announced body over 64 MB as too large without reading it', async () => {
    const home = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Length': String(MAX_RESPONSE_BYTES + 1) })
      res.write('{"queue_running":[')
      // Never finishes: the answer must come from the header alone.
    })
    const err = await failure(client(home.url).getQueue())
    expect(err.kind).toBe('too-large')
    expect(err.message).toBe('The answer was larger than 64 MB')
  })

  it('reports a streamed body over 64 MB as too large, not as a broken answer', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 0x20)
    const home = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' })
      let sent = 0
      const pump = () => {
        while (sent < 70) {
          sent++
          if (!res.write(chunk)) return void res.once('drain', pump)
        }
        res.end()
      }
      pump()
    })
    const err = await failure(client(home.url).getQueue())
    expect(err.kind).toBe('too-large')
    expect(err.message).toBe('The answer was larger than 64 MB')
  })

  it('ends a request that trickles forever at its one deadline', async () => {
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
      transport().request({ method: 'GET', url: `${home.url}/api/queue`, timeoutMs: 300 })
    )
    expect(err.kind).toBe('timeout')
    expect(err.message).toBe('Timed out after 300 ms')
    expect(bytes).toBeGreaterThan(0)
  })
})
