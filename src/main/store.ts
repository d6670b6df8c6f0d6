/**
 * The settings file, through electron-store. The file is the same one the CLI reads (the root
 * object is the settings), and everything read from it passes the core's `parseSettings`.
 *
 * A file that is not JSON (or not an object) is copied aside with a timestamp suffix and the app
 * starts from the last good settings (or the defaults); a file with some bad values is copied
 * aside too, each bad value is reported and replaced, and every good value is kept. Nothing the
 * user wrote is ever lost without a copy.
 */
import { copyFileSync, existsSync } from 'node:fs'
import { basename, dirname } from 'node:path'
import Store from 'electron-store'
import { parseSettings } from './core/settings'
import type { AppSettings } from '../shared/types'

export interface SettingsStoreOptions {
  /** Full path of the settings file (see `settingsFile()` in core/paths). */
  file: string
  /** For the timestamp of backup copies. @default () => new Date() */
  now?: () => Date
}

export interface SettingsLoad {
  settings: AppSettings
  /** What was wrong with the file, in words for the log; empty when all was well. */
  messages: string[]
  /** Where the problematic file was copied, or null. */
  backupPath: string | null
}

type Raw = Record<string, unknown>

export class SettingsStore {
  private readonly store: Store<Raw>
  private readonly now: () => Date
  /** The last settings read or written successfully; the fallback for a broken file. */
  private lastGood: AppSettings | null = null
  /** Set by the deserializer when the file's text is not a JSON object; cleared by `load`. */
  private unreadable: string | null = null

  constructor(opts: SettingsStoreOptions) {
    this.now = opts.now ?? (() => new Date())
    this.store = new Store<Raw>({
      cwd: dirname(opts.file),
      name: basename(opts.file),
      fileExtension: '',
      clearInvalidConfig: false,
      serialize: (value) => `${JSON.stringify(value, null, 2)}\n`,
      // Never throws: a broken file reads as empty and `load` handles it.
      deserialize: (text) => this.deserialize(text)
    })
  }

  /** Path of the settings file. */
  get path(): string {
    return this.store.path
  }

  /** Reads and validates the file; never throws. */
  load(): SettingsLoad {
    const fallback = this.lastGood ?? parseSettings(undefined).settings
    const startedFrom = this.lastGood ? 'the last good settings' : 'the default settings'
    this.unreadable = null
    let raw: Raw
    try {
      raw = this.store.store
    } catch (err) {
      return {
        settings: fallback,
        messages: [`Could not read the settings file ${this.path} (${errorText(err)})`],
        backupPath: null
      }
    }
    if (this.unreadable !== null) {
      const reason = this.unreadable
      const backupPath = this.backup()
      const copy = backupPath ? `A copy was kept at ${backupPath}. ` : ''
      const messages = [
        `The settings file ${this.path} could not be read (${reason}). ${copy}Started from ${startedFrom}.`
      ]
      this.write(fallback, messages)
      this.lastGood = fallback
      return { settings: fallback, messages, backupPath }
    }
    const { settings, problems } = parseSettings(raw, fallback)
    if (problems.length === 0) {
      this.lastGood = settings
      return { settings, messages: [], backupPath: null }
    }
    const backupPath = this.backup()
    const messages = problems.map(
      (p) =>
        `Settings file: ${p.message}; ${this.lastGood ? 'kept the last good value' : 'used the default'}`
    )
    if (backupPath) messages.push(`A copy of the settings file as it was is at ${backupPath}`)
    this.write(settings, messages)
    this.lastGood = settings
    return { settings, messages, backupPath }
  }

  /** Writes the settings; returns an error text instead of throwing (a full disk must not crash the tray). */
  save(settings: AppSettings): string | null {
    const messages: string[] = []
    this.write(settings, messages)
    if (messages.length === 0) this.lastGood = settings
    return messages[0] ?? null
  }

  private write(settings: AppSettings, messages: string[]): void {
    try {
      this.store.store = { ...settings } as unknown as Raw
    } catch (err) {
      messages.push(`Could not save the settings file ${this.path} (${errorText(err)})`)
    } finally {
      // Writing re-reads the old file (to keep conf's internal keys); that is not a new problem.
      this.unreadable = null
    }
  }

  private deserialize(text: string): Raw {
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch (err) {
      this.unreadable = `not valid JSON: ${errorText(err)}`
      return {}
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.unreadable = `expected a JSON object, found ${Array.isArray(value) ? 'a list' : String(value)}`
      return {}
    }
    return value as Raw
  }

  /** Copies the current file next to itself with a timestamp suffix; null when there was none. */
  private backup(): string | null {
    if (!existsSync(this.path)) return null
    const stamp = this.now().toISOString().replace(/[:.]/g, '-')
    const target = `${this.path}.${stamp}.bak`
    try {
      copyFileSync(this.path, target)
      return target
    } catch {
      return null
    }
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
