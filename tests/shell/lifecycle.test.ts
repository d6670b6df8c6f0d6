/**
 * The app's life with a mocked `electron` and a real engine (no servers, so nothing touches the
 * network): single instance, tray first, notifications wired, clean quit.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { MenuItemConstructorOptions } from 'electron'
import { routeFor, runApp, type RunningApp } from '../../src/main/lifecycle'
import type { JobRecord } from '../../src/shared/types'
import { fleet, server } from '../core/helpers'
import {
  app,
  dialog,
  FakeBrowserWindow,
  FakeNotification,
  FakeTray,
  ipcMain,
  resetElectronMock,
  shell
} from './electron-mock'

vi.mock('electron', () => import('./electron-mock'))

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'txt2img.json')

let home: string
let env: NodeJS.ProcessEnv
let running: RunningApp | null = null

beforeEach(() => {
  resetElectronMock()
  home = mkdtempSync(join(tmpdir(), 'comfy-balancer-home-'))
  env = { XDG_CONFIG_HOME: join(home, 'config') }
  // The gateway (on by default, port 8288) has its own tests in gateway-tray.test.ts.
  mkdirSync(dataDir(), { recursive: true })
  writeFileSync(configFile(), JSON.stringify({ gateway: { enabled: false } }))
})

afterEach(async () => {
  await running?.shutdown()
  running = null
})

const dataDir = () => join(home, 'config', 'comfy-balancer')
const configFile = () => join(dataDir(), 'config.json')

async function launch(platform: NodeJS.Platform = 'linux'): Promise<RunningApp> {
  const handle = runApp({ mainDir: '/app/out/main', env, platform })
  const r = await handle.ready
  if (!r) throw new Error('the app did not start')
  running = r
  return r
}

function menuItems(): MenuItemConstructorOptions[] {
  return (FakeTray.instances[0]!.menu as { items: MenuItemConstructorOptions[] }).items
}

function clickMenu(label: string, checked = false): void {
  const item = menuItems().find((i) => i.label === label)
  if (!item) throw new Error(`no menu item ${label}`)
  ;(item.click as (i: { checked: boolean }) => void)({ checked })
}

/** Runs `before-quit` as Electron would and waits for the app to really quit. */
async function quit(): Promise<{ prevented: boolean }> {
  const event = { preventDefault: vi.fn() }
  app.emit('before-quit', event)
  await vi.waitFor(() => expect(app.quit).toHaveBeenCalled())
  running = null
  return { prevented: event.preventDefault.mock.calls.length > 0 }
}

