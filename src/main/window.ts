/**
 * The Comfy Balancer window, created on demand from the tray and destroyed when closed (the app
 * lives in the tray). Locked down: context isolation, sandbox, no Node in the page, only our own
 * page loaded, no navigation away from it, no new windows, no webviews, no permissions, no
 * downloads. The page's Content-Security-Policy is in `src/renderer/index.html`.
 */
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { BrowserWindow, type App, type Session, type WebContents } from 'electron'
import { IpcChannel, type AppRoute, type PushChannel, type PushPayload } from '../shared/ipc'

export interface AppWindowOptions {
  /** Dev server URL (`ELECTRON_RENDERER_URL`), or undefined to load the built page. */
  rendererUrl?: string
  /** Folder of the built main bundle (`import.meta.dirname` in the entry). */
  mainDir: string
  /** Window icon (Linux and Windows show it in the task bar). */
  icon?: string
  /** Allow the developer tools (not in packaged builds). @default true */
  devTools?: boolean
  /** Called when the window opens and when it is gone (macOS shows the dock icon only then). */
  onOpen?: () => void
  onClosed?: () => void
}

/** The URL hash for a route: `jobs/<id>`, `servers`, ... (the page reads it when it starts). */
export function routeHash(route: AppRoute): string {
  switch (route.view) {
    case 'jobs':
      return route.jobId ? `jobs/${encodeURIComponent(route.jobId)}` : 'jobs'
    case 'servers':
      return route.serverId ? `servers/${encodeURIComponent(route.serverId)}` : 'servers'
    default:
      return route.view
  }
}

export class AppWindow {
  private win: BrowserWindow | null = null
  private readonly pageUrl: URL

  constructor(private readonly opts: AppWindowOptions) {
    this.pageUrl = opts.rendererUrl
      ? new URL(opts.rendererUrl)
      : pathToFileURL(join(opts.mainDir, '../renderer/index.html'))
  }

  /** True for our own page only: the dev server's origin, or the built index.html file. */
  isAppUrl = (url: string): boolean => {
    let u: URL
    try {
      u = new URL(url)
    } catch {
      return false
    }
    if (this.pageUrl.protocol === 'file:')
      return u.protocol === 'file:' && u.pathname === this.pageUrl.pathname
    return u.origin === this.pageUrl.origin
  }

  /** The page's webContents while the window is open. */
  get webContents(): WebContents | null {
    return this.win && !this.win.isDestroyed() ? this.win.webContents : null
  }

  /** Shows the window, creating it if needed; with a route, the page goes there. */
  show(route?: AppRoute): void {
    const existing = this.win && !this.win.isDestroyed() ? this.win : null
    if (existing) {
      if (existing.isMinimized()) existing.restore()
      existing.show()
      existing.focus()
      if (route) this.navigate(existing, route)
      return
    }
    const win = new BrowserWindow({
      width: 960,
      height: 700,
      minWidth: 480,
      minHeight: 360,
      show: false,
      title: 'Comfy Balancer',
      icon: this.opts.icon,
      autoHideMenuBar: true,
      webPreferences: {
        // Reviewed: the preload only exposes the typed API of src/shared/ipc.ts through
        // contextBridge (tests/shell/preload.test.ts checks exactly what it exposes).
        preload: join(this.opts.mainDir, '../preload/index.cjs'), // eng-disable PRELOAD_JS_CHECK
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
        // Middle-click would otherwise open links in new windows.
        disableBlinkFeatures: 'Auxclick',
        safeDialogs: true,
        spellcheck: false,
        devTools: this.opts.devTools !== false
      }
    })
    this.win = win
    win.once('ready-to-show', () => win.show())
    win.on('closed', () => {
      if (this.win === win) this.win = null
      this.opts.onClosed?.()
    })
    this.opts.onOpen?.()
    const hash = route ? routeHash(route) : undefined
    if (this.pageUrl.protocol === 'file:') {
      const file = join(this.opts.mainDir, '../renderer/index.html')
      void (hash ? win.loadFile(file, { hash }) : win.loadFile(file))
    } else {
      const url = new URL(this.pageUrl.href)
      if (hash) url.hash = hash
      void win.loadURL(url.href)
    }
  }

  /** Sends a typed push to the page if the window is open. */
  send<C extends PushChannel>(channel: C, payload: PushPayload<C>): void {
    const contents = this.webContents
    contents?.send(channel, payload)
  }

  close(): void {
    if (this.win && !this.win.isDestroyed()) this.win.destroy()
    this.win = null
  }

  /** Tells an open page where to go; a page still loading gets it once loaded. */
  private navigate(win: BrowserWindow, route: AppRoute): void {
    const send = () => {
      if (!win.isDestroyed()) win.webContents.send(IpcChannel.NavigatePush, route)
    }
    if (win.webContents.isLoading()) win.webContents.once('did-finish-load', send)
    else send()
  }
}

/**
 * App-wide safety net for every webContents (including any created later): no navigation except
 * within our own page, no new windows, no webviews, no downloads, every permission denied.
 */
export function hardenApp(app: App, session: Session, isAppUrl: (url: string) => boolean): void {
  session.setPermissionRequestHandler((_contents, _permission, callback) => callback(false))
  session.setPermissionCheckHandler(() => false)
  session.setDevicePermissionHandler(() => false)
  session.setDisplayMediaRequestHandler((_request, callback) => callback({}))
  session.on('will-download', (event) => event.preventDefault())
  app.on('web-contents-created', (_event, contents) => {
    const block = (event: { preventDefault(): void }, url: string) => {
      if (!isAppUrl(url)) event.preventDefault()
    }
    contents.on('will-navigate', block)
    contents.on('will-frame-navigate', (event) => block(event, event.url))
    contents.on('will-redirect', block)
    contents.on('will-attach-webview', (event) => event.preventDefault())
    contents.setWindowOpenHandler(() => ({ action: 'deny' }))
  })
}
