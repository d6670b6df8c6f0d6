import { EventEmitter } from 'node:events'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import type { AppHandle, RunningApp } from '../../src/main/lifecycle'

vi.mock('electron', () => import('./electron-mock'))

const { app, FakeNotification, resetElectronMock } = await import('./electron-mock')
const {
  CRASH_BODY_KEPT,
  CRASH_BODY_RESTARTED,
  CRASH_TITLE,
  CrashGuard,
  MAX_RESTARTS,
  RESTART_WINDOW_MS,
  guardApp
} = await import('../../src/main/crash-guard')
const { SecretRedactor } = await import('../../src/main/redact')

beforeEach(() => {
  resetElectronMock()
})

const SECRET = 'sk-live-very-secret-token'

function guardWith(over: Partial<ConstructorParameters<typeof CrashGuard>[0]> = {}) {
  const redactor = new SecretRedactor()
  redactor.update({
    servers: [
      {
        id: 'a',
        name: 'a',
        url: 'http://artist:hunter22@gpu.local:8188',
        enabled: true,
        headers: { Authorization: `Bearer ${SECRET}` }
      }
    ] as never
  })
  let clock = 1_000_000
  const deps = {
    log: vi.fn<(m: string) => void>(),
    notify: vi.fn<(t: string, b: string) => boolean | void>(),
    restart: vi.fn<() => Promise<void>>(async () => {}),
    redact: (t: string) => redactor.redact(t),
    now: () => clock
  }
  const all = { ...deps, ...over } as typeof deps
  const guard = new CrashGuard(all)
  return { guard, deps: all, tick: (ms: number) => (clock += ms) }
}

describe('CrashGuard', () => {
  it('logs an unhandled rejection without its credentials, notifies once and keeps the engine', async () => {
    const { guard, deps } = guardWith()
    guard.handle(
      'unhandledRejection',
      new Error(`request to ${SECRET} at http://artist:hunter22@gpu.local:8188 failed`)
    )
    guard.handle('unhandledRejection', new Error('another one'))
    await guard.settled()
    expect(deps.log).toHaveBeenCalledTimes(2)
    const first = deps.log.mock.calls[0]![0]
    expect(first).toMatch(/unhandled rejection\), the app keeps running: Error: request to/)
    expect(first).not.toContain(SECRET)
    expect(first).not.toContain('hunter22')
    expect(deps.log.mock.calls[1]![0]).toContain('another one')
    expect(deps.notify).toHaveBeenCalledTimes(1)
    expect(deps.notify).toHaveBeenCalledWith(CRASH_TITLE, CRASH_BODY_KEPT)
    expect(deps.restart).not.toHaveBeenCalled()
  })

  it('restarts the engine after an uncaught exception (its state is unknown)', async () => {
    const { guard, deps } = guardWith()
    guard.handle('uncaughtException', new TypeError('x is undefined'))
    await guard.settled()
    expect(deps.restart).toHaveBeenCalledTimes(1)
    expect(deps.notify).toHaveBeenCalledWith(CRASH_TITLE, CRASH_BODY_RESTARTED)
    expect(deps.log.mock.calls[0]![0]).toMatch(
      /uncaught exception\), the engine is restarted: TypeError: x is undefined/
    )
  })

  it('asks stateKnown, and one restart at a time serves errors that come during it', async () => {
    let finish = () => {}
    const { guard, deps } = guardWith({
      stateKnown: (_kind, err) => !(err instanceof RangeError),
      restart: vi.fn(() => new Promise<void>((r) => (finish = r)))
    })
    guard.handle('uncaughtException', new Error('known'))
    expect(deps.restart).not.toHaveBeenCalled()
    guard.handle('unhandledRejection', new RangeError('broken'))
    guard.handle('unhandledRejection', new RangeError('broken again'))
    expect(deps.restart).toHaveBeenCalledTimes(1)
    finish()
    await guard.settled()
    guard.handle('unhandledRejection', new RangeError('later'))
    expect(deps.restart).toHaveBeenCalledTimes(2)
  })

  it(`stops restarting after ${MAX_RESTARTS} restarts in a while, and starts again later`, async () => {
    const { guard, deps, tick } = guardWith()
    for (let i = 0; i < MAX_RESTARTS + 2; i++) {
      guard.handle('uncaughtException', new Error(`boom ${i}`))
      await guard.settled()
    }
    expect(deps.restart).toHaveBeenCalledTimes(MAX_RESTARTS)
    expect(deps.log.mock.calls.at(-1)![0]).toMatch(/restarted too often/)
    tick(RESTART_WINDOW_MS)
    guard.handle('uncaughtException', new Error('much later'))
    await guard.settled()
    expect(deps.restart).toHaveBeenCalledTimes(MAX_RESTARTS + 1)
  })

  it('never throws, whatever its log, notify, redact or restart do', async () => {
    const { guard, deps } = guardWith({
      log: vi.fn(() => {
        throw new Error('disk full')
      }),
      notify: vi.fn(() => {
        throw new Error('no notifications')
      }),
      redact: () => {
        throw new Error('bad redactor')
      },
      restart: vi.fn(async () => {
        throw new Error('cannot restart')
      })
    })
    expect(() => guard.handle('uncaughtException', new Error('x'))).not.toThrow()
    expect(() => guard.handle('unhandledRejection', Symbol('odd'))).not.toThrow()
    await guard.settled()
    expect(deps.restart).toHaveBeenCalled()
  })

  it('tries the notification again when it could not be shown', () => {
    const notify = vi.fn<(t: string, b: string) => boolean>().mockReturnValueOnce(false)
    notify.mockReturnValue(true)
    const { guard } = guardWith({ notify })
    guard.handle('unhandledRejection', 'a')
    guard.handle('unhandledRejection', 'b')
    guard.handle('unhandledRejection', 'c')
    expect(notify).toHaveBeenCalledTimes(2)
  })

  it('hooks both process events and unhooks them', () => {
    const proc = new EventEmitter()
    const { guard, deps } = guardWith()
    const off = guard.install(proc as never)
    proc.emit('uncaughtException', new Error('one'))
    proc.emit('unhandledRejection', new Error('two'), Promise.resolve())
    expect(guard.count).toBe(2)
    off()
    expect(proc.listenerCount('uncaughtException')).toBe(0)
    expect(proc.listenerCount('unhandledRejection')).toBe(0)
    expect(deps.log).toHaveBeenCalledTimes(2)
  })
})