describe('launch', () => {
  it('a second instance quits at once and starts nothing', async () => {
    app.requestSingleInstanceLock.mockReturnValueOnce(false)
    const handle = runApp({ mainDir: '/app/out/main', env, platform: 'linux' })
    expect(await handle.ready).toBeNull()
    expect(app.quit).toHaveBeenCalledOnce()
    expect(app.whenReady).not.toHaveBeenCalled()
    expect(FakeTray.instances).toHaveLength(0)
  })

  it('starts to the tray without a window, with the data folder the CLI uses', async () => {
    await launch()
    expect(app.setPath).toHaveBeenCalledWith('userData', dataDir())
    expect(app.enableSandbox).toHaveBeenCalled()
    expect(FakeTray.instances).toHaveLength(1)
    expect(FakeBrowserWindow.instances).toHaveLength(0)
    expect(FakeTray.instances[0]!.tooltip).toBe('Comfy Balancer: No servers configured')
    expect(ipcMain.handlers.size).toBeGreaterThan(0)
    // Closing the window must not quit a tray app.
    app.emit('window-all-closed')
    expect(app.quit).not.toHaveBeenCalled()
  })

  it('shows the window when the app is launched again', async () => {
    await launch()
    app.emit('second-instance', {}, [], '/')
    expect(FakeBrowserWindow.instances).toHaveLength(1)
    app.emit('second-instance', {}, [], '/')
    expect(FakeBrowserWindow.instances).toHaveLength(1)
  })

  it('enables jobs with a stable client id, a journal and an output folder', async () => {
    const r = await launch()
    expect(r.core.jobs).not.toBeNull()
    const id = readFileSync(join(dataDir(), 'client-id'), 'utf8').trim()
    expect(r.core.jobs!.clientId).toBe(id)
    await r.shutdown()
    running = null
    resetElectronMock()
    const again = await launch()
    expect(again.core.jobs!.clientId).toBe(id)
  })

  it('tells the user when the settings file was broken', async () => {
    mkdirSync(dataDir(), { recursive: true })
    writeFileSync(configFile(), '{ not json')
    const r = await launch()
    const n = FakeNotification.instances.find((x) => x.options.title === 'Settings were repaired')
    expect(n?.shown).toBe(true)
    expect(n!.options.body).toMatch(/could not be read/)
    expect(
      r.core.logs.all().some((l) => l.level === 'warn' && l.message.includes('could not be read'))
    ).toBe(true)
  })

  it('on macOS: a template tray icon, and a dock icon only while the window is open', async () => {
    const r = await launch('darwin')
    expect(app.dock.hide).toHaveBeenCalledOnce()
    expect((FakeTray.instances[0]!.image as { template: boolean }).template).toBe(true)
    r.window.show()
    expect(app.dock.show).toHaveBeenCalledOnce()
    FakeBrowserWindow.instances[0]!.destroy()
    expect(app.dock.hide).toHaveBeenCalledTimes(2)
  })
})

describe('quit', () => {
  it('stops the engine, flushes the journal, the settings and the log, then quits', async () => {
    const r = await launch()
    const stop = vi.spyOn(r.core, 'stop')
    const job = r.core.jobs!.submit(
      (await import('../../src/main/core/jobs/workflow')).loadWorkflowBytes(
        readFileSync(FIXTURE),
        'txt2img.json'
      )
    )
    r.core.updateSettings({ timeout: 4321 })
    const { prevented } = await quit()
    expect(prevented).toBe(true)
    expect(stop).toHaveBeenCalledOnce()
    expect(readFileSync(join(dataDir(), 'jobs.jsonl'), 'utf8')).toContain(job.id)
    expect(JSON.parse(readFileSync(configFile(), 'utf8')).timeout).toBe(4321)
    expect(readFileSync(r.logFile.path, 'utf8')).toContain('[App] Quitting')
    expect(FakeTray.instances[0]!.destroyed).toBe(true)
    expect(ipcMain.handlers.size).toBe(0)
    // The quit that follows is let through.
    const event = { preventDefault: vi.fn() }
    app.emit('before-quit', event)
    expect(event.preventDefault).not.toHaveBeenCalled()
  })

  it('is the menu’s Quit too', async () => {
    await launch()
    clickMenu('Quit')
    expect(app.quit).toHaveBeenCalledOnce()
  })
})

