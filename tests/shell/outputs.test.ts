import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { crc32, deflateSync } from 'node:zlib'
import { PNG } from 'pngjs'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  checkedOutputPath,
  downscale,
  imageDimensions,
  jobWithOutput,
  makeThumbnail,
  MAX_PASSTHROUGH_BYTES,
  MAX_PREVIEW_PIXELS,
  opensDirectly,
  ThumbnailCache,
  UnknownOutputError
} from '../../src/main/outputs'
import type { JobRecord } from '../../src/shared/types'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'comfy-balancer-outputs-'))
})
afterEach(() => {
  vi.restoreAllMocks()
  rmSync(dir, { recursive: true, force: true })
})

function png(width: number, height: number, rgba: [number, number, number, number]): Buffer {
  const p = new PNG({ width, height })
  for (let i = 0; i < width * height; i++) p.data.set(rgba, i * 4)
  return PNG.sync.write(p)
}

const job = (outputs: string[]) =>
  ({
    id: 'j',
    outputs: outputs.map((path) => ({ path, filename: 'x', nodeId: '9', type: 'output' }))
  }) as unknown as JobRecord

describe('outputs the page may ask about', () => {
  it('are exactly the files listed by a job', async () => {
    const file = join(dir, 'a.png')
    writeFileSync(file, png(2, 2, [1, 2, 3, 255]))
    const jobs = [job([file])]
    expect(jobWithOutput(jobs, file)?.id).toBe('j')
    // Only the exact path: no other spelling of it (`..`) is looked at.
    expect(jobWithOutput(jobs, `${dir}/../${dir.split('/').pop()!}/a.png`)).toBeUndefined()
    expect(jobWithOutput(jobs, 'a.png')).toBeUndefined()
    await expect(checkedOutputPath(jobs, file)).resolves.toBe(file)
    await expect(checkedOutputPath(jobs, join(dir, 'b.png'))).rejects.toThrow(UnknownOutputError)
    // Listed, but a folder now: refused.
    const folder = join(dir, 'f.png')
    mkdirSync(folder)
    await expect(checkedOutputPath([job([folder])], folder)).rejects.toThrow(UnknownOutputError)
  })
})

describe('thumbnails', () => {
  it('scale big PNGs down to fit, keeping the aspect ratio and the colour', async () => {
    const file = join(dir, 'big.png')
    writeFileSync(file, png(1024, 512, [200, 100, 50, 255]))
    const url = await makeThumbnail(file, 128)
    expect(url).toMatch(/^data:image\/png;base64,/)
    const small = PNG.sync.read(Buffer.from(url!.split(',')[1]!, 'base64'))
    expect([small.width, small.height]).toEqual([128, 64])
    expect([...small.data.subarray(0, 4)]).toEqual([200, 100, 50, 255])
  })

  it('average by alpha, so transparent pixels do not darken the edges', () => {
    const data = new Uint8Array([255, 0, 0, 255, 0, 0, 0, 0])
    const out = downscale({ width: 2, height: 1, data }, 1)
    expect([...out.data]).toEqual([255, 0, 0, 128])
    const same = { width: 3, height: 3, data: new Uint8Array(36) }
    expect(downscale(same, 10)).toBe(same)
  })

  it('pass small JPEGs as they are, and give up on other or broken files', async () => {
    const jpg = join(dir, 'a.JPG')
    writeFileSync(jpg, jpeg(640, 480))
    expect(await makeThumbnail(jpg)).toBe(
      `data:image/jpeg;base64,${jpeg(640, 480).toString('base64')}`
    )
    // No frame header: nothing a browser could show, so not passed on either.
    writeFileSync(jpg, Buffer.from([0xff, 0xd8, 0xff, 0xd9]))
    expect(await makeThumbnail(jpg)).toBeNull()
    const huge = join(dir, 'huge.jpg')
    writeFileSync(huge, Buffer.alloc(MAX_PASSTHROUGH_BYTES + 1))
    expect(await makeThumbnail(huge)).toBeNull()
    const video = join(dir, 'a.mp4')
    writeFileSync(video, 'x')
    expect(await makeThumbnail(video)).toBeNull()
    const broken = join(dir, 'broken.png')
    writeFileSync(broken, 'not a png')
    expect(await makeThumbnail(broken)).toBeNull()
    expect(await makeThumbnail(join(dir, 'missing.png'))).toBeNull()
  })

  it('are made once per file version', async () => {
    const file = join(dir, 'a.png')
    writeFileSync(file, png(4, 4, [0, 0, 0, 255]))
    const make = vi.fn(async (f: string) => `made:${f}`)
    const cache = new ThumbnailCache(make)
    expect(await cache.get(file)).toBe(`made:${file}`)
    expect(await cache.get(file)).toBe(`made:${file}`)
    expect(make).toHaveBeenCalledTimes(1)
    writeFileSync(file, png(8, 8, [0, 0, 0, 255]))
    await cache.get(file)
    expect(make).toHaveBeenCalledTimes(2)
    expect(await cache.get(join(dir, 'gone.png'))).toBeNull()
  })
})

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4)
  len.writeUInt32BE(data.length)
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(body))
  return Buffer.concat([len, body, crc])
}

