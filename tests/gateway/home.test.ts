/** ComfyUI's window from the gateway address: what is not the API comes from one home server. */
import type http from 'node:http'
import { describe, expect, it } from 'vitest'
import { startGateway } from '../../src/main/core/gateway'
import { makeCore, servers } from '../jobs/helpers'
import { onCleanup, raw, tmp, until } from './helpers'

interface Seen {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
}

/** Notes every request a fake gets (its listener is a plain node http server). */
function record(fake: object): Seen[] {
  const seen: Seen[] = []
  const srv = (fake as { server: http.Server }).server
  srv.on('request', (req: http.IncomingMessage) =>
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers })
  )
  return seen
}

async function home(token?: string) {
  const fakes = await servers(2)
  const seen = fakes.map(record)
  const dir = tmp()
  // The first server has a password in its address: it goes with every request to it.
  const first = new URL(fakes[0]!.url)
  first.username = 'artist'
  first.password = 'server-secret'
  const core = makeCore([first.toString().replace(/\/$/, ''), fakes[1]!.url], dir)
  core.start()
  onCleanup(() => core.stop())
  await until(() => core.status().healthy === 2)
  const gw = await startGateway(core, { port: 0, dataDir: dir, token })
  onCleanup(() => gw.close())
  return { fakes, seen, gw, core }
}

describe('the home server behind the gateway', () => {
  it('GET / is the first healthy server’s answer, streamed, without its own headers', async () => {
    const { fakes, seen, gw } = await home()
    const direct = await fetch(`${fakes[0]!.url}/`)
    const expected = await direct.text()
    const res = await fetch(`${gw.url}/`)
    expect(res.status).toBe(200)
    expect(await res.text()).toBe(expected)
    expect(res.headers.get('content-type')).toBe(direct.headers.get('content-type'))
    // Only content headers cross: not the server's name, nor anything it sets for itself.
    for (const [k] of direct.headers) {
      if (
        ![
          'content-type',
          'content-length',
          'cache-control',
          'date',
          'connection',
          'keep-alive'
        ].includes(k)
      ) {
        expect(res.headers.get(k), k).toBeNull()
      }
    }
    const got = seen[0]!.filter((s) => s.url === '/')
    expect(got.length).toBeGreaterThanOrEqual(2)
    expect(seen[1]!.filter((s) => s.url === '/')).toEqual([])
  })

  it('passes other routes and methods on; the client’s token never reaches the server', async () => {
    const { seen, gw } = await home('client-token')
    const auth = { Authorization: 'Bearer client-token' }
    const res = await fetch(`${gw.url}/api/i18n?token=client-token&lang=en`, {
      headers: { ...auth, Cookie: 'a=b', 'Comfy-User': 'me' }
    })
    // The fake knows no /i18n: its 404 comes back as it said it.
    expect(res.status).toBe(404)
    expect(await res.text()).toBe('404: Not Found')
    const i18n = seen[0]!.find((s) => s.url.startsWith('/api/i18n'))!
    expect(i18n.url).toBe('/api/i18n?lang=en')
    expect(i18n.headers.authorization).toBe(
      `Basic ${Buffer.from('artist:server-secret').toString('base64')}`
    )
    expect(i18n.headers.cookie).toBeUndefined()
    expect(i18n.headers['comfy-user']).toBe('me')

    const post = await fetch(`${gw.url}/api/settings/Comfy.Locale`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify('en')
    })
    expect(post.status).toBe(405) // the fake has no settings: aiohttp's answer, passed on
    const s = seen[0]!.find((x) => x.url === '/api/settings/Comfy.Locale')!
    expect(s.method).toBe('POST')
    expect(s.headers.authorization).not.toContain('client-token')

    // The same rules as the API: no token, another origin.
    expect((await fetch(`${gw.url}/`)).status).toBe(401)
    const cross = await raw(gw.url, {
      path: '/?token=client-token',
      headers: { Origin: 'http://evil.example', Host: new URL(gw.url).host }
    })
    expect(cross.status).toBe(403)
    expect(seen[0]!.filter((x) => x.url.startsWith('/?'))).toEqual([])
  })

  it('the next healthy server is home when the first is down', async () => {
    const { fakes, seen, gw, core } = await home()
    await fakes[0]!.die()
    await until(() => core.status().healthy === 1, 10_000)
    const res = await fetch(`${gw.url}/`)
    expect(res.status).toBe(200)
    expect(seen[1]!.some((s) => s.url === '/')).toBe(true)
  })
})
