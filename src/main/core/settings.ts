/**
 * Settings: schema, defaults, validation with messages that quote the bad value, and the
 * import of the original "primary + comma-separated backups" form.
 */
import { z } from 'zod'
import type {
  AppPreferences,
  AppSettings,
  BalancerSettings,
  NotificationSettings,
  ServerConfig
} from '../../shared/types'

/** Defaults from the original design. */
export const DEFAULT_SETTINGS: Readonly<BalancerSettings> = Object.freeze({
  healthCheckInterval: 30_000,
  timeout: 10_000,
  retryAttempts: 3,
  verboseLogging: false,
  queueWeightEnabled: true,
  failoverEnabled: true
})

/** Defaults of the app around the balancer. */
export const DEFAULT_PREFERENCES: Readonly<AppPreferences> = Object.freeze({
  notifications: Object.freeze({
    serverDown: true,
    serverUp: true,
    jobDone: true,
    jobFailed: true
  }),
  startAtLogin: false,
  outputDir: '',
  language: 'system',
  theme: 'system',
  jobHistoryLimit: 500
})

/** Every setting at its default, with no servers. */
export function defaultSettings(): AppSettings {
  return {
    ...DEFAULT_SETTINGS,
    ...DEFAULT_PREFERENCES,
    notifications: { ...DEFAULT_PREFERENCES.notifications },
    servers: []
  }
}

/** Bounds that keep a hand-edited value from hurting the user or the servers. */
export const LIMITS = {
  healthCheckInterval: { min: 500, max: 3_600_000 },
  timeout: { min: 100, max: 600_000 },
  retryAttempts: { min: 0, max: 20 },
  jobHistoryLimit: { min: 10, max: 100_000 }
} as const

function quote(v: unknown): string {
  try {
    const s = JSON.stringify(v)
    if (s === undefined) return String(v)
    return s.length > 80 ? `${s.slice(0, 77)}...` : s
  } catch {
    return String(v)
  }
}

const intIn = (name: string, min: number, max: number) =>
  z.unknown().transform((v, ctx) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      ctx.addIssue({
        code: 'custom',
        message: `${name} must be a whole number from ${min} to ${max}, got ${quote(v)}`
      })
      return z.NEVER
    }
    return v
  })

const bool = (name: string) =>
  z.unknown().transform((v, ctx) => {
    if (typeof v !== 'boolean') {
      ctx.addIssue({ code: 'custom', message: `${name} must be true or false, got ${quote(v)}` })
      return z.NEVER
    }
    return v
  })

const oneOf = <T extends string>(name: string, values: readonly T[]) =>
  z.unknown().transform((v, ctx) => {
    if (typeof v !== 'string' || !values.includes(v as T)) {
      ctx.addIssue({
        code: 'custom',
        message: `${name} must be one of ${values.map((x) => `"${x}"`).join(', ')}, got ${quote(v)}`
      })
      return z.NEVER
    }
    return v as T
  })

/**
 * Normalises a server URL: adds `http://` when no scheme is given, strips the trailing slash,
 * and rejects anything that is not http(s) with a host. Returns an error text instead of throwing.
 */
export function normalizeServerUrl(input: string): { url: string } | { error: string } {
  const raw = input.trim()
  if (!raw) return { error: 'The server URL is empty' }
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`
  let u: URL
  try {
    u = new URL(withScheme)
  } catch {
    return { error: `Not a valid URL: ${quote(input)}` }
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    return { error: `Only http:// and https:// servers are supported, got ${quote(input)}` }
  }
  if (!u.hostname) return { error: `The URL has no host: ${quote(input)}` }
  if (u.search || u.hash)
    return { error: `The URL must not have ?query or #fragment: ${quote(input)}` }
  const path = u.pathname.replace(/\/+$/, '')
  return { url: `${u.protocol}//${u.host}${path}` }
}

/** A short display name for a URL: host, plus port when it is not the default. */
export function nameFromUrl(url: string): string {
  try {
    const u = new URL(url)
    return u.port ? `${u.hostname}:${u.port}` : u.hostname
  } catch {
    return url
  }
}

const headersSchema = z
  .record(z.string(), z.string())
  .refine((h) => Object.keys(h).every((k) => /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k)), {
    message: 'Header names may only contain letters, digits and - _ . etc.'
  })
  .refine((h) => Object.values(h).every((v) => !/[\r\n]/.test(v)), {
    message: 'Header values must not contain line breaks'
  })

const serverSchema = z.object({
  id: z.string().min(1).max(100).optional(),
  name: z.string().max(200).optional(),
  url: z.string().max(2000),
  enabled: z.boolean().optional(),
  headers: headersSchema.optional()
})

