import { describe, expect, it } from 'vitest'
import { parseSettings } from '../../src/main/core/settings'
import { REDACTED, SecretRedactor } from '../../src/main/redact'

describe('SecretRedactor and URL credentials', () => {
  const settings = parseSettings({
    servers: [
      'http://artist:pa%24%24word-42@proxy.example:8443',
      'https://tok3n-abcdef@box.local',
      { url: 'http://gpu-1:8188', headers: { Authorization: 'Bearer s3cr3t-t0ken' } }
    ]
  }).settings

  it('hides the password of any URL, even of a server it does not know', () => {
    const r = new SecretRedactor()
    expect(r.redact('Server down: http://u:other-pass@elsewhere:1 - refused')).toBe(
      'Server down: http://u:***@elsewhere:1 - refused'
    )
    const get = r.redact('GET http://h:1/view?filename=a.png&key=zz9')
    expect(get).toBe('GET http://h:1/view?filename=a.png&key=***')
  })

  it('hides the passwords of the configured URLs wherever they show up alone', () => {
    const r = new SecretRedactor()
    r.update(settings)
    const out = r.redact(
      'login pa$$word-42 refused; pa%24%24word-42 sent; token tok3n-abcdef; Bearer s3cr3t-t0ken'
    )
    expect(out).not.toMatch(/word-42|tok3n|s3cr3t/)
    expect(out).toContain(REDACTED)
    expect(r.redact(`url ${settings.servers[0]!.url} down`)).toBe(
      'url http://artist:***@proxy.example:8443 down'
    )
  })

  it('leaves ordinary lines alone', () => {
    const r = new SecretRedactor()
    r.update(settings)
    const line = '[LoadBalancer] Available servers: 2/3, best: proxy.example:8443 (queue: 0)'
    expect(r.redact(line)).toBe(line)
  })
})
