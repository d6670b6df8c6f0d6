import { describe, expect, it, vi } from 'vitest'
import { createApi, type IpcRendererLike } from '../../src/preload/create-api'
import { contextBridge, ipcRenderer, webUtils } from './electron-mock'

vi.mock('electron', () => import('./electron-mock'))

/** An ipcRenderer that records calls and lets the test push messages. */
function fakeIpc() {
  const listeners = new Map<string, Set<(e: unknown, payload: unknown) => void>>()
  const ipc = {
    invoke: vi.fn(async (channel: string, ...args: unknown[]) => ({ channel, args })),
    on: vi.fn((channel: string, fn: (e: unknown, payload: unknown) => void) => {
      if (!listeners.has(channel)) listeners.set(channel, new Set())
      listeners.get(channel)!.add(fn)
      return ipc
    }),
    removeListener: vi.fn((channel: string, fn: (e: unknown, payload: unknown) => void) => {
      listeners.get(channel)?.delete(fn)
      return ipc
    }),
    push(channel: string, payload: unknown) {
      for (const fn of listeners.get(channel) ?? []) fn({ sender: 'secret' }, payload)
    },
    count: (channel: string) => listeners.get(channel)?.size ?? 0
  }
  return ipc
}

describe('createApi', () => {
  it('maps each call to its channel with its arguments', async () => {
    const ipc = fakeIpc()
    const api = createApi(ipc as unknown as IpcRendererLike)
    await api.status.get()
    await api.settings.get()
    await api.settings.update({ timeout: 5000 })
    await api.checks.now()
    await api.checks.pause(true)
    await api.logs.get()
    await api.servers.import('http://gpu-1:8188')
    await api.jobs.list()
    await api.jobs.submit({ path: '/w/a.json', serverId: 'gpu-1' })
    await api.jobs.cancel('6f1c4a3e-0000-4000-8000-000000000001')
    await api.status.history()
    await api.settings.chooseOutputDir()
    await api.servers.test({ url: 'http://gpu-1:8188' })
    await api.jobs.inspect({ name: 'a.json', bytes: new Uint8Array([123]) })
    await api.jobs.resubmit('6f1c4a3e-0000-4000-8000-000000000001')
    await api.jobs.resubmit('6f1c4a3e-0000-4000-8000-000000000001', { serverId: null })
    await api.jobs.thumbnail('/out/a.png')
    await api.jobs.openOutput('/out/a.png')
    await api.jobs.openFolder('6f1c4a3e-0000-4000-8000-000000000001')
    await api.queue.state()
    await api.queue.pause()
    await api.queue.resume()
    await api.jobs.move({ jobId: '6f1c4a3e-0000-4000-8000-000000000001' }, 'top')
    await api.jobs.setPriority({ batchId: 'b1' }, 'high')
    await api.jobs.cancelBatch('b1')
    await api.jobs.cancelAll()
    await api.jobs.retry('6f1c4a3e-0000-4000-8000-000000000001')
    await api.jobs.retryBatch('b1')
    expect(ipc.invoke.mock.calls).toEqual([
      ['status:get'],
      ['settings:get'],
      ['settings:update', { timeout: 5000 }],
      ['checks:now'],
      ['checks:pause', true],
      ['logs:get'],
      ['servers:import', 'http://gpu-1:8188'],
      ['jobs:list'],
      ['jobs:submit', { path: '/w/a.json', serverId: 'gpu-1' }],
      ['jobs:cancel', '6f1c4a3e-0000-4000-8000-000000000001'],
      ['status:history'],
      ['settings:chooseOutputDir'],
      ['servers:test', { url: 'http://gpu-1:8188' }],
      ['jobs:inspect', { name: 'a.json', bytes: new Uint8Array([123]) }],
      // No trailing `undefined`: the main side counts the arguments exactly.
      ['jobs:resubmit', '6f1c4a3e-0000-4000-8000-000000000001'],
      ['jobs:resubmit', '6f1c4a3e-0000-4000-8000-000000000001', { serverId: null }],
      ['jobs:thumbnail', '/out/a.png'],
      ['jobs:openOutput', '/out/a.png'],
      ['jobs:openFolder', '6f1c4a3e-0000-4000-8000-000000000001'],
      ['queue:state'],
      ['queue:pause'],
      ['queue:resume'],
      ['jobs:move', { jobId: '6f1c4a3e-0000-4000-8000-000000000001' }, 'top'],
      ['jobs:setPriority', { batchId: 'b1' }, 'high'],
      ['jobs:cancelBatch', 'b1'],
      ['jobs:cancelAll'],
      ['jobs:retry', '6f1c4a3e-0000-4000-8000-000000000001'],
      ['jobs:retryBatch', 'b1']
    ])
  })

  it('hands the page the payload only, and unsubscribes', () => {
    const ipc = fakeIpc()
    const api = createApi(ipc as unknown as IpcRendererLike)
    const seen: unknown[] = []
    const off = api.status.onStatus((s) => seen.push(s))
    api.logs.onLog((l) => seen.push(l))
    api.settings.onSettings((s) => seen.push(s))
    api.jobs.onJob((j) => seen.push(j))
    api.ui.onNavigate((r) => seen.push(r))
    api.queue.onState((q) => seen.push(q))
    ipc.push('status:push', { healthy: 1 })
    ipc.push('log:push', { message: 'hi' })
    ipc.push('settings:push', { timeout: 1 })
    ipc.push('job:push', { id: 'j' })
    ipc.push('navigate:push', { view: 'jobs', jobId: 'j' })
    ipc.push('queue:push', { paused: true, changedAt: 5 })
    expect(seen).toEqual([
      { healthy: 1 },
      { message: 'hi' },
      { timeout: 1 },
      { id: 'j' },
      { view: 'jobs', jobId: 'j' },
      { paused: true, changedAt: 5 }
    ])
    off()
    off()
    expect(ipc.count('status:push')).toBe(0)
    ipc.push('status:push', { healthy: 2 })
    expect(seen).toHaveLength(6)
  })
})

