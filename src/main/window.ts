/**
 * The Comfy Balancer window, created on demand from the tray and destroyed when closed (the app
 * lives in the tray). Locked down: context isolation, sandbox, no Node in the page, no
 * navigation away from our page, no new windows, no permissions.
 */
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { BrowserWindow, type App, type Session, type WebContents } from 'electron'
import type { PushChannel, PushPayload } from '../shared/ipc'

export interface AppWindowOptions {
  /** Dev server URL (`ELECTRON_RENDERER_URL`), or undefined to load the built page. */
  rendererUrl?: string
  /** Folder of the built main bundle (`import.meta.dirname` in the entry). */
  mainDir: string
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

  /** Shows the window, creating it if needed. */
  show(): void {
    if (this.win && !this.win.isDestroyed()) {
      if (this.win.isMinimized()) this.win.restore()
      this.win.show()
      this.win.focus()
      return
    }
    const win = new BrowserWindow({
      width: 960,
      height: 700,
      minWidth: 480,
      minHeight: 360,
      show: false,
      title: 'Comfy Balancer',
      autoHideMenuBar: true,
      webPreferences: {
        preload: join(this.opts.mainDir, '../preload/index.cjs'),
        contextIsolation: true,
        sandbox: true,
        nodeIntegration: false,
        webSecurity: true,
        spellcheck: false
      }
    })
    this.win = win
    win.once('ready-to-show', () => win.show())
    win.on('closed', () => {
      if (this.win === win) this.win = null
    })
    void (this.pageUrl.protocol === 'file:'
      ? win.loadFile(join(this.opts.mainDir, '../renderer/index.html'))
      : win.loadURL(this.pageUrl.href))
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
}

/**
 * App-wide safety net for every webContents (including any created later): no navigation except
 * within our own page, no new windows, no webviews, every permission request denied.
 */
export function hardenApp(app: App, session: Session, isAppUrl: (url: string) => boolean): void {
  session.setPermissionRequestHandler((_contents, _permission, callback) => callback(false))
  session.setPermissionCheckHandler(() => false)
  app.on('web-contents-created', (_event, contents) => {
    const block = (event: { preventDefault(): void }, url: string) => {
      if (!isAppUrl(url)) event.preventDefault()
    }
    contents.on('will-navigate', block)
    contents.on('will-redirect', block)
    contents.on('will-attach-webview', (event) => event.preventDefault())
    contents.setWindowOpenHandler(() => ({ action: 'deny' }))
  })
}
