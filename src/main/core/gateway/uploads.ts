/**
 * Images uploaded to the gateway (`POST /upload/image`, `/upload/mask`): kept in one bounded
 * folder, named as ComfyUI names them (the same bytes keep their name, other bytes under a taken
 * name become `name (1).png`), and handed to the job engine as the job's input folder, which
 * uploads them to whichever server runs the job.
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

/** Bytes kept at most, all uploads together; the least recently used go first. */
export const MAX_UPLOAD_STORE_BYTES = 2 * 1024 * 1024 * 1024
/** Files kept at most. */
export const MAX_UPLOAD_FILES = 2_000

export const UPLOAD_TYPES = ['input', 'temp', 'output'] as const
export type UploadType = (typeof UPLOAD_TYPES)[number]

export class UploadError extends Error {}

export interface StoredUpload {
  name: string
  subfolder: string
  type: UploadType
}

function sha256(buf: Uint8Array): string {
  return createHash('sha256').update(buf).digest('hex')
}

/** A file name without folders, or null when nothing usable is left. */
function safeName(name: string): string | null {
  const base = name.split(/[\\/]/).pop() ?? ''
  // eslint-disable-next-line no-control-regex
  const clean = base.replace(/[\u0000-\u001f<>:"|?*]/g, '_').trim()
  if (!clean || clean === '.' || clean === '..') return null
  return clean.slice(0, 200)
}

/** A subfolder inside the store, or null when it would leave it. */
function safeSubfolder(sub: string): string | null {
  if (!sub) return ''
  if (sub.includes('\0') || path.isAbsolute(sub) || /^[a-z]:/i.test(sub)) return null
  const parts = sub.split(/[\\/]/).filter((p) => p && p !== '.')
  if (parts.includes('..') || parts.length > 8) return null
  return parts.join('/')
}

export class UploadStore {
  constructor(
    readonly dir: string,
    private readonly maxBytes = MAX_UPLOAD_STORE_BYTES,
    private readonly maxFiles = MAX_UPLOAD_FILES
  ) {}

  /** The folder of one type (`input` is what jobs read). */
  folder(type: UploadType): string {
    return path.join(this.dir, type)
  }

  /** Keeps the bytes; answers the name to use, as ComfyUI's upload does. */
  put(
    bytes: Uint8Array,
    filename: string,
    opts: { subfolder?: string; type?: string; overwrite?: boolean } = {}
  ): StoredUpload {
    const type = (opts.type || 'input') as UploadType
    if (!UPLOAD_TYPES.includes(type)) throw new UploadError(`Unknown type ${opts.type}`)
    const name = safeName(filename)
    if (!name) throw new UploadError('The image has no file name')
    const subfolder = safeSubfolder(opts.subfolder ?? '')
    if (subfolder === null) throw new UploadError('Bad subfolder')
    const folder = path.join(this.folder(type), subfolder)
    fs.mkdirSync(folder, { recursive: true })
    const hash = sha256(bytes)
    const ext = path.extname(name)
    const stem = name.slice(0, name.length - ext.length)
    let final = name
    for (let i = 1; !opts.overwrite; i++) {
      const p = path.join(folder, final)
      let existing: Buffer | null = null
      try {
        existing = fs.readFileSync(p)
      } catch {
        break // free
      }
      if (sha256(existing) === hash) {
        const now = new Date()
        fs.utimesSync(p, now, now)
        return { name: final, subfolder, type }
      }
      if (i > 9_999) throw new UploadError('Too many files with this name')
      final = `${stem} (${i})${ext}`
    }
    const target = path.join(folder, final)
    const tmp = `${target}.${process.pid}.part`
    fs.writeFileSync(tmp, bytes)
    fs.renameSync(tmp, target)
    this.trim(target)
    return { name: final, subfolder, type }
  }

  /** The path of a stored file, or null. */
  find(type: string, subfolder: string, filename: string): string | null {
    if (!UPLOAD_TYPES.includes(type as UploadType)) return null
    const sub = safeSubfolder(subfolder)
    const name = safeName(filename)
    if (sub === null || !name || name !== filename) return null
    const p = path.join(this.folder(type as UploadType), sub, name)
    try {
      return fs.statSync(p).isFile() ? p : null
    } catch {
      return null
    }
  }

  /** True when a prompt's `image` value names a stored input. */
  hasInput(value: string): boolean {
    const plain = value.replace(/\s*\[input\]$/, '')
    const slash = plain.lastIndexOf('/')
    return (
      this.find('input', slash < 0 ? '' : plain.slice(0, slash), plain.slice(slash + 1)) !== null
    )
  }

  /** Removes the least recently used files until the store is within its bounds. */
  private trim(keep: string): void {
    const files: Array<{ p: string; size: number; t: number }> = []
    const walk = (d: string, depth: number) => {
      let list: fs.Dirent[]
      try {
        list = fs.readdirSync(d, { withFileTypes: true })
      } catch {
        return
      }
      for (const e of list) {
        const p = path.join(d, e.name)
        if (e.isDirectory() && depth < 10) walk(p, depth + 1)
        else if (e.isFile()) {
          const st = fs.statSync(p)
          files.push({ p, size: st.size, t: st.mtimeMs })
        }
      }
    }
    walk(this.dir, 0)
    let total = files.reduce((a, f) => a + f.size, 0)
    let count = files.length
    files.sort((a, b) => a.t - b.t)
    for (const f of files) {
      if (total <= this.maxBytes && count <= this.maxFiles) break
      if (f.p === keep) continue
      fs.rmSync(f.p, { force: true })
      total -= f.size
      count--
    }
  }
}

/** One part of a multipart/form-data body. */
export interface FormPart {
  name: string
  filename: string | null
  data: Buffer
}

/** Parses a multipart/form-data body (already size-capped by the caller). */
export function parseMultipart(body: Buffer, contentType: string): FormPart[] {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType)
  const boundary = m ? (m[1] ?? m[2] ?? '').trim() : null
  if (!boundary) throw new UploadError('Not a form upload')
  const delim = Buffer.from(`--${boundary}`)
  const parts: FormPart[] = []
  let pos = body.indexOf(delim)
  if (pos < 0) throw new UploadError('Damaged form upload')
  while (pos >= 0 && parts.length < 64) {
    let start = pos + delim.length
    if (body.subarray(start, start + 2).toString() === '--') break
    if (body[start] === 0x0d && body[start + 1] === 0x0a) start += 2
    const headEnd = body.indexOf('\r\n\r\n', start)
    if (headEnd < 0) break
    const head = body.subarray(start, headEnd).toString('utf8')
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delim]), headEnd + 4)
    if (next < 0) break
    const data = body.subarray(headEnd + 4, next)
    const disp = /content-disposition:([^\r\n]*)/i.exec(head)?.[1] ?? ''
    const name = /\bname="([^"]*)"/i.exec(disp)?.[1]
    const filename = /\bfilename="([^"]*)"/i.exec(disp)?.[1] ?? null
    if (name !== undefined) parts.push({ name, filename, data })
    pos = next + 2
  }
  return parts
}
