/**
 * The committed app icons are what scripts/app-icon.ts draws. `npm run icons` rewrites them
 * (this file, run by that script, writes instead of comparing).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PNG } from 'pngjs'
import { describe, expect, it } from 'vitest'
import { APP_ICON_SIZES, renderAppIcon } from '../../scripts/app-icon'
import { contactSheet } from './png-sheet'

const RESOURCES = join(import.meta.dirname, '..', '..', 'resources')
const ICONS = join(RESOURCES, 'icons')
const OUT = join(import.meta.dirname, 'out')
/** `npm run icons` runs this file to write the icons. */
const WRITE = process.env['npm_lifecycle_event'] === 'icons'

describe('the app icon', () => {
  const rendered = new Map(APP_ICON_SIZES.map((n) => [n, renderAppIcon(n)]))

  it(
    WRITE
      ? 'writes resources/icons'
      : 'matches resources/icons (run `npm run icons` after a change)',
    () => {
      mkdirSync(ICONS, { recursive: true })
      mkdirSync(OUT, { recursive: true })
      writeFileSync(
        join(OUT, 'app-icon-sheet.png'),
        contactSheet(
          [16, 24, 32, 48, 64, 128].map((n) => rendered.get(n as (typeof APP_ICON_SIZES)[number])!),
          2
        )
      )
      for (const [n, png] of rendered) {
        const file = join(ICONS, `${n}x${n}.png`)
        if (WRITE) writeFileSync(file, png)
        expect(existsSync(file), file).toBe(true)
        const committed = PNG.sync.read(readFileSync(file))
        expect([committed.width, committed.height]).toEqual([n, n])
        expect(
          committed.data.equals(PNG.sync.read(png).data),
          `${file} differs from the drawing`
        ).toBe(true)
      }
      const main = join(RESOURCES, 'icon.png')
      if (WRITE) writeFileSync(main, rendered.get(1024)!)
      expect(readFileSync(main).equals(readFileSync(join(ICONS, '1024x1024.png')))).toBe(true)
    }
  )

  it('is a rounded square: transparent corners, opaque middle', () => {
    for (const [n, buf] of rendered) {
      const png = PNG.sync.read(buf)
      expect(png.data[3], `${n} px corner`).toBe(0)
      const mid = (Math.floor(n * 0.5) * n + Math.floor(n * 0.2)) * 4
      expect(png.data[mid + 3], `${n} px middle`).toBe(255)
    }
  })
})
