import { afterEach, describe, expect, it } from 'vitest'
import {
  assignIds,
  DEFAULT_SETTINGS,
  defaultSettings,
  importLegacyServers,
  MAX_LISTED_PROBLEMS,
  MAX_SERVERS,
  nameFromUrl,
  normalizeServerUrl,
  parseSettings,
  serverKey
} from '../../src/main/core/settings'
import { settingsFile, userDataDir } from '../../src/main/core/paths'

describe('settings', () => {
  it('has the original design defaults', () => {
    expect(DEFAULT_SETTINGS).toEqual({
      healthCheckInterval: 30000,
      timeout: 10000,
      retryAttempts: 3,
      verboseLogging: false,
      queueWeightEnabled: true,
      failoverEnabled: true
    })
    expect(parseSettings(undefined).settings).toEqual(defaultSettings())
  })

  it('keeps good values and reports each bad one quoting the value', () => {
    const { settings, problems } = parseSettings({
      healthCheckInterval: 5000,
      timeout: 'fast',
      retryAttempts: -1,
      verboseLogging: 'yes',
      queueWeightEnabled: false,
      somethingNew: 1
    })
    expect(settings.healthCheckInterval).toBe(5000)
    expect(settings.queueWeightEnabled).toBe(false)
    expect(settings.timeout).toBe(10000)
    expect(settings.retryAttempts).toBe(3)
    expect(settings.verboseLogging).toBe(false)
    expect(problems.map((p) => p.path)).toEqual(['timeout', 'retryAttempts', 'verboseLogging'])
    expect(problems[0]!.message).toContain('"fast"')
    expect(problems[1]!.message).toContain('-1')
    expect(problems[2]!.message).toContain('"yes"')
  })

  it('falls back to the previous values, not the defaults, when given', () => {
    const prev = parseSettings({ timeout: 2000, servers: ['http://a:8188'] }).settings
    const { settings, problems } = parseSettings({ timeout: 1.5 }, prev)
    expect(settings.timeout).toBe(2000)
    expect(settings.servers).toHaveLength(1)
    expect(problems[0]!.message).toMatch(/timeout must be a whole number .* got 1\.5/)
  })

  it('validates the app preferences, one value at a time', () => {
    const { settings, problems } = parseSettings({
      notifications: { serverDown: false, jobDone: 'no' },
      language: 'zh-CN',
      theme: 'purple',
      startAtLogin: true,
      outputDir: '  /home/a/renders ',
      jobHistoryLimit: 5
    })
    expect(settings.notifications).toEqual({
      serverDown: false,
      serverUp: true,
      jobDone: true,
      jobFailed: true
    })
    expect(settings.language).toBe('zh-CN')
    expect(settings.theme).toBe('system')
    expect(settings.startAtLogin).toBe(true)
    expect(settings.outputDir).toBe('/home/a/renders')
    expect(settings.jobHistoryLimit).toBe(500)
    expect(problems.map((p) => p.path)).toEqual([
      'theme',
      'jobHistoryLimit',
      'notifications.jobDone'
    ])
    expect(problems[0]!.message).toContain('"purple"')
  })

  it('rejects a non-object and keeps everything', () => {
    const { settings, problems } = parseSettings('garbage')
    expect(settings.timeout).toBe(10000)
    expect(problems[0]!.message).toContain('"garbage"')
  })

  it('validates servers one by one, keeping the good ones with unique ids', () => {
    const { settings, problems } = parseSettings({
      servers: [
        { url: 'http://gpu-1:8188/', name: 'gpu-1' },
        { url: 'ftp://nope' },
        { url: '192.168.1.20:8188' },
        { url: 'http://gpu-1:8189', name: 'gpu-1' },
        42,
        { url: 'http://x', headers: { Authorization: 'Bearer a\r\nInjected: 1' } }
      ]
    })
    expect(settings.servers.map((s) => [s.id, s.name, s.url])).toEqual([
      ['gpu-1', 'gpu-1', 'http://gpu-1:8188'],
      ['192-168-1-20-8188', '192.168.1.20:8188', 'http://192.168.1.20:8188'],
      ['gpu-1-2', 'gpu-1', 'http://gpu-1:8189']
    ])
    expect(problems.map((p) => p.path)).toEqual(['servers.1', 'servers.4', 'servers.5'])
    expect(problems[0]!.message).toContain('ftp://nope')
  })

  it('normalises URLs', () => {
    expect(normalizeServerUrl(' https://Box.local:8443/comfy/ ')).toEqual({
      url: 'https://box.local:8443/comfy'
    })
    expect(normalizeServerUrl('localhost:8188')).toEqual({ url: 'http://localhost:8188' })
    expect(normalizeServerUrl('')).toHaveProperty('error')
    expect(normalizeServerUrl('http://x:8188/?a=1')).toHaveProperty('error')
    expect(normalizeServerUrl('http://[::1')).toHaveProperty('error')
  })

  it('imports the old primary + comma-separated backups form', () => {
    const flat = importLegacyServers({
      'comfyui.server_url': 'http://main:8188',
      'comfyui.backup_servers': 'http://b1:8188, http://b2:8188,,http://main:8188'
    })
    expect(flat.servers.map((s) => s.url)).toEqual([
      'http://main:8188',
      'http://b1:8188',
      'http://b2:8188'
    ])
    expect(flat.problems).toEqual([])
    const nested = importLegacyServers({
      comfyui: { server_url: 'main:8188', backup_servers: 'b1:8188,not a url at all' }
    })
    expect(nested.servers.map((s) => s.url)).toEqual(['http://main:8188', 'http://b1:8188'])
    expect(nested.problems.length).toBeGreaterThan(0)
    const text = importLegacyServers(
      'comfyui.server_url=http://a:1\ncomfyui.backup_servers=http://b:2,http://c:3'
    )
    expect(text.servers.map((s) => s.url)).toEqual(['http://a:1', 'http://b:2', 'http://c:3'])
    const list = importLegacyServers('http://a:1\nhttp://b:2\n')
    expect(list.servers.map((s) => s.name)).toEqual(['a:1', 'b:2'])
    const json = importLegacyServers('{"comfyui.server_url":"http://z:9"}')
    expect(json.servers.map((s) => s.url)).toEqual(['http://z:9'])
    expect(importLegacyServers({ 'comfyui.server_url': 5 }).problems[0]!.message).toContain('5')
  })

  it('finds the same settings file the app uses', () => {
    expect(userDataDir('linux', {}, '/home/a')).toBe('/home/a/.config/comfy-balancer')
    expect(userDataDir('linux', { XDG_CONFIG_HOME: '/x' }, '/home/a')).toBe('/x/comfy-balancer')
    expect(userDataDir('darwin', {}, '/Users/a')).toBe(
      '/Users/a/Library/Application Support/comfy-balancer'
    )
    expect(
      userDataDir('win32', { APPDATA: 'C:\\Users\\a\\AppData\\Roaming' }, 'C:\\Users\\a')
    ).toBe('C:\\Users\\a\\AppData\\Roaming\\comfy-balancer')
    expect(settingsFile({ COMFY_BALANCER_CONFIG: '/tmp/x.json' })).toBe('/tmp/x.json')
  })
})

