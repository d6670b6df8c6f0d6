/**
 * Files named by someone else: output names a server sends are made safe (nothing lands outside
 * the job folder, nothing is saved under a name the system would run), and input images a
 * workflow names are only taken from inside the workflow's folder.
 */
import fs from 'node:fs'
import path from 'node:path'

/**
 * Names Windows keeps for devices, whatever follows the first dot (`AUX.tar.gz`) and with
 * trailing spaces ignored (`COM1 .txt`). Superscript digits count as digits there (`LPT¹`).
 */
const WINDOWS_RESERVED = /^(con|prn|aux|nul|conin\$|conout\$|com[0-9¹²³]|lpt[0-9¹²³])$/i

/** Invisible characters that change how a name reads (bidi overrides, zero-width, BOM...). */
const FORMAT_CHARS = /\p{Cf}/gu
/** Control characters, line/paragraph separators, lone surrogates, and what Windows forbids. */
const BAD_CHARS = /[\p{Cc}\p{Zl}\p{Zp}\p{Cs}<>:"|?*]/gu

/** Longest saved name, in characters and in UTF-8 bytes (file systems allow 255 bytes). */
const MAX_NAME_CHARS = 150
const MAX_NAME_BYTES = 200

/**
 * Extensions an output keeps as they are: pictures, video, sound, text, 3D and model data.
 * No system runs any of these when it is double-clicked. Left out on purpose: anything a system
 * may execute or open in a browser with scripts (exe, bat, cmd, ps1, lnk, url, command, desktop,
 * sh, js, html, svg, pdf, ...), archives, and Python pickles (pt, ckpt, pth).
 */
// prettier-ignore
export const KEPT_OUTPUT_EXTENSIONS: ReadonlySet<string> = new Set(
  [
    // pictures
    'png', 'jpg', 'jpeg', 'jfif', 'webp', 'gif', 'bmp', 'tif', 'tiff', 'avif', 'heic', 'heif',
    'exr', 'hdr',
    // video
    'mp4', 'm4v', 'webm', 'mov', 'mkv', 'avi',
    // sound
    'mp3', 'wav', 'flac', 'ogg', 'oga', 'opus', 'm4a', 'aac',
    // text and data
    'txt', 'json', 'csv', 'tsv', 'md',
    // 3D
    'glb', 'gltf', 'obj', 'mtl', 'ply', 'stl', 'fbx', 'usdz',
    // model data (plain tensors, no code)
    'safetensors', 'latent', 'npy', 'npz'
  ].map((e) => `.${e}`)
)

/**
 * Appended to any other name (`evil.bat` is saved as `evil.bat.txt`). Every system opens a
 * `.txt` file in a plain text editor, which shows the content and never runs it; the original
 * name stays readable in front of it.
 */
export const NEUTRAL_EXTENSION = '.txt'

function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8')
}

/** Cuts `s` (by whole characters) so that `s + keep` fits the name limits. */
function fitName(s: string, keep: string): string {
  const chars = [...s]
  const room = MAX_NAME_CHARS - [...keep].length
  if (chars.length > room) chars.length = Math.max(0, room)
  while (chars.length && utf8Length(chars.join('') + keep) > MAX_NAME_BYTES) chars.pop()
  return chars.join('') + keep
}

/**
 * A file name (no folders) that is safe on Windows, macOS and Linux: NFC, no invisible format
 * characters, no control or forbidden characters, no leading dots, no trailing dots or spaces,
 * not a Windows device name, at most 150 characters and 200 UTF-8 bytes (the extension kept).
 * The extension is not judged here; see `safeOutputName`.
 */
export function safeFileName(name: string, fallback = 'output'): string {
  // Only the last path segment counts, whatever separators the server used.
  const base = name.normalize('NFC').split(/[\\/]/).pop() ?? ''
  let s = base
    .replace(FORMAT_CHARS, '')
    .replace(BAD_CHARS, '_')
    .replace(/^[.\s]+/u, '')
    .replace(/[.\s]+$/u, '')
    .normalize('NFC')
  if (!s) s = fallback
  const device = s.split('.')[0]!.replace(/[\s.]+$/u, '')
  if (WINDOWS_RESERVED.test(device)) s = `_${s}`
  if ([...s].length > MAX_NAME_CHARS || utf8Length(s) > MAX_NAME_BYTES) {
    const ext = path.extname(s)
    const keep = ext.length <= 12 && ext.length < s.length ? ext : ''
    s = fitName(s.slice(0, s.length - keep.length), keep)
  }
  return s
}

/** True when an output may keep this name's extension (see `KEPT_OUTPUT_EXTENSIONS`). */
export function hasKeptExtension(name: string): boolean {
  return KEPT_OUTPUT_EXTENSIONS.has(path.extname(name).toLowerCase())
}

/**
 * The name an output a server named is saved under: `safeFileName`, plus `NEUTRAL_EXTENSION`
 * when its extension is not one of `KEPT_OUTPUT_EXTENSIONS` (`evil.bat` becomes `evil.bat.txt`,
 * `notes` becomes `notes.txt`).
 */
