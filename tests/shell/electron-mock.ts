/**
 * The one stand-in for the `electron` module in main-process tests (there is no Electron binary
 * here, and importing the real module tries to download it). Use it in a test file with:
 *
 *   vi.mock('electron', () => import('./electron-mock'))
 *
 * and import the same names from this file to inspect what the code under test did. Call
 * `resetElectronMock()` in `beforeEach`.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { vi } from 'vitest'

type Handler = (event: unknown, ...args: unknown[]) => unknown

/** `ipcMain` that keeps its handlers so a test can call them like the renderer would. */
class FakeIpcMain {
  readonly handlers = new Map<string, Handler>()
  handle = vi.fn((channel: string, fn: Handler) => {
    if (this.handlers.has(channel)) {
      throw new Error(`Attempted to register a second handler for '${channel}'`)
    }
    this.handlers.set(channel, fn)
  })
  removeHandler = vi.fn((channel: string) => {
    this.handlers.delete(channel)
  })
  on = vi.fn()
  /** Calls a registered handler as Electron would for `ipcRenderer.invoke`. */
  async invoke(channel: string, event: unknown, ...args: unknown[]): Promise<unknown> {
    const fn = this.handlers.get(channel)
    if (!fn) throw new Error(`No handler registered for '${channel}'`)
    return fn(event, ...args)
  }
}

export class FakeNativeImage {
  readonly representations: Array<{ scaleFactor: number; buffer?: Buffer }> = []
  addRepresentation(rep: { scaleFactor: number; buffer?: Buffer }): void {
    this.representations.push(rep)
  }
  isEmpty(): boolean {
    return this.representations.length === 0
  }
}

export class FakeTray {
  static instances: FakeTray[] = []
  image: unknown
  tooltip = ''
  menu: { items: unknown[] } | null = null
  destroyed = false
  readonly listeners = new Map<string, () => void>()
  constructor(image: unknown) {
    this.image = image
    FakeTray.instances.push(this)
  }
  setImage = vi.fn((image: unknown) => {
    this.image = image
  })
  setToolTip = vi.fn((text: string) => {
    this.tooltip = text
  })
  setContextMenu = vi.fn((menu: { items: unknown[] }) => {
    this.menu = menu
  })
  on(event: string, fn: () => void): this {
    this.listeners.set(event, fn)
    return this
  }
  destroy(): void {
    this.destroyed = true
  }
}

/** A webContents with just what the shell touches. */
export class FakeWebContents {
  readonly mainFrame = { processId: 1, routingId: 1, url: 'file:///app/out/renderer/index.html' }
  readonly sent: Array<{ channel: string; payload: unknown }> = []
  readonly listeners = new Map<string, (...args: unknown[]) => void>()
  windowOpenHandler: ((details: { url: string }) => unknown) | null = null
  destroyed = false
  isDestroyed(): boolean {
    return this.destroyed
  }
  send(channel: string, payload: unknown): void {
    this.sent.push({ channel, payload })
  }
  on(event: string, fn: (...args: unknown[]) => void): this {
    this.listeners.set(event, fn)
    return this
  }
  setWindowOpenHandler(fn: (details: { url: string }) => unknown): void {
    this.windowOpenHandler = fn
  }
}

export class FakeBrowserWindow {
  static instances: FakeBrowserWindow[] = []
  readonly webContents = new FakeWebContents()
  readonly listeners = new Map<string, () => void>()
  loaded: { file?: string; url?: string } = {}
  visible = false
  destroyed = false
  constructor(readonly options: Record<string, unknown>) {
    FakeBrowserWindow.instances.push(this)
  }
  once(event: string, fn: () => void): this {
    this.listeners.set(event, fn)
    return this
  }
  on(event: string, fn: () => void): this {
    this.listeners.set(event, fn)
    return this
  }
  loadFile(file: string): Promise<void> {
    this.loaded = { file }
    return Promise.resolve()
  }
  loadURL(url: string): Promise<void> {
    this.loaded = { url }
    return Promise.resolve()
  }
  isDestroyed(): boolean {
    return this.destroyed
  }
  isMinimized(): boolean {
    return false
  }
  restore(): void {}
  show(): void {
    this.visible = true
  }
  focus(): void {}
  destroy(): void {
    this.destroyed = true
    this.webContents.destroyed = true
    this.listeners.get('closed')?.()
  }
}

let userData = mkdtempSync(join(tmpdir(), 'comfy-balancer-userdata-'))

export const app = {
  getPath: vi.fn((_name: string) => userData),
  getVersion: vi.fn(() => '0.1.0'),
  on: vi.fn(),
  quit: vi.fn(),
  requestSingleInstanceLock: vi.fn(() => true),
  whenReady: vi.fn(() => Promise.resolve()),
  dock: { hide: vi.fn() }
}

export const ipcMain = new FakeIpcMain()

export const ipcRenderer = {
  invoke: vi.fn(),
  on: vi.fn(),
  removeListener: vi.fn()
}

export const contextBridge = { exposeInMainWorld: vi.fn() }

export const nativeImage = {
  createEmpty: vi.fn(() => new FakeNativeImage()),
  createFromBuffer: vi.fn((buffer: Buffer) => {
    const img = new FakeNativeImage()
    img.addRepresentation({ scaleFactor: 1, buffer })
    return img
  })
}

export const Menu = {
  buildFromTemplate: vi.fn((items: unknown[]) => ({ items }))
}

export const session = {
  defaultSession: {
    setPermissionRequestHandler: vi.fn(),
    setPermissionCheckHandler: vi.fn()
  }
}

export const shell = { openPath: vi.fn(async () => ''), openExternal: vi.fn(async () => {}) }

export const Tray = FakeTray
export const BrowserWindow = FakeBrowserWindow

const electron = {
  app,
  ipcMain,
  ipcRenderer,
  contextBridge,
  nativeImage,
  Menu,
  session,
  shell,
  Tray,
  BrowserWindow
}
export default electron

/** Forgets every handler, window, tray and recorded call. */
export function resetElectronMock(): void {
  vi.clearAllMocks()
  ipcMain.handlers.clear()
  FakeTray.instances = []
  FakeBrowserWindow.instances = []
  userData = mkdtempSync(join(tmpdir(), 'comfy-balancer-userdata-'))
}
