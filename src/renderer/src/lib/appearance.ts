/**
 * Theme and language on the page: the theme as a `data-theme` attribute on <html> (absent:
 * follow the system), the language as its `lang`. Both are also remembered in localStorage,
 * so a reload paints in the right theme and language before the settings arrive from main.
 */
import type { Language, Theme } from '../../../shared/types'

const KEY = 'comfy-balancer.appearance'

export interface Appearance {
  language: Language
  theme: Theme
}

export function rememberedAppearance(storage: Storage | undefined = globalStorage()): Appearance {
  const fallback: Appearance = { language: 'system', theme: 'system' }
  try {
    const raw = JSON.parse(storage?.getItem(KEY) ?? 'null') as Partial<Appearance> | null
    return {
      language: raw?.language === 'en' || raw?.language === 'zh-CN' ? raw.language : 'system',
      theme: raw?.theme === 'light' || raw?.theme === 'dark' ? raw.theme : 'system'
    }
  } catch {
    return fallback
  }
}

export function rememberAppearance(a: Appearance, storage = globalStorage()): void {
  try {
    storage?.setItem(KEY, JSON.stringify(a))
  } catch {
    // Storage full or off: the settings from main still apply, a moment later.
  }
}

export function applyTheme(theme: Theme, root: HTMLElement = document.documentElement): void {
  if (theme === 'system') delete root.dataset.theme
  else root.dataset.theme = theme
}

function globalStorage(): Storage | undefined {
  try {
    return typeof localStorage === 'undefined' ? undefined : localStorage
  } catch {
    return undefined
  }
}
