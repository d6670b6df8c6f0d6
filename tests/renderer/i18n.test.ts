import { afterEach, describe, expect, it } from 'vitest'
import { MESSAGES, pickLocale, setLocale, t } from '../../src/renderer/src/lib/i18n'

afterEach(() => setLocale('en'))

describe('i18n', () => {
  it('fills placeholders and leaves unknown ones visible', () => {
    expect(t('summaryBest', { up: 2, total: 3, best: 'gpu-1' })).toBe('2/3 up, best gpu-1')
    expect(t('summaryBest', { up: 2 })).toBe('2/{total} up, best {best}')
  })

  it('speaks Simplified Chinese to Chinese systems', () => {
    expect(pickLocale(['zh-TW', 'en'])).toBe('zh-CN')
    expect(pickLocale(['de-DE', 'en-GB'])).toBe('en')
    expect(pickLocale(['fr'])).toBe('en')
    setLocale('zh-CN')
    expect(t('checkNow')).toBe('立即检查')
  })

  it('has every text in every language, with the same placeholders', () => {
    const names = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort()
    for (const [key, en] of Object.entries(MESSAGES.en)) {
      const zh = MESSAGES['zh-CN'][key as keyof typeof MESSAGES.en]
      expect(zh, key).toBeTruthy()
      expect(names(zh), key).toEqual(names(en))
    }
  })
})
