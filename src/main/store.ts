/**
 * The settings file, through electron-store. The file is the same one the CLI reads (the root
 * object is the settings, plain JSON), and everything read from it is migrated to the current
 * format (`settings-migrations.ts`) and then passes the core's `parseSettings`, the schema that
 * IPC and the CLI use too.
 *
 * - A file that is not JSON (or not an object), or that a migration cannot read, is copied aside
 *   with a timestamp suffix and the app starts from the last good settings (or the defaults).
 * - A file with some bad values is copied aside too; each bad value is reported and replaced,
 *   every good value is kept. A file in an older format is copied aside before it is rewritten.
 *   Nothing the user wrote is ever lost without a copy.
 * - Auth headers are written encrypted (`encryptedHeaders`, through `SecretCipher`) where the
 *   system has a key store, and plain headers found in the file are encrypted on the next start.
 *   Copies kept aside are encrypted the same way. The CLI cannot open `encryptedHeaders`: it
 *   sees those servers without their headers.
 */
import { copyFileSync, existsSync, writeFileSync } from 'node:fs'
import { basename, dirname } from 'node:path'
import Store from 'electron-store'
import { parseSettings } from './core/app'
import { noCipher, type SecretCipher } from './secrets'
import {
  migrateSettings,
  SETTINGS_VERSION,
  VERSION_KEY,
  type MigrationResult,
  type RawSettings
} from './settings-migrations'
import type { AppSettings, ServerConfig } from '../shared/types'

/** The key under which a server's encrypted headers are written. */
export const ENCRYPTED_HEADERS_KEY = 'encryptedHeaders'

export interface SettingsStoreOptions {
  /** Full path of the settings file (see `settingsFile()` in core/paths). */
  file: string
  /** Encrypts auth headers at rest. @default noCipher (plain text) */
  cipher?: SecretCipher
  /** For the timestamp of backup copies. @default () => new Date() */
  now?: () => Date
}

export interface SettingsLoad {
  settings: AppSettings
  /** What was wrong with the file, in words for the user and the log; empty when all was well. */
  messages: string[]
  /** Where the problematic file was copied, or null. */
  backupPath: string | null
  /** Things done that need no attention (migrations, headers encrypted), for the log. */
  notes: string[]
  /** Auth headers are kept in plain text because the system has no key store. */
  plainSecrets: boolean
}

export class SettingsStore {
  private readonly store: Store<RawSettings>
  private readonly cipher: SecretCipher
  private readonly now: () => Date
  /** The last settings read or written successfully; the fallback for a broken file. */
  private lastGood: AppSettings | null = null
  /** Set by the deserializer when the file's text is not a JSON object; cleared by `load`. */
  private unreadable: string | null = null
  /** Encrypted headers by their plain JSON, so unchanged headers are not encrypted again. */
  private readonly sealed = new Map<string, string>()
  /**
   * Encrypted headers that could not be opened here (another machine, a locked key store), by
   * server URL: written back unchanged so saving other settings does not lose them.
   */
  private readonly unopened = new Map<string, string>()
  /** Saves run one after another, in the order asked. */
  private queue: Promise<unknown> = Promise.resolve()

