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
type Listener = (...args: unknown[]) => void

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
  template = false
  path: string | null = null
  resized: { width?: number; height?: number } | null = null
  addRepresentation(rep: { scaleFactor: number; buffer?: Buffer }): void {
    this.representations.push(rep)
  }
  isEmpty(): boolean {
    return this.representations.length === 0 && this.path === null
  }
  setTemplateImage(on: boolean): void {
    this.template = on
  }
  isTemplateImage(): boolean {
    return this.template
  }
  resize(size: { width?: number; height?: number }): FakeNativeImage {
    const copy = new FakeNativeImage()
    copy.path = this.path
    copy.resized = size
    return copy
  }
}

export class FakeTray {
  static instances: FakeTray[] = []
  image: unknown
  tooltip = ''
  menu: { items: unknown[] } | null = null
  destroyed = false
  readonly listeners = new Map<string, Listener>()
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
  on(event: string, fn: Listener): this {
    this.listeners.set(event, fn)
    return this
  }
  /** Calls the listener for `event` as Electron would (e.g. `drop-files` with its paths). */
  emit(event: string, ...args: unknown[]): void {
    this.listeners.get(event)?.(...args)
  }
  destroy(): void {
    this.destroyed = true
  }
  isDestroyed(): boolean {
    return this.destroyed
  }
}

