/** Shared set-up for engine tests: fake servers, a core on them, a workflow, polling waits. */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, expect } from 'vitest'
import { BalancerCore } from '../../src/main/core/app'
import { loadWorkflowBytes, type LoadedWorkflow } from '../../src/main/core/jobs/workflow'
import { parseSettings, serversFromUrls } from '../../src/main/core/settings'
import { FakeComfy, type FakeComfyOptions } from '../../src/fake-comfy'
import type { AppSettings } from '../../src/shared/types'

export const FIXTURE = path.join(import.meta.dirname, '..', 'fixtures', 'txt2img.json')

const cleanups: Array<() => Promise<unknown> | void> = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

export function onCleanup(fn: () => Promise<unknown> | void): void {
  cleanups.push(fn)
}

export function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-jobs-'))
  cleanups.push(() => fs.rmSync(d, { recursive: true, force: true }))
  return d
}

export async function servers(
  n: number,
  opts: FakeComfyOptions = {},
  each?: (i: number) => FakeComfyOptions
): Promise<FakeComfy[]> {
  const list: FakeComfy[] = []
  for (let i = 0; i < n; i++) {
    const s = new FakeComfy({ jobMs: 200, ...opts, ...(each?.(i) ?? {}) })
    await s.start()
    list.push(s)
    cleanups.push(() => s.stop())
  }
  return list
}

export function workflow(
  patch?: (p: Record<string, { class_type: string; inputs: Record<string, unknown> }>) => void
): LoadedWorkflow {
  const raw = JSON.parse(fs.readFileSync(FIXTURE, 'utf8'))
  patch?.(raw)
  return loadWorkflowBytes(Buffer.from(JSON.stringify(raw)), 'txt2img.json')
}

export function makeCore(
  urls: string[],
  dir: string,
  patch: Partial<AppSettings> = {},
  opts: { clientId?: string; live?: boolean } = {}
): BalancerCore {
  const { servers: list } = serversFromUrls(urls)
  const { settings, problems } = parseSettings({
    servers: list,
    healthCheckInterval: 500,
    timeout: 500,
    ...patch
  })
  expect(problems).toEqual([])
  const core = new BalancerCore({
    settings,
    // Among near-equal servers, take the first in the list (repeatable tests).
    rng: () => 0,
    live: opts.live ?? true,
    jobs: {
      journalFile: path.join(dir, 'jobs.jsonl'),
      outputDir: path.join(dir, 'out'),
      pollIntervalMs: 150,
      clientId: opts.clientId
    }
  })
  cleanups.push(() => core.stop())
  return core
}

export async function until(fn: () => boolean, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now()
  while (!fn()) {
    if (Date.now() - t0 > timeoutMs) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 20))
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** POSTs JSON to a fake server as another client would (the ComfyUI window, a script). */
export async function post(url: string, route: string, body: unknown): Promise<number> {
  const res = await fetch(url + route, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body)
  })
  await res.arrayBuffer()
  return res.status
}