describe('pathForFile', () => {
  it("asks Electron for a dropped file's path, and says null where there is none", () => {
    const ipc = fakeIpc() as unknown as IpcRendererLike
    const file = { name: 'a.json', size: 3 }
    expect(createApi(ipc, () => '/home/me/a.json').ui.pathForFile(file)).toBe('/home/me/a.json')
    // Electron answers '' for a file made in the page; the bridge has no such function.
    expect(createApi(ipc, () => '').ui.pathForFile(file)).toBeNull()
    expect(createApi(ipc).ui.pathForFile(file)).toBeNull()
    const throwing = createApi(ipc, () => {
      throw new TypeError('not a File')
    })
    expect(throwing.ui.pathForFile(file)).toBeNull()
  })
})

describe('preload entry', () => {
  it('exposes exactly the API as window.comfyBalancer, nothing generic', async () => {
    await import('../../src/preload/index')
    expect(contextBridge.exposeInMainWorld).toHaveBeenCalledOnce()
    const [name, api] = contextBridge.exposeInMainWorld.mock.calls[0]! as [string, object]
    expect(name).toBe('comfyBalancer')
    expect(Object.keys(api).sort()).toEqual([
      'checks',
      'jobs',
      'logs',
      'queue',
      'servers',
      'settings',
      'status',
      'ui'
    ])
    // Frozen all the way down: the page cannot swap a function for its own.
    expect(Object.isFrozen(api)).toBe(true)
    for (const group of Object.values(api)) expect(Object.isFrozen(group)).toBe(true)
    expect(JSON.stringify(Object.keys(api))).not.toContain('ipcRenderer')
    expect(Object.values(api)).not.toContain(ipcRenderer)
    // The dropped-file path comes from Electron's webUtils.
    webUtils.getPathForFile.mockReturnValueOnce('/home/me/w.json')
    const file = { name: 'w.json', size: 1 }
    expect((api as { ui: { pathForFile(f: unknown): unknown } }).ui.pathForFile(file)).toBe(
      '/home/me/w.json'
    )
    expect(webUtils.getPathForFile).toHaveBeenCalledWith(file)
  })
})
