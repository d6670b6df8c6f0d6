/**
 * Server lists from untrusted settings: one entry (a URL or an object with url, name, id,
 * enabled and headers) checked and cleaned, its URL normalised (credentials kept, shown only
 * redacted), its headers checked without ever quoting a value, unique ids given, duplicates of
 * one URL merged (the same server with two logins is one server, `serverKey`) and the list
 * capped; plus the import of the original "primary + comma-separated backups" form.
 */
import { z } from 'zod'
import type { ServerConfig } from '../../shared/types'
import { redactUrlsInText, splitUrlCredentials } from '../../shared/urls'
import { own, quote, quoteUrl, type SettingsProblem } from './settings-quote'

/** Most servers one settings file may list; the rest are dropped with one problem. */
export const MAX_SERVERS = 2000

/** Bad server entries reported one by one; the rest are counted in one more problem. */
export const MAX_LISTED_PROBLEMS = 20

/** Limits of the headers of one server (a long JWT fits easily). */
export const HEADER_LIMITS = { count: 50, nameLength: 256, valueLength: 16_384 } as const

/** Longest server URL accepted. */
export const MAX_URL_LENGTH = 2000

/**
 * Normalises a server URL: adds `http://` when no scheme is given, strips the trailing slash,
 * and rejects anything that is not http(s) with a host. Credentials (`user:password@`) are kept,
 * percent-encoded as the URL standard writes them. Returns an error text instead of throwing;
 * the error quotes the input with its credentials hidden.
 */
export function normalizeServerUrl(input: string): { url: string } | { error: string } {
  if (typeof input !== 'string') return { error: `A server URL must be text, got ${quote(input)}` }
  if (input.length > MAX_URL_LENGTH) {
    return { error: `The server URL is too long (over ${MAX_URL_LENGTH} characters)` }
  }
  const raw = input.trim()
  if (!raw) return { error: 'The server URL is empty' }
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`
  let u: URL
  try {
    u = new URL(withScheme)
  } catch {
    return { error: `Not a valid URL: ${quoteUrl(input)}` }
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    return { error: `Only http:// and https:// servers are supported, got ${quoteUrl(input)}` }
  }
  if (!u.hostname) return { error: `The URL has no host: ${quoteUrl(input)}` }
  if (u.search || u.hash)
    return { error: `The URL must not have ?query or #fragment: ${quoteUrl(input)}` }
  const path = u.pathname.replace(/\/+$/, '')
  const userinfo =
    u.username || u.password ? `${u.username}${u.password ? `:${u.password}` : ''}@` : ''
  return { url: `${u.protocol}//${userinfo}${u.host}${path}` }
}

/**
 * What makes two servers the same: the normalised URL without its credentials (the same
 * server reached with two logins is still one server). Give it a normalised URL.
 */
export function serverKey(url: string): string {
  return splitUrlCredentials(url)?.url ?? url
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

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/**
 * Checks the headers of one server. Messages name the header but never show its value.
 */
function parseHeaders(raw: unknown): { headers: Record<string, string> } | { error: string } {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    // Only the kind of value: headers hold secrets even when malformed.
    const kind =
      typeof raw === 'string' ? 'text' : typeof raw === 'number' ? 'a number' : quote(raw)
    return { error: `headers must be an object of names and values, got ${kind}` }
  }
  const names = Object.keys(raw)
  if (names.length > HEADER_LIMITS.count) {
    return {
      error: `A server may have at most ${HEADER_LIMITS.count} headers, got ${names.length}`
    }
  }
  const out: Array<[string, string]> = []
  for (const [i, name] of names.entries()) {
    if (name === '__proto__') return { error: 'A header may not be named "__proto__"' }
    if (!HEADER_NAME.test(name) || name.length > HEADER_LIMITS.nameLength) {
      // Not quoted: a bad name is often a whole pasted line, "Authorization: Bearer <token>".
      return {
        error: `Header names may only contain letters, digits and - _ . etc. (header ${i + 1})`
      }
    }
    const shown = quote(name.slice(0, 60))
    const value = own(raw, name)
    if (typeof value !== 'string') return { error: `The value of header ${shown} must be text` }
    if (value.length > HEADER_LIMITS.valueLength) {
      return { error: `The value of header ${shown} is too long` }
    }
    if (/[\r\n\0]/.test(value)) {
      return { error: `The value of header ${shown} must not contain line breaks` }
    }
    out.push([name, value])
  }
  return { headers: Object.fromEntries(out) }
}

const serverSchema = z.object({
  id: z.string().min(1).max(100).optional(),
  name: z.string().max(200).optional(),
  url: z.string().max(MAX_URL_LENGTH),
  enabled: z.boolean().optional()
})

/** A server before it has its final id. */
export type DraftServer = Omit<ServerConfig, 'id'> & { id?: string }

function slug(s: string): string {
  return (
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60) || 'server'
  )
}

/**
 * Gives every server a unique id, deriving it from the name or URL when missing. Linear: the
 * next free number of each base is remembered, so many servers of one name stay cheap.
 */
export function assignIds(servers: DraftServer[]): ServerConfig[] {
  const used = new Set<string>()
  const next = new Map<string, number>()
  return servers.map((s) => {
    const base = slug(s.id ?? s.name ?? nameFromUrl(s.url))
    let id = base
    if (used.has(id)) {
      let i = next.get(base) ?? 2
      while (used.has(`${base}-${i}`)) i++
      id = `${base}-${i}`
      next.set(base, i + 1)
    }
    used.add(id)
    return { ...s, id }
  })
}

/** Who a refused entry is, for its message: its name or its URL (credentials hidden). */
function entryLabel(r: Record<string, unknown>): string {
  const name = typeof r.name === 'string' && r.name.trim() ? r.name.trim().slice(0, 60) : ''
  if (name) return quote(name)
  return typeof r.url === 'string' ? quoteUrl(r.url) : 'no URL'
}

