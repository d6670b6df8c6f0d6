/** `submit` of a workflow saved with ComfyUI's plain "Save" (UI format): converted, run, saved. */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { CliIo } from '../../src/cli/io'
import { submitCommand } from '../../src/cli/submit'
import { parseSettings, serversFromUrls } from '../../src/main/core/settings'
import { startFakeFleet } from '../../src/fake-comfy'

const UI = path.join(import.meta.dirname, '..', 'fixtures', 'ui', 'txt2img.json')

const cleanups: Array<() => Promise<unknown> | void> = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

describe('submit of a UI-format workflow', () => {
  it('converts it with the servers node list, runs it and prints only the result on stdout', async () => {
    const f = await startFakeFleet({ count: 2, jobMs: 50 })
    cleanups.push(() => f.stop())
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-cli-ui-'))
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }))
    const out: string[] = []
    const human: string[] = []
    const io: CliIo = {
      out: (l) => out.push(l),
      err: (l) => human.push(l),
      human: (l) => human.push(l),
      env: { COMFY_BALANCER_DATA: dir },
      isTty: false,
      interrupted: new Promise(() => {})
    }
    const { servers } = serversFromUrls(f.urls)
    const code = await submitCommand(
      {
        file: UI,
        settings: parseSettings({ servers, healthCheckInterval: 1000, timeout: 2000 }).settings,
        wait: true,
        json: true,
        out: path.join(dir, 'out'),
        queueTimeoutMs: 10_000
      },
      io
    )
    expect(code).toBe(0)
    expect(out).toHaveLength(1)
    const result = JSON.parse(out[0]!) as { status: string; outputs: string[] }
    expect(result.status).toBe('done')
    expect(result.outputs.length).toBeGreaterThan(0)
  })
})
