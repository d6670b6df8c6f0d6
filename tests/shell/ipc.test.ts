import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { PNG } from 'pngjs'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { BalancerCore } from '../../src/main/core/app'
import { probeServer } from '../../src/main/core/comfy/probe'
import { parseSettings } from '../../src/main/core/settings'
import { registerIpc, trustedSender } from '../../src/main/ipc'
import {
  createIpcHandlers,
  forwardPushes,
  JobsDisabledError,
  MAX_IMPORT_CHARS,
  NotAvailableError
} from '../../src/main/ipc-handlers'
import { THUMBNAIL_PX, UnknownOutputError } from '../../src/main/outputs'
import { startFakeFleet, type FakeFleet } from '../../src/fake-comfy'
import type { JobRecord } from '../../src/shared/types'
import { IpcChannel, type ServerTestResult, type WorkflowInspectResult } from '../../src/shared/ipc'
import { FakeWebContents, ipcMain, resetElectronMock } from './electron-mock'

vi.mock('electron', () => import('./electron-mock'))

const APP_URL = 'file:///app/out/renderer/index.html'

/** The window's page, and a call event as if it came from it (or from somewhere else). */
let contents: FakeWebContents
const fromWindow = () => ({ sender: contents, senderFrame: { ...contents.mainFrame } })

let core: BalancerCore
let refused: Array<[string, string]>
let unregister: () => void

beforeEach(() => {
  resetElectronMock()
  contents = new FakeWebContents()
  // No servers: nothing touches the network, and a check round finishes at once.
  core = new BalancerCore({ settings: parseSettings({ timeout: 1000 }).settings })
  refused = []
  unregister = registerIpc({
    ipcMain,
    handlers: createIpcHandlers(core),
    isTrustedSender: trustedSender(
      () => contents as unknown as Electron.WebContents,
      (url) => url === APP_URL
    ),
    onRefused: (channel, err) => refused.push([channel, err.message])
  })
})

