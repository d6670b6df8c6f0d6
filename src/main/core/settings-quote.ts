/**
 * How a settings problem is worded: the problem itself (a dotted path and a message), a bad
 * value quoted short and safe (URL credentials hidden before any cut, lists and objects only
 * named since they may hold headers), and the reading of an object's own values only, so a
 * `__proto__` key in a hand-edited file cannot bring in inherited ones.
 */
import { redactUrl, redactUrlsInText } from '../../shared/urls'

export interface SettingsProblem {
  /** Dotted path of the bad value, e.g. `servers.1.url` or `timeout`. */
  path: string
  message: string
}

/**
 * The bad value as a short text for a message. Strings are quoted with URL credentials hidden
 * (hidden before cutting, so a cut never shows part of a password); lists and objects are only
 * named, never dumped, since they may hold headers. Never throws, whatever the value.
 */
export function quote(v: unknown): string {
  if (typeof v === 'string') {
    const s = JSON.stringify(redactUrlsInText(v))
    return s.length > 80 ? `${s.slice(0, 77)}...` : s
  }
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v)
  if (v === null) return 'null'
  if (v === undefined) return 'nothing'
  if (Array.isArray(v)) return v.length === 1 ? 'a list of 1 item' : `a list of ${v.length} items`
  if (typeof v === 'object') return 'an object'
  return `a ${typeof v}`
}

/** A URL someone typed, quoted for a message with its credentials hidden. */
export function quoteUrl(v: unknown): string {
  // The whole text, never a cut: a cut inside a long password would show its start.
  return typeof v === 'string' ? quote(redactUrl(v)) : quote(v)
}

/** Own enumerable value of `key`, never one inherited through a prototype. */
export function own(obj: object, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(obj, key)
    ? (obj as Record<string, unknown>)[key]
    : undefined
}