describe('guardApp (the tray app)', () => {
  function fakeApp(extra: Record<string, unknown> = {}) {
    const calls: string[] = []
    const core = {
      settings: {
        servers: [
          { id: 'a', name: 'a', url: 'http://u:pa55word@h:8188', enabled: true, headers: {} }
        ]
      },
      log: vi.fn((_level: string, _m: string) => {}),
      stop: vi.fn(async () => void calls.push('stop')),
      start: vi.fn(() => void calls.push('start'))
    }
    const running = { core, ...extra } as unknown as RunningApp
    return { running, core, calls }
  }

  it("logs through the app's log without passwords, shows one notification, keeps running", async () => {
    const { running, core } = fakeApp()
    const proc = new EventEmitter()
    const handle: AppHandle = { ready: Promise.resolve(running) }
    const { uninstall } = guardApp(handle, proc as never)
    await handle.ready
    proc.emit('unhandledRejection', new Error('fetch http://u:pa55word@h:8188/queue failed'))
    proc.emit('unhandledRejection', new Error('again'))
    expect(core.log).toHaveBeenCalledTimes(2)
    expect(core.log.mock.calls[0]![0]).toBe('error')
    expect(core.log.mock.calls[0]![1]).not.toContain('pa55word')
    expect(FakeNotification.instances).toHaveLength(1)
    expect(FakeNotification.instances[0]!.shown).toBe(true)
    expect(FakeNotification.instances[0]!.options.title).toBe(CRASH_TITLE)
    expect(core.stop).not.toHaveBeenCalled()
    uninstall()
  })

  it('words the notification in the app language', async () => {
    const { running, core } = fakeApp()
    ;(core.settings as Record<string, unknown>).language = 'zh-CN'
    const proc = new EventEmitter()
    const handle: AppHandle = { ready: Promise.resolve(running) }
    const { uninstall } = guardApp(handle, proc as never)
    await handle.ready
    FakeNotification.instances.length = 0
    proc.emit('unhandledRejection', new Error('boom'))
    expect(FakeNotification.instances).toHaveLength(1)
    expect(FakeNotification.instances[0]!.options.title).toBe('Comfy Balancer 遇到了意外错误')
    expect(FakeNotification.instances[0]!.options.body).toBe('它仍在运行。详细信息见日志。')
    uninstall()
  })

  it('restarts the engine after an uncaught exception, with restartCore when the shell has it', async () => {
    const plain = fakeApp()
    const proc = new EventEmitter()
    const a = guardApp({ ready: Promise.resolve(plain.running) }, proc as never)
    await Promise.resolve()
    proc.emit('uncaughtException', new Error('boom'))
    await a.guard.settled()
    expect(plain.calls).toEqual(['stop', 'start'])
    a.uninstall()

    const restartCore = vi.fn(async () => {})
    const withRestart = fakeApp({ restartCore })
    const b = guardApp({ ready: Promise.resolve(withRestart.running) }, proc as never)
    await Promise.resolve()
    proc.emit('uncaughtException', new Error('boom'))
    await b.guard.settled()
    expect(restartCore).toHaveBeenCalledTimes(1)
    expect(withRestart.calls).toEqual([])
    b.uninstall()
  })

  it('before the app is ready: stderr only, no notification', () => {
    const proc = new EventEmitter()
    const err = vi.spyOn(console, 'error').mockImplementation(() => {})
    const { uninstall } = guardApp({ ready: new Promise(() => {}) }, proc as never)
    proc.emit('unhandledRejection', new Error('early http://x:s3cr3tpw@h'))
    expect(err).toHaveBeenCalledTimes(1)
    expect(String(err.mock.calls[0]![0])).not.toContain('s3cr3tpw')
    expect(FakeNotification.instances).toHaveLength(0)
    err.mockRestore()
    uninstall()
  })

  it('an app that cannot start exits with 1 instead of staying without a tray', async () => {
    const err = vi.spyOn(console, 'error').mockImplementation(() => {})
    const { uninstall } = guardApp(
      { ready: Promise.reject(new Error('no display')) },
      new EventEmitter() as never
    )
    await new Promise((r) => setTimeout(r, 0))
    expect(app.exit).toHaveBeenCalledWith(1)
    expect(String(err.mock.calls[0]![0])).toContain('no display')
    err.mockRestore()
    uninstall()
  })
})
