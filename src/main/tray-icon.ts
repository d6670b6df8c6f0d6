/**
 * The tray icon, drawn as a PNG from the fleet state. Pure: no Electron, no I/O, so it is tested
 * by decoding the pixels (and the tests write every state to tests/shell/out to be looked at).
 *
 * Each state has its own colour *and* its own shape, so it reads without colour too (colour
 * blindness, and the monochrome template image macOS wants in its menu bar):
 *
 * | state    | colour | shape                                         |
 * | -------- | ------ | --------------------------------------------- |
 * | healthy  | green  | disc with the best server's queue count        |
 * | degraded | amber  | disc with the count and a red badge top-right  |
 * | down     | red    | disc with a cross                              |
 * | paused   | grey   | disc with pause bars                           |
 * | unknown  | grey   | ring (before the first check, no servers)      |
 *
 * In colour the marks are dark (light on red); in the template image they are cut out of a
 * black disc. Digits come from two pixel fonts, one per scale, so both 1x (16 px) and 2x
 * (32 px) are sharp rather than one scaled from the other.
 */
import { Canvas, disc, rect, ring, segment, union, type Rgb, type Shape } from './png-canvas'
import type { FleetStatus } from '../shared/types'

/**
 * `unknown` is before the first check round or with no enabled server; it is drawn as a ring
 * so it cannot be mistaken for "paused".
 */
export type TrayIconState = 'healthy' | 'degraded' | 'down' | 'paused' | 'unknown'

export const TRAY_ICON_STATES: readonly TrayIconState[] = [
  'healthy',
  'degraded',
  'down',
  'paused',
  'unknown'
]

/** Pixel sizes we draw: 16 for 1x screens, 32 for 2x. */
export type TrayIconSize = 16 | 32

export type { Rgb }

export const TRAY_COLORS: Readonly<Record<TrayIconState, Rgb>> = {
  healthy: [0x22, 0xc5, 0x5e],
  degraded: [0xf5, 0x9e, 0x0b],
  down: [0xef, 0x44, 0x44],
  paused: [0x9c, 0xa3, 0xaf],
  unknown: [0x9c, 0xa3, 0xaf]
}

/** Colour of the digits and marks: dark on the light dots, white on red. */
export const MARK_COLORS: Readonly<Record<TrayIconState, Rgb>> = {
  healthy: [0x11, 0x18, 0x27],
  degraded: [0x11, 0x18, 0x27],
  down: [0xff, 0xff, 0xff],
  paused: [0x1f, 0x29, 0x37],
  unknown: [0x11, 0x18, 0x27]
}

/** The badge of the degraded dot: the colour of "down". */
export const BADGE_COLOR: Rgb = TRAY_COLORS.down

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

export interface TrayIconOptions {
  /** Draw the count (default true). */
  digits?: boolean
  /** Black-and-alpha image for macOS's menu bar (`setTemplateImage(true)`). */
  template?: boolean
}

/** The tray icon PNG for a fleet status. */
export function trayIconPng(
  status: FleetStatus,
  size: TrayIconSize,
  opts: TrayIconOptions = {}
): Buffer {
  const model = trayIconModel(status)
  return renderTrayIcon(opts.digits === false ? { ...model, count: null } : model, size, {
    template: opts.template
  })
}

/** The digits drawn for a count. */
export function countLabel(count: number): string {
  const n = Math.max(0, Math.floor(count))
  return n > MAX_SHOWN_COUNT ? `${MAX_SHOWN_COUNT}+` : String(n)
}

// ------------------------------------------------------------------------------------ fonts

interface PixelFont {
  width: number
  height: number
  /** Blank columns between glyphs. */
  gap: number
  glyphs: Readonly<Record<string, readonly string[]>>
}

/** 3x5 glyphs for 16 px. */
const FONT_1X: PixelFont = {
  width: 3,
  height: 5,
  gap: 1,
  glyphs: {
    '0': ['###', '#.#', '#.#', '#.#', '###'],
    '1': ['.#.', '##.', '.#.', '.#.', '###'],
    '2': ['###', '..#', '###', '#..', '###'],
    '3': ['###', '..#', '###', '..#', '###'],
    '4': ['#.#', '#.#', '###', '..#', '..#'],
    '5': ['###', '#..', '###', '..#', '###'],
    '6': ['###', '#..', '###', '#.#', '###'],
    '7': ['###', '..#', '.#.', '.#.', '.#.'],
    '8': ['###', '#.#', '###', '#.#', '###'],
    '9': ['###', '#.#', '###', '..#', '###'],
    '+': ['...', '.#.', '###', '.#.', '...']
  }
}