describe('registerIpc', () => {
  it('registers exactly the invoke channels of the contract, and removes them again', () => {
    const invoke = Object.values(IpcChannel).filter((c) => !c.endsWith(':push'))
    expect([...ipcMain.handlers.keys()].sort()).toEqual([...invoke].sort())
    unregister()
    expect(ipcMain.handlers.size).toBe(0)
  })

  it('answers our window', async () => {
    const status = await ipcMain.invoke('status:get', fromWindow())
    expect(status).toMatchObject({ total: 0, healthy: 0, bestServer: null })
    expect(await ipcMain.invoke('settings:get', fromWindow())).toEqual(core.settings)
    expect(await ipcMain.invoke('checks:pause', fromWindow(), true)).toMatchObject({ paused: true })
    expect(await ipcMain.invoke('logs:get', fromWindow())).toEqual(core.logs.all())
    expect(await ipcMain.invoke('checks:now', fromWindow())).toMatchObject({ total: 0 })
  })

  it('applies a settings patch through the core and reports bad values', async () => {
    const r = (await ipcMain.invoke('settings:update', fromWindow(), {
      timeout: 2000,
      retryAttempts: -1
    })) as { settings: { timeout: number; retryAttempts: number }; problems: unknown[] }
    expect(r.settings.timeout).toBe(2000)
    expect(r.settings.retryAttempts).toBe(3)
    expect(r.problems).toEqual([
      { path: 'retryAttempts', message: expect.stringContaining('got -1') as unknown }
    ])
    expect(core.settings.timeout).toBe(2000)
  })

  it('parses an import without saving it', async () => {
    const r = (await ipcMain.invoke(
      'servers:import',
      fromWindow(),
      'comfyui.server_url=http://gpu-1:8188\ncomfyui.backup_servers=http://gpu-2:8188,bad url'
    )) as { servers: Array<{ url: string }>; problems: unknown[] }
    expect(r.servers.map((s) => s.url)).toEqual(['http://gpu-1:8188', 'http://gpu-2:8188'])
    expect(r.problems).toHaveLength(1)
    expect(core.settings.servers).toEqual([])
  })

  it('says why a connection test failed as data: timeout, proxy page, not JSON, refused, no host', async () => {
    core.updateSettings({ timeout: 300 })
    const sockets = new Set<Socket>()
    const serve = async (answer: http.RequestListener | null): Promise<string> => {
      const srv = http.createServer(answer ?? (() => {}))
      srv.on('connection', (s) => sockets.add(s))
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
      servers.push(srv)
      return `http://127.0.0.1:${(srv.address() as AddressInfo).port}`
    }
    const servers: http.Server[] = []
    try {
      const hang = await serve(null)
      const proxy = await serve((_q, res) => {
        res.writeHead(502, { 'content-type': 'text/html' }).end('<html>Bad Gateway</html>')
      })
      const page = await serve((_q, res) => {
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html>Sign in</html>')
      })
      const closed = await serve(null)
      await new Promise<void>((r) => servers.pop()!.close(() => r()))
      const test = async (url: string) =>
        (await ipcMain.invoke('servers:test', fromWindow(), { url })) as ServerTestResult
      const saidOf = async (url: string) => {
        const r = await test(url)
        if (r.ok) throw new Error(`${url} answered`)
        expect(r.error).toBeTruthy()
        return r.said
      }
      expect(await saidOf(hang)).toEqual({ code: 'timeout', ms: 300 })
      expect(await saidOf(proxy)).toEqual({ code: 'http', status: 502, proxyPage: true })
      expect(await saidOf(page)).toEqual({ code: 'not-json', page: true })
      expect(await saidOf(closed)).toEqual({ code: 'refused' })
      // A name the resolver does not know, as Node says it (no lookup leaves this machine).
      const lookup = vi.spyOn(core, 'testServer').mockImplementation((server) =>
        probeServer(server, 300, {
          request: () =>
            Promise.reject(
              Object.assign(new Error('getaddrinfo ENOTFOUND gpu-9.invalid'), {
                code: 'ENOTFOUND',
                hostname: 'gpu-9.invalid'
              })
            ),
          close: () => {}
        })
      )
      const noHost = await test('http://gpu-9.invalid:8188')
      expect(noHost).toMatchObject({
        ok: false,
        errorKind: 'network',
        said: { code: 'host-not-found', host: 'gpu-9.invalid' }
      })
      lookup.mockRestore()
    } finally {
      for (const s of sockets) s.destroy()
      await Promise.all(servers.map((srv) => new Promise((r) => srv.close(r))))
    }
  })

  it.each([
    ['checks:pause', ['yes'], /Bad arguments for checks:pause: argument 0: .*boolean/],
    ['checks:pause', [], /Bad arguments for checks:pause/],
    ['checks:pause', [true, 'extra'], /Bad arguments for checks:pause/],
    ['status:get', [1], /Bad arguments for status:get/],
    ['settings:update', ['timeout=5'], /Expected a settings object/],
    ['settings:update', [[1, 2]], /Expected a settings object/],
    ['settings:update', [null], /Expected a settings object/],
    ['servers:import', [42], /Bad arguments for servers:import/],
    ['servers:import', ['x'.repeat(MAX_IMPORT_CHARS + 1)], /Bad arguments for servers:import/]
  ])('rejects %s with arguments %j', async (channel, args, message) => {
    await expect(ipcMain.invoke(channel, fromWindow(), ...args)).rejects.toThrow(message)
    expect(refused.map(([c]) => c)).toEqual([channel])
    expect(core.status().paused).toBe(false)
  })

  it('rejects calls from another webContents', async () => {
    const other = new FakeWebContents()
    const event = { sender: other, senderFrame: other.mainFrame }
    await expect(ipcMain.invoke('checks:pause', event, true)).rejects.toThrow(
      /Refused checks:pause: the call did not come from the Comfy Balancer window/
    )
    expect(core.status().paused).toBe(false)
    expect(refused).toHaveLength(1)
  })

  it('rejects calls from a subframe of our window', async () => {
    const event = { sender: contents, senderFrame: { ...contents.mainFrame, routingId: 7 } }
    await expect(ipcMain.invoke('settings:get', event)).rejects.toThrow(/Refused/)
  })

  it('rejects calls when our window shows another page', async () => {
    const event = {
      sender: contents,
      senderFrame: { ...contents.mainFrame, url: 'https://example.com/' }
    }
    await expect(ipcMain.invoke('status:get', event)).rejects.toThrow(/Refused/)
  })

  it('rejects calls when there is no window, or it is gone', async () => {
    contents.destroyed = true
    await expect(ipcMain.invoke('status:get', fromWindow())).rejects.toThrow(/Refused/)
    await expect(ipcMain.invoke('status:get', { sender: null, senderFrame: null })).rejects.toThrow(
      /Refused/
    )
  })
})

