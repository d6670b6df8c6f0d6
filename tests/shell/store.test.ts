import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { DEFAULT_SETTINGS, defaultSettings } from '../../src/main/core/settings'
import { SettingsStore } from '../../src/main/store'
import { resetElectronMock } from './electron-mock'

vi.mock('electron', () => import('./electron-mock'))

const NOW = new Date('2026-11-26T17:05:03.123Z')
const STAMP = '2026-11-26T17-05-03-123Z'

let dir: string
let file: string
beforeEach(() => {
  resetElectronMock()
  dir = mkdtempSync(join(tmpdir(), 'comfy-balancer-store-'))
  file = join(dir, 'config.json')
})

const open = () => new SettingsStore({ file, now: () => NOW })
const readJson = () => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>

describe('SettingsStore', () => {
  it('starts from the defaults when there is no file, without complaint', () => {
    const r = open().load()
    expect(r.messages).toEqual([])
    expect(r.backupPath).toBeNull()
    expect(r.settings).toEqual(defaultSettings())
  })

  it('round-trips saved settings through the file the CLI reads', () => {
    const store = open()
    const { settings } = store.load()
    const next = {
      ...settings,
      timeout: 2500,
      servers: [{ id: 'gpu-1', name: 'gpu-1', url: 'http://10.0.0.5:8188', enabled: true }]
    }
    expect(store.save(next)).toBeNull()
    expect(store.path).toBe(file)
    // The root object is the settings, as the CLI expects.
    expect(readJson()).toMatchObject({ timeout: 2500, servers: [{ url: 'http://10.0.0.5:8188' }] })
    expect(open().load()).toEqual({ settings: next, messages: [], backupPath: null })
  })

  it('backs up a corrupted file, starts from the defaults and says so', () => {
    writeFileSync(file, '{"timeout": 5000, "servers": [')
    const r = open().load()
    expect(r.settings).toEqual(defaultSettings())
    expect(r.backupPath).toBe(`${file}.${STAMP}.bak`)
    expect(readFileSync(r.backupPath!, 'utf8')).toBe('{"timeout": 5000, "servers": [')
    expect(r.messages).toHaveLength(1)
    expect(r.messages[0]).toMatch(/could not be read \(not valid JSON/)
    expect(r.messages[0]).toContain(r.backupPath!)
    expect(r.messages[0]).toContain('default settings')
    // The file is valid again, so the next start is quiet.
    expect(readJson()).toMatchObject({ timeout: DEFAULT_SETTINGS.timeout })
    expect(open().load().messages).toEqual([])
  })

  it('treats a JSON value that is not an object as corrupted', () => {
    writeFileSync(file, '[1, 2, 3]')
    const r = open().load()
    expect(r.messages[0]).toMatch(/expected a JSON object, found a list/)
    expect(existsSync(r.backupPath!)).toBe(true)
  })

  it('falls back to the last good settings when the file breaks while running', () => {
    const store = open()
    const good = { ...store.load().settings, timeout: 4321 }
    store.save(good)
    writeFileSync(file, 'garbage')
    const r = store.load()
    expect(r.settings).toEqual(good)
    expect(r.messages[0]).toContain('last good settings')
  })

  it('reports a bad value, keeps the good ones, and backs the file up', () => {
    const original = {
      healthCheckInterval: 5000,
      timeout: 'soon',
      verboseLogging: true,
      servers: ['http://gpu-1:8188', 'ftp://nope', { url: 'gpu-2:8188', name: 'Second' }]
    }
    writeFileSync(file, JSON.stringify(original))
    const r = open().load()
    expect(r.settings.healthCheckInterval).toBe(5000)
    expect(r.settings.verboseLogging).toBe(true)
    expect(r.settings.timeout).toBe(DEFAULT_SETTINGS.timeout)
    expect(r.settings.servers.map((s) => [s.name, s.url])).toEqual([
      ['gpu-1:8188', 'http://gpu-1:8188'],
      ['Second', 'http://gpu-2:8188']
    ])
    expect(
      r.messages.some((m) => m.includes('timeout must be a whole number') && m.includes('"soon"'))
    ).toBe(true)
    expect(r.messages.some((m) => m.includes('ftp://nope'))).toBe(true)
    expect(JSON.parse(readFileSync(r.backupPath!, 'utf8'))).toEqual(original)
    expect(readdirSync(dir).filter((f) => f.endsWith('.bak'))).toHaveLength(1)
    // The cleaned settings were written back.
    expect(readJson()).toMatchObject({
      timeout: DEFAULT_SETTINGS.timeout,
      healthCheckInterval: 5000
    })
  })
})
