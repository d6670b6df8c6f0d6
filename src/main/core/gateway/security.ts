/**
 * Who may talk to the gateway: the token, the Host header (DNS rebinding) and the browser's
 * Origin (a web page the artist visits must not queue jobs or read images).
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

/** True for addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase()
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)
}

/** True for "every interface" addresses. */
function isWildcardHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '')
  return h === '0.0.0.0' || h === '::'
}

/** Equal strings, in time that does not depend on where they differ. */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest()
  const b = createHash('sha256').update(expected, 'utf8').digest()
  return timingSafeEqual(a, b)
}

export interface AccessRules {
  /** The address the gateway listens on. */
  host: string
  port: number
  token: string | null
  /** Origins (`http://host:port`) allowed besides the gateway's own. */
  allowedOrigins: string[]
  /** More Host names (with or without port) accepted, e.g. the machine's LAN name. */
  allowedHosts: string[]
}

export type Refusal = { status: 401 | 403 | 421; reason: string }

/** `host:port` lower-cased, with `[...]` kept for IPv6. */
function hostKey(host: string): string {
  return host.trim().toLowerCase()
}

/** The Host header values that name the gateway itself. */
function ownHosts(rules: AccessRules): Set<string> {
  const names = new Set<string>(['127.0.0.1', 'localhost', '[::1]'])
  const h = rules.host.includes(':') && !rules.host.startsWith('[') ? `[${rules.host}]` : rules.host
  names.add(h.toLowerCase())
  const out = new Set<string>()
  for (const n of names) {
    out.add(`${n}:${rules.port}`)
    if (rules.port === 80) out.add(n)
  }
  for (const extra of rules.allowedHosts) {
    const k = hostKey(extra)
    out.add(k)
    if (!/:\d+$/.test(k)) out.add(`${k}:${rules.port}`)
  }
  return out
}

/** The `host[:port]` of an Origin header, or null when it is not an http(s) origin. */
function originNetloc(origin: string): string | null {
  try {
    const u = new URL(origin)
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null
    return u.host.toLowerCase()
  } catch {
    return null
  }
}

function allowedOrigin(origin: string, rules: AccessRules): boolean {
  const o = origin.replace(/\/+$/, '').toLowerCase()
  return rules.allowedOrigins.some((a) => a.replace(/\/+$/, '').toLowerCase() === o)
}

/** The token a request carries: `Authorization: Bearer T`, else `?token=T`. */
export function requestToken(req: IncomingMessage, url: URL): string | null {
  const auth = req.headers.authorization
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim())
    if (m) return m[1]!.trim()
  }
  return url.searchParams.get('token')
}

/**
 * Why a request is refused, or null when it may go on. Checked in this order: Host (a page
 * on another name that resolves here), Origin and Sec-Fetch-Site (a page of another site),
 * then the token.
 */
export function checkAccess(req: IncomingMessage, url: URL, rules: AccessRules): Refusal | null {
  const host = typeof req.headers.host === 'string' ? hostKey(req.headers.host) : ''
  const anyHost = isWildcardHost(rules.host) && rules.token !== null
  if (!host || (!anyHost && !ownHosts(rules).has(host))) {
    return { status: 403, reason: 'This address is not the gateway’s own' }
  }
  const origin = req.headers.origin
  const site = req.headers['sec-fetch-site']
  if (typeof origin === 'string' && !allowedOrigin(origin, rules)) {
    const netloc = originNetloc(origin)
    if (netloc === null || netloc !== host) {
      return { status: 403, reason: 'Requests from other web pages are not allowed' }
    }
  }
  if (site === 'cross-site' && !(typeof origin === 'string' && allowedOrigin(origin, rules))) {
    return { status: 403, reason: 'Requests from other web pages are not allowed' }
  }
  if (rules.token !== null) {
    const given = requestToken(req, url)
    if (given === null || !sameSecret(given, rules.token)) {
      return { status: 401, reason: 'A valid token is needed' }
    }
  }
  return null
}
