/** Output files: names a server sends are made safe so nothing lands outside the job folder. */
import fs from 'node:fs'
import path from 'node:path'

const WINDOWS_RESERVED = /^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$/i

/** A file name (no folders) that is safe on Windows, macOS and Linux. */
export function safeFileName(name: string, fallback = 'output'): string {
  // Only the last path segment counts, whatever separators the server used.
  const base = name.split(/[\\/]/).pop() ?? ''
  let s = [...base]
    .map((c) =>
      c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f || '<>:"|?*'.includes(c) ? '_' : c
    )
    .join('')
    .replace(/^[.\s]+/, '')
    .replace(/[.\s]+$/, '')
  if (!s || s === '.' || s === '..') s = fallback
  if (WINDOWS_RESERVED.test(s)) s = `_${s}`
  if (s.length > 150) {
    const ext = path.extname(s).slice(0, 12)
    s = s.slice(0, 150 - ext.length) + ext
  }
  return s
}

/** A folder name for one job: `2026-11-26_1705_portrait_1a2b3c4d`. */
export function jobFolderName(source: string, id: string, when: number): string {
  const d = new Date(when)
  const p = (n: number) => String(n).padStart(2, '0')
  const stamp = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}_${p(d.getHours())}${p(d.getMinutes())}`
  const stem = safeFileName(path.basename(source).replace(/\.[^.]+$/, ''), 'workflow').slice(0, 40)
  return `${stamp}_${stem}_${id.slice(0, 8)}`
}

/**
 * Writes bytes under `dir` with a safe, unused name. Throws if the resolved path would leave
 * `dir` (it cannot, by construction; the check guards future changes).
 */
export function writeUnique(dir: string, name: string, bytes: Uint8Array): string {
  fs.mkdirSync(dir, { recursive: true })
  const safe = safeFileName(name)
  const ext = path.extname(safe)
  const stem = safe.slice(0, safe.length - ext.length)
  for (let i = 0; i < 10_000; i++) {
    const candidate = path.resolve(dir, i === 0 ? safe : `${stem} (${i})${ext}`)
    if (path.dirname(candidate) !== path.resolve(dir))
      throw new Error(`Refused to write outside ${dir}`)
    try {
      fs.writeFileSync(candidate, bytes, { flag: 'wx' })
      return candidate
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
  }
  throw new Error(`Too many files named ${safe} in ${dir}`)
}
