import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { DEFAULT_SETTINGS, defaultSettings, parseSettings } from '../../src/main/core/settings'
import { safeStorageCipher, type SecretCipher } from '../../src/main/secrets'
import { ENCRYPTED_HEADERS_KEY, SettingsStore } from '../../src/main/store'
import { SETTINGS_VERSION } from '../../src/main/settings-migrations'
import { resetElectronMock, safeStorage } from './electron-mock'

vi.mock('electron', () => import('./electron-mock'))

const NOW = new Date('2026-11-26T17:05:03.123Z')
const STAMP = '2026-11-26T17-05-03-123Z'
const SECRET = 'Bearer sk-live-7f3a9c'

let dir: string
let file: string
let cipher: SecretCipher
beforeEach(() => {
  resetElectronMock()
  dir = mkdtempSync(join(tmpdir(), 'comfy-balancer-store-'))
  file = join(dir, 'config.json')
  cipher = safeStorageCipher(safeStorage, 'linux')
})

const open = (c: SecretCipher = cipher) => new SettingsStore({ file, now: () => NOW, cipher: c })
const readJson = () => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>
/** Every file in the settings folder, as text: what a thief copying the folder would get. */
const everything = () =>
  readdirSync(dir)
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('\n')

const withSecret = () =>
  parseSettings({
    servers: [
      { name: 'cloud', url: 'https://comfy.example.com', headers: { Authorization: SECRET } },
      { name: 'gpu-1', url: 'http://10.0.0.5:8188' }
    ]
  }).settings

