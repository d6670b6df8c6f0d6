import { beforeEach, describe, expect, it, vi } from 'vitest'
import { AppWindow, hardenApp, routeHash } from '../../src/main/window'
import {
  app,
  FakeBrowserWindow,
  FakeWebContents,
  resetElectronMock,
  session
} from './electron-mock'

vi.mock('electron', () => import('./electron-mock'))

beforeEach(() => resetElectronMock())

describe('AppWindow', () => {
  it('opens on demand, locked down, with the CommonJS preload and the built page', () => {
    const w = new AppWindow({ mainDir: '/app/out/main' })
    expect(FakeBrowserWindow.instances).toHaveLength(0)
    w.show()
    const win = FakeBrowserWindow.instances[0]!
    expect(win.options.webPreferences).toMatchObject({
      preload: '/app/out/preload/index.cjs',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      disableBlinkFeatures: 'Auxclick',
      devTools: true
    })
    expect(win.loaded).toEqual({ file: '/app/out/renderer/index.html' })
    // Shown once ready, and a second show reuses the window.
    win.listeners.get('ready-to-show')!()
    expect(win.visible).toBe(true)
    w.show()
    expect(FakeBrowserWindow.instances).toHaveLength(1)
  })

  it('loads the dev server when ELECTRON_RENDERER_URL is given', () => {
    const w = new AppWindow({ mainDir: '/app/out/main', rendererUrl: 'http://localhost:5173' })
    w.show()
    expect(FakeBrowserWindow.instances[0]!.loaded).toEqual({ url: 'http://localhost:5173/' })
    expect(w.isAppUrl('http://localhost:5173/index.html')).toBe(true)
    expect(w.isAppUrl('http://localhost:5174/')).toBe(false)
  })

  it('knows its own page and nothing else', () => {
    const w = new AppWindow({ mainDir: '/app/out/main' })
    expect(w.isAppUrl('file:///app/out/renderer/index.html')).toBe(true)
    expect(w.isAppUrl('file:///app/out/renderer/index.html#servers')).toBe(true)
    expect(w.isAppUrl('file:///etc/passwd')).toBe(false)
    expect(w.isAppUrl('https://example.com/')).toBe(false)
    expect(w.isAppUrl('not a url')).toBe(false)
  })

  it('sends pushes only while open, and forgets the window once closed', () => {
    const w = new AppWindow({ mainDir: '/app/out/main' })
    w.send('log:push', { time: 1, level: 'info', message: 'nobody listens' })
    w.show()
    const win = FakeBrowserWindow.instances[0]!
    w.send('log:push', { time: 2, level: 'info', message: 'hello' })
    expect(win.webContents.sent).toEqual([
      { channel: 'log:push', payload: { time: 2, level: 'info', message: 'hello' } }
    ])
    w.close()
    expect(w.webContents).toBeNull()
    w.show()
    expect(FakeBrowserWindow.instances).toHaveLength(2)
  })
})

describe('AppWindow routes and the dock', () => {
  it('opens a new window at a route through the URL hash', () => {
    const w = new AppWindow({ mainDir: '/app/out/main' })
    w.show({ view: 'jobs', jobId: 'abc' })
    expect(FakeBrowserWindow.instances[0]!.loaded).toEqual({
      file: '/app/out/renderer/index.html',
      options: { hash: 'jobs/abc' }
    })
    const dev = new AppWindow({ mainDir: '/app/out/main', rendererUrl: 'http://localhost:5173' })
    dev.show({ view: 'logs' })
    expect(FakeBrowserWindow.instances[1]!.loaded).toEqual({ url: 'http://localhost:5173/#logs' })
  })

  it('sends a route to a window that is open, once it has loaded', () => {
    const w = new AppWindow({ mainDir: '/app/out/main' })
    w.show()
    const win = FakeBrowserWindow.instances[0]!
    w.show({ view: 'servers', serverId: 'gpu-1' })
    expect(win.webContents.sent).toEqual([
      { channel: 'navigate:push', payload: { view: 'servers', serverId: 'gpu-1' } }
    ])
    win.webContents.loading = true
    w.show({ view: 'settings' })
    expect(win.webContents.sent).toHaveLength(1)
    win.webContents.listeners.get('did-finish-load')!()
    expect(win.webContents.sent.at(-1)).toEqual({
      channel: 'navigate:push',
      payload: { view: 'settings' }
    })
  })

  it('names routes', () => {
    expect(routeHash({ view: 'jobs' })).toBe('jobs')
    expect(routeHash({ view: 'servers', serverId: 'a b' })).toBe('servers/a%20b')
    expect(routeHash({ view: 'settings' })).toBe('settings')
  })

  it('reports opening and closing (the dock icon follows), and no dev tools when packaged', () => {
    const onOpen = vi.fn()
    const onClosed = vi.fn()
    const w = new AppWindow({ mainDir: '/app/out/main', onOpen, onClosed, devTools: false })
    w.show()
    expect(onOpen).toHaveBeenCalledOnce()
    const win = FakeBrowserWindow.instances[0]!
    expect(win.options.webPreferences).toMatchObject({ devTools: false })
    w.close()
    expect(onClosed).toHaveBeenCalledOnce()
  })
})

