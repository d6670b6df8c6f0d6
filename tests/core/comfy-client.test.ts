import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { ComfyClient, splitUrlCredentials } from '../../src/main/core/comfy/client'
import { ComfyRequestError } from '../../src/main/core/comfy/errors'

const servers: http.Server[] = []
const clients: ComfyClient[] = []

/** A server on 127.0.0.1 that wants Basic auth for `user` / `p@ss:w rd` and records headers. */
async function authServer(): Promise<{ port: number; auth: Array<string | undefined> }> {
  const auth: Array<string | undefined> = []
  const want = `Basic ${Buffer.from('user:p@ss:w rd').toString('base64')}`
  const srv = http.createServer((req, res) => {
    auth.push(req.headers.authorization)
    if (req.headers.authorization !== want) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic' })
      return void res.end()
    }
    res.writeHead(200, { 'Content-Type': 'application/json' })
    res.end(JSON.stringify({ queue_running: [], queue_pending: [['1', 'p', {}]] }))
  })
  servers.push(srv)
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  return { port: (srv.address() as AddressInfo).port, auth }
}

function client(url: string, headers?: Record<string, string>): ComfyClient {
  const c = new ComfyClient({ server: { url, headers }, timeoutMs: 2000 })
  clients.push(c)
  return c
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.close()
  for (const s of servers.splice(0)) {
    s.closeAllConnections()
    await new Promise((r) => s.close(r))
  }
})

describe('splitUrlCredentials', () => {
  it('takes user and password out of the address as a Basic header', () => {
    expect(splitUrlCredentials('http://user:p%40ss%3Aw%20rd@10.0.0.5:8188/comfy/')).toEqual({
      url: 'http://10.0.0.5:8188/comfy/',
      authorization: `Basic ${Buffer.from('user:p@ss:w rd').toString('base64')}`
    })
    expect(splitUrlCredentials('https://tok@h.example').authorization).toBe(
      `Basic ${Buffer.from('tok:').toString('base64')}`
    )
  })

  it('leaves an address without credentials, or a broken one, as it is', () => {
    expect(splitUrlCredentials('http://10.0.0.5:8188')).toEqual({
      url: 'http://10.0.0.5:8188',
      authorization: null
    })
    expect(splitUrlCredentials('not a url')).toEqual({ url: 'not a url', authorization: null })
  })
})

describe('credentials in the server address', () => {
  it('sends them as Basic auth and keeps them out of client.url', async () => {
    const s = await authServer()
    const c = client(`http://user:p%40ss%3Aw%20rd@127.0.0.1:${s.port}/`)
    const r = await c.getQueue()
    expect(r.value.pending).toBe(1)
    expect(c.url).toBe(`http://127.0.0.1:${s.port}`)
  })

  it('lets an Authorization header of the server win over the address', async () => {
    const s = await authServer()
    const c = client(`http://user:p%40ss%3Aw%20rd@127.0.0.1:${s.port}`, {
      authorization: 'Bearer abc'
    })
    const err = await c.getQueue().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ComfyRequestError)
    expect((err as ComfyRequestError).status).toBe(401)
    expect(s.auth).toEqual(['Bearer abc'])
  })

  it('never puts them in an error message', async () => {
    const s = await authServer()
    const port = s.port
    for (const srv of servers.splice(0)) await new Promise((r) => srv.close(r))
    const c = client(`http://user:secretpw@127.0.0.1:${port}`)
    const err = (await c.getQueue().catch((e: unknown) => e)) as ComfyRequestError
    expect(err.kind).toBe('refused')
    expect(`${err.message} ${c.url}`).not.toMatch(/secretpw|user/)
  })
})
