import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  jobFolderName,
  moveIntoUnique,
  resolveInputInside,
  safeFileName,
  safeOutputName,
  writeUnique
} from '../../src/main/core/jobs/files'

const dirs: string[] = []
afterEach(() => {
  vi.restoreAllMocks()
  dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true }))
})

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-out-'))
  dirs.push(d)
  return d
}

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
    // No extension is not a known type either (see the next test).
    expect(path.basename(written[0]!)).toBe('passwd.txt')
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

describe('names Windows, or a reader, would take for something else', () => {
  it.each([
    ['COM1 .txt', '_COM1 .txt'],
    ['con .png', '_con .png'],
    ['lpt\u00b9.png', '_lpt\u00b9.png'],
    ['COM\u00b2', '_COM\u00b2'],
    ['AUX.tar.gz', '_AUX.tar.gz'],
    ['nul', '_nul'],
    ['CONOUT$.png', '_CONOUT$.png'],
    ['console.png', 'console.png'],
    ['com10.png', 'com10.png']
  ])('%j becomes %j', (name, safe) => {
    expect(safeFileName(name)).toBe(safe)
  })

  it('drops invisible direction and zero-width characters, so a name reads as it is', () => {
    // Shown as "tab.png" by a bidi-aware file manager; it really ends in ".bat".
    expect(safeFileName('\u202Egnp.bat')).toBe('gnp.bat')
    const invisible = [
      0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0x200e, 0x200f,
      0x061c, 0x200b, 0x200c, 0x200d, 0x2060, 0xfeff
    ].map((c) => String.fromCodePoint(c))
    for (const c of invisible) expect(safeFileName(`a${c}b.png`)).toBe('ab.png')
    // Line separators and C1 controls are replaced like other control characters.
    expect(safeFileName('a\u2028b\u0085c.png')).toBe('a_b_c.png')
    // An override hidden at the end no longer protects a trailing dot or space.
    expect(safeFileName('evil.bat .\u202E')).toBe('evil.bat')
  })

  it('normalises to NFC, so one name has one spelling on every system', () => {
    expect(safeFileName('Cafe\u0301.png')).toBe('Caf\u00e9.png')
    expect(safeFileName('Cafe\u0301.png')).toBe(safeFileName('Caf\u00e9.png'))
  })

  it('keeps long names within 200 UTF-8 bytes, cutting whole characters', () => {
    const s = safeFileName(`${'\u753b'.repeat(140)}.png`)
    expect(Buffer.byteLength(s)).toBeLessThanOrEqual(200)
    expect(s.endsWith('\u753b.png')).toBe(true)
    const emoji = safeFileName(`${'\u{1F600}'.repeat(100)}.png`)
    expect(emoji).not.toMatch(/[\uD800-\uDFFF](?![\uDC00-\uDFFF])/u)
    expect(emoji.endsWith('.png')).toBe(true)
  })
})

describe('never saved under a name the system would run', () => {
  it.each([
    ['evil.bat', 'evil.bat.txt'],
    ['evil.EXE', 'evil.EXE.txt'],
    ['shortcut.lnk', 'shortcut.lnk.txt'],
    ['run.command', 'run.command.txt'],
    ['app.desktop', 'app.desktop.txt'],
    ['x.png.js', 'x.png.js.txt'],
    ['page.html', 'page.html.txt'],
    ['picture.svg', 'picture.svg.txt'],
    ['weights.ckpt', 'weights.ckpt.txt'],
    ['\u202Egnp.bat', 'gnp.bat.txt'],
    ['evil.bat.', 'evil.bat.txt'],
    ['README', 'README.txt'],
    ['ComfyUI_00001_.png', 'ComfyUI_00001_.png'],
    ['Photo.JPG', 'Photo.JPG'],
    ['clip.mp4', 'clip.mp4'],
    ['voice.flac', 'voice.flac'],
    ['mesh.glb', 'mesh.glb'],
    ['prompt.json', 'prompt.json'],
    ['latents.latent', 'latents.latent']
  ])('%j is saved as %j', (name, saved) => {
    expect(safeOutputName(name)).toBe(saved)
    expect(path.basename(writeUnique(tempDir(), name, Buffer.from('x')))).toBe(saved)
  })

  it('keeps the added extension on names cut for length', () => {
    const s = safeOutputName(`${'x'.repeat(400)}.bat`)
    expect(s.endsWith('.txt')).toBe(true)
    expect(s.length).toBeLessThanOrEqual(150)
  })
})

