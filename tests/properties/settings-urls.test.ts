/**
 * Settings come from a file anyone may have edited, and URLs carry passwords: parseSettings
 * takes any value and keeps only valid settings (never throwing); redaction never leaves a
 * password or a secret query value in what it returns; terminal text keeps no control codes.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { LIMITS, parseSettings } from '../../src/main/core/settings'
import { stripControls } from '../../src/shared/terminal'
import { redactUrl, redactUrlsInText, splitUrlCredentials } from '../../src/shared/urls'

const RUNS = { numRuns: 200, seed: 20261201 }

const { json } = fc.letrec((tie) => ({
  json: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.double(),
    fc.integer(),
    fc.string(),
    fc.array(tie('json'), { maxLength: 4 }),
    fc.dictionary(fc.string(), tie('json'), { maxKeys: 4 })
  )
}))

/** A password that cannot appear by chance in the rest of the URL or text. */
const secret = fc.stringMatching(/^[A-Za-z0-9_~!$&()*+,;=%-]{6,24}$/).map((s) => `Pw${s}Zq`)
/** The same with a quote inside (a sub-delimiter, allowed unescaped in a URL's userinfo). */
const quotedSecret = secret.map((s) => `${s.slice(0, 4)}'${s.slice(4)}`)
const user = fc.stringMatching(/^[a-z0-9._-]{0,12}$/)
const host = fc.constantFrom('127.0.0.1:8188', 'gpu-box.local', '[::1]:8188', 'example.com')
const tail = fc.constantFrom('', '/', '/api/queue', '/view?filename=a.png', '?x=1#frag')
/** A path with an `@`: redaction then hides up to that `@` (too much rather than too little). */
const atTail = fc.constantFrom('/p@th', '/a/b@c?d=1')
const scheme = fc.constantFrom('http', 'https', 'ws', 'wss', 'HTTP')

const settingsLike = fc.record(
  {
    servers: fc.oneof(
      json,
      fc.array(
        fc.oneof(
          json,
          fc.record(
            {
              url: fc.oneof(
                json,
                fc.string(),
                host.map((h) => `http://${h}`)
              ),
              name: json,
              enabled: json,
              headers: fc.oneof(json, fc.dictionary(fc.string(), json, { maxKeys: 3 }))
            },
            { requiredKeys: [] }
          )
        ),
        { maxLength: 5 }
      )
    ),
    healthCheckInterval: json,
    timeout: fc.oneof(json, fc.integer()),
    retryAttempts: json,
    verboseLogging: json,
    queueWeightEnabled: json,
    failoverEnabled: json,
    outputDir: json,
    language: json,
    theme: json,
    jobHistoryLimit: json,
    notifications: json,
    startAtLogin: json
  },
  { requiredKeys: [] }
)

