/**
 * ComfyUI's file routes and writers: GET /view, POST /upload/image and /upload/mask
 * (server.py) and SaveImage/PreviewImage's naming (folder_paths.get_save_image_path).
 */
import { randomInt } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { SaveFilesRequest, SaveImagesRequest } from './executor'
import { formText, parseForm } from './multipart'
import { comfyPngText, decodePng, isPng, makePng, readPngText } from './png'
import { PyError, isDict, pyGetItem, pyInt } from './pyjson'
import type { ImageRef } from './types'
import {
  MIME,
  annotated,
  commonPath,
  emptyReply,
  isFile,
  isInside,
  jsonReply,
  parseJson
} from './wire'
import type { Reply } from './wire'

/** The three directories of a ComfyUI install that the API can reach. */
export interface Dirs {
  output: string
  input: string
  temp: string
}

/** folder_paths.get_directory_by_type */
export function dirByType(dirs: Dirs, type: string | null): string | null {
  if (type === 'output') return dirs.output
  if (type === 'input') return dirs.input
  if (type === 'temp') return dirs.temp
  return null
}

/** A generated output (FakeSaveFile): served by /view, never written to disk. */
export interface VirtualFile {
  size: number
  /** Which output of its node it was; picks the content. */
  index: number
}

/** Generated outputs by absolute path; they outlive restarts, like files on disk. */
export type VirtualFiles = Map<string, VirtualFile>

const PATTERN_SIZE = 65536
let pattern: Buffer | null = null

/**
 * The content of a generated output: bytes `offset .. offset+length` of output number
 * `index` (a fixed pseudo-random 64 KiB pattern, shifted per index). Tests use it to check
 * what /view served.
 */
export function fakeFileBytes(index: number, offset: number, length: number): Buffer {
  if (!pattern) {
    pattern = Buffer.alloc(PATTERN_SIZE)
    let x = 0x2545f491
    for (let i = 0; i < PATTERN_SIZE; i++) {
      x ^= x << 13
      x ^= x >>> 17
      x ^= x << 5
      pattern[i] = x & 0xff
    }
  }
  const out = Buffer.allocUnsafe(Math.max(0, length))
  const shift = (index * 4099) % PATTERN_SIZE
  let o = 0
  while (o < out.length) {
    const pos = (offset + o + shift) % PATTERN_SIZE
    const n = Math.min(out.length - o, PATTERN_SIZE - pos)
    pattern.copy(out, o, pos, pos + n)
    o += n
  }
  return out
}

/** FakeSaveFile: registers `count` generated files and reports them exactly as named. */
export function saveFiles(dirs: Dirs, files: VirtualFiles, req: SaveFilesRequest): ImageRef[] {
  const baseDir = req.type === 'temp' ? dirs.temp : dirs.output
  const refs: ImageRef[] = []
  for (let i = 0; i < req.count; i++) {
    const sub =
      req.subfolders === 'different'
        ? req.subfolder === ''
          ? String(i + 1)
          : `${req.subfolder}/${i + 1}`
        : req.subfolder
    files.set(path.resolve(baseDir, sub, req.filename), { size: req.bytes, index: i })
    refs.push({ filename: req.filename, subfolder: sub, type: req.type })
  }
  return refs
}

/** aiohttp writes header values as UTF-8; Node sends a string's chars as bytes (latin-1). */
function utf8Header(v: string): string {
  return Buffer.from(v, 'utf8').toString('latin1')
}

function mimeOf(base: string): string {
  const type = MIME[path.extname(base).toLowerCase()] ?? 'application/octet-stream'
  return ['text/html', 'text/javascript', 'text/css', 'application/xhtml+xml'].includes(type)
    ? 'application/octet-stream'
    : type
}

