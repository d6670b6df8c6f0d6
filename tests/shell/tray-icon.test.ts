import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PNG } from 'pngjs'
import { describe, expect, it } from 'vitest'
import {
  BADGE_COLOR,
  countLabel,
  labelPixels,
  MARK_COLORS,
  renderTrayIcon,
  TRAY_COLORS,
  TRAY_ICON_STATES,
  trayIconModel,
  trayIconPng,
  type TrayIconModel,
  type TrayIconSize
} from '../../src/main/tray-icon'
import { fleet, q, server } from '../core/helpers'
import { contactSheet } from './png-sheet'

/** Rendered icons land here so a person can look at them; the folder is git-ignored. */
const OUT = join(import.meta.dirname, 'out')
mkdirSync(OUT, { recursive: true })

function decode(buf: Buffer): PNG {
  return PNG.sync.read(buf)
}

function pixel(png: PNG, x: number, y: number): [number, number, number, number] {
  const i = (y * png.width + x) * 4
  return [png.data[i]!, png.data[i + 1]!, png.data[i + 2]!, png.data[i + 3]!]
}

function alphas(png: PNG): number[] {
  const out: number[] = []
  for (let i = 3; i < png.data.length; i += 4) out.push(png.data[i]!)
  return out
}

const up = (id: string, total = 0) =>
  server(id, { queue: q(Math.min(total, 1), Math.max(0, total - 1)) })
const down = (id: string) => server(id, { healthy: false, error: 'Connection refused' })

describe('trayIconModel', () => {
  it('is green with the best queue when every enabled server is up', () => {
    expect(trayIconModel(fleet([up('a', 2), up('b', 0)], 'b'))).toEqual({
      state: 'healthy',
      count: 0
    })
  })

  it('is amber when some servers are down', () => {
    expect(trayIconModel(fleet([up('a', 3), down('b')], 'a'))).toEqual({
      state: 'degraded',
      count: 3
    })
  })

  it('is red with no count when none is up', () => {
    expect(trayIconModel(fleet([down('a'), down('b')], null))).toEqual({
      state: 'down',
      count: null
    })
  })

  it('is grey while paused, whatever the servers say', () => {
    expect(trayIconModel(fleet([up('a')], 'a', { paused: true }))).toEqual({
      state: 'paused',
      count: null
    })
  })

  it('is unknown before the first round and with no enabled server', () => {
    expect(trayIconModel(fleet([up('a')], 'a', { lastHealthCheck: null })).state).toBe('unknown')
    expect(trayIconModel(fleet([], null)).state).toBe('unknown')
    expect(trayIconModel(fleet([server('a', { enabled: false })], null)).state).toBe('unknown')
  })

  it('ignores disabled servers when counting who is down', () => {
    const s = fleet([up('a'), server('b', { enabled: false, healthy: false })], 'a')
    expect(trayIconModel(s).state).toBe('healthy')
  })
})

/** Every state as the tray shows it: with a count where the state has one. */
const SHOWN: TrayIconModel[] = [
  { state: 'healthy', count: 0 },
  { state: 'healthy', count: 7 },
  { state: 'healthy', count: 42 },
  { state: 'degraded', count: 3 },
  { state: 'degraded', count: 250 },
  { state: 'down', count: null },
  { state: 'paused', count: null },
  { state: 'unknown', count: null }
]
const SIZES: TrayIconSize[] = [16, 32]

function fileName(m: TrayIconModel, size: number, template: boolean): string {
  const count = m.count === null ? '' : `-${countLabel(m.count).replace('+', 'plus')}`
  return `tray-${m.state}${count}-${size}${template ? '-template' : ''}.png`
}

describe('renderTrayIcon writes every state at 1x and 2x, in colour and as a template', () => {
  for (const template of [false, true]) {
    for (const size of SIZES) {
      it(`${template ? 'template' : 'colour'} ${size} px`, () => {
        const images = SHOWN.map((m) => renderTrayIcon(m, size, { template }))
        images.forEach((buf, k) =>
          writeFileSync(join(OUT, fileName(SHOWN[k]!, size, template)), buf)
        )
        writeFileSync(
          join(OUT, `tray-sheet-${size}${template ? '-template' : ''}.png`),
          contactSheet(images, size === 16 ? 8 : 4)
        )
        for (const buf of images) {
          const png = decode(buf)
          expect([png.width, png.height]).toEqual([size, size])
          // Round: the corners are transparent.
          for (const [x, y] of [
            [0, 0],
            [size - 1, 0],
            [0, size - 1],
            [size - 1, size - 1]
          ] as const) {
            expect(pixel(png, x, y)[3]).toBe(0)
          }
          // The edge is anti-aliased.
          expect(alphas(png).some((a) => a > 0 && a < 255)).toBe(true)
        }
        // No two states look the same.
        const distinct = new Set(images.map((b) => decode(b).data.toString('base64')))
        expect(distinct.size).toBe(images.length)
      })
    }
  }
})

