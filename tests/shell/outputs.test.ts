import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PNG } from 'pngjs'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  checkedOutputPath,
  downscale,
  jobWithOutput,
  makeThumbnail,
  MAX_PASSTHROUGH_BYTES,
  ThumbnailCache,
  UnknownOutputError
} from '../../src/main/outputs'
import type { JobRecord } from '../../src/shared/types'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'comfy-balancer-outputs-'))
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

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
    writeFileSync(jpg, Buffer.from([0xff, 0xd8, 0xff, 0xd9]))
    expect(await makeThumbnail(jpg)).toBe('data:image/jpeg;base64,/9j/2Q==')
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