/** A webContents with just what the shell touches. */
export class FakeWebContents {
  readonly mainFrame = { processId: 1, routingId: 1, url: 'file:///app/out/renderer/index.html' }
  readonly sent: Array<{ channel: string; payload: unknown }> = []
  readonly listeners = new Map<string, (...args: unknown[]) => void>()
  windowOpenHandler: ((details: { url: string }) => unknown) | null = null
  destroyed = false
  loading = false
  isDestroyed(): boolean {
    return this.destroyed
  }
  isLoading(): boolean {
    return this.loading
  }
  send(channel: string, payload: unknown): void {
    this.sent.push({ channel, payload })
  }
  on(event: string, fn: (...args: unknown[]) => void): this {
    this.listeners.set(event, fn)
    return this
  }
  once(event: string, fn: (...args: unknown[]) => void): this {
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
  loaded: { file?: string; url?: string; options?: unknown } = {}
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
  loadFile(file: string, options?: unknown): Promise<void> {
    this.loaded = options === undefined ? { file } : { file, options }
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

export class FakeNotification {
  static instances: FakeNotification[] = []
  static supported = true
  static isSupported(): boolean {
    return FakeNotification.supported
  }
  readonly listeners = new Map<string, Listener>()
  shown = false
  constructor(readonly options: { title: string; body: string; icon?: unknown; silent?: boolean }) {
    FakeNotification.instances.push(this)
  }
  on(event: string, fn: Listener): this {
    this.listeners.set(event, fn)
    return this
  }
  show(): void {
    this.shown = true
  }
  close(): void {
    this.listeners.get('close')?.()
  }
}

let userData = mkdtempSync(join(tmpdir(), 'comfy-balancer-userdata-'))
const appListeners = new Map<string, Listener[]>()

export const app = {
  isPackaged: false,
  getAppPath: vi.fn(() => '/app'),
  getPath: vi.fn((_name: string) => userData),
  setPath: vi.fn(),
  setAppLogsPath: vi.fn(),
  getVersion: vi.fn(() => '0.1.0'),
  getLocale: vi.fn(() => 'en-US'),
  getPreferredSystemLanguages: vi.fn(() => ['en-US']),
  setName: vi.fn(),
  setAppUserModelId: vi.fn(),
  getLoginItemSettings: vi.fn(() => ({ openAtLogin: false })),
  setLoginItemSettings: vi.fn(),
  on: vi.fn((event: string, fn: Listener) => {
    appListeners.set(event, [...(appListeners.get(event) ?? []), fn])
    return app
  }),
  /** Calls the listeners a test's code registered, as Electron would. */
  emit(event: string, ...args: unknown[]): void {
    for (const fn of appListeners.get(event) ?? []) fn(...args)
  },
  listenerCount(event: string): number {
    return appListeners.get(event)?.length ?? 0
  },
  quit: vi.fn(),
  exit: vi.fn(),
  focus: vi.fn(),
  requestSingleInstanceLock: vi.fn(() => true),
  whenReady: vi.fn(() => Promise.resolve()),
  enableSandbox: vi.fn(),
  dock: { hide: vi.fn(), show: vi.fn(async () => {}) }
}

export const ipcMain = new FakeIpcMain()

export const ipcRenderer = {
  invoke: vi.fn(),
  on: vi.fn(),
  removeListener: vi.fn()
}

export const contextBridge = { exposeInMainWorld: vi.fn() }

export const webUtils = { getPathForFile: vi.fn((_file: unknown) => '') }

export const nativeImage = {
  createEmpty: vi.fn(() => new FakeNativeImage()),
  createFromBuffer: vi.fn((buffer: Buffer) => {
    const img = new FakeNativeImage()
    img.addRepresentation({ scaleFactor: 1, buffer })
    return img
  }),
  createFromPath: vi.fn((path: string) => {
    const img = new FakeNativeImage()
    img.path = path
    return img
  })
}

export const Menu = {
  buildFromTemplate: vi.fn((items: unknown[]) => ({ items }))
}

export const session = {
  defaultSession: {
    setPermissionRequestHandler: vi.fn(),
    setPermissionCheckHandler: vi.fn(),
    setDevicePermissionHandler: vi.fn(),
    setDisplayMediaRequestHandler: vi.fn(),
    on: vi.fn()
  }
}

export const shell = {
  openPath: vi.fn(async () => ''),
  openExternal: vi.fn(async () => {}),
  showItemInFolder: vi.fn()
}

export const dialog = {
  showOpenDialog: vi.fn(async () => ({ canceled: true, filePaths: [] as string[] })),
  showMessageBox: vi.fn(async () => ({ response: 0, checkboxChecked: false })),
  showErrorBox: vi.fn()
}

/**
 * safeStorage stand-in: reversible, but never leaves the text readable (each byte is flipped),
 * so a test can check that no secret lands on disk in plain text.
 */
export const safeStorage = {
  available: true,
  isAsyncEncryptionAvailable: vi.fn(async () => safeStorage.available),
  getSelectedStorageBackend: vi.fn(
    (): 'basic_text' | 'gnome_libsecret' | 'kwallet' | 'kwallet5' | 'kwallet6' | 'unknown' =>
      'gnome_libsecret'
  ),
  encryptStringAsync: vi.fn(async (text: string) => {
    if (!safeStorage.available) throw new Error('Encryption is not available')
    return Buffer.concat([Buffer.from('v10'), Buffer.from(text, 'utf8').map((b) => b ^ 0xa5)])
  }),
  decryptStringAsync: vi.fn(async (data: Buffer) => {
    if (!safeStorage.available) throw new Error('Decryption is not available')
    if (data.subarray(0, 3).toString() !== 'v10')
      throw new Error('Error while decrypting the ciphertext')
    return {
      shouldReEncrypt: false,
      result: Buffer.from(data.subarray(3).map((b) => b ^ 0xa5)).toString('utf8')
    }
  })
}

/** The clipboard: what was last written, readable back. */
export const clipboard = {
  text: '',
  writeText: vi.fn((text: string) => {
    clipboard.text = text
  }),
  readText: vi.fn(() => clipboard.text)
}

export const Tray = FakeTray
export const BrowserWindow = FakeBrowserWindow
export const Notification = FakeNotification

const electron = {
  app,
  ipcMain,
  ipcRenderer,
  contextBridge,
  webUtils,
  nativeImage,
  Menu,
  session,
  shell,
  dialog,
  safeStorage,
  Tray,
  BrowserWindow,
  Notification,
  clipboard
}
export default electron

/** Forgets every handler, window, tray and recorded call. */
export function resetElectronMock(): void {
  vi.clearAllMocks()
  ipcMain.handlers.clear()
  appListeners.clear()
  FakeTray.instances = []
  FakeBrowserWindow.instances = []
  FakeNotification.instances = []
  FakeNotification.supported = true
  clipboard.text = ''
  safeStorage.available = true
  userData = mkdtempSync(join(tmpdir(), 'comfy-balancer-userdata-'))
}
