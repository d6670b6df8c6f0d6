import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import type { AddressInfo } from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ComfyClient } from '../../src/main/core/comfy/client'
import { ComfyRequestError } from '../../src/main/core/comfy/errors'
import {
  downloadOutput,
  parseRejection,
  queuePrompt,
  viewFile
} from '../../src/main/core/comfy/prompt-api'

const servers: http.Server[] = []
const clients: ComfyClient[] = []
let dir = ''

async function serve(
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void
): Promise<{ url: string; paths: string[] }> {
  const paths: string[] = []
  const srv = http.createServer((req, res) => {
    paths.push(req.url ?? '')
    req.resume()
    req.on('end', () => handler(req, res))
  })
  servers.push(srv)
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, paths }
}

function client(url: string): ComfyClient {
  const c = new ComfyClient({ server: { url }, timeoutMs: 2000 })
  clients.push(c)
  return c
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-prompt-api-'))
})

afterEach(async () => {
  for (const c of clients.splice(0)) c.close()
  for (const s of servers.splice(0)) {
    s.closeAllConnections()
    await new Promise((r) => s.close(r))
  }
  fs.rmSync(dir, { recursive: true, force: true })
})

const REF = { filename: 'ComfyUI_00001_.png', subfolder: 'a b', type: 'output' }

describe('refusals', () => {
  it('trims the message and each detail line, keeping them otherwise literal', () => {
    const r = parseRejection(400, {
      error: {
        type: 'prompt_outputs_failed_validation',
        message: 'Prompt outputs failed validation\n\n',
        details: '',
        extra_info: {}
      },
      node_errors: {
        '4': {
          class_type: 'CheckpointLoaderSimple',
          errors: [
            {
              type: 'value_not_in_list',
              message: 'Value not in list\n',
              details: "ckpt_name: 'x.safetensors' not in  ['a.safetensors']\n\n",
              extra_info: { input_name: 'ckpt_name' }
            }
          ]
        }
      }
    })
    expect(r.message).toBe('Prompt outputs failed validation')
    expect(r.details).toEqual([
      "Node 4 (CheckpointLoaderSimple): Value not in list - ckpt_name: 'x.safetensors' not in  ['a.safetensors']"
    ])
    expect(r.missingCapability).toBe(true)
  })

  it('trims the top-level details used when there are no node errors', async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(400, { 'Content-Type': 'application/json' })
      res.end(
        JSON.stringify({
          error: {
            type: 'invalid_prompt',
            message: 'Cannot execute because node Foo does not exist.\n',
            details: "Node ID '#1'\n\n",
            extra_info: {}
          },
          node_errors: {}
        })
      )
    })
    const r = await queuePrompt(client(srv.url), { prompt: {}, client_id: 'c', prompt_id: 'p' })
    expect(r).toMatchObject({
      ok: false,
      message: 'Cannot execute because node Foo does not exist.',
      details: ["Node ID '#1'"],
      missingCapability: true
    })
  })
})

describe('downloadOutput', () => {
  it('streams /api/view to the file with the reference as query', async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'image/png' })
      res.end('PNGDATA')
    })
    const dest = path.join(dir, 'o.png')
    const r = await downloadOutput(client(srv.url), REF, dest)
    expect(r).toEqual({ bytes: 7, contentType: 'image/png' })
    expect(fs.readFileSync(dest, 'utf8')).toBe('PNGDATA')
    const u = new URL(srv.paths[0]!, srv.url)
    expect(u.pathname).toBe('/api/view')
    expect(Object.fromEntries(u.searchParams)).toEqual(REF)
  })

  it('falls back to /view on an older server and remembers it', async () => {
    const srv = await serve((req, res) => {
      if (req.url?.startsWith('/api/')) {
        res.writeHead(404)
        return void res.end()
      }
      res.end('old')
    })
    const c = client(srv.url)
    await downloadOutput(c, REF, path.join(dir, '1.png'))
    await downloadOutput(c, REF, path.join(dir, '2.png'))
    expect(srv.paths.map((p) => p.split('?')[0])).toEqual(['/api/view', '/view', '/view'])
    expect(c.legacyRoutes).toBe(true)
    expect(fs.readFileSync(path.join(dir, '2.png'), 'utf8')).toBe('old')
  })

  it('reports a missing file as HTTP 404 and writes nothing', async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(404)
      res.end()
    })
    const c = client(srv.url)
    const err = (await downloadOutput(c, REF, path.join(dir, 'x.png')).catch(
      (e: unknown) => e
    )) as ComfyRequestError
    expect(err).toBeInstanceOf(ComfyRequestError)
    expect(err.status).toBe(404)
    expect(c.legacyRoutes).toBe(false)
    expect(fs.readdirSync(dir)).toEqual([])
  })
})

describe('viewFile', () => {
  it('refuses a file over 64 MB instead of holding it in memory', async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Length': String(65 * 1024 * 1024) })
      res.write(Buffer.alloc(10))
    })
    const err = (await viewFile(client(srv.url), REF).catch((e: unknown) => e)) as ComfyRequestError
    expect(err).toBeInstanceOf(ComfyRequestError)
    expect(err.kind).toBe('too-large')
  })

  it('still returns the bytes of a small file', async () => {
    const srv = await serve((_req, res) => res.end(Buffer.from([1, 2, 3])))
    const b = await viewFile(client(srv.url), REF)
    expect([...b]).toEqual([1, 2, 3])
  })
})