/** A PNG whose header claims `width` x `height` RGBA pixels, with the given image data. */
function pngClaiming(width: number, height: number, idat: Buffer, interlaced = false): Buffer {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr.set([8, 6, 0, 0, interlaced ? 1 : 0], 8)
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', Buffer.alloc(0))
  ])
}

function jpeg(width: number, height: number): Buffer {
  const app0 = [0xff, 0xe0, 0x00, 0x10, ...Buffer.from('JFIF\0'), 1, 1, 0, 0, 1, 0, 1, 0, 0]
  const sof = [0xff, 0xc2, 0x00, 0x11, 8, height >> 8, height & 255, width >> 8, width & 255, 3]
  const comps = [1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]
  return Buffer.from([0xff, 0xd8, ...app0, ...sof, ...comps, 0xff, 0xd9])
}

function gif(screen: [number, number], frame: [number, number]): Buffer {
  const b = Buffer.alloc(28)
  b.write('GIF89a', 0, 'latin1')
  b.writeUInt16LE(screen[0], 6)
  b.writeUInt16LE(screen[1], 8)
  b[13] = 0x2c
  b.writeUInt16LE(frame[0], 18)
  b.writeUInt16LE(frame[1], 20)
  b.set([2, 1, 0x44, 0, 0x3b], 23)
  return b
}

function webp(kind: 'VP8 ' | 'VP8L' | 'VP8X', width: number, height: number): Buffer {
  const data = Buffer.alloc(10)
  if (kind === 'VP8 ') {
    data.set([0, 0, 0, 0x9d, 0x01, 0x2a], 0)
    data.writeUInt16LE(width, 6)
    data.writeUInt16LE(height, 8)
  } else if (kind === 'VP8L') {
    data[0] = 0x2f
    data.writeUInt32LE((width - 1) | ((height - 1) << 14), 1)
  } else {
    data.writeUIntLE(width - 1, 4, 3)
    data.writeUIntLE(height - 1, 7, 3)
  }
  const size = Buffer.alloc(4)
  size.writeUInt32LE(data.length)
  const riff = Buffer.alloc(4)
  riff.writeUInt32LE(4 + 8 + data.length)
  return Buffer.concat([
    Buffer.from('RIFF'),
    riff,
    Buffer.from('WEBP'),
    Buffer.from(kind),
    size,
    data
  ])
}

