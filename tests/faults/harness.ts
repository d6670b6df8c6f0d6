/**
 * Set-up for the fault matrix: fake ComfyUI servers, a core on them with short intervals, a
 * header-capturing stand-in for a redirect target, the prompts the rows submit, and the
 * cleanup of all of it after each row.
 */
import fs from 'node:fs'
import http from 'node:http'
import type net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterEach } from 'vitest'
import { BalancerCore } from '../../src/main/core/app'
import { loadWorkflowBytes, type LoadedWorkflow } from '../../src/main/core/jobs/workflow'
import { jobErrorLines, sayAttempt, sayJobError, sayJobNote } from '../../src/main/core/log'
import { parseSettings, serversFromUrls } from '../../src/main/core/settings'
import { FakeComfy, type FakeComfyOptions } from '../../src/fake-comfy'
import type { AppSettings, JobRecord, ServerStatus } from '../../src/shared/types'

/** Per request and between check rounds, in ms: short, so the matrix stays quick. */
export const TIMEOUT_MS = 400
export const INTERVAL_MS = 500

const FIXTURE = path.join(import.meta.dirname, '..', 'fixtures', 'txt2img.json')

const cleanups: Array<() => Promise<unknown> | void> = []
afterEach(async () => {
  while (cleanups.length) {
    try {
      await cleanups.pop()!()
    } catch {
      // a cleanup that fails must not keep the others from running
    }
  }
})

export function onCleanup(fn: () => Promise<unknown> | void): void {
  cleanups.push(fn)
}

export function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-faults-'))
  cleanups.push(() => fs.rmSync(d, { recursive: true, force: true }))
  return d
}

export async function startFake(opts: FakeComfyOptions = {}): Promise<FakeComfy> {
  const s = new FakeComfy({ jobMs: 150, ...opts })
  await s.start()
  cleanups.push(() => s.stop())
  return s
}

export type Prompt = Record<string, { class_type: string; inputs: Record<string, unknown> }>

/** The txt2img fixture (a SaveImage output), optionally changed. */
export function txt2img(patch?: (p: Prompt) => void): LoadedWorkflow {
  const raw = JSON.parse(fs.readFileSync(FIXTURE, 'utf8')) as Prompt
  patch?.(raw)
  return loadWorkflowBytes(Buffer.from(JSON.stringify(raw)), 'txt2img.json')
}

/** A prompt of FakeSaveFile nodes, one per file name, each `bytes` long. */
export function saveFiles(names: string[], bytes = 1024): LoadedWorkflow {
  const prompt: Prompt = {}
  names.forEach((filename, i) => {
    prompt[String(i + 1)] = { class_type: 'FakeSaveFile', inputs: { filename, bytes } }
  })
  return loadWorkflowBytes(Buffer.from(JSON.stringify(prompt)), 'files.json')
}

export function makeCore(
  urls: string[],
  dir: string,
  opts: { headers?: Record<number, Record<string, string>>; patch?: Partial<AppSettings> } = {}
): BalancerCore {
  const { servers, problems: p1 } = serversFromUrls(urls)
  const list = servers.map((s, i) => (opts.headers?.[i] ? { ...s, headers: opts.headers[i] } : s))
  const { settings, problems } = parseSettings({
    servers: list,
    healthCheckInterval: INTERVAL_MS,
    timeout: TIMEOUT_MS,
    ...opts.patch
  })
  if (p1.length || problems.length) {
    throw new Error(`bad test settings: ${JSON.stringify([...p1, ...problems])}`)
  }
  const core = new BalancerCore({
    settings,
    // Among near-equal servers the first in the list is taken, so rows are repeatable.
    rng: () => 0,
    jobs: {
      journalFile: path.join(dir, 'jobs.jsonl'),
      outputDir: path.join(dir, 'out'),
      pollIntervalMs: 150
    }
  })
  cleanups.push(() => core.stop())
  return core
}

export async function until(what: string, fn: () => boolean, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now()
  while (!fn()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`not in time: ${what}`)
    await sleep(20)
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** POSTs JSON to a server as another client would (the ComfyUI window, a script). */
export async function post(url: string, route: string, body: unknown): Promise<number> {
  const res = await fetch(url + route, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body)
  })
  await res.arrayBuffer()
  return res.status
}

/** Everything a job record says, in the log's English: its error, notes and attempt results. */
export function said(j: JobRecord): string {
  return [
    j.error ? sayJobError(j.error.said) : '',
    ...(j.error ? jobErrorLines(j.error.said) : []),
    ...(j.error?.details ?? []),
    ...j.notes.map(sayJobNote),
    ...j.attempts.map((a) => sayAttempt(a.result))
  ].join('\n')
}

export function statusOf(core: BalancerCore, url: string): ServerStatus {
  const s = core.status().servers.find((x) => x.url === url)
  if (!s) throw new Error(`no server ${url} in the status`)
  return s
}

export interface Captured {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  upgrade: boolean
}

/** A plain HTTP server that records every request (and WebSocket upgrade) it gets. */
export interface Capture {
  url: string
  requests: Captured[]
}

/** Answers every request with `body` (JSON `{}` unless told otherwise). */
export async function startCapture(body = '{}'): Promise<Capture> {
  const requests: Captured[] = []
  const sockets = new Set<net.Socket>()
  const server = http.createServer((req, res) => {
    requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      upgrade: false
    })
    req.resume()
    res.writeHead(200, { 'Content-Type': 'application/json' })
    res.end(body)
  })
  server.on('upgrade', (req, socket) => {
    requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      upgrade: true
    })
    socket.destroy()
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as net.AddressInfo).port
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy()
        server.close(() => r())
      })
  )
  return { url: `http://127.0.0.1:${port}`, requests }
}
