// A stand-in for Electron's main-process API, just enough to start the built app under plain
// Node and watch what it does. Every interesting call prints one JSON line on stdout:
// {"event": "...", ...}. After the app is ready and has run for STUB_RUN_MS it asks to quit, as
// a user would from the tray.
import { EventEmitter } from 'node:events'
import os from 'node:os'
import path from 'node:path'

const say = (event, data = {}) => process.stdout.write(`${JSON.stringify({ event, ...data })}\n`)
const RUN_MS = Number(process.env.STUB_RUN_MS ?? 1500)

const paths = new Map()
const appEvents = new EventEmitter()
let quitting = 0

export const app = {
  isPackaged: false,
  getAppPath: () => process.cwd(),
  getVersion: () => '0.0.0-stub',
  getLocale: () => 'en-US',
  getPreferredSystemLanguages: () => ['en-US'],
  setPath: (name, value) => {
    paths.set(name, value)
    say('setPath', { name, value })
  },
  getPath: (name) => paths.get(name) ?? path.join(paths.get('userData') ?? os.tmpdir(), name),
  setAppLogsPath: () => paths.set('logs', path.join(paths.get('userData'), 'logs')),
  setAppUserModelId: () => {},
  enableSandbox: () => say('enableSandbox'),
  requestSingleInstanceLock: () => process.env.STUB_SECOND_INSTANCE !== '1',
  getLoginItemSettings: () => ({ openAtLogin: false }),
  setLoginItemSettings: () => {},
  whenReady: () =>
    new Promise((resolve) =>
      setTimeout(() => {
        resolve()
        setTimeout(() => {
          say('userQuits')
          app.quit()
        }, RUN_MS)
      }, 10)
    ),
  on: (event, fn) => {
    appEvents.on(event, fn)
    return app
  },
  quit: () => {
    quitting++
    say('quit', { n: quitting })
    const event = { defaultPrevented: false, preventDefault: () => (event.defaultPrevented = true) }
    appEvents.emit('before-quit', event)
    if (!event.defaultPrevented) {
      say('exit')
      process.exit(0)
    }
  },
  exit: (code) => process.exit(code),
  focus: () => {},
  dock: undefined
}

export const ipcMain = {
  handlers: new Set(),
  handle(channel) {
    this.handlers.add(channel)
  },
  removeHandler(channel) {
    this.handlers.delete(channel)
  },
  on() {}
}

class Image {
  constructor() {
    this.reps = []
  }
  addRepresentation(rep) {
    this.reps.push(rep.scaleFactor)
  }
  setTemplateImage() {}
  isEmpty() {
    return false
  }
  resize() {
    return this
  }
}
export const nativeImage = {
  createEmpty: () => new Image(),
  createFromPath: () => new Image(),
  createFromBuffer: () => new Image()
}

export class Tray {
  constructor(image) {
    say('tray', { scales: image.reps })
  }
  setImage(image) {
    say('trayImage', { scales: image.reps })
  }
  setToolTip(text) {
    say('tooltip', { text })
  }
  setContextMenu(menu) {
    say('menu', { labels: menu.items.map((i) => i.label ?? i.type) })
  }
  on() {}
  destroy() {
    say('trayDestroyed', { ipcHandlers: ipcMain.handlers.size })
  }
}

export const Menu = { buildFromTemplate: (items) => ({ items }) }

export class BrowserWindow {
  constructor() {
    say('window')
  }
}

export class Notification {
  static isSupported() {
    return true
  }
  constructor(options) {
    say('notification', { title: options.title })
  }
  on() {}
  show() {}
  close() {}
}

export const session = {
  defaultSession: {
    setPermissionRequestHandler: () => {},
    setPermissionCheckHandler: () => {},
    setDevicePermissionHandler: () => {},
    setDisplayMediaRequestHandler: () => {},
    on: () => {}
  }
}

export const safeStorage = {
  isAsyncEncryptionAvailable: async () => true,
  getSelectedStorageBackend: () => 'gnome_libsecret',
  encryptStringAsync: async (text) => Buffer.from(text, 'utf8').map((b) => b ^ 0x5a),
  decryptStringAsync: async (buf) => ({
    shouldReEncrypt: false,
    result: Buffer.from(buf.map((b) => b ^ 0x5a)).toString('utf8')
  })
}

export const shell = { openPath: async () => '', showItemInFolder: () => {} }
export const clipboard = { writeText: () => {}, readText: () => '' }
export const dialog = {
  showOpenDialog: async () => ({ canceled: true, filePaths: [] }),
  showMessageBox: async () => ({ response: 0 })
}
export const contextBridge = { exposeInMainWorld: () => {} }
export const webUtils = { getPathForFile: () => '' }
export const ipcRenderer = { invoke: async () => {}, on: () => {}, removeListener: () => {} }

export default {
  app,
  ipcMain,
  nativeImage,
  Tray,
  Menu,
  BrowserWindow,
  Notification,
  session,
  safeStorage,
  shell,
  clipboard,
  dialog,
  contextBridge,
  webUtils,
  ipcRenderer
}