export interface SettingsProblem {
  /** Dotted path of the bad value, e.g. `servers.1.url` or `timeout`. */
  path: string
  message: string
}

export interface ParsedSettings {
  settings: AppSettings
  /** Every value that was rejected; its default (or the previous value) was kept instead. */
  problems: SettingsProblem[]
}

function slug(s: string): string {
  return (
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60) || 'server'
  )
}

/** Gives every server a unique id, deriving it from the name or URL when missing. */
export function assignIds(
  servers: Array<Omit<ServerConfig, 'id'> & { id?: string }>
): ServerConfig[] {
  const used = new Set<string>()
  return servers.map((s) => {
    let base = slug(s.id ?? s.name ?? nameFromUrl(s.url))
    let id = base
    for (let i = 2; used.has(id); i++) id = `${base}-${i}`
    base = id
    used.add(id)
    return { ...s, id }
  })
}

/**
 * Parses one server entry (untrusted). Returns the cleaned server or the reason it was refused.
 */
export function parseServer(
  raw: unknown
): { server: Omit<ServerConfig, 'id'> & { id?: string } } | { error: string } {
  if (typeof raw === 'string') raw = { url: raw }
  const r = serverSchema.safeParse(raw)
  if (!r.success) {
    const issue = r.error.issues[0]
    const where = issue?.path.join('.') || 'entry'
    // Quote only what identifies the entry: never its headers (they may hold credentials).
    const r0 = raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : null
    const shown = r0 ? { name: r0.name, url: r0.url } : raw
    return { error: `Bad server ${where}: ${issue?.message ?? 'invalid'} (${quote(shown)})` }
  }
  const n = normalizeServerUrl(r.data.url)
  if ('error' in n) return { error: n.error }
  const name = r.data.name?.trim() || nameFromUrl(n.url)
  const out: Omit<ServerConfig, 'id'> & { id?: string } = {
    name,
    url: n.url,
    enabled: r.data.enabled ?? true
  }
  if (r.data.id) out.id = r.data.id
  if (r.data.headers && Object.keys(r.data.headers).length) out.headers = r.data.headers
  return { server: out }
}

const fields = {
  healthCheckInterval: intIn(
    'healthCheckInterval',
    LIMITS.healthCheckInterval.min,
    LIMITS.healthCheckInterval.max
  ),
  timeout: intIn('timeout', LIMITS.timeout.min, LIMITS.timeout.max),
  retryAttempts: intIn('retryAttempts', LIMITS.retryAttempts.min, LIMITS.retryAttempts.max),
  verboseLogging: bool('verboseLogging'),
  queueWeightEnabled: bool('queueWeightEnabled'),
  failoverEnabled: bool('failoverEnabled'),
  startAtLogin: bool('startAtLogin'),
  outputDir: z.unknown().transform((v, ctx) => {
    if (typeof v !== 'string' || v.length > 4096 || /[\0]/.test(v)) {
      ctx.addIssue({ code: 'custom', message: `outputDir must be a folder path, got ${quote(v)}` })
      return z.NEVER
    }
    return v.trim()
  }),
  language: oneOf('language', ['system', 'en', 'zh-CN'] as const),
  theme: oneOf('theme', ['system', 'light', 'dark'] as const),
  jobHistoryLimit: intIn('jobHistoryLimit', LIMITS.jobHistoryLimit.min, LIMITS.jobHistoryLimit.max)
} as const

const NOTIFICATION_KINDS = ['serverDown', 'serverUp', 'jobDone', 'jobFailed'] as const

/**
 * Validates settings from an untrusted source (file, IPC, CLI). Never throws: each bad value is
 * reported and replaced by the value in `fallback` (defaults unless given), so nothing good is lost.
 * Unknown keys are ignored.
 */
