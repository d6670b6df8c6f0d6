/** The small shell helpers: notifier, start at login, client id, workflow files. */
import { existsSync, mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { loadClientId } from '../../src/main/client-id'
import {
  autostartEntry,
  autostartFile,
  launchCommand,
  loginItemFor,
  quoteExecArg
} from '../../src/main/login-item'
import { Notifier, thumbnailPath } from '../../src/main/notifier'
import type { Notice } from '../../src/main/notify-policy'
import { readWorkflowFile } from '../../src/main/submit'
import { MAX_WORKFLOW_BYTES } from '../../src/main/core/jobs/workflow'
import type { JobRecord } from '../../src/shared/types'
import { app, FakeNotification, nativeImage, resetElectronMock } from './electron-mock'

vi.mock('electron', () => import('./electron-mock'))

let dir: string
beforeEach(() => {
  resetElectronMock()
  dir = mkdtempSync(join(tmpdir(), 'comfy-balancer-helpers-'))
})

const doneJob = (outputs: string[]): Notice => ({
  kind: 'jobDone',
  job: {
    id: 'j',
    source: 'a.json',
    outputs: outputs.map((path) => ({ nodeId: '9', path, filename: path, type: 'output' }))
  } as JobRecord
})

describe('Notifier', () => {
  const notifier = (platform: NodeJS.Platform = 'linux') =>
    new Notifier({
      Notification: FakeNotification,
      createImageFromPath: (p) => nativeImage.createFromPath(p) as unknown as Electron.NativeImage,
      platform,
      appIcon: '/app/icon.png'
    })

  it('shows a notice and runs its click once', () => {
    const onClick = vi.fn()
    expect(notifier().show(null, { title: 'T', body: 'B' }, onClick)).toBe(true)
    const n = FakeNotification.instances[0]!
    expect(n.shown).toBe(true)
    expect(n.options).toEqual({ title: 'T', body: 'B', icon: '/app/icon.png' })
    n.listeners.get('click')!()
    expect(onClick).toHaveBeenCalledOnce()
  })

  it('uses the first image of a finished job as thumbnail, except on macOS', () => {
    const notice = doneJob(['/o/a.latent', '/o/b.PNG', '/o/c.png'])
    expect(thumbnailPath(notice)).toBe('/o/b.PNG')
    expect(thumbnailPath(doneJob(['/o/a.latent']))).toBeNull()
    notifier().show(notice, { title: 'T', body: 'B' })
    expect(FakeNotification.instances[0]!.options.icon).toMatchObject({ path: '/o/b.PNG' })
    notifier('darwin').show(notice, { title: 'T', body: 'B' })
    expect(FakeNotification.instances[1]!.options.icon).toBe('/app/icon.png')
  })

  it('does nothing where notifications are not supported', () => {
    FakeNotification.supported = false
    expect(notifier().show(null, { title: 'T', body: 'B' })).toBe(false)
    expect(FakeNotification.instances).toHaveLength(0)
  })

  it('closes what is still on screen', () => {
    const n = notifier()
    n.show(null, { title: 'T', body: 'B' })
    const close = vi.fn()
    FakeNotification.instances[0]!.on('close', close)
    n.closeAll()
    expect(close).toHaveBeenCalledOnce()
  })
})

describe('start at login', () => {
  it('writes a Linux autostart entry with a quoted command', () => {
    expect(quoteExecArg('/opt/Comfy Balancer/comfy-balancer')).toBe(
      '"/opt/Comfy Balancer/comfy-balancer"'
    )
    expect(quoteExecArg('/usr/bin/x')).toBe('/usr/bin/x')
    expect(quoteExecArg('a"$b')).toBe('"a\\"\\$b"')
    const entry = autostartEntry(['/opt/Comfy Balancer/comfy-balancer'])
    expect(entry).toContain('[Desktop Entry]\nType=Application\n')
    expect(entry).toContain('Exec="/opt/Comfy Balancer/comfy-balancer"\n')
  })

  it('starts the AppImage, the installed binary, or dev Electron with the app folder', () => {
    const packaged = { isPackaged: true, getAppPath: () => '/app' }
    const dev = { isPackaged: false, getAppPath: () => '/src/app' }
    expect(launchCommand(packaged, { APPIMAGE: '/home/u/CB.AppImage' }, '/tmp/.mount/cb')).toEqual([
      '/home/u/CB.AppImage'
    ])
    expect(launchCommand(packaged, {}, '/opt/cb/cb')).toEqual(['/opt/cb/cb'])
    expect(launchCommand(dev, {}, '/x/electron')).toEqual(['/x/electron', '/src/app'])
  })

  it('on Linux, adds and removes the autostart file', () => {
    const env = { XDG_CONFIG_HOME: dir }
    const item = loginItemFor(app, 'linux', env)
    const file = autostartFile(env)
    expect(file).toBe(join(dir, 'autostart', 'comfy-balancer.desktop'))
    expect(item.get()).toBe(false)
    item.set(true)
    expect(item.get()).toBe(true)
    expect(readFileSync(file, 'utf8')).toContain('Exec=')
    item.set(false)
    expect(existsSync(file)).toBe(false)
  })

  it('elsewhere, uses Electron', () => {
    const item = loginItemFor(app, 'win32', {})
    item.set(true)
    expect(app.setLoginItemSettings).toHaveBeenCalledWith({ openAtLogin: true })
    expect(item.get()).toBe(false)
  })
})

describe('loadClientId', () => {
  it('makes an id once and keeps it', () => {
    const file = join(dir, 'sub', 'client-id')
    const id = loadClientId(file)
    expect(id).toMatch(/^[0-9a-f-]{36}$/)
    expect(loadClientId(file)).toBe(id)
  })

  it('replaces a broken file', () => {
    const file = join(dir, 'client-id')
    writeFileSync(file, 'garbage')
    const id = loadClientId(file, () => '11111111-2222-4333-8444-555555555555')
    expect(id).toBe('11111111-2222-4333-8444-555555555555')
    expect(readFileSync(file, 'utf8').trim()).toBe(id)
  })

  it('still gives an id when the folder cannot be written', () => {
    writeFileSync(join(dir, 'blocker'), '')
    expect(loadClientId(join(dir, 'blocker', 'client-id'))).toMatch(/^[0-9a-f-]{36}$/)
  })
})

describe('readWorkflowFile', () => {
  it('reads a workflow file', async () => {
    const file = join(dir, 'w.JSON')
    writeFileSync(file, '{}')
    expect(Buffer.from(await readWorkflowFile(file)).toString()).toBe('{}')
  })

  it('refuses folders, other types, relative paths and files that are too large', async () => {
    mkdirSync(join(dir, 'folder.json'))
    await expect(readWorkflowFile(join(dir, 'folder.json'))).rejects.toThrow(/not a file/)
    await expect(readWorkflowFile('/etc/passwd')).rejects.toThrow(/only \.json and \.png/)
    await expect(readWorkflowFile('w.json')).rejects.toThrow(/absolute/)
    const big = join(dir, 'big.png')
    writeFileSync(big, '')
    const { truncateSync } = await import('node:fs')
    truncateSync(big, MAX_WORKFLOW_BYTES + 1)
    await expect(readWorkflowFile(big)).rejects.toThrow(/too large/)
  })
})
