/**
 * The built CLI as a process against fake servers: every wait ends, signals stop it with
 * 130/143, jobs of a killed run are resumed or cancelled later, and server text is printed
 * without control sequences.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { FakeComfy, startFakeFleet } from '../../src/fake-comfy'
import { buildCli, runCli, workflowFile, FIXTURE, type Run } from './spawn'

interface Queue {
  queue_running: unknown[][]
  queue_pending: unknown[][]
}

async function queueOf(url: string): Promise<Queue> {
  return (await (await fetch(`${url}/api/queue`)).json()) as Queue
}

let cli: ReturnType<typeof buildCli>
beforeAll(() => {
  cli = buildCli()
}, 60_000)
afterAll(() => cli?.remove())

const cleanups: Array<() => Promise<unknown> | void> = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

async function fleet(
  count: number,
  jobMs = 150,
  opts: Parameters<typeof startFakeFleet>[0] = { count }
) {
  const f = await startFakeFleet({ ...opts, count, jobMs })
  cleanups.push(() => f.stop())
  return f
}

/** A CLI run with its own data folder (journals) in `data`. */
function cli$(args: string[], data: string, cwd?: string): Run {
  const r = runCli(cli.entry, args, { COMFY_BALANCER_DATA: data }, cwd)
  cleanups.push(() => {
    if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL')
  })
  return r
}

/** Room for a slow machine; the CLI's own bound is 2 s. */
const STOP_BOUND_MS = 2_500

