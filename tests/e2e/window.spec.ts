/**
 * The window end to end: the real page (the built renderer Electron loads), the real core, real
 * sockets to a fake ComfyUI fleet; only the Electron glue is replaced by the web bridge. Each
 * test is what an artist does: add servers and watch them, drop a workflow and watch it run,
 * use the window in Simplified Chinese. Full-window screenshots of every view, light and dark,
 * English and Chinese, land in tests/e2e/screenshots/.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { expect, test as base, type Page } from '@playwright/test'
import { BalancerCore } from '../../src/main/core/app'
import { parseSettings, serversFromUrls } from '../../src/main/core/settings'
import { startFakeFleet } from '../../src/fake-comfy'
import { startBridge, type Bridge } from './bridge'

const SHOTS = join(import.meta.dirname, 'screenshots')
const WORKFLOW = join(import.meta.dirname, '..', 'fixtures', 'txt2img.json')
/** The same workflow as ComfyUI's plain "Save" writes it (the UI format). */
const UI_WORKFLOW = join(import.meta.dirname, '..', 'fixtures', 'ui', 'txt2img.json')
/** Short, so a hanging server is reported quickly. */
const TIMEOUT_MS = 800
const INTERVAL_MS = 1000

type FakeFleet = Awaited<ReturnType<typeof startFakeFleet>>

const test = base.extend<{
  jobMs: number
  /** Start with the three fake servers configured, or with none (added in the UI). */
  preconfigured: boolean
  fleet: FakeFleet
  core: BalancerCore
  bridge: Bridge
  /** Page errors and console errors (a CSP violation is one). */
  pageErrors: string[]
}>({
  // Long jobs by default, so the queues a test sets up stay put.
  jobMs: [120_000, { option: true }],
  preconfigured: [true, { option: true }],
  fleet: async ({ jobMs }, use) => {
    const fleet = await startFakeFleet({ count: 3, jobMs })
    await use(fleet)
    await fleet.stop()
  },
  core: async ({ fleet, preconfigured }, use) => {
    const dir = mkdtempSync(join(tmpdir(), 'comfy-balancer-e2e-'))
    const { servers } = serversFromUrls(fleet.urls)
    const { settings } = parseSettings({
      servers: preconfigured
        ? servers.map((s, i) => ({ ...s, id: `gpu-${i + 1}`, name: `gpu-${i + 1}` }))
        : [],
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
    // The tray app's gateway service is Electron glue; here its address follows the settings.
    const bridge = await startBridge({
      core,
      gatewayStatus: () => {
        const g = core.settings.gateway
        return g?.enabled
          ? { enabled: true, url: `http://${g.host}:${g.port}`, error: null }
          : { enabled: false, url: null, error: null }
      }
    })
    await use(bridge)
    await bridge.close()
  },
  pageErrors: async ({ page }, use) => {
    const errors: string[] = []
    page.on('pageerror', (err) => errors.push(err.message))
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(msg.text())
    })
    await use(errors)
    expect(errors, 'page errors (CSP violations included)').toEqual([])
  }
})

/** Full-window screenshots in both colour schemes (the theme setting follows the system). */
async function shoot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true })
  // Nothing mid-transition or mid-load in the picture.
  await page.evaluate(() =>
    (globalThis as unknown as { document: PageDocument }).document.fonts.ready.then(() => true)
  )
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme })
    await page.screenshot({ path: join(SHOTS, `${name}-${colorScheme}.png`), fullPage: true })
  }
  await page.emulateMedia({ colorScheme: null })
}

async function openView(page: Page, name: RegExp | string): Promise<void> {
  await page.getByRole('navigation').getByRole('link', { name }).click()
}

/** Drops a file on the window the way a file manager does: dragenter, dragover, drop. */
async function dropFile(page: Page, file: string, name: string): Promise<void> {
  const b64 = readFileSync(file).toString('base64')
  const dataTransfer = await page.evaluateHandle(
    ([data, fileName]) => {
      const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0))
      const page = globalThis as unknown as {
        DataTransfer: new () => { items: { add(file: unknown): void } }
      }
      const dt = new page.DataTransfer()
      dt.items.add(new File([bytes], fileName, { type: 'application/json' }))
      return dt
    },
    [b64, name] as const
  )
  await page.dispatchEvent('body', 'dragenter', { dataTransfer })
  await page.dispatchEvent('body', 'dragover', { dataTransfer })
  await expect(page.getByTestId('drop-overlay')).toBeVisible()
  await page.dispatchEvent('body', 'drop', { dataTransfer })
  await expect(page.getByTestId('drop-overlay')).toBeHidden()
}