export function viewFile(dirs: Dirs, q: URLSearchParams, files?: VirtualFiles): Reply {
  const raw = q.get('filename')
  if (raw === null) return emptyReply(404)
  const [name, annotatedType] = annotated(raw)
  if (!name) return emptyReply(400)
  if (name.startsWith('/') || name.includes('..')) return emptyReply(400)
  let dir = dirByType(dirs, annotatedType ?? q.get('type') ?? 'output')
  if (dir === null) return emptyReply(400)
  const sub = q.get('subfolder')
  if (sub !== null) {
    const full = path.isAbsolute(sub) ? sub : path.join(dir, sub)
    if (!isInside(dir, full)) return emptyReply(403)
    dir = full
  }
  const base = path.basename(name)
  const file = path.join(dir, base)
  const generated = files?.get(path.resolve(file))
  if (generated) {
    const { size, index } = generated
    return {
      status: 200,
      headers: {
        'Content-Disposition': utf8Header(`filename="${base}"`),
        'Content-Type': mimeOf(base)
      },
      source: { size, read: (offset, length) => fakeFileBytes(index, offset, length) }
    }
  }
  if (!isFile(file)) return emptyReply(404)
  const headers: Record<string, string> = {
    'Content-Disposition': utf8Header(`filename="${base}"`),
    'Last-Modified': fs.statSync(file).mtime.toUTCString()
  }
  const bytes = fs.readFileSync(file)
  const channel = q.get('channel') ?? 'rgba'
  if ((channel === 'rgb' || channel === 'a') && isPng(bytes)) {
    const img = decodePng(bytes)
    const out = Buffer.alloc(img.data.length)
    for (let i = 0; i < img.data.length; i += 4) {
      if (channel === 'rgb') {
        img.data.copy(out, i, i, i + 3)
        out[i + 3] = 255
      } else {
        out[i + 3] = img.data[i + 3] ?? 255
      }
    }
    const png = makePng({ width: img.width, height: img.height, rgba: out })
    return { status: 200, headers: { ...headers, 'Content-Type': 'image/png' }, body: png }
  }
  return { status: 200, headers: { ...headers, 'Content-Type': mimeOf(base) }, body: bytes }
}

export function uploadImage(
  dirs: Dirs,
  body: Buffer,
  contentType: string | undefined,
  mask: boolean
): Reply {
  const form = parseForm(body, contentType)
  const image = form.get('image')
  const overwrite = formText(form, 'overwrite')
  const typeField = formText(form, 'type')
  const type = typeField ?? 'input'
  const uploadDir = dirByType(dirs, type)
  // get_dir_by_type leaves its result unbound for other values: UnboundLocalError.
  if (uploadDir === null) throw new PyError('UnboundLocalError', 'type_dir')
  if (!image || (image.filename === null && image.data.length === 0)) return emptyReply(400)
  if (image.filename === null)
    throw new PyError('AttributeError', "'str' object has no attribute 'file'")
  let filename = image.filename
  const subfolder = formText(form, 'subfolder') ?? ''
  const folder = path.join(uploadDir, path.normalize(subfolder))
  let filepath = path.resolve(folder, filename)
  if (!isInside(uploadDir, filepath) || path.isAbsolute(subfolder)) return emptyReply(400)
  fs.mkdirSync(folder, { recursive: true })
  const ext = path.extname(filename)
  const stem = filename.slice(0, filename.length - ext.length)
  let duplicate = false
  if (overwrite !== 'true' && overwrite !== '1') {
    for (let i = 1; fs.existsSync(filepath); i++) {
      if (fs.readFileSync(filepath).equals(image.data)) {
        duplicate = true
        break
      }
      filename = `${stem} (${i})${ext}`
      filepath = path.join(folder, filename)
    }
  }
  if (!duplicate) {
    try {
      if (mask)
        saveMask(
          dirs,

          form.get('original_ref')?.data.toString('utf8') ?? null,
          image.data,
          filepath
        )
      else fs.writeFileSync(filepath, image.data)
    } catch (e) {
      if (e instanceof PyError) throw e
      throw new PyError('OSError', e instanceof Error ? e.message : String(e))
    }
  }
  return jsonReply({ name: filename, subfolder, type })
}

