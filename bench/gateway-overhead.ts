/**
 * The gateway's own cost: submit-to-accept (the answer to POST /prompt) and submit-to-first-
 * event (the prompt's `execution_start` on the client's /ws), through the gateway in front of
 * one fake server, and against that fake directly. One prompt at a time, so the figures are
 * latency, not queueing. Prints p50/p99 in ms.
 *
 *   npx vite build -c vite.bench.config.ts --ssr bench/gateway-overhead.ts --outDir out/gateway-bench
 *   node out/gateway-bench/index.js [prompts]
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import WebSocket from 'ws'
import { FakeComfy, makeTxt2ImgPrompt } from '../src/fake-comfy'
import { BalancerCore, parseSettings, serversFromUrls } from '../src/main/core/app'
import { startGateway } from '../src/main/core/gateway'

const PROMPTS = Number(process.argv[2] ?? 300)
/**
 * Length of a job on the fake. Long enough that one prompt after another stays under the
 * socket's flood budget (about 60 messages a prompt, 1000 a second).
 */
const JOB_MS = 60

interface Sample {
  accept: number
  firstEvent: number
}

/** A /ws client that resolves waiters on a prompt's first event and on its end. */
class Client {
  private readonly waiters = new Map<string, { first?: () => void; end?: () => void }>()
  readonly ws: WebSocket
  constructor(base: string, id: string) {
    this.ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ws?clientId=${id}`)
    this.ws.on('message', (d, bin) => {
      if (bin) return
      const m = JSON.parse(String(d)) as { type: string; data: Record<string, unknown> }
      const w = this.waiters.get(String(m.data?.prompt_id))
      if (!w) return
      if (m.type === 'execution_start') w.first?.()
      if (m.type === 'executing' && m.data.node === null) w.end?.()
    })
  }
  opened(): Promise<void> {
    return new Promise((r) => this.ws.once('open', () => r()))
  }
  watch(pid: string): { first: Promise<number>; end: Promise<void> } {
    const w: { first?: () => void; end?: () => void } = {}
    const first = new Promise<number>((r) => (w.first = () => r(performance.now())))
    const end = new Promise<void>((r) => (w.end = () => r()))
    this.waiters.set(pid, w)
    return { first, end }
  }
}

async function run(base: string, label: string, count = PROMPTS): Promise<Sample[]> {
  const client = new Client(base, `bench-${label}`)
  await client.opened()
  const out: Sample[] = []
  for (let i = 0; i < count; i++) {
    const pid = `${label}-${i}-${Date.now()}`
    const watch = client.watch(pid)
    const t0 = performance.now()
    const res = await fetch(`${base}/prompt`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        prompt: makeTxt2ImgPrompt({ seed: i + 1 }),
        client_id: `bench-${label}`,
        prompt_id: pid
      })
    })
    await res.arrayBuffer()
    const accept = performance.now() - t0
    if (res.status !== 200) throw new Error(`${label}: POST /prompt answered ${res.status}`)
    const first = (await within(watch.first, pid)) - t0
    await within(watch.end, pid)
    out.push({ accept, firstEvent: first })
  }
  client.ws.terminate()
  return out
}

/** Fails a prompt that has not got its event in 30 s (names the prompt). */
function within<T>(p: Promise<T>, pid: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no event for ${pid} in 30 s`)), 30_000)
  })
  return Promise.race([p, late]).finally(() => clearTimeout(timer))
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!
}

async function main(): Promise<void> {
  const fake = new FakeComfy({ jobMs: JOB_MS })
  const url = await fake.start()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-gw-bench-'))
  const { settings } = parseSettings({
    servers: serversFromUrls([url]).servers,
    healthCheckInterval: 2000,
    timeout: 5000
  })
  const core = new BalancerCore({
    settings,
    live: true,
    jobs: {
      journalFile: path.join(dir, 'jobs.jsonl'),
      outputDir: path.join(dir, 'out'),
      pollIntervalMs: 1000
    }
  })
  core.start()
  while (core.status().healthy < 1) await new Promise((r) => setTimeout(r, 20))
  const gw = await startGateway(core, { port: 0, dataDir: dir })
  try {
    // A few rounds first so both paths are warm (connections, JIT).
    await run(url, 'warm-direct', Math.min(20, PROMPTS))
    await run(gw.url, 'warm-gateway', Math.min(20, PROMPTS))
    const direct = await run(url, 'direct')
    const through = await run(gw.url, 'gateway').catch((err: Error) => {
      const pid = /for (\S+) in/.exec(err.message)?.[1] ?? ''
      console.error(err.message, JSON.stringify(core.jobs?.get(pid)))
      throw err
    })
    const row = (name: string, xs: Sample[], k: keyof Sample) =>
      `| ${name.padEnd(26)} | ${pct(
        xs.map((s) => s[k]),
        50
      )
        .toFixed(2)
        .padStart(7)} | ${pct(
        xs.map((s) => s[k]),
        99
      )
        .toFixed(2)
        .padStart(7)} |`
    const lines = [
      `Gateway overhead, ${PROMPTS} prompts one at a time, one fake server (jobMs ${JOB_MS}), ms`,
      '',
      `| ${'path'.padEnd(26)} | ${'p50'.padStart(7)} | ${'p99'.padStart(7)} |`,
      `| ${'-'.repeat(26)} | ${'-'.repeat(7)} | ${'-'.repeat(7)} |`,
      row('submit-to-accept direct', direct, 'accept'),
      row('submit-to-accept gateway', through, 'accept'),
      row('first event direct', direct, 'firstEvent'),
      row('first event gateway', through, 'firstEvent')
    ]
    console.log(lines.join('\n'))
  } finally {
    await gw.close()
    await core.stop()
    await fake.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

void main().then(
  () => process.exit(0),
  (err) => {
    console.error(err)
    process.exit(1)
  }
)
