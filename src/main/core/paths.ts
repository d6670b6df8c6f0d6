/**
 * Where the app keeps its settings, computed without Electron so the CLI reads the same file
 * the tray app writes (electron-store's `config.json` in Electron's userData folder).
 */
import os from 'node:os'
import path from 'node:path'

/** Electron's userData folder name (package.json `name`). */
export const APP_DIR_NAME = 'comfy-balancer'

/**
 * The app's data folder (settings, job journal). `COMFY_BALANCER_DATA` overrides it (tests,
 * portable setups); it applies to the app and the CLI alike.
 */
export function userDataDir(
  platform: NodeJS.Platform = process.platform,
  env: NodeJS.ProcessEnv = process.env,
  home: string = os.homedir()
): string {
  if (env.COMFY_BALANCER_DATA) return path.resolve(env.COMFY_BALANCER_DATA)
  if (platform === 'win32') {
    return path.win32.join(env.APPDATA ?? path.win32.join(home, 'AppData', 'Roaming'), APP_DIR_NAME)
  }
  if (platform === 'darwin')
    return path.posix.join(home, 'Library', 'Application Support', APP_DIR_NAME)
  return path.posix.join(env.XDG_CONFIG_HOME || path.posix.join(home, '.config'), APP_DIR_NAME)
}

/** The settings file; `COMFY_BALANCER_CONFIG` overrides it. */
export function settingsFile(env: NodeJS.ProcessEnv = process.env): string {
  return env.COMFY_BALANCER_CONFIG || path.join(userDataDir(process.platform, env), 'config.json')
}

/** The tray app's job journal (read-only for the CLI). */
export function appJournalFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(userDataDir(process.platform, env), 'jobs.jsonl')
}

/** The CLI's own lasting folder: one job journal per run, each with a lock. */
export function cliDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(userDataDir(process.platform, env), 'cli')
}
