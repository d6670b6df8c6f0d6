/**
 * The window's language: the current locale as reactive state (every `t(...)` in a template
 * re-renders when it changes, so the language setting switches at once), the lookup with
 * `{name}` placeholders, and English plurals. The texts are in `messages.ts`.
 */
import type { Language } from '../../../shared/types'
import { MESSAGES, type Locale, type MessageKey } from './messages'

export { MESSAGES, type Locale, type MessageKey }

/** The best supported locale for a list of preferred languages (e.g. `navigator.languages`). */
export function pickLocale(preferred: readonly string[]): Locale {
  for (const lang of preferred) {
    if (lang.toLowerCase().startsWith('zh')) return 'zh-CN'
    if (lang.toLowerCase().startsWith('en')) return 'en'
  }
  return 'en'
}

/** What the system asks for (the page's `navigator.languages`). */
export function systemLocale(): Locale {
  if (typeof navigator === 'undefined') return 'en'
  return pickLocale(navigator.languages?.length ? navigator.languages : [navigator.language])
}

/** The locale for the language setting: 'system' follows the system. */
export function localeFor(language: Language): Locale {
  return language === 'system' ? systemLocale() : language
}

let current = $state<Locale>(systemLocale())

export function setLocale(locale: Locale): void {
  current = locale
}

export function getLocale(): Locale {
  return current
}

type Values = Record<string, string | number>

/** The text for a key in the current locale, with `{name}` placeholders filled in. */
export function t(key: MessageKey, values: Values = {}): string {
  return fill(MESSAGES[current][key] ?? MESSAGES.en[key], values)
}

/**
 * A text made of translated words and quoted values (a server name, a URL, an error the engine
 * wrote): the page marks each quoted part `translate="no"` (see `Said.svelte`).
 */
export interface Part {
  text: string
  /** Shown as it is, in no particular language. */
  literal: boolean
}

/**
 * `t` for a text with quoted values: `values` are filled in as words of the text, `literals`
 * become their own parts, marked as quoted.
 */
export function tParts(
  key: MessageKey,
  values: Values = {},
  literals: Record<string, string> = {}
): Part[] {
  const template: string = MESSAGES[current][key] ?? MESSAGES.en[key]
  const parts: Part[] = []
  let last = 0
  for (const m of template.matchAll(/\{(\w+)\}/g)) {
    const name = m[1]!
    if (!(name in literals)) continue
    if (m.index > last) {
      parts.push({ text: fill(template.slice(last, m.index), values), literal: false })
    }
    parts.push({ text: literals[name]!, literal: true })
    last = m.index + m[0].length
  }
  if (last < template.length)
    parts.push({ text: fill(template.slice(last), values), literal: false })
  return parts
}

/** The plain text of parts (for labels, tests, the clipboard). */
export function partsText(parts: readonly Part[]): string {
  return parts.map((p) => p.text).join('')
}

function fill(template: string, values: Values): string {
  return template.replace(/\{(\w+)\}/g, (m, name: string) =>
    name in values ? String(values[name]) : m
  )
}

/** Keys that come as a `_one` / `_other` pair, without the ending. */
export type PluralKey = {
  [K in MessageKey]: K extends `${infer Base}_one`
    ? `${Base}_other` extends MessageKey
      ? Base
      : never
    : never
}[MessageKey]

/** `t` for a count: `_one` for exactly 1, `_other` otherwise; `{n}` is the count. */
export function tn(key: PluralKey, n: number, values: Values = {}): string {
  return t(`${key}_${n === 1 ? 'one' : 'other'}` as MessageKey, { n, ...values })
}
