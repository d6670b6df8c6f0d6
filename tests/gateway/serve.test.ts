import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { runServe } from '../../src/cli/serve'
import type { CliIo } from '../../src/cli/io'
import { servers } from '../jobs/helpers'
import { getJson, onCleanup, postJson, tmp, txt2img, until, WsClient } from './helpers'

function fakeIo(dir: string) {
  const out: string[] = []
  const err: string[] = []
  let stop = () => {}
  const interrupted = new Promise<void>((r) => (stop = r))
  const io: CliIo = {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    env: { COMFY_BALANCER_DATA: dir },
    isTty: false,
    interrupted
  }
  return { io, out, err, stop: () => stop() }
}

/** A port something else already listens on. */
async function takenPort(): Promise<number> {
  const srv = net.createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()))
  onCleanup(() => new Promise<void>((r) => srv.close(() => r())))
  return (srv.address() as net.AddressInfo).port
}

describe('comfy-balancer serve', () => {
  it('serves the fleet on one address until stopped, then closes everything', async () => {
    const fakes = await servers(2, { jobMs: 50 })
    const dir = tmp()
    const f = fakeIo(dir)
    const done = runServe(
      ['--servers', fakes.map((x) => x.url).join(','), '--port', '0', '--out', path.join(dir, 'o')],
      f.io
    )
    let code: number | null = null
    void done.then((c) => (code = c))
    onCleanup(async () => {
      f.stop()
      await done
    })
    await until(
      () => f.out.some((l) => l.startsWith('Gateway: http://127.0.0.1:')) || code !== null
    )
    expect(code).toBeNull()
    const url = /Gateway: (http:\/\/127\.0\.0\.1:\d+)/.exec(f.out.join('\n'))![1]!
    const ws = new WsClient(url, 'script')
    await ws.opened()
    const r = await postJson(url, '/prompt', { prompt: txt2img(), client_id: 'script' })
    expect(r.status).toBe(200)
    await ws.finished(r.json.prompt_id)
    expect((await getJson(url, `/history/${r.json.prompt_id}`))[r.json.prompt_id]).toBeTruthy()
    // The job ran on one of the servers, under the client's prompt id.
    expect(fakes.flatMap((x) => x.historyIds())).toEqual([r.json.prompt_id])

    // Finished for the gateway too (its outputs saved), then stopped.
    let remaining = -1
    await until(() => {
      // A look still under way when the gateway stops is refused: not an error of the test.
      void getJson(url, '/prompt')
        .then((p) => (remaining = p.exec_info.queue_remaining))
        .catch(() => undefined)
      return remaining === 0
    })
    f.stop()
    expect(await done).toBe(0)
    await expect(fetch(`${url}/prompt`)).rejects.toThrow()
    // The run's lock and its finished journal are gone with it.
    expect(fs.readdirSync(path.join(dir, 'cli'))).toEqual([])
  })

  it('a taken port is a clear message and exit 2', async () => {
    const fakes = await servers(1)
    const port = await takenPort()
    const f = fakeIo(tmp())
    const code = await runServe(['--servers', fakes[0]!.url, '--port', String(port)], f.io)
    expect(code).toBe(2)
    expect(f.err.join('\n')).toContain(`Port ${port} is already in use`)
  })

  it('a host other machines can reach needs --token', async () => {
    const fakes = await servers(1)
    const f = fakeIo(tmp())
    const code = await runServe(['--servers', fakes[0]!.url, '--host', '0.0.0.0'], f.io)
    expect(code).toBe(2)
    expect(f.err.join('\n')).toContain('--token')
    const short = fakeIo(tmp())
    expect(await runServe(['--servers', fakes[0]!.url, '--token', 'x'], short.io)).toBe(2)
    expect(short.err.join('\n')).toContain('--token must be')
  })

  it('bad usage is exit 2 with the help', async () => {
    const f = fakeIo(tmp())
    expect(await runServe(['--nope'], f.io)).toBe(2)
    expect(f.err.join('\n')).toContain('Usage: comfy-balancer serve')
    const g = fakeIo(tmp())
    expect(await runServe(['--servers', 'http://127.0.0.1:1', '--port', '99999'], g.io)).toBe(2)
  })
})