describe('many outputs with the same name', () => {
  it('costs one file-system attempt each, not one per file already there', () => {
    const dir = tempDir()
    const writes = vi.spyOn(fs, 'writeFileSync')
    const names = new Set<string>()
    for (let i = 0; i < 1200; i++)
      names.add(writeUnique(dir, 'ComfyUI_00001_.png', Buffer.from([i & 255])))
    expect(names.size).toBe(1200)
    expect(fs.readdirSync(dir)).toHaveLength(1200)
    // 1200 writes; the old search from 0 each time made 1200 * 1201 / 2 = 720600.
    expect(writes.mock.calls.length).toBe(1200)
    expect(path.basename(writeUnique(dir, 'ComfyUI_00001_.png', Buffer.from('z')))).toBe(
      'ComfyUI_00001_ (1200).png'
    )
  })

  it('still never overwrites a file that appeared meanwhile', () => {
    const dir = tempDir()
    writeUnique(dir, 'a.png', Buffer.from('0'))
    // Someone else takes the next numbers between two calls.
    fs.writeFileSync(path.join(dir, 'a (1).png'), 'theirs')
    fs.writeFileSync(path.join(dir, 'a (2).png'), 'theirs')
    expect(path.basename(writeUnique(dir, 'a.png', Buffer.from('mine')))).toBe('a (3).png')
    expect(fs.readFileSync(path.join(dir, 'a (1).png'), 'utf8')).toBe('theirs')
    expect(fs.readFileSync(path.join(dir, 'a (3).png'), 'utf8')).toBe('mine')
  })

  it('finds free names in a folder it has not seen, and counts each folder on its own', () => {
    const a = tempDir()
    const b = tempDir()
    fs.writeFileSync(path.join(a, 'x.png'), '')
    expect(path.basename(writeUnique(a, 'x.png', Buffer.from('1')))).toBe('x (1).png')
    expect(path.basename(writeUnique(b, 'x.png', Buffer.from('1')))).toBe('x.png')
  })
})

describe('moving a finished download into the job folder', () => {
  it('gives a safe, unused name and overwrites nothing', () => {
    const root = tempDir()
    const job = path.join(root, 'job')
    const tmp = path.join(root, 'download.part')
    fs.writeFileSync(tmp, 'first')
    const a = moveIntoUnique(tmp, job, '../evil.bat')
    expect(a).toBe(path.join(job, 'evil.bat.txt'))
    expect(fs.readFileSync(a, 'utf8')).toBe('first')
    expect(fs.existsSync(tmp)).toBe(false)
    fs.writeFileSync(tmp, 'second')
    const b = moveIntoUnique(tmp, job, 'evil.bat')
    expect(b).toBe(path.join(job, 'evil.bat (1).txt'))
    expect(fs.readFileSync(a, 'utf8')).toBe('first')
    expect(fs.readFileSync(b, 'utf8')).toBe('second')
    expect(fs.readdirSync(root).sort()).toEqual(['job'])
  })

  it('reserves the name first, so two moves (or a write) at once never share it', () => {
    const root = tempDir()
    const renames: Array<[string, string]> = []
    const real = fs.renameSync.bind(fs)
    vi.spyOn(fs, 'renameSync').mockImplementation((from, to) => {
      // The destination already exists (empty) when the rename happens.
      expect(fs.statSync(to).size).toBe(0)
      if (renames.length === 0) {
        // Meanwhile another output with the same name arrives.
        writeUnique(root, 'a.png', Buffer.from('other'))
      }
      renames.push([String(from), String(to)])
      real(from, to)
    })
    fs.writeFileSync(path.join(root, 't1'), 'one')
    const one = moveIntoUnique(path.join(root, 't1'), root, 'a.png')
    expect(path.basename(one)).toBe('a.png')
    expect(fs.readFileSync(one, 'utf8')).toBe('one')
    expect(fs.readFileSync(path.join(root, 'a (1).png'), 'utf8')).toBe('other')
  })

  it('copies across drives, and on failure leaves no reserved file behind', () => {
    const root = tempDir()
    const tmp = path.join(root, 't')
    fs.writeFileSync(tmp, 'bytes')
    const rename = vi.spyOn(fs, 'renameSync').mockImplementation(() => {
      throw Object.assign(new Error('cross-device link not permitted'), { code: 'EXDEV' })
    })
    const moved = moveIntoUnique(tmp, path.join(root, 'job'), 'a.png')
    expect(fs.readFileSync(moved, 'utf8')).toBe('bytes')
    expect(fs.existsSync(tmp)).toBe(false)
    rename.mockRestore()
    expect(() =>
      moveIntoUnique(path.join(root, 'missing'), path.join(root, 'job'), 'b.png')
    ).toThrow(/ENOENT/)
    expect(fs.readdirSync(path.join(root, 'job'))).toEqual(['a.png'])
  })
})