/** The few DOM types the page-side checks use (this file compiles without the DOM library). */
interface PageElement {
  readonly tagName: string
  closest(selector: string): PageElement | null
  getAttribute(name: string): string | null
  checkVisibility(options?: { visibilityProperty?: boolean; opacityProperty?: boolean }): boolean
}
interface PageSelect extends PageElement {
  readonly selectedOptions: ArrayLike<PageElement & { readonly text: string }>
}
interface PageDocument {
  readonly body: unknown
  readonly fonts: { readonly ready: Promise<unknown> }
  createTreeWalker(
    root: unknown,
    show: number
  ): {
    nextNode(): unknown
    readonly currentNode: { textContent: string | null; parentElement: PageElement | null }
  }
  querySelectorAll(selector: 'select'): Iterable<PageSelect>
}
/**
 * Visible text left in English: every visible text node (and the shown option of each select)
 * outside elements marked `translate="no"` (names, URLs, file names, versions, the engine's log),
 * minus the few words a Chinese UI writes in Latin letters too.
 */
/** Local servers that are not ComfyUI: one that never answers, a proxy's 502, a login page. */
async function startOddServers(): Promise<{
  hang: string
  proxy502: string
  loginPage: string
  stop(): Promise<void>
}> {
  const sockets = new Set<Socket>()
  const servers: http.Server[] = []
  const serve = async (answer: http.RequestListener): Promise<string> => {
    const srv = http.createServer(answer)
    srv.on('connection', (s) => sockets.add(s))
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
    servers.push(srv)
    return `http://127.0.0.1:${(srv.address() as AddressInfo).port}`
  }
  const page = (status: number, body: string): http.RequestListener => {
    return (_req, res) => {
      res.writeHead(status, { 'content-type': 'text/html' }).end(body)
    }
  }
  return {
    hang: await serve(() => {}),
    proxy502: await serve(page(502, '<html><h1>502 Bad Gateway</h1></html>')),
    loginPage: await serve(page(200, '<html><form>Sign in</form></html>')),
    stop: async () => {
      for (const s of sockets) s.destroy()
      await Promise.all(servers.map((srv) => new Promise((r) => srv.close(r))))
    }
  }
}

async function englishOnScreen(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const doc = (globalThis as unknown as { document: PageDocument }).document
    const allowed = new Set([
      'Comfy',
      'Balancer',
      'ComfyUI',
      'GPU',
      'API',
      'PNG',
      'JSON',
      'json',
      'png',
      'URL',
      'HTTP',
      'HTTPS',
      'IP',
      'KB',
      'MB',
      'GB'
    ])
    const left: string[] = []
    const check = (text: string, where: PageElement) => {
      const words = text.match(/[A-Za-z][A-Za-z'-]*/g) ?? []
      const bad = words.filter((w) => !allowed.has(w))
      if (bad.length) left.push(`${text.trim()} <${where.tagName.toLowerCase()}>`)
    }
    const SHOW_TEXT = 4 // NodeFilter.SHOW_TEXT
    const walker = doc.createTreeWalker(doc.body, SHOW_TEXT)
    while (walker.nextNode()) {
      const node = walker.currentNode
      const el = node.parentElement
      if (!el || !node.textContent?.trim()) continue
      if (el.closest('[translate="no"], script, style, select')) continue
      if (!el.checkVisibility({ visibilityProperty: true, opacityProperty: true })) continue
      check(node.textContent, el)
    }
    for (const select of doc.querySelectorAll('select')) {
      const option = select.selectedOptions[0]
      if (option && select.checkVisibility() && option.getAttribute('translate') !== 'no') {
        check(option.text, select)
      }
    }
    return left
  })
}