/** The mask's alpha copied onto the referenced original; nothing saved if it is missing. */
function saveMask(dirs: Dirs, originalRef: string | null, maskBytes: Buffer, target: string): void {
  if (originalRef === null)
    throw new PyError('TypeError', 'the JSON object must be str, not NoneType')
  const ref = parseJson(Buffer.from(originalRef))
  if (!isDict(ref)) throw new PyError('TypeError', 'original_ref must be an object')
  const [name, annotatedType] = annotated(String(pyGetItem(ref, 'filename')))
  if (!name || name.startsWith('/') || name.includes('..')) return
  let dir = dirByType(dirs, annotatedType ?? (typeof ref.type === 'string' ? ref.type : 'output'))
  if (dir === null) return
  if (typeof ref.subfolder === 'string' && ref.subfolder !== '') {
    const full = path.join(dir, ref.subfolder)
    if (!isInside(dir, full)) return
    dir = full
  }
  const original = path.join(dir, name)
  if (!isFile(original)) return
  let orig, maskImg
  try {
    orig = decodePng(fs.readFileSync(original))
    maskImg = decodePng(maskBytes)
  } catch (e) {
    throw new PyError('PIL.UnidentifiedImageError', e instanceof Error ? e.message : String(e))
  }
  if (orig.width !== maskImg.width || orig.height !== maskImg.height) {
    throw new PyError('ValueError', 'images do not match')
  }
  for (let i = 3; i < orig.data.length; i += 4) orig.data[i] = maskImg.data[i] ?? 255
  const text = readPngText(fs.readFileSync(original))
  fs.writeFileSync(
    target,
    makePng({ width: orig.width, height: orig.height, rgba: orig.data, text })
  )
}

/** folder_paths.get_save_image_path + SaveImage.save_images, with tiny PNGs. */
export function saveImages(dirs: Dirs, req: SaveImagesRequest): ImageRef[] {
  const baseDir = req.kind === 'save' ? dirs.output : dirs.temp
  const type = req.kind === 'save' ? 'output' : 'temp'
  let prefix = req.filenamePrefix
  if (req.kind === 'preview') {
    const letters = 'abcdefghijklmnopqrstupvxyz'
    prefix += '_temp_' + Array.from({ length: 5 }, () => letters[randomInt(0, 26)]).join('')
  }
  if (prefix.includes('%')) prefix = computeVars(prefix, req.width * 16, req.height * 16)
  const norm = path.posix.normalize(prefix)
  const dirname = path.posix.dirname(norm)
  const subfolder = dirname === '.' ? '' : dirname
  const filename = path.posix.basename(norm)
  const full = path.resolve(baseDir, subfolder)
  if (!isInside(baseDir, full)) {
    throw new PyError(
      'Exception',
      `**** ERROR: Saving image outside the output folder is not allowed.\n full_output_folder: ${full}\n         output_dir: ${baseDir}\n         commonpath: ${commonPath(baseDir, full)}`
    )
  }
  let counter = 1
  let files: string[] = []
  try {
    files = fs.readdirSync(full)
  } catch {
    fs.mkdirSync(full, { recursive: true })
  }
  for (const f of files) {
    const p = f.slice(0, filename.length + 1)
    if (p.slice(0, -1) !== filename || !p.endsWith('_')) continue
    let digits = 0
    try {
      digits = pyInt(f.slice(filename.length + 1).split('_')[0] ?? '')
    } catch {
      digits = 0
    }
    counter = Math.max(counter, digits + 1)
  }
  const text = comfyPngText(req.prompt, req.extraPngInfo)
  const refs: ImageRef[] = []
  for (let i = 0; i < req.count; i++) {
    const file = `${filename.replaceAll('%batch_num%', String(i))}_${String(counter).padStart(5, '0')}_.png`
    fs.writeFileSync(
      path.join(full, file),
      makePng({ width: req.width, height: req.height, seed: req.seed + i, text })
    )
    refs.push({ filename: file, subfolder, type })
    counter++
  }
  return refs
}

function computeVars(input: string, width: number, height: number): string {
  const now = new Date()
  const two = (n: number): string => String(n).padStart(2, '0')
  return input
    .replaceAll('%width%', String(width))
    .replaceAll('%height%', String(height))
    .replaceAll('%year%', String(now.getFullYear()))
    .replaceAll('%month%', two(now.getMonth() + 1))
    .replaceAll('%day%', two(now.getDate()))
    .replaceAll('%hour%', two(now.getHours()))
    .replaceAll('%minute%', two(now.getMinutes()))
    .replaceAll('%second%', two(now.getSeconds()))
}