describe('SettingsStore', () => {
  it('starts from the defaults when there is no file, without complaint or writing', async () => {
    const r = await open().load()
    expect(r.messages).toEqual([])
    expect(r.backupPath).toBeNull()
    expect(r.settings).toEqual(defaultSettings())
    expect(existsSync(file)).toBe(false)
  })

  it('round-trips saved settings through the file the CLI reads', async () => {
    const store = open()
    const { settings } = await store.load()
    const next = {
      ...settings,
      timeout: 2500,
      servers: [{ id: 'gpu-1', name: 'gpu-1', url: 'http://10.0.0.5:8188', enabled: true }]
    }
    expect(await store.save(next)).toBeNull()
    expect(store.path).toBe(file)
    // The root object is the settings, as the CLI expects, with the format version.
    expect(readJson()).toMatchObject({
      settingsVersion: SETTINGS_VERSION,
      timeout: 2500,
      servers: [{ url: 'http://10.0.0.5:8188' }]
    })
    // ...and the CLI's own parsing reads it without a problem.
    expect(parseSettings(readJson()).problems).toEqual([])
    const again = await open().load()
    expect(again.settings).toEqual(next)
    expect(again.messages).toEqual([])
    expect(again.backupPath).toBeNull()
  })

  it('writes saves in order, and flush waits for them', async () => {
    const store = open()
    const { settings } = await store.load()
    void store.save({ ...settings, timeout: 1111 })
    void store.save({ ...settings, timeout: 2222 })
    await store.flush()
    expect(readJson().timeout).toBe(2222)
  })

  it('backs up a corrupted file, starts from the defaults and says so', async () => {
    writeFileSync(file, '{"timeout": 5000, "servers": [')
    const r = await open().load()
    expect(r.settings).toEqual(defaultSettings())
    expect(r.backupPath).toBe(`${file}.${STAMP}.bak`)
    expect(readFileSync(r.backupPath!, 'utf8')).toBe('{"timeout": 5000, "servers": [')
    expect(r.messages).toHaveLength(1)
    expect(r.messages[0]).toMatch(/could not be read \(not valid JSON/)
    expect(r.messages[0]).toContain(r.backupPath!)
    expect(r.messages[0]).toContain('default settings')
    // The file is valid again, so the next start is quiet.
    expect(readJson()).toMatchObject({ timeout: DEFAULT_SETTINGS.timeout })
    expect((await open().load()).messages).toEqual([])
  })

  it('treats a JSON value that is not an object as corrupted', async () => {
    writeFileSync(file, '[1, 2, 3]')
    const r = await open().load()
    expect(r.messages[0]).toMatch(/expected a JSON object, found a list/)
    expect(existsSync(r.backupPath!)).toBe(true)
  })

  it('falls back to the last good settings when the file breaks while running', async () => {
    const store = open()
    const good = { ...(await store.load()).settings, timeout: 4321 }
    await store.save(good)
    writeFileSync(file, 'garbage')
    const r = await store.load()
    expect(r.settings).toEqual(good)
    expect(r.messages[0]).toContain('last good settings')
  })

  it('reports a bad value, keeps the good ones, and backs the file up', async () => {
    const original = {
      settingsVersion: SETTINGS_VERSION,
      healthCheckInterval: 5000,
      timeout: 'soon',
      verboseLogging: true,
      servers: ['http://gpu-1:8188', 'ftp://nope', { url: 'gpu-2:8188', name: 'Second' }]
    }
    writeFileSync(file, JSON.stringify(original))
    const r = await open().load()
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

describe('SettingsStore migrations', () => {
  it('lifts a file of format 0 (original server keys, one notifications switch)', async () => {
    const original = {
      'comfyui.server_url': 'http://gpu-1:8188',
      'comfyui.backup_servers': 'http://gpu-2:8188, http://gpu-1:8188,gpu-3:8188',
      notifications: false,
      timeout: 4000
    }
    writeFileSync(file, JSON.stringify(original))
    const r = await open().load()
    expect(r.messages).toEqual([])
    expect(r.settings.servers.map((s) => s.url)).toEqual([
      'http://gpu-1:8188',
      'http://gpu-2:8188',
      'http://gpu-3:8188'
    ])
    expect(r.settings.notifications).toEqual({
      serverDown: false,
      serverUp: false,
      jobDone: false,
      jobFailed: false
    })
    expect(r.settings.timeout).toBe(4000)
    expect(r.notes).toContain(`Settings file updated from format 0 to ${SETTINGS_VERSION}`)
    expect(r.notes).toContain('Imported 3 server(s) from the old comfyui.* settings')
    // The old file is kept, the new one has the new format and no old keys.
    expect(JSON.parse(readFileSync(r.backupPath!, 'utf8'))).toEqual(original)
    const now = readJson()
    expect(now.settingsVersion).toBe(SETTINGS_VERSION)
    expect(now).not.toHaveProperty(['comfyui.server_url'])
    expect((await open().load()).notes).toEqual([])
  })

  it('stamps the current format on a file of format 0 that needs no change', async () => {
    writeFileSync(file, JSON.stringify({ timeout: 4000 }))
    const r = await open().load()
    expect(r.messages).toEqual([])
    expect(r.settings.timeout).toBe(4000)
    expect(readJson().settingsVersion).toBe(SETTINGS_VERSION)
  })

  it('keeps what it can of a file from a newer version, and says so', async () => {
    const original = { settingsVersion: SETTINGS_VERSION + 5, timeout: 3000, futureThing: 1 }
    writeFileSync(file, JSON.stringify(original))
    const r = await open().load()
    expect(r.settings.timeout).toBe(3000)
    expect(r.messages[0]).toMatch(/written by a newer Comfy Balancer/)
    expect(JSON.parse(readFileSync(r.backupPath!, 'utf8'))).toEqual(original)
  })
})

describe('SettingsStore secrets', () => {
  it('never writes auth headers in plain text, and reads them back', async () => {
    const store = open()
    await store.load()
    expect(await store.save(withSecret())).toBeNull()
    expect(everything()).not.toContain('sk-live')
    const written = readJson().servers as Array<Record<string, unknown>>
    expect(written[0]).not.toHaveProperty('headers')
    expect(typeof written[0]![ENCRYPTED_HEADERS_KEY]).toBe('string')
    expect(written[1]).not.toHaveProperty(ENCRYPTED_HEADERS_KEY)
    // The CLI reads the file without a problem; it sees that server without its headers.
    const cli = parseSettings(readJson())
    expect(cli.problems).toEqual([])
    expect(cli.settings.servers[0]).not.toHaveProperty('headers')
    const r = await open().load()
    expect(r.settings.servers[0]!.headers).toEqual({ Authorization: SECRET })
    expect(r.messages).toEqual([])
  })

  it('does not encrypt unchanged headers again on every save', async () => {
    const store = open()
    await store.load()
    await store.save(withSecret())
    const first = readFileSync(file, 'utf8')
    await store.save(withSecret())
    expect(readFileSync(file, 'utf8')).toBe(first)
    expect(safeStorage.encryptStringAsync).toHaveBeenCalledOnce()
  })

  it('encrypts plain headers found in the file, copies included', async () => {
    writeFileSync(
      file,
      JSON.stringify({
        settingsVersion: SETTINGS_VERSION,
        timeout: 'bad',
        servers: [{ url: 'https://comfy.example.com', headers: { Authorization: SECRET } }]
      })
    )
    const r = await open().load()
    expect(r.settings.servers[0]!.headers).toEqual({ Authorization: SECRET })
    expect(r.notes).toContain('Encrypted the auth headers of 1 server(s)')
    expect(r.backupPath).not.toBeNull()
    expect(r.plainSecrets).toBe(false)
    expect(everything()).not.toContain('sk-live')
    // The copy still holds the headers, encrypted, so nothing is lost.
    const copy = JSON.parse(readFileSync(r.backupPath!, 'utf8')) as {
      servers: Array<Record<string, unknown>>
    }
    expect(copy.servers[0]![ENCRYPTED_HEADERS_KEY]).toEqual(expect.any(String))
    expect(copy).toMatchObject({ timeout: 'bad' })
  })

  it('keeps headers in plain text where the system has no key store, and says so', async () => {
    safeStorage.available = false
    const store = open()
    await store.load()
    await store.save(withSecret())
    expect(readFileSync(file, 'utf8')).toContain('sk-live')
    const r = await open().load()
    expect(r.plainSecrets).toBe(true)
    expect(r.settings.servers[0]!.headers).toEqual({ Authorization: SECRET })
  })

  it('keeps headers it cannot decrypt here, and says so', async () => {
    const store = open()
    await store.load()
    await store.save(withSecret())
    const blob = (readJson().servers as Array<Record<string, unknown>>)[0]![ENCRYPTED_HEADERS_KEY]
    safeStorage.decryptStringAsync.mockRejectedValueOnce(new Error('key store locked'))
    const other = open()
    const r = await other.load()
    expect(r.settings.servers[0]!.headers).toBeUndefined()
    expect(r.messages[0]).toMatch(/auth headers of server cloud could not be decrypted/)
    // Saving other changes writes the undecryptable headers back unchanged.
    await other.save({ ...r.settings, timeout: 1234 })
    const servers = readJson().servers as Array<Record<string, unknown>>
    expect(servers[0]![ENCRYPTED_HEADERS_KEY]).toBe(blob)
    expect(readJson().timeout).toBe(1234)
  })

  it('drops damaged encrypted headers with a message', async () => {
    writeFileSync(
      file,
      JSON.stringify({
        settingsVersion: SETTINGS_VERSION,
        servers: [{ name: 'cloud', url: 'https://comfy.example.com', [ENCRYPTED_HEADERS_KEY]: 42 }]
      })
    )
    const r = await open().load()
    expect(r.messages[0]).toMatch(/encrypted headers of server cloud are damaged/)
    expect(r.settings.servers).toHaveLength(1)
  })
})