test.describe('servers', () => {
  test.use({ preconfigured: false })

  test('added in the window, shown live with their queues; a hanging one turns red', async ({
    page,
    fleet,
    bridge,
    core,
    pageErrors
  }) => {
    // Different queues, so the best server is clear: gpu-2 (empty), then gpu-3 (1).
    fleet.servers[0]!.enqueueDummy(3)
    fleet.servers[2]!.enqueueDummy(1)
    const [url1, url2, url3] = fleet.urls as [string, string, string]

    await page.goto(bridge.url)
    await expect(page.getByRole('heading', { name: 'No servers yet' })).toBeVisible()
    await page.getByRole('button', { name: 'Add a server' }).click()

    // The first one, typed without http:// and with a bad port first: said next to the field.
    const form = page.getByTestId('server-form')
    const address = form.getByLabel('Address (URL)')
    await expect(address).toBeFocused()
    await address.fill('127.0.0.1:99999')
    await address.blur()
    await expect(form.getByTestId('url-problem')).toHaveText(
      'The port must be a number from 1 to 65535.'
    )
    await address.fill(url1.replace('http://', ''))
    await expect(form).toContainText(`Will be saved as ${url1}.`)
    await form.getByRole('textbox', { name: 'Name (optional)' }).fill('gpu-1')
    await form.getByRole('button', { name: 'Test connection' }).click()
    await expect(form.getByTestId('test-result')).toContainText('Connected: answered in')
    await expect(form.getByTestId('test-result')).toContainText('0.3.64')
    await shoot(page, 'server-form-en')
    await form.getByRole('button', { name: 'Add server' }).click()
    await expect(form).toBeHidden()

    // The second one with a login header (stored encrypted by the app; kept in memory here).
    await page.getByRole('button', { name: 'Add a server' }).click()
    await form.getByLabel('Address (URL)').fill(url2)
    await form.getByRole('textbox', { name: 'Name (optional)' }).fill('gpu-2')
    await form.getByLabel('Value').fill('Bearer s3cret')
    await form.getByRole('button', { name: 'Add server' }).click()
    await expect(form).toBeHidden()
    expect(core.settings.servers[1]).toMatchObject({
      name: 'gpu-2',
      headers: { Authorization: 'Bearer s3cret' }
    })

    // The third from the old form, with a bad entry: reported, and the text is kept.
    await page.getByRole('button', { name: 'Import a list' }).click()
    const text = `comfyui.server_url=${url1}\ncomfyui.backup_servers=${url3}, ftp://old-box`
    await page.getByLabel(/Paste your old settings/).fill(text)
    await page.getByRole('button', { name: 'Read the list' }).click()
    const panel = page.getByTestId('import-panel')
    await expect(panel).toContainText('Found 2 servers:')
    await expect(panel).toContainText('already in your list')
    await expect(panel.getByTestId('import-problems')).toContainText('ftp://old-box')
    await panel.getByRole('button', { name: 'Add 1 server' }).click()
    await expect(page.getByTestId('server-row')).toHaveCount(3)
    await expect(panel.getByTestId('import-problems')).toContainText('ftp://old-box')
    await expect(page.getByLabel(/Paste your old settings/)).toHaveValue(text)
    await panel.getByRole('button', { name: 'Close' }).click()

    // Renamed, moved up and back down: the order is the tie-break.
    const third = page.getByTestId('server-row').nth(2)
    await third.getByRole('button', { name: 'Edit' }).click()
    await form.getByRole('textbox', { name: 'Name (optional)' }).fill('gpu-3')
    await form.getByRole('button', { name: 'Save' }).click()
    await page.getByRole('button', { name: 'Move gpu-3 up' }).click()
    await expect(page.getByTestId('server-row').nth(1)).toHaveAttribute('aria-label', 'gpu-3')
    await page.getByRole('button', { name: 'Move gpu-3 down' }).click()
    await expect(page.getByTestId('server-row').nth(2)).toHaveAttribute('aria-label', 'gpu-3')
    expect(core.settings.servers.map((s) => s.name)).toEqual(['gpu-1', 'gpu-2', 'gpu-3'])
    await expect(page.getByTestId('server-row').filter({ hasText: 'Healthy' })).toHaveCount(3)
    await shoot(page, 'servers-en')

    await openView(page, 'Dashboard')
    const summary = page.getByTestId('fleet-summary')
    await expect(summary).toContainText('3/3 up, best gpu-2, 4 jobs queued')
    const card = (name: string) => page.getByRole('article', { name })
    await expect(page.locator('[data-testid=server-card][data-health=healthy]')).toHaveCount(3)
    await expect(card('gpu-1').getByTestId('queue-total')).toHaveText('3')
    await expect(card('gpu-1').getByTestId('queue-running')).toHaveText('1')
    await expect(card('gpu-1').getByTestId('queue-pending')).toHaveText('2')
    await expect(card('gpu-3').getByTestId('queue-total')).toHaveText('1')
    await expect(card('gpu-2').getByTestId('best-reason')).toContainText(
      /shortest queue \(0\)|expected to start in 0\.0 s/
    )
    await expect(card('gpu-2')).toContainText('NVIDIA GeForce RTX 4090')
    await expect(card('gpu-2').getByRole('meter')).toBeVisible()
    await expect(card('gpu-1').getByTestId('queue-chart').getByRole('img')).toHaveAttribute(
      'aria-label',
      /now 3/
    )
    await shoot(page, 'dashboard-en')

    await fleet.servers[1]!.setFault({ kind: 'hang' })
    await expect(card('gpu-2')).toHaveAttribute('data-health', 'down')
    await expect(card('gpu-2').getByTestId('down-reason')).toHaveText(
      `Timed out after ${TIMEOUT_MS} ms`
    )
    await expect(summary).toContainText('2/3 up, best gpu-3')
    await shoot(page, 'dashboard-down-en')

    // The log tells the same story.
    await openView(page, 'Log')
    await expect(page.getByTestId('log-tail')).toContainText(
      `Server down: gpu-2 - Timed out after ${TIMEOUT_MS} ms`
    )
    expect(pageErrors).toEqual([])
  })
})

