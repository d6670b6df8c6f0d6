import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { main } from '../../src/cli/index'
import type { CliIo } from '../../src/cli/io'
import { startFakeFleet } from '../../src/fake-comfy'

const cleanups: Array<() => Promise<unknown> | void> = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

function io(env: NodeJS.ProcessEnv = {}, interrupted: Promise<void> = new Promise(() => {})) {
  const out: string[] = []
  const err: string[] = []
  const value: CliIo = {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    env,
    isTty: false,
    interrupted
  }
  return { io: value, out, err }
}

async function fleet(count: number) {
  const f = await startFakeFleet({ count, jobMs: 150 })
  cleanups.push(() => f.stop())
  return f
}

describe('comfy-balancer status', () => {
  it('prints exactly the documented JSON object', async () => {
    const f = await fleet(2)
    f.servers[0]!.enqueueDummy(2)
    const dead = 'http://127.0.0.1:9' // discard port: nothing listens
    const t = io()
    const code = await main(
      ['status', '--json', '--timeout', '1000', '--servers', [...f.urls, dead].join(',')],
      t.io
    )
    expect(code).toBe(0)
    const obj = JSON.parse(t.out.join('\n'))
    expect(Object.keys(obj)).toEqual([
      'total',
      'healthy',
      'bestServer',
      'lastHealthCheck',
      'servers'
    ])
    expect(obj.total).toBe(3)
    expect(obj.healthy).toBe(2)
    expect(obj.bestServer).toBe(f.urls[1])
    expect(new Date(obj.lastHealthCheck).getTime()).toBeGreaterThan(0)
    expect(Object.keys(obj.servers[0])).toEqual([
      'url',
      'name',
      'healthy',
      'queue',
      'latencyMs',
      'system',
      'error',
      'etaMs'
    ])
    expect(obj.servers[0].queue).toEqual({ running: 1, pending: 1, total: 2 })
    expect(obj.servers[0].error).toBeNull()
    expect(obj.servers[2]).toMatchObject({ url: dead, healthy: false, system: null })
    expect(obj.servers[2].error).toMatch(/Connection refused/)
  })

  it('exits 1 with bestServer null when nothing is healthy', async () => {
    const t = io()
    const code = await main(['status', '--json', '--servers', 'http://127.0.0.1:9'], t.io)
    expect(code).toBe(1)
    expect(JSON.parse(t.out.join('\n')).bestServer).toBeNull()
  })

  it('prints a readable table', async () => {
    const f = await fleet(1)
    const t = io()
    expect(await main(['status', '--servers', f.urls[0]!], t.io)).toBe(0)
    const lines = t.out.join('\n').split('\n')
    expect(lines[0]).toMatch(/^1\/1 servers up - best: 127\.0\.0\.1:\d+/)
    expect(lines[1]).toMatch(/^ \* 127\.0\.0\.1:\d+ .* up .*running 0, pending 0, total 0/)
  })

  it('exits 2 on bad usage, naming the problem', async () => {
    for (const args of [
      ['status', '--servers', 'ftp://x'],
      ['status', '--timeout', 'soon', '--servers', 'http://a:1'],
      ['status', '--bogus'],
      ['launch'],
      ['submit'],
      ['fake-fleet', '--count', '2', '--speeds', '1,2,3']
    ]) {
      const t = io()
      expect(await main(args, t.io), args.join(' ')).toBe(2)
      expect(t.err.join('\n').length).toBeGreaterThan(10)
    }
  })

  it('reads the app settings file when no --servers is given', async () => {
    const f = await fleet(1)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-cli-'))
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }))
    const file = path.join(dir, 'config.json')
    fs.writeFileSync(
      file,
      JSON.stringify({ timeout: 'x', servers: [{ name: 'studio', url: f.urls[0] }] })
    )
    const t = io({ COMFY_BALANCER_CONFIG: file })
    expect(await main(['status', '--json'], t.io)).toBe(0)
    expect(JSON.parse(t.out.join('\n')).servers[0].name).toBe('studio')
    expect(t.err.join('\n')).toMatch(/timeout must be a whole number/)
    const missing = io({ COMFY_BALANCER_CONFIG: path.join(dir, 'nope.json') })
    expect(await main(['status'], missing.io)).toBe(2)
    expect(missing.err.join('\n')).toMatch(/no settings file/)
  })
})

