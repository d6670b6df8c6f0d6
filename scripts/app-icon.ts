/**
 * The app icon, drawn with the same small canvas as the tray icon: a rounded indigo square with
 * three server queues, the shortest one green with the arrow pointing at it ("this one is
 * least busy"). `npm run icons` writes it to resources/icons/<n>x<n>.png (Linux packages and the
 * window) and resources/icon.png (1024 px; electron-builder makes the .icns and .ico from it);
 * tests/shell/app-icon.test.ts fails when the files and this drawing differ.
 */
import {
  Canvas,
  roundedRect,
  segment,
  triangle,
  verticalGradient,
  type Rgb
} from '../src/main/png-canvas'

export const APP_ICON_SIZES = [16, 24, 32, 48, 64, 128, 256, 512, 1024] as const

const TOP: Rgb = [0x63, 0x66, 0xf1]
const BOTTOM: Rgb = [0x31, 0x2e, 0x81]
const WHITE: Rgb = [0xff, 0xff, 0xff]
const GREEN: Rgb = [0x22, 0xc5, 0x5e]

export function renderAppIcon(size: number): Buffer {
  const s = size
  const canvas = new Canvas(s, s >= 256 ? 2 : 4)
  const m = s * 0.06
  canvas.fill(
    roundedRect(m, m, s - 2 * m, s - 2 * m, s * 0.22),
    verticalGradient(TOP, BOTTOM, m, s - m)
  )
  // Three queues as bars of different lengths; the shortest is the chosen one.
  const h = s * 0.12
  const x0 = s * 0.36
  const bar = (cy: number, length: number) => segment(x0 + h / 2, cy, x0 + length - h / 2, cy, h)
  canvas.fill(bar(s * 0.31, s * 0.42), WHITE, 0.92)
  canvas.fill(bar(s * 0.5, s * 0.2), GREEN)
  canvas.fill(bar(s * 0.69, s * 0.32), WHITE, 0.92)
  canvas.fill(triangle(s * 0.17, s * 0.4, s * 0.17, s * 0.6, s * 0.29, s * 0.5), GREEN)
  return canvas.toPng()
}
