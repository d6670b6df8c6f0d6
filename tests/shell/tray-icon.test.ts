import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PNG } from 'pngjs'
import { describe, expect, it } from 'vitest'
import {
  countLabel,
  DIGIT_COLOR,
  renderTrayIcon,
  TRAY_COLORS,
  trayIconModel,
  trayIconPng,
  type TrayIconModel,
  type TrayIconSize
} from '../../src/main/tray-icon'
import { fleet, q, server } from '../core/helpers'

/** Rendered icons land here so a person can look at them; the folder is git-ignored. */
const OUT = join(import.meta.dirname, 'out')

function decode(buf: Buffer): PNG {
  return PNG.sync.read(buf)
}

function pixel(png: PNG, x: number, y: number): [number, number, number, number] {
  const i = (y * png.width + x) * 4
  return [png.data[i]!, png.data[i + 1]!, png.data[i + 2]!, png.data[i + 3]!]
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

describe('renderTrayIcon', () => {
  mkdirSync(OUT, { recursive: true })

  const states: TrayIconModel[] = [
    { state: 'healthy', count: null },
    { state: 'degraded', count: null },
    { state: 'down', count: null },
    { state: 'paused', count: null }
  ]

  for (const size of [16, 32] as TrayIconSize[]) {
    for (const model of states) {
      it(`draws a ${model.state} dot at ${size} px`, () => {
        const buf = renderTrayIcon(model, size)
        writeFileSync(join(OUT, `tray-${model.state}-${size}.png`), buf)
        const png = decode(buf)
        expect([png.width, png.height]).toEqual([size, size])
        const c = size / 2
        expect(pixel(png, c, c)).toEqual([...TRAY_COLORS[model.state], 255])
        // Corners are transparent: the dot is round.
        for (const [x, y] of [
          [0, 0],
          [size - 1, 0],
          [0, size - 1],
          [size - 1, size - 1]
        ] as const) {
          expect(pixel(png, x, y)[3]).toBe(0)
        }
        // The edge is anti-aliased: some pixels are partly transparent.
        const alphas = new Set<number>()
        for (let i = 3; i < png.data.length; i += 4) alphas.add(png.data[i]!)
        expect([...alphas].some((a) => a > 0 && a < 255)).toBe(true)
      })
    }
  }

  it('draws the unknown state as a ring with a transparent middle', () => {
    const buf = renderTrayIcon({ state: 'unknown', count: null }, 32)
    writeFileSync(join(OUT, 'tray-unknown-32.png'), buf)
    const png = decode(buf)
    expect(pixel(png, 16, 16)[3]).toBe(0)
    expect(pixel(png, 16, 3)).toEqual([...TRAY_COLORS.unknown, 255])
  })

  it.each([16, 32] as TrayIconSize[])('draws the queue count in dark digits at %i px', (size) => {
    const buf = renderTrayIcon({ state: 'healthy', count: 7 }, size)
    writeFileSync(join(OUT, `tray-healthy-7-${size}.png`), buf)
    const png = decode(buf)
    const dark = [...DIGIT_COLOR, 255]
    let digitPixels = 0
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) if (pixel(png, x, y).join() === dark.join()) digitPixels++
    }
    // "7" is 7 lit cells of the 3x5 font, each scale x scale pixels.
    const scale = size / 16
    expect(digitPixels).toBe(7 * scale * scale)
    // The top bar of the 7 is its first row: three lit cells, centred.
    const x0 = Math.floor((size - 3 * scale) / 2)
    const y0 = Math.floor((size - 5 * scale) / 2)
    expect(pixel(png, x0, y0)).toEqual(dark)
    expect(pixel(png, x0 + 3 * scale - 1, y0)).toEqual(dark)
  })

  it('writes large counts as 99+ and keeps them inside the icon', () => {
    expect(countLabel(0)).toBe('0')
    expect(countLabel(42)).toBe('42')
    expect(countLabel(100)).toBe('99+')
    const buf = renderTrayIcon({ state: 'degraded', count: 250 }, 16)
    writeFileSync(join(OUT, 'tray-degraded-99plus-16.png'), buf)
    expect(decode(buf).width).toBe(16)
  })
})

describe('trayIconPng', () => {
  it('draws the fleet state, with digits unless turned off', () => {
    const s = fleet([up('a', 12), down('b')], 'a')
    const withDigits = decode(trayIconPng(s, 32))
    const plain = decode(trayIconPng(s, 32, { digits: false }))
    writeFileSync(join(OUT, 'tray-fleet-degraded-12-32.png'), trayIconPng(s, 32))
    expect(pixel(plain, 16, 16)).toEqual([...TRAY_COLORS.degraded, 255])
    expect(withDigits.data.equals(plain.data)).toBe(false)
  })
})