export function parseSettings(raw: unknown, fallback?: AppSettings): ParsedSettings {
  const base: AppSettings = fallback
    ? { ...fallback, notifications: { ...fallback.notifications }, servers: [...fallback.servers] }
    : defaultSettings()
  const problems: SettingsProblem[] = []
  if (raw === undefined || raw === null) return { settings: base, problems }
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    problems.push({ path: '', message: `Settings must be an object, got ${quote(raw)}` })
    return { settings: base, problems }
  }
  const obj = raw as Record<string, unknown>
  const out: AppSettings = { ...base }
  for (const key of Object.keys(fields) as Array<keyof typeof fields>) {
    if (!(key in obj) || obj[key] === undefined) continue
    const r = fields[key].safeParse(obj[key])
    if (r.success) (out as unknown as Record<string, unknown>)[key] = r.data
    else problems.push({ path: key, message: r.error.issues[0]?.message ?? `Bad ${key}` })
  }
  if ('notifications' in obj && obj.notifications !== undefined) {
    const n = obj.notifications
    if (!n || typeof n !== 'object' || Array.isArray(n)) {
      problems.push({
        path: 'notifications',
        message: `notifications must be an object, got ${quote(n)}`
      })
    } else {
      const next: NotificationSettings = { ...out.notifications }
      for (const k of NOTIFICATION_KINDS) {
        const v = (n as Record<string, unknown>)[k]
        if (v === undefined) continue
        if (typeof v === 'boolean') next[k] = v
        else
          problems.push({
            path: `notifications.${k}`,
            message: `notifications.${k} must be true or false, got ${quote(v)}`
          })
      }
      out.notifications = next
    }
  }
  if ('servers' in obj && obj.servers !== undefined) {
    if (!Array.isArray(obj.servers)) {
      problems.push({
        path: 'servers',
        message: `servers must be a list, got ${quote(obj.servers)}`
      })
    } else {
      const good: Array<Omit<ServerConfig, 'id'> & { id?: string }> = []
      obj.servers.forEach((s, i) => {
        const p = parseServer(s)
        if ('error' in p) problems.push({ path: `servers.${i}`, message: p.error })
        else good.push(p.server)
      })
      out.servers = assignIds(good)
    }
  }
  return { settings: out, problems }
}

/**
 * Imports the original configuration form: a primary `comfyui.server_url` and a comma-separated
 * `comfyui.backup_servers`. Accepts the flat dotted keys, a nested `{comfyui: {...}}` object, or
 * a plain list of URLs (one per line, or separated by commas/whitespace). Duplicates are dropped.
 */
export function importLegacyServers(input: unknown): {
  servers: ServerConfig[]
  problems: SettingsProblem[]
} {
  const urls: string[] = []
  const problems: SettingsProblem[] = []
  // Commas, semicolons and line breaks separate entries; spaces only between full URLs.
  const split = (s: string) =>
    s
      .split(/[,;\r\n]+/)
      .map((x) => x.trim())
      .filter(Boolean)
      .flatMap((x) => {
        const words = x.split(/\s+/)
        return words.length > 1 && words.every((w) => w.includes('://')) ? words : [x]
      })
  if (typeof input === 'string') {
    const text = input.trim()
    let parsed: unknown
    if (text.startsWith('{') || text.startsWith('[')) {
      try {
        parsed = JSON.parse(text)
      } catch {
        problems.push({ path: '', message: 'The text looks like JSON but could not be read' })
      }
    }
    if (parsed !== undefined) return importLegacyServers(parsed)
    urls.push(...split(text.replace(/^\s*comfyui\.(server_url|backup_servers)\s*[=:]\s*/gm, '')))
  } else if (Array.isArray(input)) {
    for (const item of input) if (typeof item === 'string') urls.push(...split(item))
  } else if (input && typeof input === 'object') {
    const o = input as Record<string, unknown>
    const nested = (o.comfyui && typeof o.comfyui === 'object' ? o.comfyui : {}) as Record<
      string,
      unknown
    >
    const primary = o['comfyui.server_url'] ?? nested.server_url
    const backups = o['comfyui.backup_servers'] ?? nested.backup_servers
    if (typeof primary === 'string') urls.push(...split(primary))
    else if (primary !== undefined)
      problems.push({
        path: 'comfyui.server_url',
        message: `Expected a URL, got ${quote(primary)}`
      })
    if (typeof backups === 'string') urls.push(...split(backups))
    else if (Array.isArray(backups))
      urls.push(...backups.filter((b): b is string => typeof b === 'string'))
    else if (backups !== undefined)
      problems.push({
        path: 'comfyui.backup_servers',
        message: `Expected comma-separated URLs, got ${quote(backups)}`
      })
  } else {
    problems.push({ path: '', message: `Nothing to import from ${quote(input)}` })
  }
  const seen = new Set<string>()
  const good: Array<Omit<ServerConfig, 'id'>> = []
  urls.forEach((u, i) => {
    const n = normalizeServerUrl(u)
    if ('error' in n) {
      problems.push({ path: `urls.${i}`, message: n.error })
      return
    }
    if (seen.has(n.url)) return
    seen.add(n.url)
    good.push({ name: nameFromUrl(n.url), url: n.url, enabled: true })
  })
  return { servers: assignIds(good), problems }
}

/** Builds a server list from plain URLs (CLI `--servers`). */
export function serversFromUrls(urls: string[]): {
  servers: ServerConfig[]
  problems: SettingsProblem[]
} {
  return importLegacyServers(urls)
}
