/**
 * "Open" on an output in the window: pictures, video and sound go to the system's default app;
 * anything else a server named is only shown in its folder, never run. Electron is mocked; the
 * handlers are wired to its `shell` as the app does.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { shell } from 'electron'
import { writeUnique } from '../../src/main/core/jobs/files'
import { registerIpc, trustedSender } from '../../src/main/ipc'
import { createIpcHandlers, type IpcCore } from '../../src/main/ipc-handlers'
import type { JobRecord } from '../../src/shared/types'
import { FakeWebContents, ipcMain, resetElectronMock } from './electron-mock'

vi.mock('electron', async () => {
  const mock = await import('./electron-mock')
  return { ...mock, shell: { ...mock.shell, showItemInFolder: vi.fn() } }
})

const APP_URL = 'file:///app/out/renderer/index.html'
const JOB_ID = '6f1c4a3e-0000-4000-8000-000000000001'

let dir: string
let contents: FakeWebContents
let unregister: () => void
let outputs: string[]

/** A core with one finished job whose outputs are `outputs`. */
function fakeCore(): IpcCore {
  const job = () =>
    ({
      id: JOB_ID,
      outputs: outputs.map((p) => ({ path: p, filename: 'x', nodeId: '9', type: 'output' }))
    }) as unknown as JobRecord
  return {
    jobs: { jobs: () => [job()], get: (id: string) => (id === JOB_ID ? job() : undefined) }
  } as unknown as IpcCore
}

function wire(withShowItem = true): void {
  unregister?.()
  unregister = registerIpc({
    ipcMain,
    handlers: createIpcHandlers(fakeCore(), {
      openPath: (target) => shell.openPath(target),
      ...(withShowItem ? { showItemInFolder: (target) => shell.showItemInFolder(target) } : {})
    }),
    isTrustedSender: trustedSender(
      () => contents as unknown as Electron.WebContents,
      (url) => url === APP_URL
    )
  })
}

const open = (file: string) =>
  ipcMain.invoke(
    'jobs:openOutput',
    { sender: contents, senderFrame: { ...contents.mainFrame } },
    file
  )

beforeEach(() => {
  resetElectronMock()
  contents = new FakeWebContents()
  dir = mkdtempSync(join(tmpdir(), 'comfy-balancer-open-'))
  outputs = []
  wire()
})
afterEach(() => {
  unregister()
  rmSync(dir, { recursive: true, force: true })
})

describe('opening an output', () => {
  it('hands pictures, video and sound to the system', async () => {
    const job = join(dir, 'job')
    outputs = ['a.png', 'clip.MP4', 'voice.flac'].map((n) => writeUnique(job, n, Buffer.from('x')))
    for (const file of outputs) await open(file)
    expect(vi.mocked(shell.openPath).mock.calls).toEqual(outputs.map((f) => [f]))
    expect(shell.showItemInFolder).not.toHaveBeenCalled()
  })

  it('never runs anything else: it is shown in its folder instead', async () => {
    const job = join(dir, 'job')
    mkdirSync(job)
    // Files under names a server chose, as saved before names were made harmless, and now.
    const runnable = ['evil.bat', 'evil.exe', 'a.lnk', 'run.command', 'app.desktop', 'page.html']
    outputs = runnable.map((n) => join(job, n))
    for (const f of outputs) writeFileSync(f, 'echo pwned')
    outputs.push(
      writeUnique(job, 'evil.bat', Buffer.from('x')),
      writeUnique(job, 'm.glb', Buffer.from('x'))
    )
    for (const file of outputs) await open(file)
    expect(shell.openPath).not.toHaveBeenCalled()
    expect(vi.mocked(shell.showItemInFolder).mock.calls).toEqual(outputs.map((f) => [f]))
  })

  it('opens only the folder where showing a file in it is not available', async () => {
    wire(false)
    const job = join(dir, 'job')
    mkdirSync(job)
    outputs = [join(job, 'evil.bat')]
    writeFileSync(outputs[0]!, 'echo pwned')
    await open(outputs[0]!)
    expect(vi.mocked(shell.openPath).mock.calls).toEqual([[dirname(outputs[0]!)]])
  })

  it('still refuses anything that is not a listed output', async () => {
    const job = join(dir, 'job')
    mkdirSync(job)
    const outside = join(dir, 'outside.png')
    writeFileSync(outside, 'x')
    const link = join(job, 'link.png')
    symlinkSync(outside, link)
    outputs = [link]
    await expect(open(outside)).rejects.toThrow(/not an output/)
    await expect(open(link)).rejects.toThrow(/not an output/)
    await expect(open(join(job, 'gone.bat'))).rejects.toThrow(/not an output/)
    expect(shell.openPath).not.toHaveBeenCalled()
    expect(shell.showItemInFolder).not.toHaveBeenCalled()
  })
})
