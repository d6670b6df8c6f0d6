/**
 * The built CLI next to a running app: with the app's gateway on the address in its settings,
 * `submit`, `jobs` and `cancel` go through it (the job lands in the app's journal, one queue);
 * a server on that port that is not the app, no gateway at all, `--no-app`, or a token the
 * app does not take, and the CLI runs its own engine as before.
 */
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { FakeComfy } from '../../src/fake-comfy'
import { GatewayService } from '../../src/main/core/gateway'
import type { BalancerCore } from '../../src/main/core/app'
import { makeCore, onCleanup, servers, until } from '../jobs/helpers'
import { buildCli, runCli, workflowFile, type Run } from './spawn'

let cli: ReturnType<typeof buildCli>
beforeAll(() => {
  cli = buildCli()
}, 60_000)
afterAll(() => cli?.remove())

const runs: Run[] = []
afterEach(() => {
  for (const r of runs.splice(0)) {
    if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL')
  }
})

function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

const TOKEN = 'a-token-of-twenty-chars'

interface App {
  /** The app's data folder (settings, journal), also the CLI's. */
  data: string
  core: BalancerCore
  port: number
  fakes: FakeComfy[]
}

/** The settings file the app writes: its servers and its gateway. */
function writeSettings(
  data: string,
  urls: string[],
  gateway: { port: number; token?: string | null; enabled?: boolean }
): void {
  fs.writeFileSync(
    path.join(data, 'config.json'),
    JSON.stringify({
      servers: urls.map((url, i) => ({ id: `s${i}`, name: `gpu${i}`, url, enabled: true })),
      healthCheckInterval: 500,
      timeout: 500,
      gateway: {
        enabled: gateway.enabled ?? true,
        host: '127.0.0.1',
        port: gateway.port,
        token: gateway.token ?? null
      }
    })
  )
}

/** Fake servers, a core journaling in the data folder and its gateway, as the tray app runs them. */
async function startApp(opts: { jobMs?: number; token?: string | null } = {}): Promise<App> {
  const fakes = await servers(2, { jobMs: opts.jobMs ?? 200 })
  const data = tempDir('cb-app-')
  const core = makeCore(
    fakes.map((f) => f.url),
    data
  )
  core.start()
  await until(() => core.status().healthy === 2)
  const gateway = new GatewayService(core)
  await gateway.apply({ enabled: true, host: '127.0.0.1', port: 0, token: opts.token ?? null })
  onCleanup(() => gateway.stop())
  const state = gateway.state
  if (state.state !== 'on') throw new Error(`gateway ${JSON.stringify(state)}`)
  const port = Number(new URL(state.url).port)
  writeSettings(
    data,
    fakes.map((f) => f.url),
    { port, token: opts.token ?? null }
  )
  return { data, core, port, fakes }
}

function cli$(args: string[], data: string, cwd?: string): Run {
  const r = runCli(cli.entry, args, { COMFY_BALANCER_DATA: data }, cwd)
  runs.push(r)
  return r
}

/** Run files of the CLI's own engine (one journal per run) in the data folder. */
function cliRunFiles(data: string): string[] {
  try {
    return fs.readdirSync(path.join(data, 'cli'))
  } catch {
    return []
  }
}

const ID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/

