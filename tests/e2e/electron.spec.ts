/**
 * Smoke test of the real app in Electron: it starts to the tray without a window, the tray shows
 * the fleet, the window opens locked down with exactly our API. It needs the Electron binary,
 * which `npx install-electron` downloads on a machine with internet; where it is missing (CI
 * here) the test is skipped and says why. Build first (`npm run build`).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { _electron as electron, expect, test } from '@playwright/test'
import { startFakeFleet } from '../../src/fake-comfy'

const ROOT = join(import.meta.dirname, '..', '..')

/** The Electron binary, or why there is none. */
function electronBinary(): { path: string } | { missing: string } {
  if (process.env['ELECTRON_EXEC_PATH']) {
    const p = process.env['ELECTRON_EXEC_PATH']
    return existsSync(p) ? { path: p } : { missing: `ELECTRON_EXEC_PATH=${p} does not exist` }
  }
  const pkg = join(ROOT, 'node_modules', 'electron')
  const pathTxt = join(pkg, 'path.txt')
  if (!existsSync(pathTxt)) {
    return {
      missing:
        'the Electron binary is not installed (node_modules/electron/path.txt is missing; run `npx install-electron` with internet access, or set ELECTRON_EXEC_PATH)'
    }
  }
  const bin = join(pkg, 'dist', readFileSync(pathTxt, 'utf8').trim())
  return existsSync(bin)
    ? { path: bin }
    : { missing: `the Electron binary ${bin} is missing (run \`npx install-electron\`)` }
}

const binary = electronBinary()
const built = existsSync(join(ROOT, 'out', 'main', 'index.js'))

interface E2eHook {
  tray(): { icon: string; tooltip: string; menu: unknown[] }
  openWindow(): void
}

test.describe('the Electron app', () => {
  test('starts to the tray, shows the fleet, opens a locked-down window', async () => {
    // Skipped inside the test, after printing why: reporters list a skip without its reason.
    const why =
      'missing' in binary
        ? binary.missing
        : built
          ? null
          : 'the app is not built (run `npm run build`)'
    if (why) console.log(`Electron smoke test skipped: ${why}`)
    test.skip(why !== null, `Skipped: ${why}`)
    const fleet = await startFakeFleet({ count: 1, jobMs: 200 })
    const home = mkdtempSync(join(tmpdir(), 'comfy-balancer-electron-'))
    const config = join(home, 'config')
    mkdirSync(join(config, 'comfy-balancer'), { recursive: true })
    writeFileSync(
      join(config, 'comfy-balancer', 'config.json'),
      JSON.stringify({
        healthCheckInterval: 500,
        servers: [{ name: 'fake-1', url: fleet.urls[0] }]
      })
    )
    const app = await electron.launch({
      executablePath: (binary as { path: string }).path,
      args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), ROOT],
      env: {
        ...process.env,
        HOME: home,
        XDG_CONFIG_HOME: config,
        APPDATA: config,
        COMFY_BALANCER_E2E: '1'
      } as Record<string, string>
    })
    try {
      const hook = () =>
        app.evaluate(() =>
          (globalThis as unknown as { __comfyBalancerE2e: E2eHook }).__comfyBalancerE2e.tray()
        )
      await expect
        .poll(async () => (await hook()).tooltip, { timeout: 15_000 })
        .toMatch(/^Comfy Balancer: 1\/1 servers up - best: fake-1 \(queue 0\)$/)
      const tray = await hook()
      expect(tray.icon).toBe('healthy:0')
      expect(tray.menu).toContain('Submit workflow...')
      expect(tray.menu).toContain('Quit')
      // Started to the tray: no window yet.
      expect(await app.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows().length)).toBe(
        0
      )

      const opened = app.waitForEvent('window')
      await app.evaluate(() =>
        (globalThis as unknown as { __comfyBalancerE2e: E2eHook }).__comfyBalancerE2e.openWindow()
      )
      const page = await opened
      await expect(page.getByTestId('fleet-summary')).toContainText('1/1 up', { timeout: 15_000 })
      const exposed = await page.evaluate(() => {
        const g = globalThis as unknown as Record<string, unknown>
        return {
          require: typeof g['require'],
          process: typeof g['process'],
          api: Object.keys(g['comfyBalancer'] as object).sort()
        }
      })
      expect(exposed).toEqual({
        require: 'undefined',
        process: 'undefined',
        api: ['checks', 'jobs', 'logs', 'servers', 'settings', 'status', 'ui']
      })
      // New windows are refused.
      await page.evaluate(() =>
        (globalThis as unknown as { open(u: string): unknown }).open('https://example.com')
      )
      expect(await app.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows().length)).toBe(
        1
      )
    } finally {
      await app.close()
      await fleet.stop()
    }
  })
})