describe('forwardPushes', () => {
  it('sends the core events as typed pushes until stopped', () => {
    const send = vi.fn()
    const stop = forwardPushes(core, send)
    core.log('info', 'hello')
    core.updateSettings({ verboseLogging: true })
    core.setPaused(true)
    const channels = send.mock.calls.map(([c]) => c as string)
    expect(channels).toContain('log:push')
    expect(channels).toContain('settings:push')
    expect(channels).toContain('status:push')
    expect(send).toHaveBeenCalledWith('log:push', expect.objectContaining({ message: 'hello' }))
    stop()
    send.mockClear()
    core.log('info', 'after')
    expect(send).not.toHaveBeenCalled()
  })
})

describe('job channels', () => {
  const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'txt2img.json')
  let jobsCore: BalancerCore

  beforeEach(() => {
    unregister()
    const dir = mkdtempSync(join(tmpdir(), 'comfy-balancer-ipc-jobs-'))
    jobsCore = new BalancerCore({
      // A server that refuses connections: jobs fail fast, nothing leaves the machine.
      settings: parseSettings({
        servers: [{ id: 'gpu-1', url: 'http://127.0.0.1:9' }],
        timeout: 500
      }).settings,
      jobs: { journalFile: join(dir, 'jobs.jsonl'), outputDir: join(dir, 'out') }
    })
    jobsCore.start()
    refused = []
    unregister = registerIpc({
      ipcMain,
      handlers: createIpcHandlers(jobsCore),
      isTrustedSender: trustedSender(
        () => contents as unknown as Electron.WebContents,
        (url) => url === APP_URL
      ),
      onRefused: (channel, err) => refused.push([channel, err.message])
    })
  })
  afterEach(async () => {
    await jobsCore.stop()
  })

  it('submits a workflow by path or by bytes, lists and cancels jobs', async () => {
    const byPath = (await ipcMain.invoke('jobs:submit', fromWindow(), {
      path: FIXTURE
    })) as JobRecord
    expect(byPath).toMatchObject({ source: 'txt2img.json', pinnedServerId: null })
    const bytes = new Uint8Array(readFileSync(FIXTURE))
    const byBytes = (await ipcMain.invoke('jobs:submit', fromWindow(), {
      name: 'dropped.json',
      bytes,
      serverId: 'gpu-1'
    })) as JobRecord
    expect(byBytes).toMatchObject({ source: 'dropped.json', pinnedServerId: 'gpu-1' })
    const list = (await ipcMain.invoke('jobs:list', fromWindow())) as JobRecord[]
    expect(list.map((j) => j.id)).toEqual([byPath.id, byBytes.id])
    const cancelled = (await ipcMain.invoke('jobs:cancel', fromWindow(), byBytes.id)) as JobRecord
    expect(cancelled.id).toBe(byBytes.id)
    expect(['cancelled', 'failed']).toContain(cancelled.state)
  })

  it('explains a file that is not a workflow, in the words of the core', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'comfy-balancer-ipc-bad-'))
    const notes = join(dir, 'notes.json')
    writeFileSync(notes, '{"nodes": [], "links": []}')
    await expect(ipcMain.invoke('jobs:submit', fromWindow(), { path: notes })).rejects.toThrow(
      /notes\.json: /
    )
    await expect(
      ipcMain.invoke('jobs:submit', fromWindow(), { path: join(dir, 'missing.json') })
    ).rejects.toThrow(/missing\.json: the file does not exist/)
    await expect(
      ipcMain.invoke('jobs:submit', fromWindow(), { path: join(dir, 'x.txt') })
    ).rejects.toThrow(/only \.json and \.png workflows/)
    await expect(
      ipcMain.invoke('jobs:submit', fromWindow(), { path: 'rel/a.json' })
    ).rejects.toThrow(/the path must be absolute/)
    await expect(ipcMain.invoke('jobs:submit', fromWindow(), { path: dir + '/' })).rejects.toThrow(
      /only \.json/
    )
    await expect(
      ipcMain.invoke('jobs:submit', fromWindow(), { path: FIXTURE, serverId: 'nope' })
    ).rejects.toThrow(/Unknown server "nope"/)
    expect(jobsCore.jobs!.jobs()).toEqual([])
  })

  it.each([
    ['jobs:submit', [], /Bad arguments for jobs:submit/],
    ['jobs:submit', ['/a.json'], /Bad arguments for jobs:submit/],
    ['jobs:submit', [{ path: '/a.json', extra: 1 }], /Bad arguments for jobs:submit/],
    ['jobs:submit', [{ name: '../../etc/x.json', bytes: new Uint8Array(2) }], /Bad arguments/],
    ['jobs:submit', [{ name: 'a.json', bytes: [1, 2, 3] }], /Bad arguments for jobs:submit/],
    ['jobs:submit', [{ path: '/a.json', serverId: 7 }], /Bad arguments for jobs:submit/],
    ['jobs:submit', [{ path: '/a.json' }, 'more'], /Bad arguments for jobs:submit/],
    ['jobs:cancel', ['not-a-job'], /Bad arguments for jobs:cancel: argument 0: Expected a job id/],
    ['jobs:cancel', [42], /Bad arguments for jobs:cancel/],
    ['jobs:list', [true], /Bad arguments for jobs:list/]
  ])('rejects %s with arguments %j', async (channel, args, message) => {
    await expect(ipcMain.invoke(channel, fromWindow(), ...args)).rejects.toThrow(message)
    expect(refused.map(([c]) => c)).toEqual([channel])
    expect(jobsCore.jobs!.jobs()).toEqual([])
  })

  it('rejects job calls from anything but our window', async () => {
    const other = new FakeWebContents()
    await expect(
      ipcMain.invoke(
        'jobs:submit',
        { sender: other, senderFrame: other.mainFrame },
        { path: FIXTURE }
      )
    ).rejects.toThrow(/Refused jobs:submit/)
    expect(jobsCore.jobs!.jobs()).toEqual([])
  })

  it('says so when the core runs without jobs', async () => {
    const handlers = createIpcHandlers(core)
    expect(() => handlers['jobs:list']()).toThrow(JobsDisabledError)
  })

  it('pushes every job change', async () => {
    const send = vi.fn()
    const stop = forwardPushes(jobsCore, send)
    await ipcMain.invoke('jobs:submit', fromWindow(), { path: FIXTURE })
    expect(send).toHaveBeenCalledWith(
      'job:push',
      expect.objectContaining({ source: 'txt2img.json' })
    )
    stop()
  })
})