describe('the colour icon', () => {
  it.each(SIZES)('fills each dot with its state colour at %i px', (size) => {
    for (const state of ['healthy', 'degraded', 'down', 'paused'] as const) {
      const png = decode(renderTrayIcon({ state, count: null }, size))
      // A point on the dot left of the marks in the middle.
      const x = Math.round(size * 0.19)
      const y = size / 2
      expect(pixel(png, x, y), state).toEqual([...TRAY_COLORS[state], 255])
    }
  })

  it('draws the unknown state as a ring with a transparent middle', () => {
    const png = decode(renderTrayIcon({ state: 'unknown', count: null }, 32))
    expect(pixel(png, 16, 16)[3]).toBe(0)
    expect(pixel(png, 16, 3)).toEqual([...TRAY_COLORS.unknown, 255])
  })

  it.each(SIZES)('draws the queue count in the mark colour, pixel-sharp, at %i px', (size) => {
    const png = decode(renderTrayIcon({ state: 'healthy', count: 7 }, size))
    const lit = labelPixels('7', size)
    expect(lit.length).toBeGreaterThan(5)
    for (const [x, y] of lit) expect(pixel(png, x, y)).toEqual([...MARK_COLORS.healthy, 255])
    // Only the glyph's pixels have the mark colour: no blur around the digits.
    let marked = 0
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        if (pixel(png, x, y).join() === [...MARK_COLORS.healthy, 255].join()) marked++
      }
    }
    expect(marked).toBe(lit.length)
  })

  it('uses a font drawn for 2x, not the 1x font scaled', () => {
    const one = labelPixels('8', 16).length
    const two = labelPixels('8', 32).length
    expect(two).not.toBe(one * 4)
  })

  it('writes large counts as 99+ and keeps them inside the dot', () => {
    expect(countLabel(0)).toBe('0')
    expect(countLabel(42)).toBe('42')
    expect(countLabel(100)).toBe('99+')
    expect(countLabel(-3)).toBe('0')
    for (const size of SIZES) {
      const r = size / 2 - size / 16
      for (const [x, y] of labelPixels('99+', size)) {
        const dx = x + 0.5 - size / 2
        const dy = y + 0.5 - size / 2
        expect(Math.hypot(dx, dy)).toBeLessThan(r)
      }
    }
  })

  it('marks the degraded dot with a red badge at the top right, set off by a gap', () => {
    for (const size of SIZES) {
      const u = size / 16
      const healthy = decode(renderTrayIcon({ state: 'healthy', count: 3 }, size))
      const degraded = decode(renderTrayIcon({ state: 'degraded', count: 3 }, size))
      const bx = Math.floor(size - 2.75 * u)
      const by = Math.floor(2.75 * u)
      expect(pixel(degraded, bx, by)).toEqual([...BADGE_COLOR, 255])
      expect(pixel(healthy, bx, by)[3]).toBe(0)
    }
    // The moat: transparent between the badge and the dot (measured at 2x, where it is 2 px).
    const healthy = decode(renderTrayIcon({ state: 'healthy', count: 3 }, 32))
    const degraded = decode(renderTrayIcon({ state: 'degraded', count: 3 }, 32))
    expect(pixel(degraded, 21, 10)[3]).toBe(0)
    expect(pixel(healthy, 21, 10)[3]).toBe(255)
  })
})

describe('the template icon (macOS menu bar)', () => {
  it('is black and alpha only, with the marks cut out', () => {
    for (const model of SHOWN) {
      for (const size of SIZES) {
        const png = decode(renderTrayIcon(model, size, { template: true }))
        for (let i = 0; i < png.data.length; i += 4) {
          if (png.data[i + 3] === 0) continue
          expect([png.data[i], png.data[i + 1], png.data[i + 2]]).toEqual([0, 0, 0])
        }
      }
    }
    const png = decode(renderTrayIcon({ state: 'healthy', count: 7 }, 32, { template: true }))
    for (const [x, y] of labelPixels('7', 32)) expect(pixel(png, x, y)[3]).toBe(0)
  })
})

describe('trayIconPng', () => {
  it('draws the fleet state, with digits unless turned off', () => {
    const s = fleet([up('a', 12), down('b')], 'a')
    const withDigits = decode(trayIconPng(s, 32))
    const plain = decode(trayIconPng(s, 32, { digits: false }))
    expect(pixel(plain, 16, 16)).toEqual([...TRAY_COLORS.degraded, 255])
    expect(withDigits.data.equals(plain.data)).toBe(false)
    const template = decode(trayIconPng(s, 32, { template: true }))
    expect(pixel(template, 8, 24)).toEqual([0, 0, 0, 255])
  })

  it('covers every state', () => {
    expect(new Set(SHOWN.map((m) => m.state))).toEqual(new Set(TRAY_ICON_STATES))
  })
})
