/**
 * A contact sheet for looking at small icons: each image enlarged (nearest neighbour) and at
 * 1:1, on a light, a dark and a mid-grey background (the three kinds of tray and menu bar).
 */
import { PNG } from 'pngjs'

const BACKGROUNDS = [
  [0xf3, 0xf4, 0xf6],
  [0x1f, 0x29, 0x37],
  [0x80, 0x80, 0x80]
] as const
const PAD = 6

export function contactSheet(images: Buffer[], scale: number): Buffer {
  const pngs = images.map((b) => PNG.sync.read(b))
  const cellW = Math.max(...pngs.map((p) => p.width * (scale + 1) + PAD * 3))
  const cellH = Math.max(...pngs.map((p) => p.height * scale)) + PAD * 2
  const width = cellW * pngs.length
  const height = cellH * BACKGROUNDS.length
  const out = new PNG({ width, height })
  pngs.forEach((img, col) =>
    BACKGROUNDS.forEach((bg, row) => {
      const ox = col * cellW
      const oy = row * cellH
      for (let y = 0; y < cellH; y++) {
        for (let x = 0; x < cellW; x++) {
          const i = ((oy + y) * width + ox + x) * 4
          out.data[i] = bg[0]
          out.data[i + 1] = bg[1]
          out.data[i + 2] = bg[2]
          out.data[i + 3] = 255
        }
      }
      const put = (x: number, y: number, sx: number, sy: number) => {
        const s = (sy * img.width + sx) * 4
        const a = img.data[s + 3]! / 255
        const i = ((oy + y) * width + ox + x) * 4
        for (let ch = 0; ch < 3; ch++) {
          out.data[i + ch] = Math.round(img.data[s + ch]! * a + bg[ch]! * (1 - a))
        }
      }
      for (let y = 0; y < img.height * scale; y++) {
        for (let x = 0; x < img.width * scale; x++) {
          put(PAD + x, PAD + y, Math.floor(x / scale), Math.floor(y / scale))
        }
      }
      for (let y = 0; y < img.height; y++) {
        for (let x = 0; x < img.width; x++) put(PAD * 2 + img.width * scale + x, PAD + y, x, y)
      }
    })
  )
  return PNG.sync.write(out)
}
