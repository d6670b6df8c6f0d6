/**
 * Checks of the server editor, as the user types: the URL (scheme, host, port) and the optional
 * auth header. The same rules as the engine's settings (`normalizeServerUrl`), which checks
 * again when the list is saved; these only say it sooner, next to the field.
 */

export type UrlProblem = 'empty' | 'spaces' | 'scheme' | 'host' | 'port' | 'query' | 'invalid'

export type UrlCheck =
  | {
      ok: true
      /** As it will be saved: scheme added, no trailing slash. */
      url: string
      /** True when `http://` was added to what the user typed. */
      addedScheme: boolean
      /** True when no port was given (ComfyUI itself listens on 8188). */
      noPort: boolean
    }
  | { ok: false; problem: UrlProblem }

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i

export function checkServerUrl(input: string): UrlCheck {
  const raw = input.trim()
  if (!raw) return { ok: false, problem: 'empty' }
  if (/\s/.test(raw)) return { ok: false, problem: 'spaces' }
  const scheme = SCHEME.exec(raw)?.[1]?.toLowerCase()
  if (scheme !== undefined && scheme !== 'http' && scheme !== 'https') {
    return { ok: false, problem: 'scheme' }
  }
  // "gpu-1:8188" has no scheme: the part before ':' is a host, not a scheme.
  const withScheme = scheme ? raw : `http://${raw}`
  const authority = withScheme.replace(SCHEME, '').split(/[/?#]/)[0] ?? ''
  const hostPort = authority.slice(authority.lastIndexOf('@') + 1)
  const port = /^(?:\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(hostPort)?.[1]
  if (port !== undefined && (!/^\d{1,5}$/.test(port) || +port < 1 || +port > 65535)) {
    return { ok: false, problem: 'port' }
  }
  let u: URL
  try {
    u = new URL(withScheme)
  } catch {
    return { ok: false, problem: hostPort ? 'invalid' : 'host' }
  }
  if (!u.hostname) return { ok: false, problem: 'host' }
  if (u.search || u.hash || /[?#]/.test(withScheme)) return { ok: false, problem: 'query' }
  const path = u.pathname.replace(/\/+$/, '')
  return {
    ok: true,
    url: `${u.protocol}//${u.host}${path}`,
    addedScheme: !scheme,
    noPort: !u.port && port === undefined
  }
}

/** `host:port` of a URL, the name a server gets when none is given. */
export function nameFromUrl(url: string): string {
  try {
    const u = new URL(url)
    return u.port ? `${u.hostname}:${u.port}` : u.hostname
  } catch {
    return url
  }
}

export type HeaderProblem = 'nameInvalid' | 'nameMissing' | 'valueLines'

/** The optional auth header: without a value there is none (whatever its name says). */
export function checkHeader(name: string, value: string): HeaderProblem | null {
  if (!value) return null
  const n = name.trim()
  if (!n) return 'nameMissing'
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(n)) return 'nameInvalid'
  if (/[\r\n\0]/.test(value)) return 'valueLines'
  return null
}