/**
 * Parses one server entry (untrusted). Returns the cleaned server or the reason it was refused.
 * The reason names the entry by its name or URL (credentials hidden), never by its headers.
 */
export function parseServer(raw: unknown): { server: DraftServer } | { error: string } {
  if (typeof raw === 'string') raw = { url: raw }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    return { error: `A server must be a URL or an object with a url, got ${quote(raw)}` }
  }
  // Own values only, so a `__proto__` key cannot smuggle in inherited ones.
  const r0: Record<string, unknown> = {}
  for (const k of ['id', 'name', 'url', 'enabled', 'headers']) {
    const v = own(raw, k)
    if (v !== undefined) r0[k] = v
  }
  const r = serverSchema.safeParse(r0)
  if (!r.success) {
    const issue = r.error.issues[0]
    const where = issue?.path.join('.') || 'entry'
    return { error: `Bad server ${where}: ${issue?.message ?? 'invalid'} (${entryLabel(r0)})` }
  }
  const n = normalizeServerUrl(r.data.url)
  if ('error' in n) return { error: n.error }
  let headers: Record<string, string> | undefined
  if (r0.headers !== undefined) {
    const h = parseHeaders(r0.headers)
    if ('error' in h) return { error: `Bad server headers: ${h.error} (${entryLabel(r0)})` }
    headers = h.headers
  }
  const name = r.data.name?.trim() || nameFromUrl(n.url)
  const out: DraftServer = { name, url: n.url, enabled: r.data.enabled ?? true }
  if (r.data.id) out.id = r.data.id
  if (headers && Object.keys(headers).length) out.headers = headers
  return { server: out }
}

/**
 * Folds `dup` into `kept` (the first entry with the same URL): `kept` stays as it is, and only
 * gains the headers it lacks and the credentials when its URL has none.
 */
function mergeDuplicate(kept: DraftServer, dup: DraftServer): void {
  if (dup.headers) {
    const have = new Set(Object.keys(kept.headers ?? {}).map((k) => k.toLowerCase()))
    const extra = Object.entries(dup.headers).filter(([k]) => !have.has(k.toLowerCase()))
    if (extra.length) kept.headers = { ...kept.headers, ...Object.fromEntries(extra) }
  }
  if (!splitUrlCredentials(kept.url) && splitUrlCredentials(dup.url)) kept.url = dup.url
}

/**
 * Servers from an untrusted list, in linear time: bad entries are reported (the first
 * {@link MAX_LISTED_PROBLEMS} one by one, the rest counted), entries with the same URL are
 * merged into the first with one problem saying how many, and past {@link MAX_SERVERS} the
 * rest are dropped with one problem. Paths are `${path}.${index}` for single entries.
 */
export function parseServerList(
  list: readonly unknown[],
  path = 'servers'
): { servers: ServerConfig[]; problems: SettingsProblem[] } {
  const problems: SettingsProblem[] = []
  const byKey = new Map<string, DraftServer>()
  let bad = 0
  let merged = 0
  let dropped = 0
  for (let i = 0; i < list.length; i++) {
    let p: ReturnType<typeof parseServer>
    try {
      p = parseServer(list[i])
    } catch {
      p = { error: 'This server entry could not be read' }
    }
    if ('error' in p) {
      if (++bad <= MAX_LISTED_PROBLEMS) problems.push({ path: `${path}.${i}`, message: p.error })
      continue
    }
    const key = serverKey(p.server.url)
    const kept = byKey.get(key)
    if (kept) {
      mergeDuplicate(kept, p.server)
      merged++
    } else if (byKey.size >= MAX_SERVERS) {
      dropped++
    } else {
      byKey.set(key, p.server)
    }
  }
  if (bad > MAX_LISTED_PROBLEMS) {
    problems.push({
      path,
      message: `${bad - MAX_LISTED_PROBLEMS} more bad server entries were left out`
    })
  }
  if (merged) {
    problems.push({
      path,
      message:
        merged === 1
          ? '1 server was listed twice (same URL) and was merged into the first one'
          : `${merged} servers were listed more than once (same URL) and were merged into the first ones`
    })
  }
  if (dropped) {
    problems.push({
      path,
      message: `Only the first ${MAX_SERVERS} servers are kept; ${dropped} more were left out`
    })
  }
  return { servers: assignIds([...byKey.values()]), problems }
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
  const good: DraftServer[] = []
  let bad = 0
  let dropped = 0
  urls.forEach((u, i) => {
    const n = normalizeServerUrl(u)
    if ('error' in n) {
      if (++bad <= MAX_LISTED_PROBLEMS) problems.push({ path: `urls.${i}`, message: n.error })
      return
    }
    const key = serverKey(n.url)
    if (seen.has(key)) return
    if (seen.size >= MAX_SERVERS) {
      dropped++
      return
    }
    seen.add(key)
    good.push({ name: nameFromUrl(n.url), url: n.url, enabled: true })
  })
  if (bad > MAX_LISTED_PROBLEMS) {
    problems.push({
      path: 'urls',
      message: `${bad - MAX_LISTED_PROBLEMS} more bad URLs were left out`
    })
  }
  if (dropped) {
    problems.push({
      path: 'urls',
      message: `Only the first ${MAX_SERVERS} servers are kept; ${dropped} more were left out`
    })
  }
  for (const p of problems) p.message = redactUrlsInText(p.message)
  return { servers: assignIds(good), problems }
}

/** Builds a server list from plain URLs (CLI `--servers`). */
export function serversFromUrls(urls: string[]): {
  servers: ServerConfig[]
  problems: SettingsProblem[]
} {
  return importLegacyServers(urls)
}
