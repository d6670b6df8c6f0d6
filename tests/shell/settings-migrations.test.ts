import { describe, expect, it } from 'vitest'
import {
  MIGRATIONS,
  migrateSettings,
  SETTINGS_VERSION,
  settingsVersionOf,
  type Migration
} from '../../src/main/settings-migrations'
import { parseSettings } from '../../src/main/core/settings'

describe('migrateSettings', () => {
  it('numbers the migrations 1, 2, ... without gaps', () => {
    expect(MIGRATIONS.map((m) => m.to)).toEqual(MIGRATIONS.map((_, i) => i + 1))
    expect(SETTINGS_VERSION).toBe(MIGRATIONS.length)
  })

  it('reads the version, treating a missing or nonsense one as 0', () => {
    expect(settingsVersionOf({})).toBe(0)
    expect(settingsVersionOf({ settingsVersion: 2 })).toBe(2)
    expect(settingsVersionOf({ settingsVersion: '2' })).toBe(0)
    expect(settingsVersionOf({ settingsVersion: -1 })).toBe(0)
  })

  it('runs only the migrations newer than the file, in order', () => {
    const seen: number[] = []
    const steps: Migration[] = [1, 2, 3].map((to) => ({
      to,
      what: `step ${to}`,
      up: (raw) => {
        seen.push(to)
        return { ...raw, [`m${to}`]: true }
      }
    }))
    const r = migrateSettings({ settingsVersion: 1, a: 1 }, steps)
    expect(seen).toEqual([2, 3])
    expect(r.raw).toEqual({ a: 1, m2: true, m3: true })
    expect(r.applied).toEqual(['2: step 2', '3: step 3'])
    expect(r.from).toBe(1)
  })

  it('leaves a file from a newer version as it is', () => {
    const r = migrateSettings({ settingsVersion: 99, a: 1 })
    expect(r).toMatchObject({ newer: true, from: 99, raw: { a: 1 }, applied: [] })
  })

  it('never changes its input', () => {
    const raw = { 'comfyui.server_url': 'http://a:8188', notifications: true }
    const copy = structuredClone(raw)
    migrateSettings(raw)
    expect(raw).toEqual(copy)
  })
})

describe('migration 1: the original server keys', () => {
  it('imports the nested form, keeps existing servers first, drops duplicates', () => {
    const r = migrateSettings({
      servers: [{ name: 'mine', url: 'http://b:8188/' }],
      comfyui: {
        server_url: 'http://a:8188',
        backup_servers: 'http://b:8188,http://c:8188',
        theme: 'x'
      }
    })
    expect(r.raw.servers).toEqual([
      { name: 'mine', url: 'http://b:8188/' },
      { name: 'a:8188', url: 'http://a:8188', enabled: true },
      { name: 'c:8188', url: 'http://c:8188', enabled: true }
    ])
    expect(r.raw.comfyui).toEqual({ theme: 'x' })
    expect(parseSettings(r.raw).problems).toEqual([])
  })

  it('notes the entries it could not import', () => {
    const r = migrateSettings({ 'comfyui.backup_servers': 'http://ok:8188, ftp://no' })
    expect(r.raw.servers).toEqual([{ name: 'ok:8188', url: 'http://ok:8188', enabled: true }])
    expect(r.notes.some((n) => n.includes('ftp://no'))).toBe(true)
  })

  it('does nothing to a file without them', () => {
    expect(migrateSettings({ settingsVersion: 0, timeout: 1 }).raw).toEqual({ timeout: 1 })
  })
})

describe('migration 2: one notifications switch', () => {
  it('becomes the four kinds', () => {
    expect(migrateSettings({ notifications: true }).raw.notifications).toEqual({
      serverDown: true,
      serverUp: true,
      jobDone: true,
      jobFailed: true
    })
  })

  it('leaves the object form alone', () => {
    const n = { serverDown: false }
    expect(migrateSettings({ notifications: n }).raw.notifications).toBe(n)
  })
})
