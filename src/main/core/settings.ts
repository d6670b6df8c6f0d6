/**
 * Settings: schema, defaults, and validation with messages that quote the bad value. Everything
 * here may come from a hand-edited file, so nothing is trusted: wrong types, huge strings, deep
 * nesting and `__proto__` keys give a problem for that value and every other value is kept.
 * Problem texts never show a secret (URLs are quoted with their password and secret query
 * values hidden, server headers never at all). Server lists, their URLs and credentials, and
 * the import of the original "primary + comma-separated backups" form are in
 * `settings-servers.ts`, the wording of problems in `settings-quote.ts`; both are re-exported
 * here. Server URLs may carry credentials (`http://user:password@host:8188`): they are kept in
 * `url` and shown only redacted; the HTTP client sends them as an `Authorization: Basic ...`
 * header (`splitUrlCredentials` and `basicAuthorization` in `src/shared/urls.ts`), and an
 * `Authorization` header set on the server itself wins over them.
 */
import { z } from 'zod'
import type {
  AppPreferences,
  AppSettings,
  GatewaySettings,
  BalancerSettings,
  NotificationSettings
} from '../../shared/types'
import { redactUrlsInText } from '../../shared/urls'
import { own, quote, type SettingsProblem } from './settings-quote'
import { parseServerList } from './settings-servers'

export type { SettingsProblem } from './settings-quote'
export {
  HEADER_LIMITS,
  MAX_LISTED_PROBLEMS,
  MAX_SERVERS,
  MAX_URL_LENGTH,
  assignIds,
  importLegacyServers,
  nameFromUrl,
  normalizeServerUrl,
  parseServer,
  parseServerList,
  serverKey,
  serversFromUrls,
  type DraftServer
} from './settings-servers'

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
  jobHistoryLimit: 500,
  gateway: Object.freeze({ enabled: true, host: '127.0.0.1', port: 8288, token: null })
})

/** Every setting at its default, with no servers. */
export function defaultSettings(): AppSettings {
  return {
    ...DEFAULT_SETTINGS,
    ...DEFAULT_PREFERENCES,
    notifications: { ...DEFAULT_PREFERENCES.notifications },
    gateway: { ...DEFAULT_GATEWAY },
    servers: []
  }
}

export const DEFAULT_GATEWAY: Readonly<GatewaySettings> = DEFAULT_PREFERENCES.gateway!

/** True for addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase()
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)
}

/** The gateway part of a settings file: each bad value reported, the previous one kept. */
function parseGateway(raw: unknown, prev: GatewaySettings, problems: SettingsProblem[]) {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    problems.push({ path: 'gateway', message: `gateway must be an object, got ${quote(raw)}` })
    return prev
  }
  const next: GatewaySettings = { ...prev }
  const enabled = own(raw, 'enabled')
  if (enabled !== undefined) {
    if (typeof enabled === 'boolean') next.enabled = enabled
    else
      problems.push({ path: 'gateway.enabled', message: 'gateway.enabled must be true or false' })
  }
  const port = own(raw, 'port')
  if (port !== undefined) {
    if (typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65_535)
      next.port = port
    else
      problems.push({
        path: 'gateway.port',
        message: `gateway.port must be a whole number from 1 to 65535, got ${quote(port)}`
      })
  }
  const host = own(raw, 'host')
  if (host !== undefined) {
    if (typeof host === 'string' && /^[A-Za-z0-9.:[\]-]{1,255}$/.test(host)) next.host = host
    else
      problems.push({
        path: 'gateway.host',
        message: 'gateway.host must be a host name or address'
      })
  }
  const token = own(raw, 'token')
  if (token !== undefined) {
    // Never quoted: it is a secret.
    if (token === null || token === '') next.token = null
    else if (
      typeof token === 'string' &&
      token.length >= 16 &&
      token.length <= 512 &&
      !/\s/.test(token)
    )
      next.token = token
    else
      problems.push({
        path: 'gateway.token',
        message: 'gateway.token must be 16 to 512 characters without spaces, or null'
      })
  }
  if (!isLoopbackHost(next.host) && !next.token) {
    problems.push({
      path: 'gateway.host',
      message: 'A gateway reachable from other machines needs a token; it stays on 127.0.0.1'
    })
    next.host = DEFAULT_GATEWAY.host
  }
  return next
}

/** Bounds that keep a hand-edited value from hurting the user or the servers. */
export const LIMITS = {
  healthCheckInterval: { min: 500, max: 3_600_000 },
  timeout: { min: 100, max: 600_000 },
  retryAttempts: { min: 0, max: 20 },
  jobHistoryLimit: { min: 10, max: 100_000 }
} as const

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

export interface ParsedSettings {
  settings: AppSettings
  /** Every value that was rejected; its default (or the previous value) was kept instead. */
  problems: SettingsProblem[]
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

const NOTIFICATION_KINDS = ['serverDown', 'serverUp', 'jobDone', 'jobFailed', 'sound'] as const

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
  const obj = raw
  const out: AppSettings = { ...base }
  for (const key of Object.keys(fields) as Array<keyof typeof fields>) {
    try {
      const v = own(obj, key)
      if (v === undefined) continue
      const r = fields[key].safeParse(v)
      if (r.success) (out as unknown as Record<string, unknown>)[key] = r.data
      else problems.push({ path: key, message: r.error.issues[0]?.message ?? `Bad ${key}` })
    } catch {
      problems.push({ path: key, message: `${key} could not be read` })
    }
  }
  const notifications = own(obj, 'notifications')
  if (notifications !== undefined) {
    const n = notifications
    if (!n || typeof n !== 'object' || Array.isArray(n)) {
      problems.push({
        path: 'notifications',
        message: `notifications must be an object, got ${quote(n)}`
      })
    } else {
      const next: NotificationSettings = { ...out.notifications }
      for (const k of NOTIFICATION_KINDS) {
        const v = own(n, k)
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
  const gateway = own(obj, 'gateway')
  if (gateway !== undefined) {
    out.gateway = parseGateway(gateway, out.gateway ?? { ...DEFAULT_GATEWAY }, problems)
  }
  const servers = own(obj, 'servers')
  if (servers !== undefined) {
    if (!Array.isArray(servers)) {
      problems.push({ path: 'servers', message: `servers must be a list, got ${quote(servers)}` })
    } else {
      const r = parseServerList(servers)
      out.servers = r.servers
      problems.push(...r.problems)
    }
  }
  // Last guard: no message leaves with a URL password in it, whoever wrote it.
  for (const p of problems) p.message = redactUrlsInText(p.message)
  return { settings: out, problems }
}
