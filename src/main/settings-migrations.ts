/**
 * Versioned migrations of the settings file. The file carries `settingsVersion`; each migration
 * lifts a raw (untrusted, not yet validated) settings object by one version, and the result then
 * passes the core's `parseSettings` like any other input. Pure: no I/O, no Electron.
 *
 * Versions (a file without `settingsVersion` is version 0: written by hand, by the first
 * version of the app, or by another tool):
 * 1. The original design's server keys, a primary `comfyui.server_url` and comma-separated
 *    `comfyui.backup_servers` (flat, or nested under `comfyui`), become entries of `servers`.
 * 2. `notifications: true|false` (one switch) becomes the four kinds, each set to that value.
 *
 * To add one: append `{ to: N + 1, ... }` here, bump nothing else (`SETTINGS_VERSION` is the last
 * `to`), and add a test that starts from a file of the previous version.
 */
import { importLegacyServers, normalizeServerUrl } from './core/app'

export type RawSettings = Record<string, unknown>

/** The key of the format version in the settings file. */
export const VERSION_KEY = 'settingsVersion'

export interface Migration {
  /** The version this migration produces (the previous one plus one). */
  to: number
  /** What it does, for the log. */
  what: string
  /** Returns the lifted object (never mutates its input); may add notes for the user. */
  up(raw: RawSettings, note: (message: string) => void): RawSettings
}

const LEGACY_PRIMARY = 'comfyui.server_url'
const LEGACY_BACKUPS = 'comfyui.backup_servers'

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function rawUrl(entry: unknown): string | null {
  const url = typeof entry === 'string' ? entry : isObject(entry) ? entry.url : null
  if (typeof url !== 'string') return null
  const n = normalizeServerUrl(url)
  return 'url' in n ? n.url : null
}

export const MIGRATIONS: readonly Migration[] = [
  {
    to: 1,
    what: 'moved comfyui.server_url and comfyui.backup_servers into the server list',
    up(raw, note) {
      const nested = isObject(raw.comfyui) ? raw.comfyui : null
      const hasFlat = LEGACY_PRIMARY in raw || LEGACY_BACKUPS in raw
      const hasNested = !!nested && ('server_url' in nested || 'backup_servers' in nested)
      if (!hasFlat && !hasNested) return raw
      const { servers: imported, problems } = importLegacyServers({
        [LEGACY_PRIMARY]: raw[LEGACY_PRIMARY],
        [LEGACY_BACKUPS]: raw[LEGACY_BACKUPS],
        comfyui: nested ?? undefined
      })
      for (const p of problems) note(`Old server setting not imported: ${p.message}`)
      const existing = Array.isArray(raw.servers) ? raw.servers : []
      const known = new Set(existing.map(rawUrl).filter((u): u is string => u !== null))
      const added = imported
        .filter((s) => !known.has(s.url))
        .map((s) => ({ name: s.name, url: s.url, enabled: true }))
      const out: RawSettings = { ...raw, servers: [...existing, ...added] }
      delete out[LEGACY_PRIMARY]
      delete out[LEGACY_BACKUPS]
      if (nested) {
        const rest = { ...nested }
        delete rest.server_url
        delete rest.backup_servers
        if (Object.keys(rest).length) out.comfyui = rest
        else delete out.comfyui
      }
      if (added.length) note(`Imported ${added.length} server(s) from the old comfyui.* settings`)
      return out
    }
  },
  {
    to: 2,
    what: 'split the single notifications switch into one per kind',
    up(raw) {
      if (typeof raw.notifications !== 'boolean') return raw
      const on = raw.notifications
      return {
        ...raw,
        notifications: { serverDown: on, serverUp: on, jobDone: on, jobFailed: on }
      }
    }
  }
]

/** The version this app writes. */
export const SETTINGS_VERSION = MIGRATIONS.at(-1)?.to ?? 0

export interface MigrationResult {
  raw: RawSettings
  /** The file's version (0 without `settingsVersion`). */
  from: number
  /** What was done, one line per migration applied. */
  applied: string[]
  /** Notes for the user from the migrations. */
  notes: string[]
  /** The file was written by a newer version of the app; it was left as it is. */
  newer: boolean
}

/** The version a raw settings object declares; 0 when it declares none (or nonsense). */
export function settingsVersionOf(raw: RawSettings): number {
  const v = raw[VERSION_KEY]
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : 0
}

/**
 * Lifts a raw settings object to `current`. Throws only when a migration throws (the caller
 * treats that like an unreadable file). The result has no `settingsVersion` key: the writer adds
 * its own.
 */
export function migrateSettings(
  raw: RawSettings,
  migrations: readonly Migration[] = MIGRATIONS,
  current = migrations.at(-1)?.to ?? 0
): MigrationResult {
  const from = settingsVersionOf(raw)
  const notes: string[] = []
  const applied: string[] = []
  let out: RawSettings = { ...raw }
  delete out[VERSION_KEY]
  if (from > current) return { raw: out, from, applied, notes, newer: true }
  for (const m of migrations) {
    if (m.to <= from || m.to > current) continue
    out = m.up(out, (n) => notes.push(n))
    applied.push(`${m.to}: ${m.what}`)
  }
  return { raw: out, from, applied, notes, newer: false }
}