describe('settings problems never leak credentials', () => {
  it('quotes a bad server by name and URL only', () => {
    const { problems } = parseSettings({
      servers: [{ name: 'cloud', url: 'ftp://x', headers: { Authorization: 'Bearer s3cret' } }]
    })
    expect(problems[0]!.message).toContain('ftp://x')
    expect(problems[0]!.message).not.toContain('s3cret')
  })
})

describe('URL credentials never reach a problem text', () => {
  const SECRET = 'hunter2-secret'
  const leaks = (problems: { message: string }[]) =>
    problems.filter((p) => p.message.includes(SECRET) || p.message.includes('hunter2'))

  it('hides the password of a URL refused for any reason', () => {
    const refused = [
      `http://user:${SECRET}@host:99999`, // bad port
      `user:${SECRET}@host:99999`, // bad port, no scheme
      `http://user:${SECRET}@host:8188/?x=1`, // query
      `http://user:${SECRET}@host:8188/#top`, // fragment
      `ftp://user:${SECRET}@host`, // scheme
      `http://user:${SECRET}@/nohost`,
      `http://user:${SECRET}${'p'.repeat(20_000)}@host:8188` // too long
    ]
    for (const url of refused) {
      const { problems } = parseSettings({ servers: [url, { url, name: '' }] })
      expect(problems.length, url).toBe(2)
      expect(leaks(problems), url).toEqual([])
      expect(problems[0]!.message, url).toContain('user:***@')
      const n = normalizeServerUrl(url)
      expect('error' in n && n.error.includes(SECRET), url).toBe(false)
    }
  })

  it('hides it when an entry is refused for another field, or merged as a duplicate', () => {
    const url = `http://user:${SECRET}@host:8188`
    const { problems } = parseSettings({
      servers: [
        { url, enabled: 'yes' },
        { url, id: 5 },
        { url, headers: { 'Bad Name': 'x' } },
        url,
        url
      ]
    })
    expect(problems.length).toBe(4)
    expect(leaks(problems)).toEqual([])
    expect(problems[0]!.message).toContain('http://user:***@host:8188')
  })

  it('hides it in imports of the old form', () => {
    const r = importLegacyServers(`http://user:${SECRET}@a:99999, http://user:${SECRET}@b:1/?k=1`)
    expect(r.problems).toHaveLength(2)
    expect(leaks(r.problems)).toEqual([])
  })

  it('never quotes server headers, whatever is refused', () => {
    const headers = { Authorization: `Bearer ${SECRET}`, 'X-Api-Key': SECRET }
    const cases: unknown[] = [
      [{ headers, url: 'http://x' }],
      { servers: { a: { headers, url: 'http://x' } } },
      { servers: [{ headers, url: 'ftp://x' }] },
      { servers: [{ headers, url: 'http://x', enabled: 'yes' }] },
      { servers: [{ headers: { ...headers, 'Bad Name': SECRET }, url: 'http://x' }] },
      { servers: [{ headers: { [`Authorization: Bearer ${SECRET}`]: '' }, url: 'http://x' }] },
      { servers: [{ headers: { ...headers, X: `${SECRET}\r\nInjected: 1` }, url: 'http://x' }] },
      { servers: [{ headers: { ...headers, X: 5 }, url: 'http://x' }] },
      { servers: [{ url: 'http://x', headers: `Authorization: Bearer ${SECRET}` }] },
      { servers: [{ url: 'http://x', headers: [SECRET] }] },
      { notifications: [{ headers }] },
      { timeout: { headers } }
    ]
    for (const c of cases) {
      const { problems } = parseSettings(c)
      expect(problems.length, JSON.stringify(c)).toBeGreaterThan(0)
      expect(leaks(problems), JSON.stringify(c)).toEqual([])
    }
  })
})

