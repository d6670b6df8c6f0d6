import { describe, expect, it } from 'vitest'
import { startGateway } from '../../src/main/core/gateway'
import { makeCore, tmp } from '../jobs/helpers'
import { postJson, raw, setup, WsClient } from './helpers'

describe('who may use the gateway', () => {
  it('refuses to listen beyond this machine without a token', async () => {
    const core = makeCore(['http://127.0.0.1:9'], tmp())
    await expect(startGateway(core, { host: '0.0.0.0', port: 0 })).rejects.toMatchObject({
      code: 'token-required',
      message: expect.stringContaining('--token')
    })
  })

  it('a taken port is a clear error', async () => {
    const { gw, core } = await setup(1)
    const port = Number(new URL(gw.url).port)
    await expect(startGateway(core, { port })).rejects.toMatchObject({ code: 'port-taken' })
  })

  it('refuses other origins, cross-site requests and other Host names; allows its own', async () => {
    const { gw } = await setup(1, {}, { allowedOrigins: ['http://krita.local:1234'] })
    const host = new URL(gw.url).host
    const queue = (headers: Record<string, string>) =>
      raw(gw.url, { path: '/api/queue', headers: { Host: host, ...headers } })
    expect((await queue({})).status).toBe(200)
    expect((await queue({ Origin: `http://${host}` })).status).toBe(200)
    expect((await queue({ Origin: `http://localhost:${new URL(gw.url).port}` })).status).toBe(403)
    expect((await queue({ Origin: 'http://evil.example' })).status).toBe(403)
    expect((await queue({ Origin: 'null' })).status).toBe(403)
    expect((await queue({ 'Sec-Fetch-Site': 'cross-site' })).status).toBe(403)
    expect((await queue({ Origin: 'http://krita.local:1234' })).status).toBe(200)
    // DNS rebinding: a page on its own name that resolves here, Origin and Host agreeing.
    const rebind = await raw(gw.url, {
      path: '/api/queue',
      headers: { Host: 'evil.example:80', Origin: 'http://evil.example:80' }
    })
    expect(rebind.status).toBe(403)
    // A cross-origin POST queues nothing.
    const post = await raw(gw.url, {
      method: 'POST',
      path: '/prompt',
      headers: { Host: host, Origin: 'http://evil.example', 'Content-Type': 'text/plain' },
      body: '{"prompt": {}}'
    })
    expect(post.status).toBe(403)
    // The socket too.
    const ws = new WsClient(gw.url, 'x', '', { Origin: 'http://evil.example' })
    await expect(ws.opened()).rejects.toThrow(/403/)
  })

  it('with a token: Bearer or ?token=, nothing else', async () => {
    const { gw } = await setup(1, {}, { token: 's3cret-token' })
    expect((await fetch(`${gw.url}/queue`)).status).toBe(401)
    expect(
      (await fetch(`${gw.url}/queue`, { headers: { Authorization: 'Bearer wrong' } })).status
    ).toBe(401)
    expect(
      (await fetch(`${gw.url}/queue`, { headers: { Authorization: 'Bearer s3cret-token' } })).status
    ).toBe(200)
    expect((await fetch(`${gw.url}/queue?token=s3cret-token`)).status).toBe(200)
    const bad = new WsClient(gw.url, 'a')
    await expect(bad.opened()).rejects.toThrow(/401/)
    const good = new WsClient(gw.url, 'b', '&token=s3cret-token')
    await good.opened()
  })

  it('caps bodies and answers bad requests without falling over', async () => {
    const { gw } = await setup(1)
    const big = await postJson(gw.url, '/queue', JSON.stringify({ delete: ['x'.repeat(2e6)] }))
    expect(big.status).toBe(413)
    expect((await postJson(gw.url, '/queue', 'null')).status).toBe(500)
    expect((await postJson(gw.url, '/history', '')).status).toBe(500)
    expect((await postJson(gw.url, '/interrupt', '')).status).toBe(200)
    expect((await fetch(`${gw.url}/history/%E0%A4%A`)).status).toBe(200)
    expect((await fetch(`${gw.url}/nope`)).status).toBe(404)
    expect((await postJson(gw.url, '/nope', {})).status).toBe(405)
    // Still answering.
    expect((await postJson(gw.url, '/prompt', { prompt: { '1': {} } })).json.error.type).toBe(
      'invalid_prompt'
    )
  })
})