  constructor(opts: SettingsStoreOptions) {
    this.cipher = opts.cipher ?? noCipher
    this.now = opts.now ?? (() => new Date())
    this.store = new Store<RawSettings>({
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

  /** Reads, migrates, decrypts and validates the file; never throws. */
  async load(): Promise<SettingsLoad> {
    const fallback = this.lastGood ?? parseSettings(undefined).settings
    const startedFrom = this.lastGood ? 'the last good settings' : 'the default settings'
    const result: SettingsLoad = {
      settings: fallback,
      messages: [],
      backupPath: null,
      notes: [],
      plainSecrets: false
    }
    this.unreadable = null
    let raw: RawSettings
    try {
      raw = this.store.store
    } catch (err) {
      result.messages.push(`Could not read the settings file ${this.path} (${errorText(err)})`)
      return result
    }
    const fileExists = existsSync(this.path)
    let migrated: MigrationResult | null = null
    if (this.unreadable === null) {
      try {
        migrated = migrateSettings(raw)
      } catch (err) {
        this.unreadable = `its format could not be updated: ${errorText(err)}`
      }
    }
    if (this.unreadable !== null || !migrated) {
      const reason = this.unreadable ?? 'unknown'
      result.backupPath = this.backupAsIs()
      const copy = result.backupPath ? `A copy was kept at ${result.backupPath}. ` : ''
      result.messages.push(
        `The settings file ${this.path} could not be read (${reason}). ${copy}Started from ${startedFrom}.`
      )
      await this.write(fallback, result.messages)
      this.lastGood = fallback
      return result
    }

    const opened = await this.openSecrets(migrated.raw)
    const { settings, problems } = parseSettings(opened.raw, fallback)
    result.settings = settings
    result.plainSecrets = opened.plain > 0 && !(await this.cipher.available())
    result.messages.push(
      ...problems.map(
        (p) =>
          `Settings file: ${p.message}; ${this.lastGood ? 'kept the last good value' : 'used the default'}`
      ),
      ...opened.messages
    )
    if (migrated.newer) {
      result.messages.push(
        `The settings file was written by a newer Comfy Balancer (format ${migrated.from}, this one knows ${SETTINGS_VERSION}); settings it does not know are ignored`
      )
    }
    if (fileExists && migrated.from < SETTINGS_VERSION && migrated.applied.length) {
      result.notes.push(
        `Settings file updated from format ${migrated.from} to ${SETTINGS_VERSION}`,
        ...migrated.notes
      )
    }
    const encryptNow = opened.plain > 0 && (await this.cipher.available())
    if (encryptNow) result.notes.push(`Encrypted the auth headers of ${opened.plain} server(s)`)

    const rewrite =
      result.messages.length > 0 || encryptNow || (fileExists && migrated.from !== SETTINGS_VERSION)
    if (rewrite && fileExists) {
      // Before the file changes: a copy as it was (its secrets encrypted), unless only the
      // headers are being encrypted (then the copy would hold nothing the new file lacks).
      if (result.messages.length > 0 || migrated.from !== SETTINGS_VERSION) {
        result.backupPath = await this.backupSealed(raw)
        if (result.backupPath) {
          const copy = `A copy of the settings file as it was is at ${result.backupPath}`
          if (result.messages.length) result.messages.push(copy)
          else result.notes.push(copy)
        }
      }
      await this.write(settings, result.messages)
    }
    this.lastGood = settings
    return result
  }

  /**
   * Writes the settings; resolves to an error text instead of throwing (a full disk must not
   * crash the tray). Saves are written in the order they were asked for.
   */
  save(settings: AppSettings): Promise<string | null> {
    const run = this.queue.then(async () => {
      const messages: string[] = []
      await this.write(settings, messages)
      if (messages.length === 0) this.lastGood = settings
      return messages[0] ?? null
    })
    this.queue = run.catch(() => undefined)
    return run
  }

  /** Resolves when every save asked for so far is on disk. */
  async flush(): Promise<void> {
    await this.queue
  }

  private async write(settings: AppSettings, messages: string[]): Promise<void> {
    let body: RawSettings
    try {
      body = {
        [VERSION_KEY]: SETTINGS_VERSION,
        ...settings,
        servers: await this.sealServers(settings.servers)
      }
    } catch (err) {
      messages.push(
        `Could not encrypt the auth headers (${errorText(err)}); the settings were not saved`
      )
      return
    }
    try {
      this.store.store = body
    } catch (err) {
      messages.push(`Could not save the settings file ${this.path} (${errorText(err)})`)
    } finally {
      // Writing re-reads the old file (to keep conf's internal keys); that is not a new problem.
      this.unreadable = null
    }
  }

  /** Servers as written to disk: headers encrypted where possible. */
  private async sealServers(servers: ServerConfig[]): Promise<RawSettings[]> {
    const canEncrypt = await this.cipher.available()
    return Promise.all(
      servers.map(async (s) => {
        const { headers, ...rest } = s
        if (headers && Object.keys(headers).length) {
          if (!canEncrypt) return { ...rest, headers }
          return { ...rest, [ENCRYPTED_HEADERS_KEY]: await this.seal(headers) }
        }
        const kept = this.unopened.get(s.url)
        return kept ? { ...rest, [ENCRYPTED_HEADERS_KEY]: kept } : { ...rest }
      })
    )
  }

  private async seal(headers: Record<string, string>): Promise<string> {
    const plain = JSON.stringify(headers)
    let blob = this.sealed.get(plain)
    if (!blob) {
      blob = await this.cipher.encrypt(plain)
      this.sealed.set(plain, blob)
    }
    return blob
  }

  /**
   * Opens the `encryptedHeaders` of each raw server entry into `headers` (plain headers written
   * by hand win). Counts the entries that carry plain headers.
   */
  private async openSecrets(
    raw: RawSettings
  ): Promise<{ raw: RawSettings; plain: number; messages: string[] }> {
    const messages: string[] = []
    let plain = 0
    this.unopened.clear()
    if (!Array.isArray(raw.servers)) return { raw, plain, messages }
    const servers = await Promise.all(
      raw.servers.map(async (entry: unknown, i) => {
        if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return entry
        const e = { ...(entry as RawSettings) }
        const blob = e[ENCRYPTED_HEADERS_KEY]
        delete e[ENCRYPTED_HEADERS_KEY]
        if (e.headers !== undefined) {
          if (typeof e.headers === 'object' && e.headers !== null && Object.keys(e.headers).length)
            plain++
          return e
        }
        if (blob === undefined) return e
        const label =
          typeof e.name === 'string' ? e.name : typeof e.url === 'string' ? e.url : `#${i + 1}`
        if (typeof blob !== 'string') {
          messages.push(
            `Settings file: the encrypted headers of server ${label} are damaged and were dropped`
          )
          return e
        }
        try {
          const text = await this.cipher.decrypt(blob)
          const headers: unknown = JSON.parse(text)
          this.sealed.set(JSON.stringify(headers), blob)
          return { ...e, headers }
        } catch {
          if (typeof e.url === 'string') this.unopened.set(e.url, blob)
          messages.push(
            `Settings file: the auth headers of server ${label} could not be decrypted on this computer (they were encrypted elsewhere, or the key store is locked); the server is used without them until you enter them again`
          )
          return e
        }
      })
    )
    return { raw: { ...raw, servers }, plain, messages }
  }

  private deserialize(text: string): RawSettings {
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
    return value as RawSettings
  }

  private backupPath(): string {
    const stamp = this.now().toISOString().replace(/[:.]/g, '-')
    return `${this.path}.${stamp}.bak`
  }

  /** Copies the current file byte for byte (it could not be parsed); null when there was none. */
  private backupAsIs(): string | null {
    if (!existsSync(this.path)) return null
    const target = this.backupPath()
    try {
      copyFileSync(this.path, target)
      return target
    } catch {
      return null
    }
  }

  /** Writes the file as it was, with any plain auth headers in it encrypted. */
  private async backupSealed(raw: RawSettings): Promise<string | null> {
    if (!Array.isArray(raw.servers) || !(await this.cipher.available())) return this.backupAsIs()
    const target = this.backupPath()
    try {
      const servers = await Promise.all(
        raw.servers.map(async (entry: unknown) => {
          if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return entry
          const { headers, ...rest } = entry as RawSettings
          if (headers === undefined) return entry
          return {
            ...rest,
            [ENCRYPTED_HEADERS_KEY]: await this.cipher.encrypt(JSON.stringify(headers))
          }
        })
      )
      writeFileSync(target, `${JSON.stringify({ ...raw, servers }, null, 2)}\n`)
      return target
    } catch {
      return null
    }
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