export function safeOutputName(name: string): string {
  const s = safeFileName(name)
  if (hasKeptExtension(s)) return s
  return fitName(s, NEUTRAL_EXTENSION)
}

/** A folder name for one job: `2026-11-26_1705_portrait_1a2b3c4d`. */
export function jobFolderName(source: string, id: string, when: number): string {
  const d = new Date(when)
  const p = (n: number) => String(n).padStart(2, '0')
  const stamp = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}_${p(d.getHours())}${p(d.getMinutes())}`
  const stem = safeFileName(path.basename(source).replace(/\.[^.]+$/, ''), 'workflow').slice(0, 40)
  return `${stamp}_${stem}_${id.slice(0, 8)}`
}

/** Numbers tried per call before giving up. */
const MAX_TRIES = 10_000
/** Folder+name pairs whose next free number is remembered (the oldest are forgotten). */
const REMEMBERED_NAMES = 5_000
/** Next number to try, per resolved folder and safe name: n same names cost n tries, not n². */
const nextNumber = new Map<string, number>()

function remember(key: string, next: number): void {
  nextNumber.delete(key)
  nextNumber.set(key, next)
  while (nextNumber.size > REMEMBERED_NAMES) {
    const oldest = nextNumber.keys().next().value
    if (oldest === undefined) break
    nextNumber.delete(oldest)
  }
}

/**
 * Finds an unused name for `name` in `dir` and claims it with `claim`, which must create the file
 * exclusively (flag `wx`) and throw EEXIST when something is already there.
 */
function claimUnique(dir: string, name: string, claim: (file: string) => void): string {
  fs.mkdirSync(dir, { recursive: true })
  const root = path.resolve(dir)
  const safe = safeOutputName(name)
  const ext = path.extname(safe)
  const stem = safe.slice(0, safe.length - ext.length)
  const key = `${root}\0${safe}`
  let i = nextNumber.get(key) ?? 0
  for (let tries = 0; tries < MAX_TRIES; tries++, i++) {
    const candidate = path.join(root, i === 0 ? safe : `${stem} (${i})${ext}`)
    // Cannot happen by construction; guards future changes.
    if (path.dirname(candidate) !== root) throw new Error(`Refused to write outside ${dir}`)
    try {
      claim(candidate)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue
      throw err
    }
    remember(key, i + 1)
    return candidate
  }
  remember(key, i)
  throw new Error(`Too many files named ${safe} in ${dir}`)
}

/**
 * Writes bytes under `dir` with a safe, unused name (`safeOutputName`, numbered ` (1)`, ` (2)`...
 * when taken) and returns the full path. Never overwrites a file.
 */
export function writeUnique(dir: string, name: string, bytes: Uint8Array): string {
  return claimUnique(dir, name, (file) => fs.writeFileSync(file, bytes, { flag: 'wx' }))
}

/**
 * Moves a finished temporary file (a download streamed to disk) into `dir` under a safe, unused
 * name, exactly as `writeUnique` names it, and returns the full path. Never overwrites anything:
 * the name is first reserved by creating it empty and exclusively, so concurrent callers always
 * get different names; then the temporary file is renamed onto that reservation. A temporary
 * file on another drive is copied and then removed. On failure the reservation is removed, the
 * temporary file is left where it was, and the error is thrown.
 *
 * Put the temporary file in (or next to) the job folder so the move is a cheap rename.
 */
export function moveIntoUnique(tmpFile: string, dir: string, name: string): string {
  const dest = claimUnique(dir, name, (file) => fs.closeSync(fs.openSync(file, 'wx')))
  try {
    try {
      fs.renameSync(tmpFile, dest)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err
      fs.copyFileSync(tmpFile, dest)
      fs.rmSync(tmpFile, { force: true })
    }
  } catch (err) {
    fs.rmSync(dest, { force: true })
    throw err
  }
  return dest
}

function isInside(base: string, target: string): boolean {
  const rel = path.relative(base, target)
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel)
}

/**
 * The real path of the input file `name` (as a workflow names it, e.g. `photo.png` or
 * `sub/photo.png`) inside `baseDir`, or null when it is not a regular file inside it: absolute
 * names, drive letters and `..` are refused, and links are followed (real paths of both), so a
 * link inside that points outside is refused while one pointing inside is fine. Read the
 * returned path, not `name`.
 */
export function resolveInputInside(baseDir: string, name: string): string | null {
  if (!name || name.includes('\0')) return null
  if (path.isAbsolute(name) || path.win32.isAbsolute(name) || /^[a-z]:/i.test(name)) return null
  if (name.split(/[\\/]/).includes('..')) return null
  try {
    const realBase = fs.realpathSync.native(baseDir)
    const real = fs.realpathSync.native(path.resolve(realBase, name))
    if (!isInside(realBase, real)) return null
    return fs.statSync(real).isFile() ? real : null
  } catch {
    return null
  }
}
