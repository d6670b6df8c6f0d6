/**
 * The packaging config (electron-builder.json) is validated here, since packaging itself needs
 * the Electron binary and is not run in CI: required fields, the three platforms' targets, the
 * icons it points at, the files the app loads at run time, and the security fuses.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PNG } from 'pngjs'
import { describe, expect, it, vi } from 'vitest'
import { APP_ID } from '../../src/main/lifecycle'
import { WORKFLOW_EXTENSIONS } from '../../src/main/submit'

vi.mock('electron', () => import('./electron-mock'))

const ROOT = join(import.meta.dirname, '..', '..')
const read = (file: string) =>
  JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as Record<string, unknown>
const config = read('electron-builder.json') as Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any
const pkg = read('package.json') as Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

/** Top-level keys of electron-builder 26's Configuration that this project may use. */
const KNOWN_KEYS = new Set([
  'appId',
  'productName',
  'executableName',
  'copyright',
  'artifactName',
  'directories',
  'files',
  'extraResources',
  'extraFiles',
  'asar',
  'asarUnpack',
  'npmRebuild',
  'publish',
  'electronFuses',
  'electronVersion',
  'extraMetadata',
  'compression',
  'linux',
  'deb',
  'appImage',
  'rpm',
  'win',
  'nsis',
  'mac',
  'dmg',
  'protocols',
  'fileAssociations'
])

/** Target names in a platform's `target` (strings or `{ target }` objects). */
function targets(platform: { target: unknown }): string[] {
  const list = Array.isArray(platform.target) ? platform.target : [platform.target]
  return list.map((t) => (typeof t === 'string' ? t : (t as { target: string }).target))
}

function png(file: string): PNG {
  return PNG.sync.read(readFileSync(join(ROOT, file)))
}

describe('electron-builder.json', () => {
  it('uses only known keys and names the app', () => {
    expect(Object.keys(config).filter((k) => !KNOWN_KEYS.has(k))).toEqual([])
    expect(config.appId).toBe(APP_ID)
    expect(config.productName).toBe('Comfy Balancer')
    expect(config.executableName).toBe(pkg.name)
    expect(config.publish).toBeNull()
  })

  it('builds AppImage and deb, an NSIS installer, and a dmg', () => {
    expect(targets(config.linux)).toEqual(['AppImage', 'deb'])
    expect(targets(config.win)).toEqual(['nsis'])
    expect(targets(config.mac)).toEqual(['dmg'])
    // deb needs a maintainer (package.json has no author e-mail).
    expect(config.linux.maintainer).toMatch(/^.+ <[^@\s]+@[^@\s]+>$/)
  })

  it('points at icons that exist: a size set for Linux, 1024 px for .icns and .ico', () => {
    expect(config.directories.buildResources).toBe('resources')
    for (const n of [16, 32, 48, 64, 128, 256, 512]) {
      const p = png(`${config.linux.icon}/${n}x${n}.png`)
      expect([p.width, p.height]).toEqual([n, n])
    }
    for (const icon of [config.mac.icon, config.win.icon]) {
      const p = png(icon)
      expect(p.width).toBeGreaterThanOrEqual(512)
      expect(p.width).toBe(p.height)
    }
  })

  it('packs the built app and the files it loads at run time, nothing else', () => {
    const files = config.files as string[]
    for (const dir of ['out/main/**', 'out/preload/**', 'out/renderer/**'])
      expect(files).toContain(dir)
    expect(pkg.main).toBe('./out/main/index.js')
    // lifecycle.ts loads the window and notification icon from here.
    expect(files).toContain('resources/icons/256x256.png')
    expect(existsSync(join(ROOT, 'resources/icons/256x256.png'))).toBe(true)
    expect(files).toContain('!**/*.map')
    expect(files.some((f) => f.startsWith('src'))).toBe(false)
  })

  it('locks the binary down with fuses, inside an asar', () => {
    expect(config.asar).toBe(true)
    expect(config.electronFuses).toMatchObject({
      runAsNode: false,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true
    })
  })

  it('offers "Open with" for .json and .png workflows, as a viewer that never takes over', () => {
    const assoc = config.fileAssociations as Array<Record<string, unknown>>
    expect(assoc.map((a) => a.ext)).toEqual(['json', 'png'])
    for (const a of assoc) {
      expect(a).toMatchObject({ name: 'ComfyUI workflow', role: 'Viewer', rank: 'Alternate' })
      // Linux needs the MIME type for the desktop file's "Open with".
      expect(a.mimeType).toBe(a.ext === 'png' ? 'image/png' : 'application/json')
    }
    // The app takes exactly the extensions it can submit.
    expect(assoc.map((a) => a.ext)).toEqual([...WORKFLOW_EXTENSIONS])
  })

  it('keeps the macOS app out of the dock until its window opens', () => {
    expect(config.mac.extendInfo.LSUIElement).toBe(true)
  })

  it('needs no native rebuild: no production dependency has a native addon', () => {
    expect(config.npmRebuild).toBe(false)
    for (const dep of Object.keys(pkg.dependencies as Record<string, string>)) {
      const dir = join(ROOT, 'node_modules', dep)
      const meta = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        gypfile?: boolean
      }
      expect(meta.gypfile ?? false, dep).toBe(false)
      expect(existsSync(join(dir, 'binding.gyp')), dep).toBe(false)
    }
  })

  it('has package scripts that use it', () => {
    expect(pkg.scripts.dist).toContain('--config electron-builder.json')
    expect(pkg.scripts.dist).toMatch(/electron-builder@\d+\.\d+\.\d+/)
  })
})