describe('with the app running', () => {
  it("submit puts the job in the app's queue; jobs lists it; cancel cancels it there", async () => {
    const app = await startApp({ jobMs: 20_000 })
    const dir = tempDir('cb-wf-')
    const wf = workflowFile(dir, 'slow.json')
    const r = cli$(['submit', wf], app.data)
    expect(await r.exitWithin(10_000)).toBe(0)
    expect(r.stderr()).toContain('Through the running app')
    const id = ID.exec(r.stdout())?.[0]
    expect(id).toBeDefined()
    // One queue: the app's engine has the job, journaled in its journal; the CLI ran no engine.
    expect(app.core.jobs!.get(id!)?.source).toBe('slow.json')
    expect(fs.readFileSync(path.join(app.data, 'jobs.jsonl'), 'utf8')).toContain(id)
    expect(cliRunFiles(app.data)).toEqual([])

    const list = cli$(['jobs', '--json'], app.data)
    expect(await list.exitWithin(10_000)).toBe(0)
    const jobs = JSON.parse(list.stdout())
    expect(jobs).toContainEqual(expect.objectContaining({ id, owner: 'app', source: 'slow.json' }))
    expect(list.stdout()).not.toContain('Through the running app')

    const text = cli$(['jobs'], app.data)
    expect(await text.exitWithin(10_000)).toBe(0)
    expect(text.stdout()).toContain(id)

    const c = cli$(['cancel', id!.slice(0, 8)], app.data)
    expect(await c.exitWithin(10_000)).toBe(0)
    expect(c.stdout()).toContain(`Cancelled ${id}`)
    expect(app.core.jobs!.get(id!)?.state).toBe('cancelled')
  })

  it('submit --wait --out --json finishes with the outputs saved from the app', async () => {
    const app = await startApp()
    const dir = tempDir('cb-wf-')
    const wf = workflowFile(dir, 'quick.json')
    const out = path.join(dir, 'outs')
    const r = cli$(['submit', wf, '--wait', '--out', out, '--json'], app.data)
    expect(await r.exitWithin(20_000)).toBe(0)
    const res = JSON.parse(r.stdout())
    expect(res.status).toBe('done')
    expect(r.stderr()).toContain('Through the running app')
    const job = app.core.jobs!.get(res.promptId)!
    expect(job.state).toBe('done')
    expect(res.outputs).toHaveLength(job.outputs.length)
    expect(job.outputs.length).toBeGreaterThan(0)
    res.outputs.forEach((p: string, i: number) => {
      expect(p.startsWith(out)).toBe(true)
      expect(fs.readFileSync(p)).toEqual(fs.readFileSync(job.outputs[i]!.path))
    })
    expect(cliRunFiles(app.data)).toEqual([])

    // A batch, followed to its end; a pin on a server the app does not have is bad input.
    const b = cli$(['submit', wf, '--count', '2', '--wait', '--out', out, '--json'], app.data)
    expect(await b.exitWithin(20_000)).toBe(0)
    const batch = JSON.parse(b.stdout())
    expect(batch.jobs.map((j: { status: string }) => j.status)).toEqual(['done', 'done'])
    expect(app.core.jobs!.batchJobs(batch.batchId)).toHaveLength(2)
    for (const j of batch.jobs) for (const p of j.outputs) expect(fs.existsSync(p)).toBe(true)
    const pin = cli$(['submit', wf, '--server', 'http://127.0.0.1:1'], app.data)
    expect(await pin.exitWithin(10_000)).toBe(2)
    expect(pin.stderr()).toContain("not one of the app's servers")
  })

  it('a batch through the app, cancelled with cancel --batch', async () => {
    const app = await startApp({ jobMs: 20_000 })
    const wf = workflowFile(tempDir('cb-wf-'), 'many.json')
    const r = cli$(['submit', wf, '--count', '3', '--json'], app.data)
    expect(await r.exitWithin(10_000)).toBe(0)
    const { batchId, jobs } = JSON.parse(r.stdout())
    expect(jobs).toHaveLength(3)
    expect(app.core.jobs!.batchJobs(batchId)).toHaveLength(3)
    const c = cli$(['cancel', '--batch', batchId], app.data)
    expect(await c.exitWithin(10_000)).toBe(0)
    expect(app.core.jobs!.batchJobs(batchId).every((j) => j.state === 'cancelled')).toBe(true)
  })

  it('Ctrl-C and SIGTERM end a --wait and leave the job queued in the app', async () => {
    const app = await startApp({ jobMs: 20_000 })
    const wf = workflowFile(tempDir('cb-wf-'), 'slow.json')
    for (const [sig, code] of [
      ['SIGINT', 130],
      ['SIGTERM', 143]
    ] as const) {
      const r = cli$(['submit', wf, '--wait'], app.data)
      await r.waitFor(/running|queued|pending/)
      r.child.kill(sig)
      expect(await r.exitWithin(2_500)).toBe(code)
      expect(r.stderr()).toContain("stays in the app's queue")
      const id = ID.exec(r.stdout())![0]
      expect(['pending', 'queued', 'running']).toContain(app.core.jobs!.get(id)?.state)
    }
  })

  it("--no-app runs the CLI's own engine", async () => {
    const app = await startApp()
    const wf = workflowFile(tempDir('cb-wf-'), 'own.json')
    const r = cli$(['submit', wf, '--no-app'], app.data)
    expect(await r.exitWithin(10_000)).toBe(0)
    expect(r.stderr()).not.toContain('Through the running app')
    const id = ID.exec(r.stdout())![0]
    expect(app.core.jobs!.get(id)).toBeUndefined()
    expect(cliRunFiles(app.data).length).toBeGreaterThan(0)
  })

  it('with a token: the one in the settings gets in; another does not', async () => {
    const app = await startApp({ token: TOKEN, jobMs: 20_000 })
    const wf = workflowFile(tempDir('cb-wf-'), 'tok.json')
    const r = cli$(['submit', wf], app.data)
    expect(await r.exitWithin(10_000)).toBe(0)
    expect(r.stderr()).toContain('Through the running app')
    expect(app.core.jobs!.get(ID.exec(r.stdout())![0])).toBeDefined()

    writeSettings(
      app.data,
      app.fakes.map((f) => f.url),
      { port: app.port, token: 'not-the-token-of-the-app' }
    )
    const wrong = cli$(['submit', wf], app.data)
    expect(await wrong.exitWithin(10_000)).toBe(0)
    expect(wrong.stderr()).toContain('did not take the token')
    expect(app.core.jobs!.get(ID.exec(wrong.stdout())![0])).toBeUndefined()
  })
})