describe('comfy-balancer watch', () => {
  it('stops after --rounds and logs concise lines, or one per server with --verbose', async () => {
    const f = await fleet(2)
    const t = io()
    expect(
      await main(
        ['watch', '--servers', f.urls.join(','), '--interval', '500', '--rounds', '2'],
        t.io
      )
    ).toBe(0)
    expect(t.out.filter((l) => l.includes('[LoadBalancer]'))).toHaveLength(1)
    expect(t.out.join('\n')).toMatch(/Available servers: 2\/2, best: 127\.0\.0\.1:\d+ \(queue: 0\)/)
    const v = io()
    expect(
      await main(
        ['watch', '--servers', f.urls.join(','), '--interval', '500', '--rounds', '2', '--verbose'],
        v.io
      )
    ).toBe(0)
    expect(v.out.filter((l) => / healthy, running 0, pending 0, total 0/.test(l))).toHaveLength(4)
  })
})

describe('comfy-balancer fake-fleet', () => {
  it('prints the URLs of servers that answer, until interrupted', async () => {
    let stop!: () => void
    const interrupted = new Promise<void>((r) => (stop = r))
    const t = io({}, interrupted)
    const running = main(['fake-fleet', '--count', '2', '--speeds', '1,0.5'], t.io)
    const t0 = Date.now()
    while (t.out.length < 3 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20))
    const urls = t.out.slice(1).map((l) => l.split(/\s+/)[0]!)
    expect(urls).toHaveLength(2)
    for (const u of urls) expect((await fetch(`${u}/api/queue`)).status).toBe(200)
    stop()
    expect(await running).toBe(0)
  })

  it('starts a large fleet in one process, up to 1000 servers', async () => {
    let stop!: () => void
    const interrupted = new Promise<void>((r) => (stop = r))
    const t = io({}, interrupted)
    const running = main(['fake-fleet', '--count', '100'], t.io)
    const t0 = Date.now()
    while (t.out.length < 101 && Date.now() - t0 < 10_000) {
      await new Promise((r) => setTimeout(r, 20))
    }
    const urls = t.out.slice(1).map((l) => l.split(/\s+/)[0]!)
    expect(new Set(urls).size).toBe(100)
    expect((await fetch(`${urls[99]}/api/queue`)).status).toBe(200)
    stop()
    expect(await running).toBe(0)
    const big = io()
    expect(await main(['fake-fleet', '--count', '1001'], big.io)).toBe(2)
    expect(big.err.join('\n')).toMatch(/--count/)
  }, 20_000)
})

describe('comfy-balancer submit', () => {
  it('sends a workflow, waits, saves outputs and prints the documented JSON', async () => {
    const f = await fleet(2)
    f.servers[0]!.enqueueDummy(3)
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-cli-out-'))
    cleanups.push(() => fs.rmSync(out, { recursive: true, force: true }))
    const t = io()
    const wf = path.join(import.meta.dirname, '..', 'fixtures', 'txt2img.json')
    const code = await main(
      ['submit', wf, '--servers', f.urls.join(','), '--wait', '--json', '--out', out],
      t.io
    )
    expect(t.err).toEqual([])
    expect(code).toBe(0)
    const obj = JSON.parse(t.out.join('\n'))
    expect(Object.keys(obj)).toEqual(['promptId', 'server', 'status', 'outputs', 'attempts'])
    expect(obj.status).toBe('done')
    expect(obj.server).toBe(f.urls[1])
    expect(obj.attempts).toEqual([{ server: f.urls[1], result: 'accepted' }])
    expect(obj.outputs).toHaveLength(1)
    expect(fs.existsSync(obj.outputs[0])).toBe(true)
    expect(obj.outputs[0].startsWith(out)).toBe(true)
  })

  it('exits 2 with the file and the problem for a bad workflow', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-cli-wf-'))
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }))
    const file = path.join(dir, 'ui.json')
    fs.writeFileSync(file, JSON.stringify({ last_node_id: 3, nodes: [], links: [] }))
    const t = io()
    expect(await main(['submit', file, '--servers', 'http://127.0.0.1:9'], t.io)).toBe(2)
    expect(t.err.join('\n')).toMatch(/ui\.json: this is a UI-format workflow/)
  })

  it('exits 1 and prints the node errors for a workflow the server refuses', async () => {
    const f = await fleet(1)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-cli-wf-'))
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }))
    const raw = JSON.parse(
      fs.readFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'txt2img.json'), 'utf8')
    )
    raw['3'].inputs.cfg = 'strong'
    const file = path.join(dir, 'broken.json')
    fs.writeFileSync(file, JSON.stringify(raw))
    const t = io()
    expect(await main(['submit', file, '--servers', f.urls[0]!, '--wait'], t.io)).toBe(1)
    expect(t.out.join('\n')).toMatch(/Failed: Prompt outputs failed validation/)
    expect(t.out.join('\n')).toMatch(/Node 3 \(KSampler\)/)
  })
})
