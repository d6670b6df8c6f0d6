import { defineConfig } from '@playwright/test'

/**
 * E2E: the built renderer, served by the web bridge (tests/e2e/bridge.ts) with a real core and
 * a fake ComfyUI fleet, in Debian's Chromium. Playwright never downloads browsers here; point
 * CHROMIUM_PATH at another Chromium if needed. Build first: `npx electron-vite build`.
 */
export default defineConfig({
  testDir: 'tests/e2e',
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env['CI'],
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: 'list',
  use: {
    browserName: 'chromium',
    viewport: { width: 960, height: 700 },
    launchOptions: {
      executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync'
      ]
    },
    trace: 'retain-on-failure'
  }
})