describe('hardenApp', () => {
  const isAppUrl = (url: string) => url === 'file:///app/index.html'

  function created(): FakeWebContents {
    hardenApp(
      app as unknown as Electron.App,
      session.defaultSession as unknown as Electron.Session,
      isAppUrl
    )
    const onCreated = app.on.mock.calls.find(([e]) => e === 'web-contents-created')![1] as (
      e: unknown,
      c: FakeWebContents
    ) => void
    const contents = new FakeWebContents()
    onCreated({}, contents)
    return contents
  }

  it('denies every permission request and check', () => {
    hardenApp(
      app as unknown as Electron.App,
      session.defaultSession as unknown as Electron.Session,
      isAppUrl
    )
    const request = session.defaultSession.setPermissionRequestHandler.mock.calls[0]![0] as (
      wc: unknown,
      permission: string,
      cb: (ok: boolean) => void
    ) => void
    const cb = vi.fn()
    request({}, 'media', cb)
    expect(cb).toHaveBeenCalledWith(false)
    const check = session.defaultSession.setPermissionCheckHandler.mock
      .calls[0]![0] as () => boolean
    expect(check()).toBe(false)
  })

  it('blocks navigation away from our page, new windows and webviews', () => {
    const contents = created()
    const navigate = (event: string, url: string) => {
      const e = { preventDefault: vi.fn() }
      contents.listeners.get(event)!(e, url)
      return e.preventDefault.mock.calls.length > 0
    }
    expect(navigate('will-navigate', 'https://evil.example/')).toBe(true)
    expect(navigate('will-redirect', 'file:///etc/passwd')).toBe(true)
    expect(navigate('will-navigate', 'file:///app/index.html')).toBe(false)
    expect(contents.windowOpenHandler!({ url: 'https://example.com' })).toEqual({ action: 'deny' })
    const e = { preventDefault: vi.fn() }
    contents.listeners.get('will-attach-webview')!(e)
    expect(e.preventDefault).toHaveBeenCalled()
    // Frames too.
    const frame = { url: 'https://evil.example/', preventDefault: vi.fn() }
    contents.listeners.get('will-frame-navigate')!(frame)
    expect(frame.preventDefault).toHaveBeenCalled()
  })

  it('denies devices and screen capture, and cancels downloads', () => {
    created()
    const device = session.defaultSession.setDevicePermissionHandler.mock
      .calls[0]![0] as () => boolean
    expect(device()).toBe(false)
    const media = session.defaultSession.setDisplayMediaRequestHandler.mock.calls[0]![0] as (
      r: unknown,
      cb: (s: unknown) => void
    ) => void
    const cb = vi.fn()
    media({}, cb)
    expect(cb).toHaveBeenCalledWith({})
    const [event, onDownload] = session.defaultSession.on.mock.calls[0]! as unknown as [
      string,
      (e: { preventDefault(): void }) => void
    ]
    expect(event).toBe('will-download')
    const e = { preventDefault: vi.fn() }
    onDownload(e)
    expect(e.preventDefault).toHaveBeenCalled()
  })
})
