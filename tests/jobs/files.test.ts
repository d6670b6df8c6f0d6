import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { jobFolderName, safeFileName, writeUnique } from '../../src/main/core/jobs/files'

const dirs: string[] = []
afterEach(() => dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true })))

describe('output file names from a server', () => {
  it('keeps hostile names inside the job folder', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-out-'))
    dirs.push(root)
    const folder = path.join(root, 'job')
    const hostile = [
      '../../etc/passwd',
      '..\\..\\Windows\\evil.dll',
      '/abs/path.png',
      'C:\\Users\\x\\a.png',
      '..',
      '.',
      '',
      'con.png',
      'a\u0000b.png',
      'name:with*bad?chars.png',
      `${'x'.repeat(400)}.png`
    ]
    const written = hostile.map((n) => writeUnique(folder, n, Buffer.from(n)))
    for (const p of written) {
      expect(path.dirname(p)).toBe(path.resolve(folder))
      expect(fs.existsSync(p)).toBe(true)
    }
    expect(fs.readdirSync(root)).toEqual(['job'])
    expect(path.basename(written[0]!)).toBe('passwd')
    expect(path.basename(written[7]!)).toBe('_con.png')
    expect(path.basename(written[10]!).length).toBeLessThanOrEqual(150)
  })

  it('never overwrites: a second file with the same name is numbered', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-out-'))
    dirs.push(root)
    const a = writeUnique(root, 'ComfyUI_00001_.png', Buffer.from('a'))
    const b = writeUnique(root, 'ComfyUI_00001_.png', Buffer.from('b'))
    expect(path.basename(b)).toBe('ComfyUI_00001_ (1).png')
    expect(fs.readFileSync(a, 'utf8')).toBe('a')
  })

  it('names job folders by time, workflow and id', () => {
    expect(safeFileName('my/portrait v2.json')).toBe('portrait v2.json')
    expect(
      jobFolderName('../portrait.json', 'abcdef12-3456', new Date(2026, 10, 26, 17, 5).getTime())
    ).toBe('2026-11-26_1705_portrait_abcdef12')
  })
})
