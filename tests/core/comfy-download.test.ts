import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import type { AddressInfo } from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ComfyRequestError } from '../../src/main/core/comfy/errors'
import { createHttpTransport, type HttpTransport } from '../../src/main/core/comfy/transport'

const servers: http.Server[] = []
const transports: HttpTransport[] = []
let dir = ''

/** A small server on 127.0.0.1; `hits` counts requests. */
async function serve(
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void
): Promise<{ url: string; hits: () => number }> {
  let hits = 0
  const srv = http.createServer((req, res) => {
    hits++
    handler(req, res)
  })
  servers.push(srv)
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, hits: () => hits }
}

function download(): NonNullable<HttpTransport['download']> {
  const t = createHttpTransport()
  transports.push(t)
  return t.download!.bind(t)
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

/** Writes `total` bytes in chunks, waiting for drain, `gapMs` between chunks when set. */
function pump(res: http.ServerResponse, total: number, chunk: Buffer, gapMs = 0): void {
  let sent = 0
  const next = () => {
    while (sent < total) {
      const n = Math.min(chunk.length, total - sent)
      sent += n
      const ok = res.write(n === chunk.length ? chunk : chunk.subarray(0, n))
      if (gapMs) return void setTimeout(next, gapMs)
      if (!ok) return void res.once('drain', next)
    }
    res.end()
  }
  next()
}

const leftovers = () => fs.readdirSync(dir)

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-download-'))
})

afterEach(async () => {
  for (const t of transports.splice(0)) t.close()
  for (const s of servers.splice(0)) {
    s.closeAllConnections()
    await new Promise((r) => s.close(r))
  }
  fs.rmSync(dir, { recursive: true, force: true })
})