describe('URL credentials are kept as settings', () => {
  it('keeps user:password@ in the URL and out of the name', () => {
    const { settings, problems } = parseSettings({
      servers: ['http://me:p%40ss@proxy.example:8443/comfy/', 'https://tok3n@box.local']
    })
    expect(problems).toEqual([])
    expect(settings.servers.map((s) => [s.name, s.url])).toEqual([
      ['proxy.example:8443', 'http://me:p%40ss@proxy.example:8443/comfy'],
      ['box.local', 'https://tok3n@box.local']
    ])
    expect(normalizeServerUrl('me:pw@h:1')).toEqual({ url: 'http://me:pw@h:1' })
    expect(nameFromUrl('http://me:pw@h:1')).toBe('h:1')
    expect(serverKey('http://me:pw@h:1/x')).toBe('http://h:1/x')
  })
})

/** Counts calls of a method of every Set or Map, without keeping them (a spy would). */
function countCalls(proto: object, method: string): { count: number; restore: () => void } {
  const target = proto as Record<string, (...a: unknown[]) => unknown>
  const original = target[method]!
  const counter = {
    count: 0,
    restore: () => {
      target[method] = original
    }
  }
  target[method] = function (this: unknown, ...args: unknown[]) {
    counter.count++
    return original.apply(this, args)
  }
  restores.push(counter.restore)
  return counter
}
const restores: Array<() => void> = []