test.describe('jobs', () => {
  test.use({ jobMs: 3_000 })

  test('a dropped workflow runs to thumbnails; jobs, settings and the log', async ({
    page,
    bridge,
    core,
    pageErrors
  }) => {
    await page.goto(bridge.url)
    await expect(page.getByTestId('fleet-summary')).toContainText('3/3 up')

    // Dropped anywhere on the window: the Submit view opens with what the workflow is.
    await dropFile(page, WORKFLOW, 'txt2img.json')
    await expect(page).toHaveURL(/#submit$/)
    const summary = page.getByTestId('workflow-summary')
    await expect(summary.getByTestId('node-count')).toHaveText('7 nodes')
    await expect(summary).toContainText('v1-5-pruned-emaonly.safetensors')
    await expect(page.getByTestId('auto-detail')).toContainText('Best now:')
    await expect(page.getByRole('radio', { name: /^Auto/ })).toBeChecked()
    await page.getByRole('button', { name: 'Submit', exact: true }).click()

    const job = page.getByTestId('job').first()
    await expect(job).toHaveAttribute('data-state', 'running')
    await expect(job.getByTestId('job-step')).toContainText(/step \d+\/20/)
    await shoot(page, 'submit-en')

    await expect(job).toHaveAttribute('data-state', 'done', { timeout: 15_000 })
    const thumb = job.getByTestId('thumbnail').first()
    await expect(thumb.locator('img')).toHaveAttribute('src', /^data:image\/png;base64,/)
    const done = core.jobs!.jobs()[0]!
    await thumb.click()
    await job.getByRole('button', { name: 'Open folder' }).click()
    await expect
      .poll(() => [...bridge.opened])
      .toEqual([done.outputs[0]!.path, dirname(done.outputs[0]!.path)])

    // The history: filters, details, run again, cancel.
    await openView(page, /^Jobs/)
    const jobs = page.getByTestId('job')
    await expect(jobs).toHaveCount(1)
    await page.getByRole('radio', { name: /^Failed/ }).check()
    await expect(page.getByText('No jobs here.')).toBeVisible()
    await page.getByRole('radio', { name: /^Done/ }).check()
    await expect(jobs).toHaveCount(1)
    await jobs.first().getByRole('button', { name: 'Details' }).click()
    await expect(jobs.first()).toContainText('accepted')
    await expect(jobs.first()).toContainText(/queued .* waited .* ran/)
    await page.getByRole('radio', { name: /^All/ }).check()
    await jobs.first().getByRole('button', { name: 'Run again' }).click()
    await expect(jobs).toHaveCount(2)
    await expect(jobs.first()).not.toHaveAttribute('data-state', 'done')
    await shoot(page, 'jobs-en')
    await jobs.first().getByRole('button', { name: 'Cancel' }).click()
    await expect(jobs.first()).toHaveAttribute('data-state', 'cancelled')

    // Settings apply at once; a bad value stays in its field with the reason.
    await openView(page, 'Settings')
    const interval = page.getByLabel('Check every')
    await expect(interval).toHaveValue('1')
    await interval.fill('0.1')
    await interval.press('Enter')
    await expect(page.getByText('Enter a value from 0.5 to 3600.')).toBeVisible()
    expect(core.settings.healthCheckInterval).toBe(INTERVAL_MS)
    await interval.fill('2')
    await interval.press('Enter')
    await expect(page.getByText('Saved')).toBeVisible()
    expect(core.settings.healthCheckInterval).toBe(2000)
    await page.getByLabel('A job is done').uncheck()
    await expect.poll(() => core.settings.notifications.jobDone).toBe(false)
    bridge.setChosenFolder('/home/artist/Renders')
    await page.getByRole('button', { name: 'Choose folder...' }).click()
    await expect(page.getByTestId('output-dir')).toHaveText('/home/artist/Renders')
    await shoot(page, 'settings-en')
    // The theme setting wins over the system's choice.
    await page.getByLabel('Appearance').selectOption('dark')
    await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark')
    await page.emulateMedia({ colorScheme: 'light' })
    await expect(page.locator('html')).toHaveCSS('background-color', 'rgb(17, 19, 24)')
    await page.getByLabel('Appearance').selectOption('system')
    await expect(page.locator('html')).not.toHaveAttribute('data-theme', /./)

    // The log: the verbose switch is the tray's, the view can be cleared.
    await openView(page, 'Log')
    await page.getByRole('checkbox', { name: 'Verbose log' }).check()
    await expect.poll(() => core.settings.verboseLogging).toBe(true)
    const tail = page.getByTestId('log-tail')
    await expect(tail).toContainText('gpu-1: healthy')
    await page.getByRole('button', { name: 'Clear view' }).click()
    await expect(tail).not.toContainText('Verbose logging on')
    await expect(tail).toContainText('gpu-1: healthy')
    await shoot(page, 'logs-en')

    // Long names and long errors wrap inside their card; nothing runs off the window.
    const longName = 'render-farm-node-with-a-rather-long-name-in-the-basement-rack-07'
    core.updateSettings({
      servers: [
        ...core.settings.servers,
        { name: longName, url: `http://127.0.0.1:9/${'deep/'.repeat(12)}comfy`, enabled: true }
      ]
    })
    await openView(page, 'Dashboard')
    const long = page.getByRole('article', { name: longName })
    await expect(long).toHaveAttribute('data-health', 'down')
    const fits = await long.evaluate((card) => {
      type Box = { getBoundingClientRect(): { left: number; right: number } }
      const inner = (
        card as unknown as { querySelectorAll(s: string): Iterable<Box> }
      ).querySelectorAll('h3, .url, .reason')
      const outer = (card as unknown as Box).getBoundingClientRect()
      return [...inner].every((el) => {
        const r = el.getBoundingClientRect()
        return r.left >= outer.left && r.right <= outer.right
      })
    })
    expect(fits).toBe(true)
    expect(
      await page.evaluate(() => {
        const d = (
          globalThis as unknown as {
            document: { documentElement: { scrollWidth: number; clientWidth: number } }
          }
        ).document.documentElement
        return d.scrollWidth <= d.clientWidth
      })
    ).toBe(true)
    await shoot(page, 'dashboard-long-en')
    expect(pageErrors).toEqual([])
  })

  test('a UI workflow, converted, runs as a batch with an edited prompt; the gallery fills', async ({
    page,
    bridge,
    fleet,
    pageErrors
  }) => {
    await page.goto(bridge.url)
    await expect(page.getByTestId('fleet-summary')).toContainText('3/3 up')
    await dropFile(page, UI_WORKFLOW, 'my-workflow.json')
    const summary = page.getByTestId('workflow-summary')
    await expect(summary.getByTestId('workflow-format')).toHaveText('UI workflow, converted')
    await expect(summary.getByTestId('node-count')).toHaveText('7 nodes')
    await expect(summary).toContainText('v1-5-pruned-emaonly.safetensors')

    const texts = page.getByTestId('prompt-text')
    await expect(texts).toHaveCount(2)
    await expect(texts.first()).toHaveValue(/purple galaxy bottle/)
    await texts.first().fill('a lighthouse in a storm, oil painting')
    await page.getByLabel('Runs').fill('3')
    await expect(page.getByLabel('Seed')).toHaveValue('random')
    await page.getByLabel('Seed').selectOption('increment')
    await page.getByRole('button', { name: 'Submit 3 runs' }).click()

    const batch = page.getByTestId('batch-card')
    await expect(batch).toContainText('Batch of 3 runs')
    await expect(batch.getByTestId('batch-done')).toHaveText(/^[0-2]\/3 done$/)
    await shoot(page, 'batch-running-en')
    await expect(batch.getByTestId('batch-done')).toHaveText('3/3 done', { timeout: 20_000 })
    await expect(batch.getByTestId('gallery-image')).toHaveCount(3)
    for (const img of await batch.getByTestId('gallery-image').locator('img').all()) {
      await expect(img).toHaveAttribute('src', /^data:image\/png;base64,/)
    }
    await expect(batch.getByTestId('batch-eta')).toContainText('finished in')
    await shoot(page, 'batch-en')
    await batch.getByTestId('gallery-image').first().click()
    await expect.poll(() => bridge.opened.length).toBe(1)

    // What the servers got: three prompts, consecutive seeds from the file's, the edited text.
    const prompts: Array<Record<string, { inputs: Record<string, unknown> }>> = []
    for (const url of fleet.urls) {
      const history = (await (await fetch(`${url}/history`)).json()) as Record<
        string,
        { prompt: [number, string, Record<string, { inputs: Record<string, unknown> }>] }
      >
      for (const h of Object.values(history)) prompts.push(h.prompt[2])
    }
    expect(prompts).toHaveLength(3)
    const seeds = prompts.map((p) => p['3']!.inputs.seed as number).sort((a, b) => a - b)
    expect(seeds).toEqual([156680208700286, 156680208700287, 156680208700288])
    for (const p of prompts) {
      expect(p['6']!.inputs.text).toBe('a lighthouse in a storm, oil painting')
    }
    expect(pageErrors).toEqual([])
  })

  test('a job no server can take waits for one, and can be cancelled meanwhile', async ({
    page,
    bridge,
    fleet,
    pageErrors
  }) => {
    await page.goto(bridge.url)
    await expect(page.getByTestId('fleet-summary')).toContainText('3/3 up')
    for (const s of fleet.servers) await s.setFault({ kind: 'hang' })
    await expect(page.getByTestId('fleet-summary')).toContainText('0/3 up')
    await dropFile(page, WORKFLOW, 'txt2img.json')
    await page.getByRole('button', { name: 'Submit', exact: true }).click()
    const job = page.getByTestId('job').first()
    // The engine reads what each (hung) server can run first, a few seconds at most: on a
    // loaded machine that can take longer than the default wait.
    await expect(job.getByTestId('job-state')).toHaveText('Waiting for a server', {
      timeout: 20_000
    })
    await expect(job).toContainText('Waiting for a healthy server')
    await job.getByRole('button', { name: 'Cancel' }).click()
    await expect(job).toHaveAttribute('data-state', 'cancelled')
    expect(pageErrors).toEqual([])
  })

  test('the gateway panel gives the address to use and its settings', async ({
    page,
    bridge,
    core
  }) => {
    await page.goto(`${bridge.url}#settings`)
    const panel = page.getByTestId('gateway-panel')
    await expect(panel.getByTestId('gateway-address')).toContainText('http://127.0.0.1:8288')
    await expect(panel).toContainText('Krita AI Diffusion')
    await panel.getByLabel('Port').fill('8299')
    await panel.getByLabel('Port').press('Enter')
    await expect.poll(() => core.settings.gateway?.port).toBe(8299)
    await expect(panel.getByTestId('gateway-address')).toContainText('http://127.0.0.1:8299')
    await panel.scrollIntoViewIfNeeded()
    await shoot(page, 'gateway-en')
    await panel.getByLabel('One address for all servers').uncheck()
    await expect.poll(() => core.settings.gateway?.enabled).toBe(false)
    await expect(panel.getByTestId('gateway-address')).toContainText('Turned off')
  })

  test('a file that is not a workflow is refused, with the reason', async ({ page, bridge }) => {
    // Keyboard only: the first Tab offers to skip to the content, then the views follow.
    await page.goto(bridge.url)
    await expect(page.getByTestId('fleet-summary')).toContainText('3/3 up')
    await page.keyboard.press('Tab')
    await expect(page.getByRole('link', { name: 'Skip to content' })).toBeFocused()
    const submitTab = page.getByRole('navigation').getByRole('link', { name: 'Submit' })
    for (
      let i = 0;
      i < 8 && !(await submitTab.evaluate((el) => el === el.ownerDocument.activeElement));
      i++
    ) {
      await page.keyboard.press('Tab')
    }
    await expect(submitTab).toBeFocused()
    await page.keyboard.press('Enter')
    await expect(page).toHaveURL(/#submit$/)
    await page.keyboard.press('Tab')
    await expect(page.getByRole('button', { name: 'Choose a file...' })).toBeFocused()

    await page.getByTestId('file-input').setInputFiles({
      name: 'notes.json',
      mimeType: 'application/json',
      buffer: Buffer.from('{"nodes": [], "links": []}')
    })
    // A UI-format file is converted now; one with no nodes to run is refused, saying so.
    await expect(page.getByTestId('workflow-problem')).toContainText('could not be converted')
    await expect(page.getByRole('button', { name: 'Submit', exact: true })).toBeDisabled()
  })
})

test.describe('简体中文', () => {
  test.use({ jobMs: 2_500 })

  test('no English left on any view, and a reload finds everything as it was', async ({
    page,
    bridge,
    fleet,
    core,
    pageErrors
  }) => {
    await page.goto(`${bridge.url}#settings`)
    await page.getByLabel('Language').selectOption('zh-CN')
    await expect(page.locator('html')).toHaveAttribute('lang', 'zh-CN')
    await expect(page.getByRole('heading', { name: '设置' })).toBeVisible()
    expect(core.settings.language).toBe('zh-CN')

    // A finished job (through the file picker) and a server down, so every kind of text shows.
    await page.getByRole('navigation').getByRole('link', { name: '提交' }).click()
    await page.getByTestId('file-input').setInputFiles(WORKFLOW)
    await expect(page.getByTestId('node-count')).toHaveText('7 个节点')
    await page.getByRole('button', { name: '提交', exact: true }).click()
    const job = page.getByTestId('job').first()
    await expect(job).toHaveAttribute('data-state', 'done', { timeout: 15_000 })
    await expect(job.getByTestId('thumbnail').locator('img')).toBeVisible()
    await fleet.servers[2]!.setFault({ kind: 'hang' })
    await expect(page.getByTestId('fleet-summary')).toContainText('2/3 台在线')

    const views: Array<[string, string]> = [
      ['总览', 'dashboard'],
      ['服务器', 'servers'],
      ['任务', 'jobs'],
      ['日志', 'logs'],
      ['设置', 'settings']
    ]
    for (const [label, name] of views) {
      await page.getByRole('navigation').getByRole('link', { name: label }).click()
      await expect(page).toHaveURL(new RegExp(`#${name}$`))
      if (name === 'dashboard') {
        await expect(
          page.getByRole('article', { name: 'gpu-3' }).getByTestId('down-reason')
        ).toHaveText(`超时（${TIMEOUT_MS} 毫秒内无响应）`)
      }
      if (name === 'jobs') {
        await page.getByTestId('job').first().getByRole('button', { name: '详情' }).click()
      }
      expect(await englishOnScreen(page), `English on the ${name} view`).toEqual([])
      if (name !== 'logs') await shoot(page, `${name}-zh-CN`)
    }
    // The server form and the import panel too.
    await page.getByRole('navigation').getByRole('link', { name: '服务器' }).click()
    await page.getByRole('button', { name: '添加服务器' }).click()
    await page.getByRole('button', { name: '导入列表' }).click()
    await page.getByLabel('地址（URL）').fill('http://127.0.0.1:1')
    await page.getByLabel('地址（URL）').blur()
    await page.getByRole('button', { name: '测试连接' }).click()
    await expect(page.getByTestId('test-result')).toContainText('连接被拒绝')
    expect(await englishOnScreen(page), 'English in the server form').toEqual([])
    await shoot(page, 'server-form-zh-CN')
    // The other ways a test fails, said in Chinese too: no answer in time, a proxy's error
    // page, a web page where ComfyUI's JSON should be.
    const odd = await startOddServers()
    try {
      for (const [url, zh] of [
        [odd.hang, `超时（${TIMEOUT_MS} 毫秒内无响应）`],
        [odd.proxy502, '服务器返回错误 502（来自代理的错误页面）'],
        [odd.loginPage, '返回的是网页而不是 ComfyUI（代理或登录页面？）']
      ] as const) {
        await page.getByLabel('地址（URL）').fill(url)
        await page.getByLabel('地址（URL）').blur()
        await page.getByRole('button', { name: '测试连接' }).click()
        await expect(page.getByTestId('test-result')).toContainText(zh)
        expect(await englishOnScreen(page), `English in the test of ${url}`).toEqual([])
      }
    } finally {
      await odd.stop()
    }
    await page.getByRole('button', { name: '取消' }).click()

    // Submit in progress, in Chinese.
    await page.getByRole('navigation').getByRole('link', { name: '提交' }).click()
    await page.getByTestId('file-input').setInputFiles(WORKFLOW)
    await page.getByRole('button', { name: '提交', exact: true }).click()
    const running = page.getByTestId('job').first()
    await expect(running.getByTestId('job-step')).toContainText(/步数 \d+\/20/)
    expect(await englishOnScreen(page), 'English on the submit view').toEqual([])
    await shoot(page, 'submit-zh-CN')
    await expect(running).toHaveAttribute('data-state', 'done', { timeout: 15_000 })

    // Reload: same view, same language, same servers, same jobs with their images.
    await page.getByRole('navigation').getByRole('link', { name: '任务' }).click()
    await page.reload()
    await expect(page).toHaveURL(/#jobs$/)
    await expect(page.locator('html')).toHaveAttribute('lang', 'zh-CN')
    await expect(page.getByRole('heading', { name: '任务' })).toBeVisible()
    await expect(page.getByTestId('job')).toHaveCount(2)
    for (const j of await page.getByTestId('job').all()) {
      await expect(j).toHaveAttribute('data-state', 'done')
      await expect(j.getByTestId('thumbnail').locator('img')).toBeVisible()
    }
    await page.getByRole('navigation').getByRole('link', { name: '总览' }).click()
    await expect(page.getByTestId('server-card')).toHaveCount(3)
    await expect(page.getByRole('article', { name: 'gpu-3' })).toHaveAttribute(
      'data-health',
      'down'
    )
    expect(await englishOnScreen(page), 'English after the reload').toEqual([])
    expect(pageErrors).toEqual([])
  })

  test('a converted UI workflow and its batch, in Chinese', async ({
    page,
    bridge,
    core,
    pageErrors
  }) => {
    core.updateSettings({ language: 'zh-CN' })
    await page.goto(`${bridge.url}#submit`)
    await expect(page.locator('html')).toHaveAttribute('lang', 'zh-CN')
    await page.getByTestId('file-input').setInputFiles(UI_WORKFLOW)
    await expect(page.getByTestId('workflow-format')).toHaveText('界面格式工作流（已转换）')
    await page.getByLabel('运行次数').fill('3')
    await page.getByRole('button', { name: '提交 3 次运行' }).click()
    const batch = page.getByTestId('batch-card')
    await expect(batch.getByTestId('batch-done')).toHaveText('已完成 3/3', { timeout: 20_000 })
    await expect(batch.getByTestId('gallery-image').locator('img')).toHaveCount(3)
    expect(await englishOnScreen(page), 'English on the batch card').toEqual([])
    await shoot(page, 'batch-zh-CN')
    await page.getByRole('navigation').getByRole('link', { name: '设置' }).click()
    await expect(page.getByTestId('gateway-address')).toContainText('http://127.0.0.1:8288')
    expect(await englishOnScreen(page), 'English in the gateway panel').toEqual([])
    await page.getByTestId('gateway-panel').scrollIntoViewIfNeeded()
    await shoot(page, 'gateway-zh-CN')
    expect(pageErrors).toEqual([])
  })
  test('a failed job with its attempts, notes and error, in Chinese', async ({
    page,
    bridge,
    fleet,
    core,
    pageErrors
  }) => {
    core.updateSettings({ language: 'zh-CN' })
    await page.goto(`${bridge.url}#jobs`)
    await expect(page.locator('html')).toHaveAttribute('lang', 'zh-CN')
    await expect(page.getByTestId('fleet-summary')).toContainText('3/3')
    // Every server answers its checks but turns the prompt away: each try fails.
    for (const s of fleet.servers) {
      await s.setFault({ kind: 'status', status: 502, route: '/prompt' })
    }
    const failed = await core.jobs!.waitFor(core.jobs!.submit(await core.readWorkflow(WORKFLOW)).id)
    expect(failed.state).toBe('failed')
    expect(failed.error?.said.code).toBe('no-server-took')
    expect(failed.attempts.length).toBeGreaterThan(1)
    // Retried: the old job notes which job replaced it.
    for (const s of fleet.servers) await s.setFault(null)
    const retry = core.retryJob(failed.id)
    expect(core.jobs!.get(failed.id)!.notes.at(-1)).toEqual({ code: 'retried-as', id: retry.id })
    const card = page.locator(`[data-testid="job"][data-job-id="${failed.id}"]`)
    await expect(card).toHaveAttribute('data-state', 'failed')
    await card.getByRole('button', { name: '详情' }).click()
    await expect(card.locator('.details li')).toHaveCount(failed.attempts.length + 1)
    await expect(card.locator('.error')).toContainText('没有服务器接收此任务')
    await expect(card.locator('.details')).toContainText('服务器返回错误 502')
    await expect(card.locator('.details')).toContainText('已重试为')
    expect(await englishOnScreen(page), 'English on a failed job').toEqual([])
    await expect(card).not.toContainText(/No server could take|Retried as|HTTP 502|refused/)
    expect(pageErrors).toEqual([])
  })
})

test.describe('the queue', () => {
  test('sending paused: jobs wait here, move up, change priority, a batch is cancelled, a run retried, all cancelled', async ({
    page,
    bridge,
    fleet,
    core,
    pageErrors
  }) => {
    await page.goto(`${bridge.url}#jobs`)
    await expect(page.getByTestId('fleet-summary')).toContainText('3/3 up')
    const bar = page.getByTestId('queue-bar')
    await bar.getByRole('button', { name: 'Pause sending' }).click()
    await expect(bar.getByTestId('queue-state')).toHaveText(
      'Sending paused: jobs wait in Comfy Balancer'
    )
    expect(core.isSendingPaused()).toBe(true)

    // Two jobs and a batch of two runs, none sent while paused.
    const wf = await core.readWorkflow(WORKFLOW)
    const first = core.jobs!.submit(wf)
    const second = core.jobs!.submit(wf)
    const batch = core.jobs!.submitBatch(wf, { count: 2, seed: 'increment', sets: [] })
    const card = (id: string) => page.locator(`[data-testid="job"][data-job-id="${id}"]`)
    await expect(page.getByTestId('job')).toHaveCount(4)
    await expect(card(first.id).getByTestId('queue-place')).toHaveText('In line here: 1 of 4')
    await expect(card(first.id)).toContainText('Waiting here: sending is paused')

    // The last run first, the second job high.
    const last = batch.jobs[1]!
    await card(last.id).getByRole('button', { name: 'Move to top' }).click()
    await expect(card(last.id).getByTestId('queue-place')).toHaveText('In line here: 1 of 4')
    await expect(card(first.id).getByTestId('queue-place')).toHaveText('In line here: 2 of 4')
    await card(second.id).getByLabel('Priority').selectOption('high')
    await expect(card(second.id).getByTestId('queue-place')).toHaveText('In line here: 1 of 4')
    expect(core.waitingJobs().map((j) => j.id)).toEqual([
      second.id,
      last.id,
      first.id,
      batch.jobs[0]!.id
    ])
    const batchCard = page.getByTestId('batch-card')
    await expect(batchCard).toContainText('Batch of 2 runs')
    await shoot(page, 'jobs-queue-en')

    // The batch cancelled, one run retried in its place: the batch counts it once.
    await batchCard.getByRole('button', { name: 'Cancel batch' }).click()
    await expect(card(last.id)).toHaveAttribute('data-state', 'cancelled')
    await expect(card(batch.jobs[0]!.id)).toHaveAttribute('data-state', 'cancelled')
    await card(last.id).getByRole('button', { name: 'Retry' }).click()
    await expect(card(last.id).getByTestId('job-retried')).toBeVisible()
    await expect(page.getByTestId('job')).toHaveCount(5)
    await expect(batchCard.getByTestId('batch-done')).toHaveText('0/2 done')
    await expect(batchCard.getByRole('button', { name: 'Cancel batch' })).toBeVisible()

    // Cancel all, after saying yes.
    await bar.getByRole('button', { name: 'Cancel all' }).click()
    const ask = page.getByRole('alertdialog')
    await expect(ask).toHaveText(/Cancel all 3 jobs that are waiting or running\?/)
    await ask.getByRole('button', { name: 'Yes, cancel all' }).click()
    await expect(page.locator('[data-testid="job"][data-state="pending"]')).toHaveCount(0)
    expect(core.waitingJobs()).toEqual([])
    // Nothing reached a server.
    for (const url of fleet.urls) {
      const queue = (await (await fetch(`${url}/queue`)).json()) as {
        queue_running: unknown[]
        queue_pending: unknown[]
      }
      expect([...queue.queue_running, ...queue.queue_pending]).toEqual([])
    }

    // In Chinese, with new jobs waiting.
    core.updateSettings({ language: 'zh-CN' })
    await expect(page.locator('html')).toHaveAttribute('lang', 'zh-CN')
    const zhFirst = core.jobs!.submit(wf)
    core.jobs!.submit(wf)
    await expect(card(zhFirst.id).getByTestId('queue-place')).toHaveText(
      '本地排队：第 1 个，共 2 个'
    )
    await expect(bar.getByTestId('queue-state')).toHaveText(
      '已暂停发送：任务在 Comfy Balancer 中等待'
    )
    await page.getByRole('radio', { name: /^进行中/ }).check()
    expect(await englishOnScreen(page), 'English in the queue').toEqual([])
    await shoot(page, 'jobs-queue-zh-CN')
    await bar.getByRole('button', { name: '继续发送' }).click()
    await expect(bar.getByTestId('queue-state')).not.toContainText('已暂停')
    expect(core.isSendingPaused()).toBe(false)
    await expect(card(zhFirst.id)).not.toHaveAttribute('data-state', 'pending')
    expect(pageErrors).toEqual([])
  })
})
