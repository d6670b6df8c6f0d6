/**
 * A tiny RGBA canvas on pngjs for drawing icons without a native graphics library (which would
 * have to be rebuilt for Electron): shapes are "is this point inside?" predicates, filled with
 * supersampled anti-aliasing, straight alpha. Used by the tray icon (at run time) and the app
 * icon (to generate resources/icons). Pure: no Electron, no I/O.
 */
import { PNG } from 'pngjs'

export type Rgb = readonly [r: number, g: number, b: number]

/** A shape as "is this point (in pixel coordinates) inside?". */
export type Shape = (x: number, y: number) => boolean

/** A colour per point, for gradients. */
export type Paint = Rgb | ((x: number, y: number) => Rgb)

export class Canvas {
  readonly png: PNG

  /**
   * @param size width and height in pixels
   * @param subsamples per axis for anti-aliased edges (@default 4; 2 is plenty for big icons)
   */
  constructor(
    readonly size: number,
    private readonly subsamples = 4
  ) {
    this.png = new PNG({ width: size, height: size })
    this.png.data.fill(0)
  }

  /** Paints over the canvas where the shape is, at `opacity`. */
  fill(shape: Shape, paint: Paint, opacity = 1): void {
    const colorAt = typeof paint === 'function' ? paint : () => paint
    const d = this.png.data
    this.each(shape, (i, x, y, coverage) => {
      const [r, g, b] = colorAt(x + 0.5, y + 0.5)
      const a = coverage * opacity
      const da = d[i + 3]! / 255
      const oa = a + da * (1 - a)
      if (oa === 0) return
      d[i] = Math.round((r * a + d[i]! * da * (1 - a)) / oa)
      d[i + 1] = Math.round((g * a + d[i + 1]! * da * (1 - a)) / oa)
      d[i + 2] = Math.round((b * a + d[i + 2]! * da * (1 - a)) / oa)
      d[i + 3] = Math.round(oa * 255)
    })
  }

  /** Makes the canvas transparent where the shape is. */
  cut(shape: Shape): void {
    this.each(shape, (i, _x, _y, coverage) => {
      this.png.data[i + 3] = Math.round(this.png.data[i + 3]! * (1 - coverage))
    })
  }

  toPng(): Buffer {
    return PNG.sync.write(this.png)
  }

  private coverage(shape: Shape, x: number, y: number): number {
    const n = this.subsamples
    let hits = 0
    for (let sy = 0; sy < n; sy++) {
      for (let sx = 0; sx < n; sx++) {
        if (shape(x + (sx + 0.5) / n, y + (sy + 0.5) / n)) hits++
      }
    }
    return hits / (n * n)
  }

  private each(
    shape: Shape,
    fn: (i: number, x: number, y: number, coverage: number) => void
  ): void {
    for (let y = 0; y < this.size; y++) {
      for (let x = 0; x < this.size; x++) {
        const c = this.coverage(shape, x, y)
        if (c > 0) fn((y * this.size + x) * 4, x, y, c)
      }
    }
  }
}

export const disc =
  (cx: number, cy: number, r: number): Shape =>
  (x, y) =>
    (x - cx) ** 2 + (y - cy) ** 2 <= r * r

export const ring =
  (cx: number, cy: number, outer: number, inner: number): Shape =>
  (x, y) => {
    const d2 = (x - cx) ** 2 + (y - cy) ** 2
    return d2 <= outer * outer && d2 >= inner * inner
  }

/** A stroke from (x1,y1) to (x2,y2), `w` wide, with round ends. */
export const segment =
  (x1: number, y1: number, x2: number, y2: number, w: number): Shape =>
  (x, y) => {
    const dx = x2 - x1
    const dy = y2 - y1
    const len2 = dx * dx + dy * dy
    const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((x - x1) * dx + (y - y1) * dy) / len2))
    return (x - x1 - t * dx) ** 2 + (y - y1 - t * dy) ** 2 <= (w / 2) ** 2
  }

export const rect =
  (x0: number, y0: number, w: number, h: number): Shape =>
  (x, y) =>
    x >= x0 && x < x0 + w && y >= y0 && y < y0 + h

/** A rectangle with corners rounded to radius `r`. */
export const roundedRect =
  (x0: number, y0: number, w: number, h: number, r: number): Shape =>
  (x, y) => {
    if (x < x0 || y < y0 || x > x0 + w || y > y0 + h) return false
    const cx = Math.min(Math.max(x, x0 + r), x0 + w - r)
    const cy = Math.min(Math.max(y, y0 + r), y0 + h - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r
  }

/** A filled triangle. */
export const triangle =
  (ax: number, ay: number, bx: number, by: number, cx: number, cy: number): Shape =>
  (x, y) => {
    const s1 = (bx - ax) * (y - ay) - (by - ay) * (x - ax)
    const s2 = (cx - bx) * (y - by) - (cy - by) * (x - bx)
    const s3 = (ax - cx) * (y - cy) - (ay - cy) * (x - cx)
    return (s1 >= 0 && s2 >= 0 && s3 >= 0) || (s1 <= 0 && s2 <= 0 && s3 <= 0)
  }

export const union =
  (...shapes: Shape[]): Shape =>
  (x, y) =>
    shapes.some((s) => s(x, y))

/** A vertical gradient from `top` at y0 to `bottom` at y1. */
export function verticalGradient(top: Rgb, bottom: Rgb, y0: number, y1: number): Paint {
  return (_x, y) => {
    const t = Math.max(0, Math.min(1, (y - y0) / (y1 - y0)))
    return [0, 1, 2].map((k) => Math.round(top[k]! + (bottom[k]! - top[k]!) * t)) as unknown as Rgb
  }
}
