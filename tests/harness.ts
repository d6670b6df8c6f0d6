/**
 * The test fixture most integration tests need: fake ComfyUI servers on 127.0.0.1, a core on
 * them, a temporary folder; everything started on demand and stopped after the test.
 *
 *   import { test, expect } from '../harness'
 *   test('runs a job', async ({ fleet, core }) => {
 *     const [fake] = await fleet(1)
 *     const c = await core([fake.url])
 *     ...
 *   })
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test as base, expect } from 'vitest'
import { BalancerCore } from '../src/main/core/app'
import { parseSettings, serversFromUrls } from '../src/main/core/settings'
import { FakeComfy, type FakeComfyOptions } from '../src/fake-comfy'
import type { AppSettings } from '../src/shared/types'

export { expect }

export interface CoreOptions {
  /** Settings on top of fast test defaults (checks every 500 ms, 500 ms timeout). */
  settings?: Partial<AppSettings>
  clientId?: string
  live?: boolean
  /** The folder for the journal and outputs; a new temporary one by default. */
  dir?: string
  /** Check once before returning. @default true */
  checked?: boolean
}

interface Fixtures {
  /** A temporary folder, removed after the test. */
  tmpDir: string
  /** Starts `n` fake servers (jobs take 200 ms unless told). */
  fleet: (
    n: number,
    opts?: FakeComfyOptions,
    each?: (i: number) => FakeComfyOptions
  ) => Promise<FakeComfy[]>
  /** Starts a core with jobs on these servers. */
  core: (urls: string[], opts?: CoreOptions) => Promise<BalancerCore>
}

export const test = base.extend<Fixtures>({
  // eslint-disable-next-line no-empty-pattern
  tmpDir: async ({}, use) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-test-'))
    await use(dir)
    fs.rmSync(dir, { recursive: true, force: true })
  },
  // eslint-disable-next-line no-empty-pattern
  fleet: async ({}, use) => {
    const started: FakeComfy[] = []
    await use(async (n, opts = {}, each) => {
      const list: FakeComfy[] = []
      for (let i = 0; i < n; i++) {
        const s = new FakeComfy({ jobMs: 200, ...opts, ...(each?.(i) ?? {}) })
        await s.start()
        started.push(s)
        list.push(s)
      }
      return list
    })
    await Promise.all(started.map((s) => s.stop()))
  },
  core: async ({ tmpDir }, use) => {
    const cores: BalancerCore[] = []
    await use(async (urls, opts = {}) => {
      const { servers } = serversFromUrls(urls)
      const { settings, problems } = parseSettings({
        servers,
        healthCheckInterval: 500,
        timeout: 500,
        gateway: { enabled: false },
        ...opts.settings
      })
      expect(problems).toEqual([])
      const dir = opts.dir ?? fs.mkdtempSync(path.join(tmpDir, 'core-'))
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
      cores.push(core)
      core.start()
      if (opts.checked !== false) await core.checkNow()
      return core
    })
    for (const c of cores.reverse()) await c.stop()
  }
})