describe('tray actions', () => {
  it('switches verbose logs and start at login, saved and shown', async () => {
    const r = await launch()
    clickMenu('Verbose logs', true)
    expect(r.core.settings.verboseLogging).toBe(true)
    expect(menuItems().find((i) => i.label === 'Verbose logs')!.checked).toBe(true)
    clickMenu('Start at login', true)
    expect(r.core.settings.startAtLogin).toBe(true)
    const autostart = join(home, 'config', 'autostart', 'comfy-balancer.desktop')
    expect(readFileSync(autostart, 'utf8')).toMatch(/^Exec=/m)
    clickMenu('Start at login', false)
    expect(existsSync(autostart)).toBe(false)
    await r.store.flush()
    expect(JSON.parse(readFileSync(configFile(), 'utf8'))).toMatchObject({ verboseLogging: true })
  })

  it('pauses checks', async () => {
    const r = await launch()
    clickMenu('Pause checks', true)
    expect(r.core.status().paused).toBe(true)
    expect(FakeTray.instances[0]!.tooltip).toMatch(/checks paused$/)
  })

  it('opens the log folder', async () => {
    const r = await launch()
    clickMenu('Open log folder')
    expect(shell.openPath).toHaveBeenCalledWith(join(r.logFile.path, '..'))
  })

  it('submits the workflow picked in the file dialog', async () => {
    const r = await launch()
    r.core.updateSettings({ servers: ['http://127.0.0.1:9'] })
    dialog.showOpenDialog.mockResolvedValueOnce({ canceled: false, filePaths: [FIXTURE] })
    clickMenu('Submit workflow...')
    await vi.waitFor(() => expect(r.core.jobs!.jobs()).toHaveLength(1))
    expect(r.core.jobs!.jobs()[0]!.source).toBe('txt2img.json')
    const [options] = dialog.showOpenDialog.mock.calls[0] as unknown as [{ filters: unknown[] }]
    expect(options.filters).toEqual([
      { name: 'ComfyUI workflow (API JSON or PNG)', extensions: ['json', 'png'] }
    ])
  })

  /** Submits a JSON file that is not a workflow from the tray menu; the dialog that explains it. */
  async function submitNotAWorkflow(
    language: 'en' | 'zh-CN',
    menuItem: string
  ): Promise<{ r: Awaited<ReturnType<typeof launch>>; box: { message: string; detail: string } }> {
    const r = await launch()
    r.core.updateSettings({ servers: ['http://127.0.0.1:9'], language })
    const bad = join(home, 'notes.json')
    writeFileSync(bad, '{"hello": "world"}')
    dialog.showOpenDialog.mockResolvedValueOnce({ canceled: false, filePaths: [bad] })
    clickMenu(menuItem)
    await vi.waitFor(() => expect(dialog.showMessageBox).toHaveBeenCalledOnce())
    const [box] = dialog.showMessageBox.mock.calls[0] as unknown as [
      { message: string; detail: string }
    ]
    return { r, box }
  }

  it('explains a file that is not a workflow', async () => {
    const { r, box } = await submitNotAWorkflow('en', 'Submit workflow...')
    expect(box.message).toBe('Could not submit notes.json')
    expect(box.detail).toBe(
      'Node "hello" of the workflow is not valid (is this an API-format workflow?)'
    )
    expect(r.core.jobs!.jobs()).toHaveLength(0)
  })

  it('explains it in Chinese with no English sentence when the app speaks Chinese', async () => {
    const { box } = await submitNotAWorkflow('zh-CN', '提交工作流...')
    expect(box.message).toBe('无法提交 notes.json')
    // The node's id (the file's own word) and the name of the format are the only Latin letters.
    expect(box.detail).toContain('“hello”')
    expect(box.detail.replace('“hello”', '').replace('API', '')).not.toMatch(/[A-Za-z]{2,}/)
  })
})

describe("the window's desktop calls", () => {
  it('picks the output folder with the system dialog and opens files with the system', async () => {
    const r = await launch()
    r.window.show()
    const contents = FakeBrowserWindow.instances[0]!.webContents
    const fromWindow = { sender: contents, senderFrame: { ...contents.mainFrame } }
    dialog.showOpenDialog.mockResolvedValueOnce({
      canceled: false,
      filePaths: ['/home/me/Renders']
    })
    expect(await ipcMain.invoke('settings:chooseOutputDir', fromWindow)).toBe('/home/me/Renders')
    const [options] = dialog.showOpenDialog.mock.calls[0] as unknown as [
      { title: string; properties: string[] }
    ]
    expect(options.title).toBe('Choose where finished images are saved')
    expect(options.properties).toContain('openDirectory')
    // Not saved until the page sends it.
    expect(r.core.settings.outputDir).toBe('')
    // Only outputs of known jobs are opened, whatever the page asks.
    await expect(ipcMain.invoke('jobs:openOutput', fromWindow, FIXTURE)).rejects.toThrow(
      /not an output of a job/
    )
    expect(shell.openPath).not.toHaveBeenCalled()
  })
})