describe('large settings files', () => {
  afterEach(() => {
    while (restores.length) restores.pop()!()
  })

  it('merges 8 000 copies of one server into one, in linear work, with one problem', () => {
    const has = countCalls(Set.prototype, 'has')
    const get = countCalls(Map.prototype, 'get')
    const servers = Array.from({ length: 8000 }, (_, i) =>
      i % 2 ? 'http://gpu-1:8188/' : { url: 'gpu-1:8188', name: 'gpu-1' }
    )
    const { settings, problems } = parseSettings({ timeout: 2000, servers })
    const work = has.count + get.count
    has.restore()
    get.restore()
    expect(settings.servers).toEqual([
      { id: 'gpu-1', name: 'gpu-1', url: 'http://gpu-1:8188', enabled: true }
    ])
    expect(settings.timeout).toBe(2000)
    expect(problems).toEqual([{ path: 'servers', message: expect.stringContaining('7999') }])
    expect(work).toBeLessThan(20 * servers.length)
  })

  it('merges duplicates into the first entry, adding only what it lacks', () => {
    const { settings, problems } = parseSettings({
      servers: [
        { url: 'http://a:1', name: 'first', headers: { 'X-One': '1' } },
        { url: 'http://b:2' },
        {
          url: 'http://u:pw@a:1/',
          name: 'second',
          enabled: false,
          headers: { 'x-one': '2', 'X-Two': '2' }
        }
      ]
    })
    expect(settings.servers).toEqual([
      {
        id: 'first',
        name: 'first',
        url: 'http://u:pw@a:1',
        enabled: true,
        headers: { 'X-One': '1', 'X-Two': '2' }
      },
      { id: 'b-2', name: 'b:2', url: 'http://b:2', enabled: true }
    ])
    expect(problems).toHaveLength(1)
    expect(problems[0]!.message).toMatch(/^1 server was listed twice/)
  })

  it('gives 8 000 servers of one name unique ids with linear work', () => {
    const has = countCalls(Set.prototype, 'has')
    const drafts = Array.from({ length: 8000 }, (_, i) => ({
      name: 'gpu',
      url: `http://h${i}:8188`,
      enabled: true
    }))
    const out = assignIds(drafts)
    const calls = has.count
    has.restore()
    expect(new Set(out.map((s) => s.id)).size).toBe(8000)
    expect(out[1]!.id).toBe('gpu-2')
    expect(calls).toBeLessThan(3 * drafts.length)
  })

  it('keeps ids unique when given ids collide with numbered ones', () => {
    const out = assignIds([
      { id: 'gpu-2', name: 'x', url: 'http://a', enabled: true },
      { name: 'gpu', url: 'http://b', enabled: true },
      { name: 'gpu', url: 'http://c', enabled: true },
      { name: 'gpu', url: 'http://d', enabled: true }
    ])
    expect(out.map((s) => s.id)).toEqual(['gpu-2', 'gpu', 'gpu-3', 'gpu-4'])
  })

  it(`keeps the first ${MAX_SERVERS} servers and says how many were left out`, () => {
    const servers = Array.from({ length: MAX_SERVERS + 500 }, (_, i) => `http://h${i}:8188`)
    const { settings, problems } = parseSettings({ servers, theme: 'dark', retryAttempts: 7 })
    expect(settings.servers).toHaveLength(MAX_SERVERS)
    expect(settings.servers.at(-1)!.url).toBe(`http://h${MAX_SERVERS - 1}:8188`)
    expect(settings.theme).toBe('dark')
    expect(settings.retryAttempts).toBe(7)
    expect(problems).toEqual([
      { path: 'servers', message: expect.stringContaining('500 more were left out') }
    ])
    const legacy = importLegacyServers(servers)
    expect(legacy.servers).toHaveLength(MAX_SERVERS)
    expect(legacy.problems).toHaveLength(1)
  })

  it('reports many bad entries one by one up to a limit, then counts the rest', () => {
    const servers = [...Array.from({ length: 500 }, () => 'ftp://x'), 'http://ok:1']
    const { settings, problems } = parseSettings({ servers })
    expect(settings.servers.map((s) => s.url)).toEqual(['http://ok:1'])
    expect(problems).toHaveLength(MAX_LISTED_PROBLEMS + 1)
    expect(problems.at(-1)!.message).toContain(`${500 - MAX_LISTED_PROBLEMS} more`)
  })
})

/** Small seeded random numbers (mulberry32), so every run tries the same inputs. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const SECRET = 'zz-top-secret-99'

/** Builds nesting `depth` deep without recursion. */
function deep(depth: number, asList: boolean): unknown {
  let v: unknown = SECRET
  for (let i = 0; i < depth; i++) v = asList ? [v] : { a: v, headers: { Authorization: SECRET } }
  return v
}

/** Values that are wrong for every setting but outputDir (which takes any text). */
function badValue(r: () => number): unknown {
  const pick = Math.floor(r() * 16)
  switch (pick) {
    case 0:
      return NaN
    case 1:
      return Infinity
    case 2:
      return -1e308
    case 3:
      return 'x'.repeat(1_000_000 + Math.floor(r() * 1000))
    case 4:
      return `http://user:${SECRET}@h:99999`
    case 5:
      return deep(5000 + Math.floor(r() * 5000), true)
    case 6:
      return deep(2000 + Math.floor(r() * 2000), false)
    case 7:
      return JSON.parse(`{"__proto__": {"timeout": 1000, "url": "http://x"}, "k": "${SECRET}"}`)
    case 8:
      return [SECRET, { headers: { Authorization: `Bearer ${SECRET}` } }]
    case 9:
      return { toString: SECRET, valueOf: SECRET, constructor: SECRET }
    case 10:
      return '\0\u202e\ud800'
    case 11:
      return -0.5
    case 12:
      return ''
    case 13:
      return null
    case 14:
      return Object.create(null) as object
    default:
      return { headers: { Authorization: SECRET }, url: `http://a:${SECRET}@b:99999` }
  }
}

