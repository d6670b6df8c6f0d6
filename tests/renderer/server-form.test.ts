import { describe, expect, it } from 'vitest'
import { checkHeader, checkServerUrl, nameFromUrl } from '../../src/renderer/src/lib/server-form'

describe('the server URL, checked as it is typed', () => {
  it.each([
    [
      'http://192.168.1.20:8188',
      { ok: true, url: 'http://192.168.1.20:8188', addedScheme: false, noPort: false }
    ],
    [
      '192.168.1.20:8188/',
      { ok: true, url: 'http://192.168.1.20:8188', addedScheme: true, noPort: false }
    ],
    [
      'https://comfy.example.com/',
      { ok: true, url: 'https://comfy.example.com', addedScheme: false, noPort: true }
    ],
    ['gpu-1:8188', { ok: true, url: 'http://gpu-1:8188', addedScheme: true, noPort: false }],
    [
      'http://[::1]:8188',
      { ok: true, url: 'http://[::1]:8188', addedScheme: false, noPort: false }
    ],
    ['https://box/comfy/', { ok: true, url: 'https://box/comfy', addedScheme: false, noPort: true }]
  ])('accepts %s', (input, expected) => {
    expect(checkServerUrl(input)).toEqual(expected)
  })

  it.each([
    ['', 'empty'],
    ['   ', 'empty'],
    ['http://gpu 1:8188', 'spaces'],
    ['ftp://gpu-1:8188', 'scheme'],
    ['ws://gpu-1:8188', 'scheme'],
    ['http://gpu-1:99999', 'port'],
    ['http://gpu-1:0', 'port'],
    ['http://gpu-1:81a8', 'port'],
    ['gpu-1:', 'port'],
    ['http://', 'host'],
    ['http://gpu-1:8188/?x=1', 'query'],
    ['http://gpu-1:8188#top', 'query'],
    ['http://gp%u-1', 'invalid']
  ])('refuses %j (%s)', (input, problem) => {
    expect(checkServerUrl(input)).toEqual({ ok: false, problem })
  })

  it('names a server after its host and port', () => {
    expect(nameFromUrl('http://gpu-1:8188')).toBe('gpu-1:8188')
    expect(nameFromUrl('https://comfy.example.com')).toBe('comfy.example.com')
  })
})

describe('the login header', () => {
  it('is optional, and checked once it has a value', () => {
    expect(checkHeader('Authorization', '')).toBeNull()
    expect(checkHeader('', '')).toBeNull()
    expect(checkHeader('Authorization', 'Bearer x')).toBeNull()
    expect(checkHeader('', 'Bearer x')).toBe('nameMissing')
    expect(checkHeader('Auth header', 'x')).toBe('nameInvalid')
    expect(checkHeader('X-Token', 'a\nb')).toBe('valueLines')
  })
})