/** 6x10 glyphs with two-pixel strokes and rounded corners for 32 px. */
const FONT_2X: PixelFont = {
  width: 6,
  height: 10,
  gap: 1,
  glyphs: {
    // prettier-ignore
    '0': ['.####.', '######', '##..##', '##..##', '##..##', '##..##', '##..##', '##..##', '######', '.####.'],
    // prettier-ignore
    '1': ['..##..', '.###..', '####..', '..##..', '..##..', '..##..', '..##..', '..##..', '######', '######'],
    // prettier-ignore
    '2': ['.####.', '######', '##..##', '....##', '...###', '..###.', '.###..', '###...', '######', '######'],
    // prettier-ignore
    '3': ['.####.', '######', '##..##', '....##', '..###.', '..####', '....##', '##..##', '######', '.####.'],
    // prettier-ignore
    '4': ['...###', '..####', '.##.##', '##..##', '##..##', '######', '######', '....##', '....##', '....##'],
    // prettier-ignore
    '5': ['######', '######', '##....', '#####.', '######', '....##', '....##', '##..##', '######', '.####.'],
    // prettier-ignore
    '6': ['.####.', '######', '##....', '#####.', '######', '##..##', '##..##', '##..##', '######', '.####.'],
    // prettier-ignore
    '7': ['######', '######', '....##', '...###', '..###.', '..##..', '.###..', '.##...', '.##...', '.##...'],
    // prettier-ignore
    '8': ['.####.', '######', '##..##', '##..##', '.####.', '######', '##..##', '##..##', '######', '.####.'],
    // prettier-ignore
    '9': ['.####.', '######', '##..##', '##..##', '######', '.#####', '....##', '....##', '######', '.####.'],
    // prettier-ignore
    '+': ['......', '......', '..##..', '..##..', '######', '######', '..##..', '..##..', '......', '......']
  }
}

const FONTS: Readonly<Record<TrayIconSize, PixelFont>> = { 16: FONT_1X, 32: FONT_2X }

/** The lit pixels of a label, centred in an icon of `size`; exported for tests. */
export function labelPixels(label: string, size: TrayIconSize): Array<[x: number, y: number]> {
  const font = FONTS[size]
  const chars = [...label].filter((ch) => font.glyphs[ch])
  const width = chars.length * (font.width + font.gap) - font.gap
  const x0 = Math.floor((size - width) / 2)
  const y0 = Math.floor((size - font.height) / 2)
  const out: Array<[number, number]> = []
  chars.forEach((ch, k) => {
    const rows = font.glyphs[ch]!
    rows.forEach((row, gy) => {
      for (let gx = 0; gx < row.length; gx++) {
        if (row[gx] === '#') out.push([x0 + k * (font.width + font.gap) + gx, y0 + gy])
      }
    })
  })
  return out.filter(([x, y]) => x >= 0 && y >= 0 && x < size && y < size)
}

// ---------------------------------------------------------------------------------- drawing

/** The cross of the down dot at 1x, two pixels thick. */
// prettier-ignore
const CROSS_1X = ['##....##', '###..###', '.######.', '..####..', '..####..', '.######.', '###..###', '##....##']

/** A pixel pattern centred in the icon. */
function pattern(rows: readonly string[], size: number): Shape {
  const x0 = Math.floor((size - rows[0]!.length) / 2)
  const y0 = Math.floor((size - rows.length) / 2)
  return (x, y) => rows[Math.floor(y) - y0]?.[Math.floor(x) - x0] === '#'
}

/** Draws the icon for a model; exported for tests and previews. */
export function renderTrayIcon(
  model: TrayIconModel,
  size: TrayIconSize,
  opts: { template?: boolean } = {}
): Buffer {
  const template = opts.template === true
  const canvas = new Canvas(size)
  const u = size / 16 // one 1x pixel
  const c = size / 2
  const outer = c - u
  const base: Rgb = template ? [0, 0, 0] : TRAY_COLORS[model.state]
  const mark: Rgb = MARK_COLORS[model.state]
  /** A mark is cut out of the template disc and painted on the colour one. */
  const drawMark = (shape: Shape) => (template ? canvas.cut(shape) : canvas.fill(shape, mark))

  if (model.state === 'unknown') {
    canvas.fill(ring(c, c, outer, outer - 2 * u), base)
    return canvas.toPng()
  }
  canvas.fill(disc(c, c, outer), base)

  if (model.state === 'degraded') {
    // A badge at the top right, set off from the dot by a transparent moat: "some are down".
    const bx = size - 2.75 * u
    const by = 2.75 * u
    canvas.cut(disc(bx, by, 3.9 * u))
    canvas.fill(disc(bx, by, 2.6 * u), template ? base : BADGE_COLOR)
  }
  if (model.state === 'down') {
    if (size === 16) {
      // Pixel-aligned at 1x: anti-aliased diagonals only blur at this size.
      drawMark(pattern(CROSS_1X, size))
    } else {
      const k = 3.2 * u
      const w = 2.2 * u
      drawMark(
        union(segment(c - k, c - k, c + k, c + k, w), segment(c - k, c + k, c + k, c - k, w))
      )
    }
  }
  if (model.state === 'paused') {
    const h = 8 * u
    drawMark(union(rect(c - 3 * u, c - h / 2, 2 * u, h), rect(c + u, c - h / 2, 2 * u, h)))
  }
  if ((model.state === 'healthy' || model.state === 'degraded') && model.count !== null) {
    const lit = new Set(labelPixels(countLabel(model.count), size).map(([x, y]) => y * size + x))
    drawMark((x, y) => lit.has(Math.floor(y) * size + Math.floor(x)))
  }
  return canvas.toPng()
}
