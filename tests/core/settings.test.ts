import { describe, expect, it } from 'vitest'
import {
  DEFAULT_SETTINGS,
  defaultSettings,
  importLegacyServers,
  normalizeServerUrl,
  parseSettings
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
