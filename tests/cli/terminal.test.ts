import { describe, expect, it } from 'vitest'
import { stripControls, terminalJson } from '../../src/shared/terminal'

describe('stripControls', () => {
  it('removes CSI, OSC and other escape sequences whole, keeping the text around them', () => {
    expect(stripControls('a\x1b[2Jb\x1b[1;31mc\x1b[0m')).toBe('abc')
    expect(stripControls('x\x1b]52;c;aGVsbG8=\x07y')).toBe('xy')
    expect(stripControls('x\x1b]0;title\x1b\\y')).toBe('xy')
    expect(stripControls('x\x1bPq#0;2;0;0;0\x1b\\y')).toBe('xy')
    expect(stripControls('x\x1b(By\x1bcz')).toBe('xyz')
    expect(stripControls('x\x9b31my\x9d8;;http://e\x9cz')).toBe('xyz')
    expect(stripControls('unterminated \x1b]52;c;AAAA')).toBe('unterminated ')
  })

  it('removes C0/C1 controls and bidi overrides but keeps newlines and tabs', () => {
    expect(stripControls('a\tb\nc\rd\x00e\x07f\x08g\x7fh\x85i')).toBe('a\tb\ncdefghi')
    expect(stripControls('abc\u202edcba\u202c \u2066x\u2069 \u200f')).toBe('abcdcba x ')
    expect(stripControls('日本語 café ok')).toBe('日本語 café ok')
  })

  it('terminalJson keeps the data but escapes C1 and bidi controls', () => {
    const v = { s: 'a\x1b[2J\x9b\u202eb' }
    const text = terminalJson(v)
    // eslint-disable-next-line no-control-regex
    expect(text).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e]/)
    expect(JSON.parse(text)).toEqual(v)
  })
})
