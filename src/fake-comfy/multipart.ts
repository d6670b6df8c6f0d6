/**
 * A small form parser with aiohttp's `request.post()` semantics: multipart/form-data and
 * application/x-www-form-urlencoded bodies; anything else yields no fields. A part is a
 * file only when it has a non-empty filename.
 */

export interface FormField {
  name: string
  /** Set for file parts (non-empty filename). */
  filename: string | null
  contentType: string | null
  data: Buffer
}

export type Form = Map<string, FormField>

function headerParams(value: string): { value: string; params: Record<string, string> } {
  const params: Record<string, string> = {}
  const re = /;\s*([^=;\s]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g
  const first = value.split(';', 1)[0]?.trim().toLowerCase() ?? ''
  for (const m of value.matchAll(re)) {
    const key = (m[1] ?? '').toLowerCase()
    let v = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '').trim()
    if (key.endsWith('*')) {
      // RFC 5987: filename*=UTF-8''na%C3%AFve.png
      const ext = /^([^']*)'[^']*'(.*)$/.exec(v)
      if (ext) {
        try {
          v = decodeURIComponent(ext[2] ?? '')
        } catch {
          v = ext[2] ?? ''
        }
      }
      params[key.slice(0, -1)] = v
    } else if (!(key in params)) {
      params[key] = v
    }
  }
  return { value: first, params }
}

function parseMultipart(body: Buffer, boundary: string): FormField[] {
  const fields: FormField[] = []
  const delim = Buffer.from('--' + boundary)
  let pos = body.indexOf(delim)
  if (pos < 0) return fields
  while (true) {
    pos += delim.length
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) break // closing delimiter
    const lineEnd = body.indexOf('\r\n', pos)
    if (lineEnd < 0) break
    const headerEnd = body.indexOf('\r\n\r\n', lineEnd)
    if (headerEnd < 0) break
    const headers = body.toString('utf8', lineEnd + 2, headerEnd).split('\r\n')
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delim]), headerEnd + 4)
    if (next < 0) break
    const data = body.subarray(headerEnd + 4, next)
    let name: string | null = null
    let filename: string | null = null
    let contentType: string | null = null
    for (const h of headers) {
      const colon = h.indexOf(':')
      if (colon < 0) continue
      const key = h.slice(0, colon).trim().toLowerCase()
      const value = h.slice(colon + 1).trim()
      if (key === 'content-disposition') {
        const { params } = headerParams(value)
        name = params.name ?? null
        filename = params.filename ? params.filename : null
      } else if (key === 'content-type') {
        contentType = value
      }
    }
    if (name !== null) fields.push({ name, filename, contentType, data: Buffer.from(data) })
    pos = next + 2
  }
  return fields
}

/** Parses a request body like aiohttp's `await request.post()`; first value per name wins. */
export function parseForm(body: Buffer, contentTypeHeader: string | undefined): Form {
  const form: Form = new Map()
  const { value: type, params } = headerParams(contentTypeHeader ?? '')
  let fields: FormField[] = []
  if (type === 'multipart/form-data' && params.boundary) {
    fields = parseMultipart(body, params.boundary)
  } else if (type === 'application/x-www-form-urlencoded') {
    for (const [name, value] of new URLSearchParams(body.toString('utf8'))) {
      fields.push({ name, filename: null, contentType: null, data: Buffer.from(value, 'utf8') })
    }
  }
  for (const f of fields) if (!form.has(f.name)) form.set(f.name, f)
  return form
}

/** A text field's value, or null when absent. */
export function formText(form: Form, name: string): string | null {
  const f = form.get(name)
  return f ? f.data.toString('utf8') : null
}