describe('notifications', () => {
  const up = (n: number) => fleet([server('gpu-1', { lastCheck: n })], 'gpu-1')
  const down = (n: number, failures: number) =>
    fleet(
      [
        server('gpu-1', {
          healthy: false,
          error: 'Connection refused',
          lastCheck: n,
          consecutiveFailures: failures
        })
      ],
      null
    )

  it('announces a server down after the damping, and the click opens its page', async () => {
    const r = await launch()
    r.core.events.emit('round', up(1))
    r.core.events.emit('round', down(2, 1))
    expect(FakeNotification.instances).toHaveLength(0)
    r.core.events.emit('round', down(3, 2))
    expect(FakeNotification.instances).toHaveLength(1)
    const n = FakeNotification.instances[0]!
    expect(n.options).toMatchObject({ title: 'Server down: gpu-1', body: 'Connection refused' })
    n.listeners.get('click')!()
    expect(FakeBrowserWindow.instances[0]!.loaded).toMatchObject({
      options: { hash: 'servers/gpu-1' }
    })
  })

  it('announces a finished job with its thumbnail; the click opens the job', async () => {
    const r = await launch()
    const job = {
      id: '6f1c4a3e-0000-4000-8000-000000000001',
      source: 'portrait.json',
      state: 'done',
      serverId: null,
      outputs: [
        {
          nodeId: '9',
          path: '/out/portrait_00001_.png',
          filename: 'portrait_00001_.png',
          type: 'output'
        }
      ]
    } as unknown as JobRecord
    r.core.events.emit('job', job)
    const n = FakeNotification.instances[0]!
    expect(n.options.title).toBe('Job done: portrait.json')
    expect(n.options.icon).toMatchObject({
      path: '/out/portrait_00001_.png',
      resized: { width: 256 }
    })
    n.listeners.get('click')!()
    expect(FakeBrowserWindow.instances[0]!.loaded.options).toEqual({
      hash: 'jobs/6f1c4a3e-0000-4000-8000-000000000001'
    })
  })

  it('follows the switches in settings and the language', async () => {
    const r = await launch()
    r.core.updateSettings({ notifications: { jobFailed: false }, language: 'zh-CN' })
    const failed = {
      id: 'a',
      source: 'x.json',
      state: 'failed',
      error: { message: 'boom' }
    } as unknown as JobRecord
    r.core.events.emit('job', failed)
    expect(FakeNotification.instances).toHaveLength(0)
    r.core.events.emit('job', { ...failed, id: 'b', state: 'done', outputs: [] } as JobRecord)
    expect(FakeNotification.instances[0]!.options.title).toBe('任务完成：x.json')
    expect(FakeTray.instances[0]!.tooltip).toBe('Comfy Balancer: 尚未配置服务器')
  })

  it('routes every kind of notice', () => {
    expect(routeFor({ kind: 'serverUp', servers: [{ id: 's', name: 's' }] })).toEqual({
      view: 'servers',
      serverId: 's'
    })
    expect(routeFor({ kind: 'jobFailed', job: { id: 'j' } as JobRecord })).toEqual({
      view: 'jobs',
      jobId: 'j'
    })
  })
})

describe('secrets', () => {
  it('never writes auth headers to the settings file or the log', async () => {
    const r = await launch()
    r.core.updateSettings({
      servers: [
        { url: 'http://127.0.0.1:9', headers: { Authorization: 'Bearer top-secret-42' } },
        { url: 'http://127.0.0.1:10', headers: { 'X-Key': 'bad\nvalue top-secret-42' } }
      ]
    })
    r.core.log('info', 'echo Bearer top-secret-42')
    await quit()
    expect(readFileSync(configFile(), 'utf8')).not.toContain('top-secret')
    const log = readFileSync(r.logFile.path, 'utf8')
    expect(log).toContain('echo')
    expect(log).not.toContain('top-secret')
  })
})