describe('download to disk', () => {
  it('writes the file under its name only when complete, with progress', async () => {
    const body = Buffer.from('x'.repeat(100_000))
    const srv = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'image/png', 'Content-Length': String(body.length) })
      pump(res, body.length, body.subarray(0, 16_384))
    })
    const dest = path.join(dir, 'out.png')
    const seen: Array<[number, number | null]> = []
    const r = await download()(
      { url: `${srv.url}/api/view?filename=out.png` },
      {
        destFile: dest,
        idleTimeoutMs: 2000,
        maxBytes: 1_000_000,
        onProgress: (b, t) => seen.push([b, t])
      }
    )
    expect(r).toEqual({ bytes: body.length, contentType: 'image/png' })
    expect(fs.readFileSync(dest).equals(body)).toBe(true)
    expect(leftovers()).toEqual(['out.png'])
    expect(seen.at(-1)).toEqual([body.length, body.length])
  })

  it('keeps a slow but steady file going past the idle timeout', async () => {
    // 12 chunks 60 ms apart: about 0.7 s in all, never 250 ms without a byte.
    const srv = await serve((_req, res) => {
      res.writeHead(200)
      pump(res, 12 * 1000, Buffer.alloc(1000, 1), 60)
    })
    const dest = path.join(dir, 'slow.mp4')
    const r = await download()({ url: srv.url }, { destFile: dest, idleTimeoutMs: 250 })
    expect(r.bytes).toBe(12_000)
    expect(fs.statSync(dest).size).toBe(12_000)
  })

  it('fails with timeout when nothing arrives for the idle time, and leaves no file', async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Length': '5000' })
      res.write(Buffer.alloc(1000))
      // then silence
    })
    const dest = path.join(dir, 'stall.png')
    const err = await failure(download()({ url: srv.url }, { destFile: dest, idleTimeoutMs: 200 }))
    expect(err.kind).toBe('timeout')
    expect(leftovers()).toEqual([])
  })

  it('refuses a file announced over maxBytes before reading it', async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Length': String(10 * 1024 * 1024) })
      res.write(Buffer.alloc(10))
    })
    const dest = path.join(dir, 'big.png')
    const err = await failure(
      download()({ url: srv.url }, { destFile: dest, idleTimeoutMs: 2000, maxBytes: 1024 * 1024 })
    )
    expect(err.kind).toBe('too-large')
    expect(err.message).toBe('The file was larger than 1 MB')
    expect(leftovers()).toEqual([])
  })

  it('stops a file without a length once it passes maxBytes, and leaves no file', async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(200)
      pump(res, 5 * 1024 * 1024, Buffer.alloc(64 * 1024, 7))
    })
    const dest = path.join(dir, 'big.bin')
    const err = await failure(
      download()({ url: srv.url }, { destFile: dest, idleTimeoutMs: 2000, maxBytes: 1024 * 1024 })
    )
    expect(err.kind).toBe('too-large')
    expect(leftovers()).toEqual([])
  })

  it('reports a non-2xx answer with its status and writes nothing', async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(403, { 'Content-Type': 'text/plain' })
      res.end('no')
    })
    const dest = path.join(dir, 'f.png')
    const err = await failure(download()({ url: srv.url }, { destFile: dest, idleTimeoutMs: 2000 }))
    expect(err.kind).toBe('http')
    expect(err.status).toBe(403)
    expect(leftovers()).toEqual([])
  })

  it('removes the partial file when the server closes mid-way', async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Length': '100000' })
      res.write(Buffer.alloc(30_000), () => setTimeout(() => res.socket?.destroy(), 20))
    })
    const dest = path.join(dir, 'cut.png')
    const err = await failure(download()({ url: srv.url }, { destFile: dest, idleTimeoutMs: 2000 }))
    expect(err.kind).toBe('network')
    expect(leftovers()).toEqual([])
  })

  it('does not follow a redirect to another address', async () => {
    const other = await serve((_req, res) => res.end('stolen'))
    const srv = await serve((_req, res) => {
      res.writeHead(302, { Location: `${other.url}/x.png?key=1` })
      res.end()
    })
    const dest = path.join(dir, 'r.png')
    const err = await failure(download()({ url: srv.url }, { destFile: dest, idleTimeoutMs: 2000 }))
    expect(err.kind).toBe('redirect')
    expect(err.message).toContain(`${other.url}/x.png`)
    expect(err.message).not.toContain('key=')
    expect(other.hits()).toBe(0)
    expect(leftovers()).toEqual([])
  })

  it('follows a same-address redirect', async () => {
    const srv = await serve((req, res) => {
      if (req.url === '/a') {
        res.writeHead(307, { Location: '/b' })
        res.end()
      } else res.end('abc')
    })
    const dest = path.join(dir, 'ok.txt')
    const r = await download()({ url: `${srv.url}/a` }, { destFile: dest, idleTimeoutMs: 2000 })
    expect(r.bytes).toBe(3)
    expect(fs.readFileSync(dest, 'utf8')).toBe('abc')
  })

  it('stops when its signal fires and leaves no file', async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(200)
      res.write(Buffer.alloc(100))
    })
    const ac = new AbortController()
    const dest = path.join(dir, 's.bin')
    const p = download()(
      { url: srv.url },
      { destFile: dest, idleTimeoutMs: 5000, signal: ac.signal, onProgress: () => ac.abort() }
    )
    const err = await failure(p)
    expect(err.message).toBe('The download was stopped')
    expect(leftovers()).toEqual([])
  })

  it('streams 200 MB with memory far below the file size', async () => {
    const total = 200 * 1024 * 1024
    const chunk = Buffer.alloc(256 * 1024, 0x61)
    const srv = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Length': String(total), 'Content-Type': 'video/mp4' })
      pump(res, total, chunk)
    })
    const dest = path.join(dir, 'big.mp4')
    const before = process.memoryUsage()
    let peakRss = before.rss
    let peakBuffers = before.arrayBuffers
    let calls = 0
    const r = await download()(
      { url: srv.url },
      {
        destFile: dest,
        idleTimeoutMs: 10_000,
        onProgress: () => {
          if (++calls % 64) return
          const m = process.memoryUsage()
          peakRss = Math.max(peakRss, m.rss)
          peakBuffers = Math.max(peakBuffers, m.arrayBuffers)
        }
      }
    )
    expect(r.bytes).toBe(total)
    expect(fs.statSync(dest).size).toBe(total)
    expect(calls).toBeGreaterThan(64)
    // Buffered whole, both would grow by at least the file's 200 MB.
    expect(peakBuffers - before.arrayBuffers).toBeLessThan(48 * 1024 * 1024)
    expect(peakRss - before.rss).toBeLessThan(100 * 1024 * 1024)
  })
})
