/**
 * "Start at login". macOS and Windows have it in Electron (`app.setLoginItemSettings`); Linux
 * desktops use an XDG autostart entry (`~/.config/autostart/comfy-balancer.desktop`), which
 * Electron does not write, so it is written here. The app always starts to the tray, so no
 * "hidden" argument is needed.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { App } from 'electron'

export interface LoginItem {
  /** Whether the app starts at login now (as the system says). */
  get(): boolean
  set(enabled: boolean): void
}

/** Quotes one argument of a desktop entry's `Exec` key (freedesktop Desktop Entry spec). */
export function quoteExecArg(arg: string): string {
  if (!/[\s"'\\`$<>|&;*?#()]/.test(arg)) return arg
  return `"${arg.replace(/(["`$\\])/g, '\\$1')}"`
}

/** The autostart entry for a command line. */
export function autostartEntry(command: string[]): string {
  return [
    '[Desktop Entry]',
    'Type=Application',
    'Name=Comfy Balancer',
    'Comment=Balances ComfyUI jobs across your servers',
    `Exec=${command.map(quoteExecArg).join(' ')}`,
    'Icon=comfy-balancer',
    'Terminal=false',
    'X-GNOME-Autostart-enabled=true',
    ''
  ].join('\n')
}

export function autostartFile(env: NodeJS.ProcessEnv = process.env, home = os.homedir()): string {
  const config = env.XDG_CONFIG_HOME || path.join(home, '.config')
  return path.join(config, 'autostart', 'comfy-balancer.desktop')
}

/** Linux: the autostart file, for the command that starts this app. */
export function linuxLoginItem(command: string[], file: string): LoginItem {
  return {
    get: () => fs.existsSync(file),
    set: (enabled) => {
      if (!enabled) return fs.rmSync(file, { force: true })
      fs.mkdirSync(path.dirname(file), { recursive: true })
      fs.writeFileSync(file, autostartEntry(command))
    }
  }
}

/** The command that starts this app again: the AppImage, the installed binary, or dev Electron. */
export function launchCommand(
  app: Pick<App, 'isPackaged' | 'getAppPath'>,
  env: NodeJS.ProcessEnv = process.env,
  execPath = process.execPath
): string[] {
  if (env.APPIMAGE) return [env.APPIMAGE]
  return app.isPackaged ? [execPath] : [execPath, app.getAppPath()]
}

/** The part of Electron's `app` used here. */
export interface LoginItemApp extends Pick<App, 'isPackaged' | 'getAppPath'> {
  getLoginItemSettings(): { openAtLogin: boolean }
  setLoginItemSettings(settings: { openAtLogin: boolean }): void
}

export function loginItemFor(
  app: LoginItemApp,
  platform: NodeJS.Platform = process.platform,
  env: NodeJS.ProcessEnv = process.env
): LoginItem {
  if (platform === 'linux') return linuxLoginItem(launchCommand(app, env), autostartFile(env))
  return {
    get: () => app.getLoginItemSettings().openAtLogin,
    set: (enabled) => app.setLoginItemSettings({ openAtLogin: enabled })
  }
}
