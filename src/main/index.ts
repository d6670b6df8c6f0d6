/**
 * Electron entry: wires the shell (store, tray, window, IPC) to the engine. The app starts in the
 * tray without a window; one instance only; quitting stops the check loop cleanly.
 */
import { app, ipcMain, session } from 'electron'
import { BalancerCore } from './core/app'
import { settingsFile } from './core/paths'
import { createIpcHandlers, forwardPushes } from './ipc-handlers'
import { registerIpc, trustedSender } from './ipc'
import { SettingsStore } from './store'
import { AppTray } from './tray'
import { AppWindow, hardenApp } from './window'

/** How long quitting waits for a check round in progress before it gives up on it. */
const QUIT_GRACE_MS = 3_000

function main(): void {
  if (!app.requestSingleInstanceLock()) {
    app.quit()
    return
  }
  // A tray app: closing the window must not quit.
  app.on('window-all-closed', () => {})
  void app.whenReady().then(start)
}

function start(): void {
  app.dock?.hide()

  const store = new SettingsStore({ file: settingsFile() })
  const loaded = store.load()
  const core = new BalancerCore({ settings: loaded.settings })
  for (const message of loaded.messages) {
    console.warn(`[comfy-balancer] ${message}`)
    core.log('warn', `[Settings] ${message}`)
  }
  core.events.on('settings', (settings) => {
    const error = store.save(settings)
    if (error) core.log('error', `[Settings] ${error}`)
  })

  const appWindow = new AppWindow({
    rendererUrl: process.env['ELECTRON_RENDERER_URL'],
    mainDir: import.meta.dirname
  })
  hardenApp(app, session.defaultSession, appWindow.isAppUrl)

  const unregister = registerIpc({
    ipcMain,
    handlers: createIpcHandlers(core),
    isTrustedSender: trustedSender(() => appWindow.webContents, appWindow.isAppUrl),
    onRefused: (channel, error) => core.log('warn', `[IPC] ${channel}: ${error.message}`)
  })
  const stopPushes = forwardPushes(core, (channel, payload) => appWindow.send(channel, payload))

  const tray = new AppTray(core.status(), {
    open: () => appWindow.show(),
    checkNow: () => void core.checkNow(),
    setPaused: (paused) => core.setPaused(paused),
    quit: () => app.quit()
  })
  const stopTray = core.events.on('status', (status) => tray.update(status))

  app.on('second-instance', () => appWindow.show())
  // macOS: clicking the dock/app icon again opens the window.
  app.on('activate', () => appWindow.show())

  let stopped = false
  app.on('before-quit', (event) => {
    if (stopped) return
    event.preventDefault()
    stopped = true
    stopTray()
    stopPushes()
    unregister()
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, QUIT_GRACE_MS).unref())
    void Promise.race([core.stop(), timeout])
      .catch((err: unknown) => console.error('[comfy-balancer] stopping failed:', err))
      .finally(() => {
        tray.destroy()
        appWindow.close()
        app.quit()
      })
  })

  core.start()
}

main()
