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
      `http://user:${SECRET}@/nohost`
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
