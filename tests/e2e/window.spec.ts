/**
 * The window end to end: real page (built renderer), real core, real sockets to a fake ComfyUI
 * fleet; only the Electron glue is replaced by the web bridge. Screenshots of the full window,
 * light and dark, land in tests/e2e/screenshots/.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, test as base, type Page } from '@playwright/test'
import { BalancerCore } from '../../src/main/core/app'
import { parseSettings, serversFromUrls } from '../../src/main/core/settings'
import { startFakeFleet } from '../../src/fake-comfy'
import { startBridge, type Bridge } from './bridge'
import type { ComfyBalancerApi } from '../../src/shared/ipc'
import type { JobRecord } from '../../src/shared/types'

/** The page's API, as seen from code run in the page (this file compiles without DOM types). */
type PageGlobals = { comfyBalancer: ComfyBalancerApi }

const SHOTS = join(import.meta.dirname, 'screenshots')
/** Short, so a hanging server is reported quickly. */
const TIMEOUT_MS = 800
const INTERVAL_MS = 1000

type FakeFleet = Awaited<ReturnType<typeof startFakeFleet>>

const test = base.extend<{
  jobMs: number
  fleet: FakeFleet
  core: BalancerCore
  bridge: Bridge
}>({
  // Long jobs by default, so the queues a test sets up stay put.
  jobMs: [120_000, { option: true }],
  fleet: async ({ jobMs }, use) => {
    const fleet = await startFakeFleet({ count: 3, jobMs })
    await use(fleet)
    await fleet.stop()
  },
  core: async ({ fleet }, use) => {
    const dir = mkdtempSync(join(tmpdir(), 'comfy-balancer-e2e-'))
    const { servers } = serversFromUrls(fleet.urls)
    const { settings } = parseSettings({
      servers: servers.map((s, i) => ({ ...s, id: `gpu-${i + 1}`, name: `gpu-${i + 1}` })),
      timeout: TIMEOUT_MS,
      healthCheckInterval: INTERVAL_MS
    })
    const core = new BalancerCore({
      settings,
      jobs: {
        journalFile: join(dir, 'jobs.jsonl'),
        outputDir: join(dir, 'out'),
        pollIntervalMs: 200
      }
    })
    core.start()
    await use(core)
    await core.stop()
    rmSync(dir, { recursive: true, force: true })
  },
  bridge: async ({ core }, use) => {
    const bridge = await startBridge({ core })
    await use(bridge)
    await bridge.close()
  }
})

async function shoot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true })
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme })
    await page.screenshot({ path: join(SHOTS, `${name}-${colorScheme}.png`), fullPage: true })
  }
  await page.emulateMedia({ colorScheme: null })
}

test('shows every server live and reports a hanging one', async ({ page, fleet, bridge }) => {
  const errors: string[] = []
  page.on('pageerror', (err) => errors.push(err.message))
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text())
  })

  // Different queues, so the best server is clear: gpu-2 (empty), then gpu-3 (1).
  fleet.servers[0]!.enqueueDummy(3)
  fleet.servers[2]!.enqueueDummy(1)

  await page.goto(bridge.url)
  const cards = page.getByTestId('server-card')
  await expect(cards).toHaveCount(3)
  await expect(page.locator('[data-testid=server-card][data-health=healthy]')).toHaveCount(3)
  const summary = page.getByTestId('fleet-summary')
  await expect(summary).toContainText('3/3 up, best gpu-2')
  const gpu2 = page.getByRole('article', { name: 'gpu-2' })
  // The reason depends on the core's policy: shortest queue, or expected completion.
  await expect(gpu2.getByTestId('best-reason')).toContainText(
    /shortest queue \(0\)|expected start in 0\.0 s/
  )
  await expect(page.getByRole('article', { name: 'gpu-1' }).getByTestId('queue-total')).toHaveText(
    '3'
  )

  // Verbose logs through the bridge: one line per server after each round.
  await page.getByRole('checkbox', { name: 'Verbose logs' }).check()
  await expect(page.getByTestId('log-tail')).toContainText('gpu-1: healthy, running 1, pending 2')
  await shoot(page, 'fleet-healthy')

  await fleet.servers[1]!.setFault({ kind: 'hang' })
  await expect(gpu2).toHaveAttribute('data-health', 'down')
  await expect(gpu2.getByTestId('down-reason')).toHaveText(`Timed out after ${TIMEOUT_MS} ms`)
  await expect(summary).toContainText('2/3 up, best gpu-3')
  await expect(page.getByTestId('log-tail')).toContainText(
    `Server down: gpu-2 - Timed out after ${TIMEOUT_MS} ms`
  )
  await shoot(page, 'fleet-one-down')

  expect(errors).toEqual([])
})

test.describe('jobs through the page API', () => {
  test.use({ jobMs: 300 })

  test('submits a workflow the page read, follows it to the end, lists it', async ({
    page,
    bridge
  }) => {
    const workflow = [...readFileSync(join(import.meta.dirname, '..', 'fixtures', 'txt2img.json'))]
    await page.goto(bridge.url)
    await expect(page.getByTestId('server-card')).toHaveCount(3)
    const finished = await page.evaluate(async (bytes) => {
      const api = (globalThis as unknown as PageGlobals).comfyBalancer
      const states: string[] = []
      const done = new Promise<JobRecord>((resolve) => {
        api.jobs.onJob((job: JobRecord) => {
          states.push(job.state)
          if (['done', 'failed', 'lost', 'interrupted', 'cancelled'].includes(job.state))
            resolve(job)
        })
      })
      const job = await api.jobs.submit({ name: 'txt2img.json', bytes: new Uint8Array(bytes) })
      const end = await done
      const list = await api.jobs.list()
      return { id: job.id, end, states, listed: list.map((j: JobRecord) => j.id) }
    }, workflow)
    expect(finished.end.state).toBe('done')
    expect(finished.end.outputs.length).toBeGreaterThan(0)
    expect(finished.states).toContain('running')
    expect(finished.listed).toEqual([finished.id])
  })

  test('refuses what is not a workflow, with the reason', async ({ page, bridge }) => {
    await page.goto(bridge.url)
    const error = await page.evaluate(async () => {
      try {
        await (globalThis as unknown as PageGlobals).comfyBalancer.jobs.submit({
          name: 'notes.json',
          bytes: new TextEncoder().encode('{"nodes": []}')
        })
        return null
      } catch (err) {
        return (err as Error).message
      }
    })
    expect(error).toMatch(/^notes\.json: /)
  })
})
