import { describe, expect, it } from 'vitest'
import {
  basicAuthorization,
  HIDDEN,
  redactUrl,
  redactUrlsInText,
  splitUrlCredentials
} from '../../src/shared/urls'

describe('redactUrl', () => {
  it('hides the password and keeps the user, host, port and path', () => {
    expect(redactUrl('http://user:secret@host:8188')).toBe('http://user:***@host:8188')
    expect(redactUrl('https://a:b@box.local/comfy/')).toBe('https://a:***@box.local/comfy/')
    expect(HIDDEN).toBe('***')
  })

  it('hides a lone user name, which is often a token', () => {
    expect(redactUrl('http://abcdef123@host:8188')).toBe('http://***@host:8188')
    expect(redactUrl('http://:pw@host')).toBe('http://***:***@host')
  })

  it('works on URLs that do not parse (bad port, no scheme)', () => {
    expect(redactUrl('http://user:secret@host:99999')).toBe('http://user:***@host:99999')
    expect(redactUrl('user:secret@host:8188')).toBe('user:***@host:8188')
    expect(redactUrl('ftp://u:secret@x')).toBe('ftp://u:***@x')
  })

  it('finds passwords with / ? # and @ in them', () => {
    for (const pw of ['se/cret', 'se?cret', 'se#cret', 'se@cret', 'se\\cret', 'a:b']) {
      const out = redactUrl(`http://user:${pw}@host:8188/x`)
      expect(out, pw).toBe('http://user:***@host:8188/x')
    }
  })

  it('hides secret query and fragment values', () => {
    expect(redactUrl('http://h/view?token=abc&x=1')).toBe('http://h/view?token=***&x=1')
    expect(redactUrl('http://h/?key=k1&api_key=k2&filename=a.png')).toBe(
      'http://h/?key=***&api_key=***&filename=a.png'
    )
    expect(redactUrl('http://h/#access_token=zz')).toBe('http://h/#access_token=***')
    expect(redactUrl('http://u:p@h/?x-api-key=1')).toBe('http://u:***@h/?x-api-key=***')
  })

  it('leaves URLs with nothing secret as they are', () => {
    for (const u of [
      'http://127.0.0.1:8188',
      'https://box.local:8443/comfy',
      'http://[::1]:8188/prompt',
      'http://h/view?filename=a@b.png&type=output',
      'gpu-1',
      ''
    ]) {
      expect(redactUrl(u)).toBe(u)
    }
  })
})

describe('redactUrlsInText', () => {
  it('hides credentials of every URL inside a text', () => {
    const text =
      'Not a valid URL: "http://user:secret@host:99999" and ws://me:pw2@h/ws?clientId=1&token=t0k'
    const out = redactUrlsInText(text)
    expect(out).toBe(
      'Not a valid URL: "http://user:***@host:99999" and ws://me:***@h/ws?clientId=1&token=***'
    )
  })

  it('hides them in quoted JSON and in user:pass@host without a scheme', () => {
    expect(redactUrlsInText('{"url":"http://u:secret@h:1","name":"x"}')).toBe(
      '{"url":"http://u:***@h:1","name":"x"}'
    )
    expect(redactUrlsInText('got "user:secret@host:8188"')).toBe('got "user:***@host:8188"')
    expect(redactUrlsInText('(user:secret@10.0.0.2)')).toBe('(user:***@10.0.0.2)')
  })

  it('changes nothing in ordinary log lines', () => {
    for (const t of [
      '[LoadBalancer] Server switch: gpu-1 -> gpu-2 (shorter queue)',
      '[LoadBalancer] gpu-1: healthy, running 1, pending 2, total 3 (12 ms)',
      'Server down: http://127.0.0.1:8188 - Connection refused',
      'mail me at bob@example.com',
      'a = b, x=1'
    ]) {
      expect(redactUrlsInText(t)).toBe(t)
    }
  })

  it('is idempotent', () => {
    const t = 'x http://user:secret@host:8188/?token=1 y user:pw@h'
    const once = redactUrlsInText(t)
    expect(redactUrlsInText(once)).toBe(once)
    expect(once).not.toMatch(/secret|token=1|pw@/)
  })

  it('still finds the secret at the end of a huge text full of near-matches', () => {
    const t = `${'a'.repeat(200_000)}=://${'=a:'.repeat(50_000)} http://u:secret@h`
    const out = redactUrlsInText(t)
    expect(out.length).toBe(t.length - 'secret'.length + 3)
    expect(out.endsWith('http://u:***@h')).toBe(true)
  })
})

describe('splitUrlCredentials', () => {
  it('takes decoded credentials off the URL', () => {
    expect(splitUrlCredentials('http://us%40er:p%3Ass@host:8188/comfy')).toEqual({
      url: 'http://host:8188/comfy',
      username: 'us@er',
      password: 'p:ss'
    })
    expect(splitUrlCredentials('http://token@host')).toEqual({
      url: 'http://host',
      username: 'token',
      password: ''
    })
    expect(splitUrlCredentials('http://host:8188/a@b')).toBeNull()
    expect(splitUrlCredentials('host:8188')).toBeNull()
  })

  it('builds the Basic authorization value, UTF-8', () => {
    expect(basicAuthorization('Aladdin', 'open sesame')).toBe('Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==')
    expect(basicAuthorization('ü', 'é')).toBe(
      `Basic ${Buffer.from('ü:é', 'utf8').toString('base64')}`
    )
  })
})