/** A bad value that is not text (for fields that take any text). */
function notText(r: () => number): unknown {
  for (;;) {
    const v = badValue(r)
    if (typeof v !== 'string') return v
  }
}

/** Server entries that must be refused. */
function badServer(r: () => number): unknown {
  const v = badValue(r)
  const pick = Math.floor(r() * 10)
  const headers = { Authorization: `Bearer ${SECRET}` }
  switch (pick) {
    case 0:
      return v
    case 1:
      return { url: v, headers }
    case 2:
      return { url: 'http://ok:1', name: notText(r), headers }
    case 3:
      return { url: 'http://ok:1', enabled: v === null ? 'yes' : v, headers }
    case 4:
      return { url: 'http://ok:1', headers: r() < 0.5 ? { X: notText(r) } : `X: ${SECRET}` }
    case 5:
      return JSON.parse(`{"url":"http://ok:1","headers":{"__proto__":"${SECRET}","A":"${SECRET}"}}`)
    case 6:
      return { url: 'http://ok:1', id: notText(r), headers }
    case 7:
      return { url: `http://u:${SECRET}@ok:1/?token=${SECRET}`, headers }
    case 8:
      return {
        url: 'http://ok:1',
        headers: Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`H${i}`, SECRET]))
      }
    default:
      return JSON.parse(`{"__proto__":{"url":"http://ok:1"}}`)
  }
}

const GOOD: Record<string, (r: () => number) => unknown> = {
  healthCheckInterval: (r) => 500 + Math.floor(r() * 10_000),
  timeout: (r) => 100 + Math.floor(r() * 10_000),
  retryAttempts: (r) => Math.floor(r() * 21),
  verboseLogging: (r) => r() < 0.5,
  queueWeightEnabled: (r) => r() < 0.5,
  failoverEnabled: (r) => r() < 0.5,
  startAtLogin: (r) => r() < 0.5,
  outputDir: (r) => `/renders/${Math.floor(r() * 1000)}`,
  language: (r) => ['system', 'en', 'zh-CN'][Math.floor(r() * 3)],
  theme: (r) => ['system', 'light', 'dark'][Math.floor(r() * 3)],
  jobHistoryLimit: (r) => 10 + Math.floor(r() * 1000)
}

