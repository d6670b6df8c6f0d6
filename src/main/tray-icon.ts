/**
 * The tray icon, drawn as a PNG from the fleet state: a coloured dot (green when every enabled
 * server is up, amber when some are down, red when none is, grey while checks are paused) with
 * the best server's queue count in tiny pixel digits. Pure: no Electron, no I/O, so it is tested
 * by decoding the pixels.
 */
import { PNG } from 'pngjs'
import type { FleetStatus } from '../shared/types'

/**
 * `unknown` is before the first check round or with no enabled server; it is drawn as a grey
 * ring so it cannot be mistaken for "paused".
 */
export type TrayIconState = 'healthy' | 'degraded' | 'down' | 'paused' | 'unknown'

/** Pixel sizes we draw: 16 for 1x screens, 32 for 2x. */
export type TrayIconSize = 16 | 32

export type Rgb = readonly [r: number, g: number, b: number]

export const TRAY_COLORS: Readonly<Record<TrayIconState, Rgb>> = {
  healthy: [0x22, 0xc5, 0x5e],
  degraded: [0xf5, 0x9e, 0x0b],
  down: [0xef, 0x44, 0x44],
  paused: [0x9c, 0xa3, 0xaf],
  unknown: [0x9c, 0xa3, 0xaf]
}

/** Colour of the digits; dark on the light green and amber dots. */
export const DIGIT_COLOR: Rgb = [0x11, 0x18, 0x27]

/** Counts above this are drawn as "99+". */
export const MAX_SHOWN_COUNT = 99

export interface TrayIconModel {
  state: TrayIconState
  /** The best server's queue total, or null to draw no digits. */
  count: number | null
}

/** What the icon should show for a fleet status. */
export function trayIconModel(status: FleetStatus): TrayIconModel {
  if (status.paused) return { state: 'paused', count: null }
  const enabled = status.servers.filter((s) => s.enabled)
  if (enabled.length === 0 || status.lastHealthCheck === null) {
    return { state: 'unknown', count: null }
  }
  const best = status.servers.find((s) => s.id === status.bestServerId)
  const count = best ? best.queue.total : null
  if (status.healthy === 0) return { state: 'down', count: null }
  if (status.healthy < enabled.length) return { state: 'degraded', count }
  return { state: 'healthy', count }
}

/** The tray icon PNG for a fleet status. */
export function trayIconPng(
  status: FleetStatus,
  size: TrayIconSize,
  opts: { digits?: boolean } = {}
): Buffer {
  const model = trayIconModel(status)
  return renderTrayIcon(opts.digits === false ? { ...model, count: null } : model, size)
}

// 3x5 pixel glyphs, one string of 15 bits per glyph, row by row.
const GLYPHS: Readonly<Record<string, string>> = {
  '0': '111101101101111',
  '1': '010110010010111',
  '2': '111001111100111',
  '3': '111001111001111',
  '4': '101101111001001',
  '5': '111100111001111',
  '6': '111100111101111',
  '7': '111001010010010',
  '8': '111101111101111',
  '9': '111101111001111',
  '+': '000010111010000'
}
const GLYPH_W = 3
const GLYPH_H = 5

/** The digits drawn for a count. */
export function countLabel(count: number): string {
  const n = Math.max(0, Math.floor(count))
  return n > MAX_SHOWN_COUNT ? `${MAX_SHOWN_COUNT}+` : String(n)
}

/** Supersampling per axis for the anti-aliased edge of the dot. */
const SUBSAMPLES = 4

/** Draws the icon for a model; exported for tests and previews. */
export function renderTrayIcon(model: TrayIconModel, size: TrayIconSize): Buffer {
  const png = new PNG({ width: size, height: size })
  const [r, g, b] = TRAY_COLORS[model.state]
  const c = size / 2
  const outer = size / 2 - size / 16
  // The "unknown" ring is an eighth of the icon thick.
  const inner = model.state === 'unknown' ? outer - size / 8 : -1
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let hits = 0
      for (let sy = 0; sy < SUBSAMPLES; sy++) {
        for (let sx = 0; sx < SUBSAMPLES; sx++) {
          const dx = x + (sx + 0.5) / SUBSAMPLES - c
          const dy = y + (sy + 0.5) / SUBSAMPLES - c
          const d = Math.sqrt(dx * dx + dy * dy)
          if (d <= outer && d >= inner) hits++
        }
      }
      const i = (y * size + x) * 4
      png.data[i] = r
      png.data[i + 1] = g
      png.data[i + 2] = b
      png.data[i + 3] = Math.round((255 * hits) / (SUBSAMPLES * SUBSAMPLES))
    }
  }
  if (model.count !== null) drawLabel(png, countLabel(model.count), size)
  return PNG.sync.write(png)
}

function drawLabel(png: PNG, label: string, size: TrayIconSize): void {
  const scale = size / 16
  const width = (label.length * (GLYPH_W + 1) - 1) * scale
  const height = GLYPH_H * scale
  const x0 = Math.floor((size - width) / 2)
  const y0 = Math.floor((size - height) / 2)
  const [r, g, b] = DIGIT_COLOR
  ;[...label].forEach((ch, k) => {
    const bits = GLYPHS[ch]
    if (!bits) return
    for (let gy = 0; gy < GLYPH_H; gy++) {
      for (let gx = 0; gx < GLYPH_W; gx++) {
        if (bits[gy * GLYPH_W + gx] !== '1') continue
        for (let py = 0; py < scale; py++) {
          for (let px = 0; px < scale; px++) {
            const x = x0 + (k * (GLYPH_W + 1) + gx) * scale + px
            const y = y0 + gy * scale + py
            if (x < 0 || y < 0 || x >= size || y >= size) continue
            const i = (y * size + x) * 4
            png.data[i] = r
            png.data[i + 1] = g
            png.data[i + 2] = b
            png.data[i + 3] = 255
          }
        }
      }
    }
  })
}