describe('log lines to the page', () => {
  it('pass the redaction, pushed or fetched', async () => {
    const redact = (t: string) => t.replace('hunter2', '[redacted]')
    const send = vi.fn()
    const stop = forwardPushes(core, send, { redact })
    core.log('info', 'password hunter2')
    expect(send).toHaveBeenCalledWith(
      'log:push',
      expect.objectContaining({ message: 'password [redacted]' })
    )
    stop()
    const handlers = createIpcHandlers(core, { redact })
    const lines = await handlers['logs:get']()
    expect(lines.at(-1)!.message).toBe('password [redacted]')
  })
})

describe('window channels', () => {
  const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'txt2img.json')
  let fleet: FakeFleet
  let winCore: BalancerCore
  let opened: string[]
  let dir: string

  beforeEach(async () => {
    unregister()
    fleet = await startFakeFleet({ count: 1, jobMs: 50 })
    dir = mkdtempSync(join(tmpdir(), 'comfy-balancer-ipc-window-'))
    winCore = new BalancerCore({
      settings: parseSettings({
        servers: [{ id: 'gpu-1', name: 'gpu-1', url: fleet.urls[0] }],
        timeout: 1000,
        healthCheckInterval: 500
      }).settings,
      jobs: { journalFile: join(dir, 'jobs.jsonl'), outputDir: join(dir, 'out') }
    })
    winCore.start()
    opened = []
    refused = []
    unregister = registerIpc({
      ipcMain,
      handlers: createIpcHandlers(winCore, {
        openPath: async (target) => {
          opened.push(target)
          return target.includes('broken') ? 'No application knows this file' : ''
        },
        chooseFolder: async (current) => `${current || '/home/me/Pictures'}/picked`
      }),
      isTrustedSender: trustedSender(
        () => contents as unknown as Electron.WebContents,
        (url) => url === APP_URL
      ),
      onRefused: (channel, err) => refused.push([channel, err.message])
    })
  })
  afterEach(async () => {
    await winCore.stop()
    await fleet.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  const call = (channel: string, ...args: unknown[]) =>
    ipcMain.invoke(channel, fromWindow(), ...args)

  /** Runs the fixture to the end on the fake server. */
  async function finishedJob(): Promise<JobRecord> {
    const job = (await call('jobs:submit', { path: FIXTURE })) as JobRecord
    return winCore.jobs!.waitFor(job.id)
  }

  it('tests a server before it is saved: what it answered, or why not', async () => {
    const ok = (await call('servers:test', { url: `${fleet.urls[0]}/` })) as ServerTestResult
    expect(ok).toMatchObject({ ok: true, url: fleet.urls[0], queue: { total: 0 } })
    expect(ok.ok && ok.system?.comfyuiVersion).toBeTruthy()
    const down = (await call('servers:test', {
      url: '127.0.0.1:9',
      headers: { Authorization: 'Bearer x' }
    })) as ServerTestResult
    expect(down).toMatchObject({
      ok: false,
      url: 'http://127.0.0.1:9',
      errorKind: 'refused',
      said: { code: 'refused' }
    })
    await expect(call('servers:test', { url: 'ftp://gpu-1' })).rejects.toThrow(
      /Only http:\/\/ and https:\/\//
    )
  })

  it.each([
    [{ url: 'http://a', headers: { 'Bad Name': 'x' } }, /Expected an HTTP header name/],
    [{ url: 'http://a', headers: { Authorization: 'a\r\nX-Evil: 1' } }, /one line/],
    [{ url: 'http://a', extra: true }, /Bad arguments for servers:test/],
    [{ url: '' }, /Bad arguments for servers:test/]
  ])('refuses to test %j', async (server, message) => {
    await expect(call('servers:test', server)).rejects.toThrow(message)
  })

  it('returns the queue history of every server', async () => {
    await winCore.checkNow()
    const history = (await call('status:history')) as Record<string, Array<[number, number]>>
    expect(Object.keys(history)).toEqual(['gpu-1'])
    expect(history['gpu-1']!.at(-1)![1]).toBe(0)
  })

  it('inspects a workflow by bytes or path, and explains one that is not', async () => {
    const bytes = new Uint8Array(readFileSync(FIXTURE))
    const byBytes = (await call('jobs:inspect', {
      name: 'dropped.json',
      bytes
    })) as WorkflowInspectResult
    expect(byBytes).toMatchObject({ ok: true, source: 'dropped.json', format: 'json' })
    expect(byBytes.ok && byBytes.summary.nodeCount).toBe(7)
    expect(byBytes.ok && byBytes.summary.models).toEqual([
      { nodeId: '4', folder: 'checkpoints', name: 'v1-5-pruned-emaonly.safetensors' }
    ])
    expect(byBytes.ok && byBytes.summary.nodes['3']).toEqual({
      type: 'KSampler',
      title: 'KSampler'
    })
    const byPath = (await call('jobs:inspect', { path: FIXTURE })) as WorkflowInspectResult
    expect(byPath).toMatchObject({ ok: true, source: 'txt2img.json' })
    const bad = await call('jobs:inspect', {
      name: 'notes.json',
      bytes: new TextEncoder().encode('{"nodes": [], "links": []}')
    })
    expect(bad).toEqual({
      ok: false,
      source: 'notes.json',
      // An empty UI graph: converted with the fleet's nodes when a server is up (then it has
      // nothing to run), or waiting for one that is.
      problem: expect.stringMatching(/UI(-format)? workflow/) as unknown,
      // The same as data, for the window to say in its language.
      said: expect.objectContaining({
        code: expect.stringMatching(/^(needs-object-info|not-converted)$/)
      }) as unknown
    })
    expect(await call('jobs:inspect', { path: join(dir, 'gone.json') })).toMatchObject({
      ok: false,
      problem: 'the file does not exist',
      said: { code: 'missing' }
    })
    // A path that is not absolute is said by its code too.
    expect(await call('jobs:inspect', { path: 'rel/a.json' })).toEqual({
      ok: false,
      source: 'a.json',
      problem: 'the path must be absolute (the full path from the drive or root)',
      said: { code: 'not-absolute' }
    })
    await expect(call('jobs:inspect', { name: 'a/b.json', bytes })).rejects.toThrow(/Bad arguments/)
    // Nothing was submitted.
    expect(winCore.jobs!.jobs()).toEqual([])
  })

  it('previews and opens only the outputs of known jobs', async () => {
    const job = await finishedJob()
    expect(job.state).toBe('done')
    const output = job.outputs[0]!.path
    const url = (await call('jobs:thumbnail', output)) as string
    expect(url).toMatch(/^data:image\/png;base64,/)
    const png = PNG.sync.read(Buffer.from(url.split(',')[1]!, 'base64'))
    expect(Math.max(png.width, png.height)).toBeLessThanOrEqual(THUMBNAIL_PX)

    await call('jobs:openOutput', output)
    await call('jobs:openFolder', job.id)
    expect(opened).toEqual([output, dirname(output)])

    // Anything else on the disk is refused, whatever the page claims.
    await expect(call('jobs:thumbnail', FIXTURE)).rejects.toThrow(UnknownOutputError)
    await expect(call('jobs:openOutput', '/etc/passwd')).rejects.toThrow(/not an output/)
    await expect(call('jobs:openOutput', 'relative/x.png')).rejects.toThrow(
      /Bad arguments for jobs:openOutput: argument 0: Expected an absolute file path/
    )
    await expect(call('jobs:openFolder', '6f1c4a3e-0000-4000-8000-000000000001')).rejects.toThrow(
      /Unknown job/
    )
    expect(opened).toHaveLength(2)
  })

  it('passes on what the system said when it cannot open a file', async () => {
    const bytes = new Uint8Array(readFileSync(FIXTURE))
    const job = (await call('jobs:submit', { name: 'broken.json', bytes })) as JobRecord
    const done = await winCore.jobs!.waitFor(job.id)
    await expect(call('jobs:openOutput', done.outputs[0]!.path)).rejects.toThrow(
      'No application knows this file'
    )
    // Moved away since: said in words, and nothing is opened.
    renameSync(done.outputs[0]!.path, join(dir, 'moved.png'))
    await expect(call('jobs:openOutput', done.outputs[0]!.path)).rejects.toThrow(/no longer there/)
    expect(await call('jobs:thumbnail', done.outputs[0]!.path).catch((e: Error) => e.message)).toBe(
      'The file is no longer there (moved or deleted?)'
    )
    expect(opened).toEqual([done.outputs[0]!.path])
  })

  it('re-submits a job, on its own server choice or another', async () => {
    const job = await finishedJob()
    const again = (await call('jobs:resubmit', job.id)) as JobRecord
    expect(again).toMatchObject({ source: 'txt2img.json', pinnedServerId: null })
    expect(again.id).not.toBe(job.id)
    const pinned = (await call('jobs:resubmit', job.id, { serverId: 'gpu-1' })) as JobRecord
    expect(pinned.pinnedServerId).toBe('gpu-1')
    await expect(call('jobs:resubmit', job.id, { serverId: 'nope' })).rejects.toThrow(
      /Unknown server "nope"/
    )
    await expect(call('jobs:resubmit', job.id, { server: 'gpu-1' })).rejects.toThrow(
      /Bad arguments for jobs:resubmit/
    )
    await expect(call('jobs:resubmit', 'x')).rejects.toThrow(/Bad arguments for jobs:resubmit/)
  })

  it('asks the system for an output folder, and says so where there is no system', async () => {
    expect(await call('settings:chooseOutputDir')).toBe('/home/me/Pictures/picked')
    const bare = createIpcHandlers(winCore)
    await expect(bare['settings:chooseOutputDir']()).rejects.toThrow(NotAvailableError)
    const job = await finishedJob()
    await expect(bare['jobs:openFolder'](job.id)).rejects.toThrow(
      /Opening files is not available in this session/
    )
  })
})