describe('settings files with generated bad input', () => {
  it('never throws, reports each bad value and keeps every good one', () => {
    const r = rng(20240611)
    for (let round = 0; round < 60; round++) {
      const input: Record<string, unknown> = {}
      const good: Record<string, unknown> = {}
      const bad = new Set<string>()
      for (const key of Object.keys(GOOD)) {
        const x = r()
        if (x < 0.4) input[key] = good[key] = GOOD[key]!(r)
        else if (x < 0.8) {
          // Any text is a folder path, so outputDir gets only bad values that are not text.
          input[key] = key === 'outputDir' ? notText(r) : badValue(r)
          bad.add(key)
        }
      }
      if (r() < 0.5) input.notifications = { serverDown: r() < 0.5, jobDone: badValue(r) }
      input[`unknown${round}`] = badValue(r)
      const goodUrls: string[] = []
      const servers: unknown[] = []
      const count = 1 + Math.floor(r() * 30)
      for (let i = 0; i < count; i++) {
        if (r() < 0.4) {
          const url = `http://gpu-${round}-${i}:8188`
          goodUrls.push(url)
          servers.push(r() < 0.5 ? url : { url, name: `GPU ${i}`, headers: { 'X-Key': SECRET } })
        } else servers.push(badServer(r))
      }
      input.servers = servers
      const raw = r() < 0.5 ? input : Object.assign(Object.create(null) as object, input)

      let result: ReturnType<typeof parseSettings> | undefined
      expect(() => (result = parseSettings(raw)), `round ${round}`).not.toThrow()
      const { settings, problems } = result!
      const where = `round ${round}`
      for (const [k, v] of Object.entries(good)) {
        expect((settings as unknown as Record<string, unknown>)[k], `${where} ${k}`).toEqual(v)
      }
      const defaults = defaultSettings() as unknown as Record<string, unknown>
      for (const k of bad) {
        expect((settings as unknown as Record<string, unknown>)[k], `${where} ${k}`).toEqual(
          defaults[k]
        )
        expect(
          problems.some((p) => p.path === k),
          `${where} ${k}`
        ).toBe(true)
      }
      // Every valid server is kept, in order; the bad ones each have a problem or were the
      // `http://ok:1` of a refused entry (never kept: every such entry is refused).
      const urls = settings.servers.map((s) => s.url)
      expect(urls, where).toEqual(goodUrls)
      expect(new Set(settings.servers.map((s) => s.id)).size, where).toBe(urls.length)
      expect(problems.length, where).toBeGreaterThanOrEqual(bad.size)
      for (const p of problems) {
        expect(p.message, where).not.toContain(SECRET)
        expect(p.message.length, `${where} ${p.path}`).toBeLessThan(300)
      }
      expect(() => JSON.stringify(settings), where).not.toThrow()
    }
  })

  it('takes nothing from a __proto__ key or an inherited value', () => {
    const fromFile = JSON.parse(
      '{"__proto__": {"timeout": 2000, "servers": ["http://evil:1"]}, "retryAttempts": 5}'
    ) as unknown
    const a = parseSettings(fromFile)
    expect(a.settings.timeout).toBe(10_000)
    expect(a.settings.retryAttempts).toBe(5)
    expect(a.settings.servers).toEqual([])
    const inherited = Object.create({ timeout: 2000, servers: ['http://evil:1'] }) as object
    const b = parseSettings(inherited)
    expect(b.settings.timeout).toBe(10_000)
    expect(b.settings.servers).toEqual([])
    const server = Object.create({ url: 'http://evil:1' }) as object
    const c = parseSettings({ servers: [server, 'http://good:1'] })
    expect(c.settings.servers.map((s) => s.url)).toEqual(['http://good:1'])
    expect(c.problems.map((p) => p.path)).toEqual(['servers.0'])
    const d = parseSettings(
      JSON.parse('{"servers":[{"url":"http://a:1","headers":{"__proto__":"x"}}]}') as unknown
    )
    expect(d.settings.servers).toEqual([])
    expect(d.problems[0]!.message).toContain('__proto__')
  })

  it('refuses deeply nested values with a short problem', () => {
    for (const v of [deep(100_000, true), deep(20_000, false)]) {
      const { settings, problems } = parseSettings({ timeout: v, servers: [v, 'http://a:1'] })
      expect(settings.servers.map((s) => s.url)).toEqual(['http://a:1'])
      expect(problems.map((p) => p.path)).toEqual(['timeout', 'servers.0'])
      expect(problems[0]!.message).toMatch(/got (a list of 1 item|an object)$/)
    }
  })
})

describe('the gateway settings', () => {
  it('default to on, loopback, port 8288, no token', () => {
    const { settings } = parseSettings({})
    expect(settings.gateway).toEqual({ enabled: true, host: '127.0.0.1', port: 8288, token: null })
  })

  it('keep good values, report bad ones and never quote the token', () => {
    const secret = 'not-a-good-token with spaces'
    const { settings, problems } = parseSettings({
      gateway: { enabled: false, port: 70_000, token: secret, host: 'x y' }
    })
    expect(settings.gateway).toEqual({
      enabled: false,
      host: '127.0.0.1',
      port: 8288,
      token: null
    })
    expect(problems.map((p) => p.path).sort()).toEqual([
      'gateway.host',
      'gateway.port',
      'gateway.token'
    ])
    expect(JSON.stringify(problems)).not.toContain('not-a-good-token')
  })

  it('stay on loopback unless a token is set', () => {
    const open = parseSettings({ gateway: { host: '0.0.0.0' } })
    expect(open.settings.gateway!.host).toBe('127.0.0.1')
    expect(open.problems[0]!.message).toMatch(/needs a token/)
    const token = 'a'.repeat(32)
    const wide = parseSettings({ gateway: { host: '0.0.0.0', token } })
    expect(wide.problems).toEqual([])
    expect(wide.settings.gateway).toMatchObject({ host: '0.0.0.0', token })
  })
})

describe('the notification sound', () => {
  it('is kept when set, and a bad value is reported', () => {
    expect(parseSettings({ notifications: { sound: false } }).settings.notifications.sound).toBe(
      false
    )
    const bad = parseSettings({ notifications: { sound: 'loud' } })
    expect(bad.problems.map((p) => p.path)).toEqual(['notifications.sound'])
  })
})