describe('parseSettings', () => {
  it('never throws and keeps every value within its limits', () => {
    fc.assert(
      fc.property(fc.oneof(json, settingsLike), (raw) => {
        const { settings, problems } = parseSettings(raw)
        for (const k of [
          'healthCheckInterval',
          'timeout',
          'retryAttempts',
          'jobHistoryLimit'
        ] as const) {
          expect(Number.isInteger(settings[k])).toBe(true)
          expect(settings[k]).toBeGreaterThanOrEqual(LIMITS[k].min)
          expect(settings[k]).toBeLessThanOrEqual(LIMITS[k].max)
        }
        expect(['system', 'en', 'zh-CN']).toContain(settings.language)
        expect(['system', 'light', 'dark']).toContain(settings.theme)
        expect(typeof settings.outputDir).toBe('string')
        const ids = settings.servers.map((s) => s.id)
        expect(new Set(ids).size).toBe(ids.length)
        for (const s of settings.servers) {
          expect(s.url).toMatch(/^https?:\/\//)
          expect(typeof s.enabled).toBe('boolean')
        }
        for (const p of problems) {
          expect(typeof p.path).toBe('string')
          expect(typeof p.message).toBe('string')
        }
      }),
      RUNS
    )
  })

  it('never quotes a password from a server address in its problems', () => {
    fc.assert(
      fc.property(
        user,
        secret,
        fc.constantFrom('http://', 'ftp://', 'javascript://', ''),
        fc.constantFrom('bad host!', '127.0.0.1:99999', 'gpu-box', '%%%'),
        json,
        (u, pw, sch, h, junk) => {
          const url = `${sch}${u}:${pw}@${h}`
          const { settings, problems } = parseSettings({
            servers: [{ url }, { url, name: junk }, url]
          })
          const said = JSON.stringify(problems)
          expect(said).not.toContain(pw)
          expect(said).not.toContain(encodeURIComponent(pw))
          void settings
        }
      ),
      RUNS
    )
  })
})

describe('URL redaction', () => {
  it('redactUrl never leaves the password, and keeps the host', () => {
    fc.assert(
      fc.property(scheme, user, fc.oneof(secret, quotedSecret), host, tail, (s, u, pw, h, t) => {
        const url = `${s}://${u}:${pw}@${h}${t}`
        const out = redactUrl(url)
        expect(out).not.toContain(pw)
        expect(out).toContain(h)
      }),
      RUNS
    )
  })

  it('redactUrl never leaves the password when the path holds an @', () => {
    fc.assert(
      fc.property(scheme, user, secret, host, atTail, (s, u, pw, h, t) => {
        expect(redactUrl(`${s}://${u}:${pw}@${h}${t}`)).not.toContain(pw)
      }),
      RUNS
    )
  })

  it('redactUrl hides secret query values', () => {
    fc.assert(
      fc.property(
        host,
        fc.constantFrom('token', 'access_token', 'api_key', 'key', 'X-Api-Key', 'password', 'auth'),
        secret,
        (h, name, value) => {
          const out = redactUrl(`https://${h}/ws?clientId=abc&${name}=${value}&x=1`)
          expect(out).not.toContain(value)
          expect(out).toContain('clientId=abc')
        }
      ),
      RUNS
    )
  })

  it('redactUrlsInText never leaves a password of a URL inside any text', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.string(),
        scheme,
        user,
        secret,
        host,
        tail,
        fc.constantFrom(' ', '"', "'", '(', '\n', '<', ''),
        (before, after, s, u, pw, h, t, quote) => {
          if (before.includes(pw) || after.includes(pw)) return
          const text = `${before}${quote}${s}://${u}:${pw}@${h}${t}${quote === '(' ? ')' : quote} ${after}`
          expect(redactUrlsInText(text)).not.toContain(pw)
        }
      ),
      RUNS
    )
  })

  it('redactUrlsInText hides a password that holds a quote', () => {
    fc.assert(
      fc.property(scheme, user, quotedSecret, host, (s, u, pw, h) => {
        expect(redactUrlsInText(`Not a number: ${s}://${u}:${pw}@${h}/x`)).not.toContain(pw)
      }),
      RUNS
    )
  })

  it('redactUrlsInText hides user:password@host written without a scheme', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z]{1,8}$/), secret, host, (u, pw, h) => {
        expect(redactUrlsInText(`could not reach ${u}:${pw}@${h}, giving up`)).not.toContain(pw)
      }),
      RUNS
    )
  })

  it('splitUrlCredentials takes the password out of the URL', () => {
    fc.assert(
      fc.property(fc.constantFrom('http', 'https'), user, secret, host, tail, (s, u, pw, h, t) => {
        const split = splitUrlCredentials(`${s}://${u}:${pw}@${h}${t}`)
        expect(split).not.toBeNull()
        expect(split!.url).not.toContain(pw)
        expect(split!.url.startsWith(`${s}://${h}`)).toBe(true)
      }),
      RUNS
    )
  })
})

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]/

describe('terminal text', () => {
  it('stripControls leaves no control or bidi character but tab and newline', () => {
    const piece = fc.oneof(
      fc.string(),
      fc.constantFrom(
        '\x1b[2J',
        '\x1b]52;c;aGk=\x07',
        '\x1b]0;title\x1b\\',
        '\x9b31m',
        '\x07',
        '\r',
        '\u202e',
        '\u2066',
        '\x00',
        '\x7f',
        '\x1bP',
        '\x1b'
      ),
      fc.string({ unit: 'binary' })
    )
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), (parts) => {
        const out = stripControls(parts.join(''))
        expect(out).not.toMatch(CONTROL)
      }),
      RUNS
    )
  })

  it('stripControls keeps plain text as it is', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[ -~\n\t\u00a0-\u00ff\u4e00-\u4e2f]*$/), (t) => {
        expect(stripControls(t)).toBe(t)
      }),
      RUNS
    )
  })
})
