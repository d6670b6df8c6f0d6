/**
 * Hiding the secret parts of URLs: the password in `http://user:password@host` and the values of
 * `token=`, `key=`, `api_key=` style query parameters. Pure string work (no `URL` parsing), so
 * it also works on URLs that are refused for being broken, which is exactly when they get quoted
 * in a message. Used by the settings, the log and every face that shows a URL.
 */

/** What a hidden secret is shown as. */
export const HIDDEN = '***'

/**
 * Query or fragment parameters whose value is a secret: any name containing one of these words
 * (`token`, `access_token`, `auth_token_comfy_org`, `key`, `api_key`, `x-api-key`, ...).
 */
const SECRET_PARAM = /token|key|secret|passw|pwd|auth|signature|credential|session|cookie/i

/** Characters that end a URL inside text (whitespace, quotes, angle brackets, backtick). */
const URL_END = `\\s"'<>\``

/** `scheme://` at the start of a URL. */
const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i

/** Longest scheme looked for before a `://` in text (`https`, `ws`, `git+ssh`...). */
const MAX_SCHEME = 32

const isUrlEnd = (c: string) => /[\s"'<>`]/.test(c)
const isSchemeChar = (c: string) => /[a-z0-9+.-]/i.test(c)

/**
 * `user:password@host` without a scheme (a URL typed without `http://`), not preceded by a
 * character that would make it part of a longer word or URL. The lengths are bounded so that a
 * huge text is scanned in linear time; the settings quote single URLs through redactUrl, which
 * has no such bound.
 */
const BARE_USERINFO = new RegExp(
  `(^|[${URL_END}(\\[{,;=])([^${URL_END}/@:()\\[\\]{},;=]{1,256}):(?!//)([^${URL_END}@]{0,512})@(?=[a-z0-9\\[])`,
  'gi'
)

/** Hides the values of secret parameters in a `?query` or `#fragment`. */
function redactParams(rest: string): string {
  return rest.replace(/([?&#;])([^=&#;?]*)=([^&#;]*)/g, (m, sep: string, name: string, value) =>
    SECRET_PARAM.test(name) && value !== '' ? `${sep}${name}=${HIDDEN}` : m
  )
}

/** `user:pass` -> `user:***`; a lone `user` (often a token) -> `***`. */
function redactUserinfo(userinfo: string): string {
  const colon = userinfo.indexOf(':')
  if (colon < 0) return HIDDEN
  const user = userinfo.slice(0, colon)
  return `${user || HIDDEN}:${HIDDEN}`
}

/**
 * Where the userinfo of a URL ends (the index of its `@`), or -1. `body` is the URL after
 * `scheme://`. The userinfo ends at the last `@` before the first `?` or `#`; a password that
 * holds an unescaped `?` or `#` is still found when no `/` comes before its `@`. This hides too
 * much rather than too little: a path with an `@` in it is shown hidden up to that `@`.
 */
function userinfoEnd(body: string): number {
  const q = body.search(/[?#]/)
  const head = q < 0 ? body : body.slice(0, q)
  const at = head.lastIndexOf('@')
  if (at >= 0) return at
  if (q < 0) return -1
  const late = body.lastIndexOf('@')
  return late > q && !body.slice(0, late).includes('/') ? late : -1
}

/**
 * The URL with its credentials hidden: `http://user:secret@host:8188/x?token=abc` becomes
 * `http://user:***@host:8188/x?token=***`. Works on any text, valid URL or not, with or without
 * a scheme (`user:secret@host` becomes `user:***@host`). Text with nothing secret is returned as is.
 */
export function redactUrl(url: string): string {
  const scheme = SCHEME.exec(url)
  if (!scheme) {
    // No scheme: `user:pass@host...` (the form normalizeServerUrl completes with http://).
    const at = userinfoEnd(url)
    const slash = url.indexOf('/')
    if (at >= 0 && (slash < 0 || slash > at || url.slice(0, at).includes(':'))) {
      return `${redactUserinfo(url.slice(0, at))}@${redactParams(url.slice(at + 1))}`
    }
    return redactParams(url)
  }
  const head = scheme[0]
  const body = url.slice(head.length)
  const at = userinfoEnd(body)
  if (at < 0) return head + redactParams(body)
  return `${head}${redactUserinfo(body.slice(0, at))}@${redactParams(body.slice(at + 1))}`
}

/**
 * Finds every URL inside `text` (log lines, error messages, quoted JSON) and hides its
 * credentials with {@link redactUrl}; also `user:pass@host` written without a scheme.
 */
export function redactUrlsInText(text: string): string {
  if (!text.includes('@') && !text.includes('=')) return text
  let out = ''
  let pos = 0
  for (let i = text.indexOf('://'); i >= 0; i = text.indexOf('://', i + 3)) {
    if (i < pos) continue
    let start = i
    while (start > pos && i - start < MAX_SCHEME && isSchemeChar(text[start - 1]!)) start--
    while (start < i && !/[a-z]/i.test(text[start]!)) start++
    if (start === i) continue
    let end = i + 3
    // A quote may sit inside the password (it is legal there): when the authority, read up to
    // the first space or path character, holds an '@', the URL goes on at least past it.
    let auth = end
    while (auth < text.length && !/[\s/?#<>`]/.test(text[auth]!)) auth++
    const at = text.lastIndexOf('@', auth - 1)
    if (at >= end) end = at + 1
    while (end < text.length && !isUrlEnd(text[end]!)) end++
    out += text.slice(pos, start) + redactUrl(text.slice(start, end))
    pos = end
    i = end - 3
  }
  out += text.slice(pos)
  return out.replace(
    BARE_USERINFO,
    (_m, lead: string, user: string, pass: string) => `${lead}${user}:${pass ? HIDDEN : ''}@`
  )
}

export interface UrlCredentials {
  /** The URL without its `user:password@`. */
  url: string
  /** Decoded user name ('' when only a password is given). */
  username: string
  /** Decoded password ('' when none). */
  password: string
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

/**
 * Splits the credentials off an `http(s)://user:password@host` URL, for the HTTP client (which
 * sends them as `Authorization: Basic ...`; fetch refuses URLs with credentials). Null when the
 * URL has none.
 */
export function splitUrlCredentials(url: string): UrlCredentials | null {
  const scheme = SCHEME.exec(url)
  if (!scheme) return null
  const body = url.slice(scheme[0].length)
  const end = body.search(/[/?#]/)
  const authority = end < 0 ? body : body.slice(0, end)
  const at = authority.lastIndexOf('@')
  if (at < 0) return null
  const userinfo = authority.slice(0, at)
  const colon = userinfo.indexOf(':')
  const username = decode(colon < 0 ? userinfo : userinfo.slice(0, colon))
  const password = colon < 0 ? '' : decode(userinfo.slice(colon + 1))
  return { url: scheme[0] + body.slice(at + 1), username, password }
}

/** `Basic base64(user:password)` (UTF-8), the Authorization value for URL credentials. */
export function basicAuthorization(username: string, password: string): string {
  const bytes = new TextEncoder().encode(`${username}:${password}`)
  let bin = ''
  for (const b of bytes) bin += String.fromCharCode(b)
  return `Basic ${btoa(bin)}`
}