describe('submit when no server can take the job', () => {
  it('gives up after --queue-timeout, cancels the job and names the missing model per server', async () => {
    const f = await fleet(2)
    const dir = tempDir('cb-q-')
    const wf = workflowFile(
      dir,
      'missing.json',
      (w) => (w['4']!.inputs.ckpt_name = 'nowhere.safetensors')
    )
    for (const wait of [[], ['--wait']]) {
      const r = cli$(
        [
          'submit',
          wf,
          '--servers',
          f.urls.join(','),
          '--interval',
          '500',
          '--queue-timeout',
          '1500',
          ...wait
        ],
        dir
      )
      expect(await r.exitWithin(15_000)).toBe(1)
      const out = r.stdout()
      expect(out).toMatch(/nowhere\.safetensors/)
      for (const s of f.servers) expect(out).toContain(new URL(s.url).host)
    }
    // Nothing was left queued on any server.
    for (const s of f.servers) {
      const q = await queueOf(s.url)
      expect(q.queue_running.length + q.queue_pending.length).toBe(0)
    }
  }, 40_000)

  it('gives up when every server is down, saying why for each', async () => {
    const dir = tempDir('cb-q-')
    const r = cli$(
      [
        'submit',
        FIXTURE,
        '--servers',
        'http://127.0.0.1:9,http://127.0.0.1:7',
        '--interval',
        '500',
        '--queue-timeout',
        '1000'
      ],
      dir
    )
    expect(await r.exitWithin(15_000)).toBe(1)
    expect(r.stdout()).toMatch(/No server took the job within 1 s; it was cancelled/)
    expect(r.stdout()).toMatch(/127\.0\.0\.1:9: down \(Connection refused/)
    expect(r.stdout()).toMatch(/127\.0\.0\.1:7: down \(Connection refused/)
  }, 30_000)

  it('stops on SIGINT (130) and SIGTERM (143) while waiting for a server to take the job', async () => {
    const dir = tempDir('cb-q-')
    for (const [sig, code] of [
      ['SIGINT', 130],
      ['SIGTERM', 143]
    ] as const) {
      // Default queue timeout: 3 check intervals of 30 s.
      const r = cli$(['submit', FIXTURE, '--servers', 'http://127.0.0.1:9', '--wait'], dir)
      await r.waitFor(/servers up/)
      r.child.kill(sig)
      expect(await r.exitWithin(STOP_BOUND_MS)).toBe(code)
      expect(r.stdout()).toMatch(/Stopped before a server took the job; it was cancelled/)
    }
  }, 30_000)
})

describe('signals end every command', () => {
  it('status against a hung server stops on Ctrl-C', async () => {
    const f = await fleet(1)
    await f.servers[0]!.setFault({ kind: 'hang' })
    const r = cli$(['status', '--servers', f.urls[0]!, '--timeout', '60000'], tempDir('cb-s-'))
    // Well into the round the hung server holds.
    await new Promise((res) => setTimeout(res, 1500))
    r.child.kill('SIGINT')
    expect(await r.exitWithin(STOP_BOUND_MS)).toBe(130)
    await f.servers[0]!.setFault(null)
  }, 20_000)

  it('watch stops on Ctrl-C during a round a hung server holds', async () => {
    const f = await fleet(2)
    await f.servers[1]!.setFault({ kind: 'hang' })
    const r = cli$(
      ['watch', '--servers', f.urls.join(','), '--interval', '500', '--timeout', '60000'],
      tempDir('cb-w-')
    )
    await r.waitFor(/Watching 2 server/)
    await new Promise((res) => setTimeout(res, 800))
    r.child.kill('SIGINT')
    expect(await r.exitWithin(STOP_BOUND_MS)).toBe(130)
    await f.servers[1]!.setFault(null)
  }, 20_000)

  it('a second Ctrl-C leaves at once', async () => {
    const f = await fleet(1)
    await f.servers[0]!.setFault({ kind: 'hang' })
    const r = cli$(['status', '--servers', f.urls[0]!, '--timeout', '60000'], tempDir('cb-s-'))
    await new Promise((res) => setTimeout(res, 500))
    r.child.kill('SIGINT')
    r.child.kill('SIGINT')
    expect(await r.exitWithin(STOP_BOUND_MS)).toBe(130)
    await f.servers[0]!.setFault(null)
  }, 20_000)
})

describe('jobs survive the CLI', () => {
  it('Ctrl-C in submit --wait says where the job is queued and how to follow it', async () => {
    const f = await fleet(1, 60_000)
    const dir = tempDir('cb-j-')
    const r = cli$(['submit', FIXTURE, '--servers', f.urls[0]!, '--wait'], dir)
    await r.waitFor(/running|queued/)
    r.child.kill('SIGINT')
    expect(await r.exitWithin(STOP_BOUND_MS)).toBe(130)
    const host = f.urls[0]!
    expect(r.stdout()).toMatch(
      new RegExp(`(Running|Queued) on ${host.replace(/[.:/]/g, '\\$&')} as [0-9a-f-]{36}`)
    )
    expect(r.stdout()).toMatch(/comfy-balancer submit --resume [0-9a-f-]{36} --wait/)
  }, 20_000)

  it('a killed submit --wait leaves its job to `jobs` and `submit --resume`, which saves the outputs', async () => {
    const f = await fleet(1, 1500)
    const dir = tempDir('cb-j-')
    const out = path.join(dir, 'outputs')
    const r = cli$(['submit', FIXTURE, '--servers', f.urls[0]!, '--wait'], dir)
    await r.waitFor(/running|queued/)
    r.child.kill('SIGKILL')
    await r.exited
    const list = cli$(['jobs', '--json'], dir)
    expect(await list.exitWithin(10_000)).toBe(0)
    const jobs = JSON.parse(list.stdout())
    expect(jobs).toHaveLength(1)
    expect(jobs[0]).toMatchObject({ owner: 'cli', runActive: false, server: f.urls[0] })
    expect(['queued', 'running']).toContain(jobs[0].state)
    const resume = cli$(
      ['submit', '--resume', jobs[0].id, '--wait', '--out', out, '--servers', f.urls[0]!],
      dir
    )
    expect(await resume.exitWithin(20_000)).toBe(0)
    expect(resume.stdout()).toMatch(/Done on/)
    const saved = fs.readdirSync(out, { recursive: true }).filter((x) => String(x).endsWith('.png'))
    expect(saved).toHaveLength(1)
    // Finished and saved: nothing is left to resume.
    const again = cli$(['submit', '--resume', '--servers', f.urls[0]!], dir)
    expect(await again.exitWithin(10_000)).toBe(0)
    expect(again.stdout()).toMatch(/Nothing to resume/)
  }, 60_000)

  it("`cancel ID` removes a killed run's job from its server", async () => {
    const f = await fleet(1, 60_000)
    f.servers[0]!.enqueueDummy(1) // ours waits behind it
    const dir = tempDir('cb-j-')
    const r = cli$(['submit', FIXTURE, '--servers', f.urls[0]!, '--wait'], dir)
    await r.waitFor(/queued/)
    r.child.kill('SIGKILL')
    await r.exited
    const jobs = JSON.parse(
      (
        await (async () => {
          const l = cli$(['jobs', '--json'], dir)
          await l.exitWithin(10_000)
          return l
        })()
      ).stdout()
    )
    const id = jobs[0].id as string
    let q = await queueOf(f.urls[0]!)
    expect(q.queue_pending.map((x: unknown[]) => x[1])).toContain(id)
    const c = cli$(['cancel', id], dir)
    expect(await c.exitWithin(10_000)).toBe(0)
    expect(c.stdout()).toMatch(/Cancelled/)
    q = await queueOf(f.urls[0]!)
    expect(q.queue_pending.map((x: unknown[]) => x[1])).not.toContain(id)
    const l2 = cli$(['jobs', '--json'], dir)
    await l2.exitWithin(10_000)
    // Nothing of it is left to resume.
    const left = JSON.parse(l2.stdout()) as Array<{ id: string; state: string }>
    expect(left.filter((j) => j.id === id && j.state !== 'cancelled')).toEqual([])
  }, 40_000)

  it('two runs at once journal into two files, and a live run is never taken over', async () => {
    const f = await fleet(1, 60_000)
    const dir = tempDir('cb-j-')
    const a = cli$(['submit', FIXTURE, '--servers', f.urls[0]!, '--wait'], dir)
    const b = cli$(['submit', FIXTURE, '--servers', f.urls[0]!, '--wait'], dir)
    await a.waitFor(/running|queued/)
    await b.waitFor(/running|queued/)
    const files = fs.readdirSync(path.join(dir, 'cli'))
    expect(files.filter((x) => x.endsWith('.jsonl'))).toHaveLength(2)
    expect(files.filter((x) => x.endsWith('.lock'))).toHaveLength(2)
    const l = cli$(['jobs', '--json'], dir)
    await l.exitWithin(10_000)
    const jobs = JSON.parse(l.stdout())
    expect(jobs).toHaveLength(2)
    expect(jobs.every((j: { runActive: boolean }) => j.runActive)).toBe(true)
    const c = cli$(['cancel', jobs[0].id], dir)
    expect(await c.exitWithin(10_000)).toBe(1)
    expect(c.stderr()).toMatch(/still going/)
    a.child.kill('SIGINT')
    b.child.kill('SIGINT')
    expect(await a.exitWithin(STOP_BOUND_MS)).toBe(130)
    expect(await b.exitWithin(STOP_BOUND_MS)).toBe(130)
  }, 40_000)
})

describe('status of a down server', () => {
  it('has queue null and latencyMs null in JSON, and an unknown queue in the table', async () => {
    const f = await fleet(1)
    const dir = tempDir('cb-d-')
    // Answered once, then down: the last latency must not be shown as if it answered.
    const r = cli$(['status', '--json', '--servers', `${f.urls[0]},http://127.0.0.1:9`], dir)
    expect(await r.exitWithin(15_000)).toBe(0)
    const obj = JSON.parse(r.stdout())
    expect(obj.servers[0].queue).toEqual({ running: 0, pending: 0, total: 0 })
    expect(typeof obj.servers[0].latencyMs).toBe('number')
    expect(obj.servers[1]).toMatchObject({ healthy: false, queue: null, latencyMs: null })
    const t = cli$(['status', '--servers', 'http://127.0.0.1:9'], dir)
    expect(await t.exitWithin(15_000)).toBe(1)
    expect(t.stdout()).toMatch(/DOWN {2}queue unknown {2}Connection refused/)
  }, 30_000)
})

describe('server text reaches the terminal without control sequences', () => {
  // eslint-disable-next-line no-control-regex
  const POISON = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/

  it('in errors and node messages of a refused workflow, and in server names from settings', async () => {
    const fake = new FakeComfy({ jobMs: 50 })
    await fake.start()
    cleanups.push(() => fake.stop())
    const dir = tempDir('cb-p-')
    const wf = workflowFile(dir, 'evil.json', (w) => {
      w['4']!.inputs.ckpt_name = 'x\x1b[2J\x1b]52;c;aGVsbG8=\x07\u202eevil.safetensors'
    })
    const config = path.join(dir, 'config.json')
    fs.writeFileSync(
      config,
      JSON.stringify({ servers: [{ name: 'gpu\x1b[2J\x9b31m\u202eone', url: fake.url }] })
    )
    const r = runCli(cli.entry, ['submit', wf, '--server', fake.url, '--wait'], {
      COMFY_BALANCER_DATA: dir,
      COMFY_BALANCER_CONFIG: config
    })
    expect(await r.exitWithin(15_000)).toBe(1)
    expect(r.stdout()).toMatch(/Failed/)
    expect(r.stdout()).toMatch(/evil\.safetensors/)
    expect(r.stdout() + r.stderr()).not.toMatch(POISON)
    const s = runCli(cli.entry, ['status'], {
      COMFY_BALANCER_DATA: dir,
      COMFY_BALANCER_CONFIG: config
    })
    expect(await s.exitWithin(15_000)).toBe(0)
    expect(s.stdout()).toMatch(/gpu\[2J|gpuone|gpu31mone/)
    expect(s.stdout()).not.toMatch(POISON)
    const j = runCli(cli.entry, ['status', '--json'], {
      COMFY_BALANCER_DATA: dir,
      COMFY_BALANCER_CONFIG: config
    })
    expect(await j.exitWithin(15_000)).toBe(0)
    expect(j.stdout()).not.toMatch(POISON)
    // The data stays the same: JSON escapes, it does not drop.
    expect(JSON.parse(j.stdout()).servers[0].name).toBe('gpu\x1b[2J\x9b31m\u202eone')
  }, 30_000)
})

describe('workflow files', () => {
  it('refuses a 1.5 GB file and /dev/zero without reading them', async () => {
    const dir = tempDir('cb-f-')
    const big = path.join(dir, 'big.json')
    const fd = fs.openSync(big, 'w')
    fs.ftruncateSync(fd, 1.5 * 1024 ** 3) // sparse: no disk used
    fs.closeSync(fd)
    const r = cli$(['submit', big, '--servers', 'http://127.0.0.1:9'], dir)
    expect(await r.exitWithin(10_000)).toBe(2)
    expect(r.stderr()).toMatch(/big\.json: the file is too large/)
    if (fs.existsSync('/dev/zero')) {
      const z = cli$(['submit', '/dev/zero', '--servers', 'http://127.0.0.1:9'], dir)
      expect(await z.exitWithin(10_000)).toBe(2)
      expect(z.stderr()).toMatch(/zero: /)
    }
  }, 30_000)

  it('the built CLI loads axios only when it first sends (checks and --version go without)', () => {
    const code = fs.readFileSync(cli.entry, 'utf8')
    expect(code).not.toMatch(/from\s*["']axios["']|require\(["']axios["']\)/)
    expect(code).toMatch(/import\(["']axios["']\)/)
  })

  it('the built CLI never loads electron', () => {
    const code = fs.readFileSync(cli.entry, 'utf8')
    expect(code).not.toMatch(
      /from\s*["']electron["']|require\(["']electron["']\)|import\(["']electron["']\)/
    )
  })
})

describe('outputs that cannot be saved', () => {
  it('a /view that fails makes submit --wait say "missing outputs" and exit 1', async () => {
    const fake = new FakeComfy({ jobMs: 20 })
    await fake.start()
    cleanups.push(() => fake.stop())
    await fake.setFault({ kind: 'view-status', status: 500 })
    const dir = tempDir('cb-m-')
    const wf = path.join(dir, 'files.json')
    fs.writeFileSync(
      wf,
      JSON.stringify({ '1': { class_type: 'FakeSaveFile', inputs: { filename: 'only.png' } } })
    )
    const r = cli$(['submit', wf, '--servers', fake.url, '--wait', '--out', dir], dir)
    expect(await r.exitWithin(20_000)).toBe(1)
    expect(r.stdout()).toMatch(/Done with missing outputs/)
    expect(r.stdout()).toMatch(/could not be downloaded/)
  }, 30_000)
})