describe('previews of huge images', () => {
  it('read a PNG header and do not decode above the pixel limit', async () => {
    const decode = vi.spyOn(PNG.sync, 'read').mockImplementation(() => {
      throw new Error('decoded')
    })
    const huge = join(dir, 'huge.png')
    // About 1 MB on disk, 14000 x 14000 pixels (800 MB once decoded).
    writeFileSync(huge, pngClaiming(14000, 14000, Buffer.alloc(1024 * 1024)))
    expect(await makeThumbnail(huge)).toBeNull()
    const justOver = join(dir, 'over.png')
    writeFileSync(justOver, pngClaiming(MAX_PREVIEW_PIXELS / 1000 + 1, 1000, Buffer.alloc(16)))
    expect(await makeThumbnail(justOver)).toBeNull()
    expect(decode).not.toHaveBeenCalled()
    // At the limit it is decoded as before.
    const atLimit = join(dir, 'limit.png')
    writeFileSync(atLimit, pngClaiming(MAX_PREVIEW_PIXELS / 1000, 1000, Buffer.alloc(16)))
    expect(await makeThumbnail(atLimit)).toBeNull()
    expect(decode).toHaveBeenCalledTimes(1)
  })

  it('refuse a small interlaced PNG whose data inflates far beyond its size', async () => {
    const bomb = join(dir, 'bomb.png')
    // 100 x 100 pixels need 40 kB; this data inflates to 20 MB.
    const idat = deflateSync(Buffer.alloc(20 * 1024 * 1024), { level: 9 })
    writeFileSync(bomb, pngClaiming(100, 100, idat, true))
    const decode = vi.spyOn(PNG.sync, 'read')
    expect(await makeThumbnail(bomb)).toBeNull()
    expect(decode).not.toHaveBeenCalled()
    // An honest interlaced PNG still gets its preview.
    decode.mockRestore()
    const honest = join(dir, 'honest.png')
    // 2 x 2 in seven passes: (0,0) in pass 1, (1,0) in pass 6, the second row in pass 7.
    const raw = Buffer.alloc(1 + 4 + (1 + 4) + (1 + 8))
    writeFileSync(honest, pngClaiming(2, 2, deflateSync(raw), true))
    expect(await makeThumbnail(honest)).toMatch(/^data:image\/png;base64,/)
  })

  it('read JPEG, GIF and WebP sizes, and do not pass on more pixels than the limit', async () => {
    expect(imageDimensions(jpeg(640, 480))).toEqual({ width: 640, height: 480 })
    expect(imageDimensions(gif([10, 20], [5, 5]))).toEqual({ width: 10, height: 20 })
    expect(imageDimensions(gif([10, 10], [20000, 3000]))).toEqual({ width: 20000, height: 3000 })
    expect(imageDimensions(webp('VP8 ', 300, 200))).toEqual({ width: 300, height: 200 })
    expect(imageDimensions(webp('VP8L', 300, 200))).toEqual({ width: 300, height: 200 })
    expect(imageDimensions(webp('VP8X', 16383, 16383))).toEqual({ width: 16383, height: 16383 })
    expect(imageDimensions(png(3, 2, [0, 0, 0, 255]))).toEqual({ width: 3, height: 2 })
    expect(imageDimensions(Buffer.from('not an image'))).toBeNull()

    const cases: Array<[string, Buffer, boolean]> = [
      ['small.jpg', jpeg(1024, 1024), true],
      ['huge.jpg', jpeg(65000, 65000), false],
      ['small.gif', gif([64, 64], [64, 64]), true],
      ['frame.gif', gif([64, 64], [20000, 20000]), false],
      ['small.webp', webp('VP8L', 512, 512), true],
      ['huge.webp', webp('VP8X', 16383, 16383), false]
    ]
    for (const [name, bytes, shown] of cases) {
      writeFileSync(join(dir, name), bytes)
      const url = await makeThumbnail(join(dir, name))
      expect(url === null ? 'tile' : 'preview', name).toBe(shown ? 'preview' : 'tile')
    }
  })
})

describe('outputs the window opens with the system', () => {
  it('are pictures, video and sound only', () => {
    for (const f of ['/o/a.png', '/o/B.JPG', '/o/c.webp', '/o/d.mp4', '/o/e.WAV', '/o/f.flac'])
      expect(opensDirectly(f), f).toBe(true)
    for (const f of [
      '/o/evil.bat',
      '/o/evil.bat.txt',
      '/o/a.exe',
      '/o/a.lnk',
      '/o/a.command',
      '/o/a.desktop',
      '/o/a.svg',
      '/o/a.html',
      '/o/a.json',
      '/o/mesh.glb',
      '/o/noext',
      '/o/a.png.',
      'C:\\o\\evil.bat:hidden.png'
    ])
      expect(opensDirectly(f), f).toBe(false)
  })
})
