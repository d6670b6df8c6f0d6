/**
 * The gateway inside the tray app, with a mocked `electron` and a real engine: started from the
 * settings, its address in the tray (a click copies it), restarted or stopped when the settings
 * change, closed on quit; a taken port is a log line, a menu line and a notification.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { MenuItemConstructorOptions } from 'electron'
import { runApp, type RunningApp } from '../../src/main/lifecycle'
import {
  clipboard,
  FakeBrowserWindow,
  FakeNotification,
  FakeTray,
  ipcMain,
  resetElectronMock
} from './electron-mock'

vi.mock('electron', () => import('./electron-mock'))

let home: string
let env: NodeJS.ProcessEnv
let running: RunningApp | null = null
const servers: net.Server[] = []

beforeEach(() => {
  resetElectronMock()
  home = mkdtempSync(join(tmpdir(), 'comfy-balancer-home-'))
  env = { XDG_CONFIG_HOME: join(home, 'config') }
})

afterEach(async () => {
  await running?.shutdown()
  running = null
  for (const s of servers.splice(0)) await new Promise<void>((r) => s.close(() => r()))
})

/** A port that was free a moment ago (settings take 1-65535, not 0). */
async function freePort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()))
  const port = (s.address() as net.AddressInfo).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

async function takenPort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()))
  servers.push(s)
  return (s.address() as net.AddressInfo).port
}

async function launch(gateway: Record<string, unknown>): Promise<RunningApp> {
  const dir = join(home, 'config', 'comfy-balancer')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ gateway }))
  const r = await runApp({ mainDir: '/app/out/main', env, platform: 'linux' }).ready
  if (!r) throw new Error('the app did not start')
  running = r
  return r
}

const items = () => (FakeTray.instances[0]!.menu as { items: MenuItemConstructorOptions[] }).items
const gatewayItem = () => items().find((i) => i.label?.startsWith('Gateway'))

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/prompt`)).status === 200
  } catch {
    return false
  }
}

describe('the gateway in the tray app', () => {
  it('starts on the settings’ address, shows it, copies it, follows the settings, closes on quit', async () => {
    const port = await freePort()
    const r = await launch({ enabled: true, host: '127.0.0.1', port, token: null })
    const url = `http://127.0.0.1:${port}`
    await vi.waitFor(() => expect(gatewayItem()?.label).toBe(`Gateway: ${url}`))
    expect(await answers(url)).toBe(true)
    ;(gatewayItem()!.click as () => void)()
    expect(clipboard.text).toBe(url)
    // The window's panel asks the same gateway for its address.
    r.window.show()
    const contents = FakeBrowserWindow.instances[0]!.webContents
    const fromWindow = { sender: contents, senderFrame: { ...contents.mainFrame } }
    expect(await ipcMain.invoke('gateway:status', fromWindow)).toEqual({
      enabled: true,
      url,
      error: null
    })

    // Another port: the old one closes, the new one answers.
    const next = await freePort()
    r.core.updateSettings({
      gateway: { enabled: true, host: '127.0.0.1', port: next, token: null }
    })
    const nextUrl = `http://127.0.0.1:${next}`
    await vi.waitFor(() => expect(gatewayItem()?.label).toBe(`Gateway: ${nextUrl}`))
    expect(await answers(nextUrl)).toBe(true)
    expect(await answers(url)).toBe(false)

    // Turned off: says so, and the address is closed.
    r.core.updateSettings({
      gateway: { enabled: false, host: '127.0.0.1', port: next, token: null }
    })
    await vi.waitFor(() => expect(gatewayItem()?.label).toBe('Gateway: off'))
    expect(await answers(nextUrl)).toBe(false)

    r.core.updateSettings({
      gateway: { enabled: true, host: '127.0.0.1', port: next, token: null }
    })
    await vi.waitFor(() => expect(gatewayItem()?.label).toBe(`Gateway: ${nextUrl}`))
    await r.shutdown()
    running = null
    expect(await answers(nextUrl)).toBe(false)
  })

  it('a taken port is a log line, a menu line and a notification, and the app runs on', async () => {
    const port = await takenPort()
    const r = await launch({ enabled: true, host: '127.0.0.1', port, token: null })
    await vi.waitFor(() =>
      expect(gatewayItem()?.label).toBe(`Gateway off: port ${port} is already in use`)
    )
    expect(gatewayItem()!.enabled).toBe(false)
    expect(
      r.core.logs
        .all()
        .some((l) => l.level === 'error' && l.message.startsWith('[Gateway] Could not start'))
    ).toBe(true)
    const n = FakeNotification.instances.find(
      (x) => x.options.title === 'The gateway could not start'
    )
    expect(n?.shown).toBe(true)
    expect(n!.options.body).toContain(String(port))
    // Still a working app: the menu and the engine answer.
    expect(items().some((i) => i.label === 'Quit')).toBe(true)
    expect(r.core.jobs).not.toBeNull()
    // A free port in the settings brings it up.
    const free = await freePort()
    r.core.updateSettings({
      gateway: { enabled: true, host: '127.0.0.1', port: free, token: null }
    })
    await vi.waitFor(() => expect(gatewayItem()?.label).toBe(`Gateway: http://127.0.0.1:${free}`))
  })
})