describe('input images a workflow names', () => {
  function setup() {
    const root = fs.realpathSync(tempDir())
    const base = path.join(root, 'workflows')
    const outside = path.join(root, 'secret.png')
    fs.mkdirSync(path.join(base, 'sub'), { recursive: true })
    fs.writeFileSync(outside, 'secret')
    fs.writeFileSync(path.join(base, 'photo.png'), 'photo')
    fs.writeFileSync(path.join(base, 'sub', 'mask.png'), 'mask')
    fs.writeFileSync(path.join(base, '..evil.png'), 'dots in a name are fine')
    fs.symlinkSync(outside, path.join(base, 'escape.png'))
    fs.symlinkSync(root, path.join(base, 'up'))
    fs.symlinkSync(path.join(base, 'photo.png'), path.join(base, 'alias.png'))
    fs.symlinkSync(path.join(base, 'missing.png'), path.join(base, 'dangling.png'))
    return { root, base, outside }
  }

  it('are files inside the workflow folder, by their real path', () => {
    const { base } = setup()
    expect(resolveInputInside(base, 'photo.png')).toBe(path.join(base, 'photo.png'))
    expect(resolveInputInside(base, 'sub/mask.png')).toBe(path.join(base, 'sub', 'mask.png'))
    expect(resolveInputInside(base, '..evil.png')).toBe(path.join(base, '..evil.png'))
    // A link inside that points inside is fine; the real file is returned.
    expect(resolveInputInside(base, 'alias.png')).toBe(path.join(base, 'photo.png'))
  })

  it('never anything outside it, however it is named or linked', () => {
    const { root, base, outside } = setup()
    for (const name of [
      'escape.png',
      'up/secret.png',
      '../secret.png',
      'sub/../../secret.png',
      'sub\\..\\..\\secret.png',
      outside,
      'C:\\secret.png',
      'C:secret.png',
      '\\\\server\\share\\a.png',
      'dangling.png',
      'missing.png',
      'sub',
      '.',
      '',
      'photo.png\0.txt'
    ]) {
      expect(resolveInputInside(base, name), name).toBeNull()
    }
    // The base folder itself given through a link is resolved too.
    fs.symlinkSync(base, path.join(root, 'link-to-base'))
    expect(resolveInputInside(path.join(root, 'link-to-base'), 'photo.png')).toBe(
      path.join(base, 'photo.png')
    )
    expect(resolveInputInside(path.join(root, 'link-to-base'), 'escape.png')).toBeNull()
    expect(resolveInputInside(path.join(root, 'nope'), 'photo.png')).toBeNull()
  })
})
