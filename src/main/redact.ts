/**
 * Keeps server credentials out of every log line (file, console, window). The core quotes bad
 * values in its messages, and a bad server entry can carry its headers, so every line passes
 * through here before it is written or shown. URLs lose their password and secret query values
 * (`http://user:***@host`), and the passwords of the configured server URLs are hidden wherever
 * they show up alone.
 */
import type { AppSettings } from '../shared/types'
import { redactUrlsInText, splitUrlCredentials } from '../shared/urls'

export const REDACTED = '[redacted]'

/** Shorter values are not hidden by value (they would blank out ordinary words). */
const MIN_SECRET_LENGTH = 4

/** `Authorization: Bearer abc`, `"x-api-key":"abc"`, `token=abc` and similar, whatever the value. */
const CREDENTIAL_FIELD =
  /((?:authorization|proxy-authorization|cookie|x-api-key|api[-_]?key|token|password|secret)["']?\s*[:=]\s*["']?)(?:(?:bearer|basic|token)\s+)?[^"'\s,;}]+/gi

/**
 * A server entry quoted as JSON (the core quotes refused entries, cut at 80 characters): its
 * `headers` object is hidden whole, known values or not.
 */
const QUOTED_HEADERS = /("headers"\s*:\s*)\{[^}]*\}?/g

export class SecretRedactor {
  /** Longest first, so a value that contains another is hidden whole. */
  private secrets: string[] = []

  /** Learns the header values and URL passwords of every server (call on every settings change). */
  update(settings: Pick<AppSettings, 'servers'>): void {
    const found = new Set<string>()
    for (const s of settings.servers) {
      const creds = splitUrlCredentials(s.url)
      // A lone user name (`http://token@host`) is often a token itself.
      const secret = creds ? creds.password || creds.username : ''
      if (secret.length >= MIN_SECRET_LENGTH) {
        found.add(secret)
        found.add(encodeURIComponent(secret))
      }
      for (const value of Object.values(s.headers ?? {})) {
        const v = value.trim()
        if (v.length >= MIN_SECRET_LENGTH) found.add(v)
        // "Bearer abc": the token alone shows up in messages too.
        const token = v.split(/\s+/).slice(1).join(' ')
        if (token.length >= MIN_SECRET_LENGTH) found.add(token)
      }
    }
    this.secrets = [...found].sort((a, b) => b.length - a.length)
  }

  redact(text: string): string {
    let out = redactUrlsInText(text)
    for (const s of this.secrets) {
      if (out.includes(s)) out = out.split(s).join(REDACTED)
      // The core quotes values as JSON, which escapes quotes and backslashes.
      const quoted = JSON.stringify(s).slice(1, -1)
      if (quoted !== s && out.includes(quoted)) out = out.split(quoted).join(REDACTED)
    }
    return out
      .replace(QUOTED_HEADERS, (_m, key: string) => `${key}{${REDACTED}}`)
      .replace(CREDENTIAL_FIELD, (_m, field: string) => `${field}${REDACTED}`)
  }
}