describe('without the app', () => {
  it("a ComfyUI (or anything else) on the settings' port is not taken for the app", async () => {
    const [fake] = await servers(1)
    const data = tempDir('cb-app-')
    // The gateway's port is a plain ComfyUI here.
    writeSettings(data, [fake!.url], { port: fake!.port })
    const wf = workflowFile(tempDir('cb-wf-'), 'own.json')
    const r = cli$(['submit', wf], data)
    expect(await r.exitWithin(10_000)).toBe(0)
    expect(r.stderr()).not.toContain('Through the running app')
    expect(r.stdout()).toContain('servers up')
    expect(cliRunFiles(data).length).toBeGreaterThan(0)

    // A program that takes the connection and never answers: a short wait, then the own engine.
    const silent = http.createServer(() => {})
    await new Promise<void>((res) => silent.listen(0, '127.0.0.1', res))
    onCleanup(
      () => new Promise<void>((res) => (silent.closeAllConnections(), silent.close(() => res())))
    )
    writeSettings(data, [fake!.url], { port: (silent.address() as { port: number }).port })
    const j = cli$(['jobs', '--json'], data)
    expect(await j.exitWithin(5_000)).toBe(0)
    expect(j.stderr()).not.toContain('Through the running app')
    expect(JSON.parse(j.stdout()).every((x: { owner: string }) => x.owner === 'cli')).toBe(true)
  })

  it('the app of another data folder is not used (it keeps another journal)', async () => {
    const app = await startApp({ jobMs: 20_000 })
    const other = tempDir('cb-other-')
    writeSettings(
      other,
      app.fakes.map((f) => f.url),
      { port: app.port }
    )
    const wf = workflowFile(tempDir('cb-wf-'), 'own.json')
    const r = cli$(['submit', wf], other)
    expect(await r.exitWithin(10_000)).toBe(0)
    expect(r.stderr()).not.toContain('Through the running app')
    expect(app.core.jobs!.get(ID.exec(r.stdout())![0])).toBeUndefined()
    expect(cliRunFiles(other).length).toBeGreaterThan(0)
  })

  it('no gateway listening: submit runs its own engine as before', async () => {
    const [fake] = await servers(1)
    const data = tempDir('cb-app-')
    // A port nothing listens on: take one and let it go.
    const probe = http.createServer()
    await new Promise<void>((res) => probe.listen(0, '127.0.0.1', res))
    const port = (probe.address() as { port: number }).port
    await new Promise<void>((res) => probe.close(() => res()))
    writeSettings(data, [fake!.url], { port })
    const wf = workflowFile(tempDir('cb-wf-'), 'own.json')
    const r = cli$(['submit', wf, '--wait', '--out', tempDir('cb-o-')], data)
    expect(await r.exitWithin(15_000)).toBe(0)
    expect(r.stderr()).not.toContain('Through the running app')
    expect(r.stdout()).toMatch(/Done on/)
  })
})
