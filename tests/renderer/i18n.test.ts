import { afterEach, describe, expect, it } from 'vitest'
import {
  localeFor,
  MESSAGES,
  partsText,
  pickLocale,
  setLocale,
  t,
  tn,
  tParts
} from '../../src/renderer/src/lib/i18n.svelte'

afterEach(() => setLocale('en'))

const names = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort()

describe('i18n', () => {
  it('fills placeholders and leaves unknown ones visible', () => {
    expect(t('summaryBest', { up: 2, total: 3, best: 'gpu-1', queued: 'x' })).toBe(
      '2/3 up, best gpu-1, x'
    )
    expect(t('summaryBest', { up: 2 })).toBe('2/{total} up, best {best}, {queued}')
  })

  it('counts in English, and the same way in Chinese', () => {
    expect(tn('nodeCount', 1)).toBe('1 node')
    expect(tn('nodeCount', 7)).toBe('7 nodes')
    expect(tn('nodeCount', 0)).toBe('0 nodes')
    setLocale('zh-CN')
    expect(tn('nodeCount', 1)).toBe('1 个节点')
  })

  it('keeps quoted values apart, so the page can mark them', () => {
    const parts = tParts(
      'summaryBest',
      { up: 1, total: 2, queued: 'nothing queued' },
      { best: 'gpu-1' }
    )
    expect(parts).toEqual([
      { text: '1/2 up, best ', literal: false },
      { text: 'gpu-1', literal: true },
      { text: ', nothing queued', literal: false }
    ])
    expect(partsText(parts)).toBe('1/2 up, best gpu-1, nothing queued')
    expect(tParts('checkNow')).toEqual([{ text: 'Check now', literal: false }])
  })

  it('speaks Simplified Chinese to Chinese systems, and follows the setting', () => {
    expect(pickLocale(['zh-TW', 'en'])).toBe('zh-CN')
    expect(pickLocale(['de-DE', 'en-GB'])).toBe('en')
    expect(pickLocale(['fr'])).toBe('en')
    expect(localeFor('zh-CN')).toBe('zh-CN')
    expect(localeFor('en')).toBe('en')
    // jsdom says en-US.
    expect(localeFor('system')).toBe('en')
    setLocale('zh-CN')
    expect(t('checkNow')).toBe('立即检查')
  })

  it('has every text in every language, with the same placeholders', () => {
    for (const [key, en] of Object.entries(MESSAGES.en)) {
      const zh = MESSAGES['zh-CN'][key as keyof typeof MESSAGES.en]
      if (en) expect(zh, key).toBeTruthy()
      expect(names(zh), key).toEqual(names(en))
    }
    expect(Object.keys(MESSAGES['zh-CN']).sort()).toEqual(Object.keys(MESSAGES.en).sort())
  })

  it('has both forms of every counted text', () => {
    const keys = Object.keys(MESSAGES.en)
    for (const key of keys.filter((k) => k.endsWith('_one'))) {
      expect(keys, key).toContain(key.replace(/_one$/, '_other'))
    }
    for (const key of keys.filter((k) => k.endsWith('_other'))) {
      expect(keys, key).toContain(key.replace(/_other$/, '_one'))
    }
  })

  it('writes Chinese texts without stray English words', () => {
    // The few words Chinese UIs write in Latin letters too, and what a text quotes by design.
    // Schemes and header words are typed as they are, in any language.
    const allowed =
      /^(Comfy|Balancer|ComfyUI|GPU|API|PNG|JSON|json|png|URL|HTTP|HTTPS|IP|MB|GB|KB|http|https|Authorization|Bearer)$/
    const stray = Object.entries(MESSAGES['zh-CN']).flatMap(([key, zh]) =>
      (zh.replace(/\{\w+\}/g, '').match(/[A-Za-z]+/g) ?? [])
        .filter((w) => !allowed.test(w))
        .map((w) => `${key}: ${w}`)
    )
    expect(stray).toEqual([])
  })
})
