/**
 * The bodies the transport reads: a whole answer under a size cap (announced or sent), the
 * headers it looks at, turning the bytes into an answer (a leading BOM dropped), and the texts
 * of the size limits ("The answer was larger than 64 MB"), axios's own included.
 */
import type { Readable } from 'node:stream'
import { ComfyRequestError } from './errors'
import { MAX_REQUEST_BYTES, type HttpResponse } from './transport-types'

/** "64 MB", "1 GB", "1500 bytes": sizes in the words of a limit. */
export function formatSize(bytes: number): string {
  const MB = 1024 * 1024
  if (bytes >= 1024 * MB && bytes % (1024 * MB) === 0) return `${bytes / (1024 * MB)} GB`
  if (bytes >= MB) return `${Math.round((bytes / MB) * 10) / 10} MB`
  if (bytes >= 1024) return `${Math.round((bytes / 1024) * 10) / 10} KB`
  return `${bytes} bytes`
}

export function tooLarge(what: 'answer' | 'file', max: number): ComfyRequestError {
  return new ComfyRequestError('too-large', `The ${what} was larger than ${formatSize(max)}`)
}

export type HeaderBag = Record<string, unknown> | { get(name: string): unknown }

export function header(headers: HeaderBag, name: string): string | undefined {
  const v =
    typeof headers.get === 'function'
      ? (headers as { get(name: string): unknown }).get(name)
      : (headers as Record<string, unknown>)[name]
  return typeof v === 'string' ? v : undefined
}

export function declaredLength(headers: HeaderBag): number | null {
  const cl = header(headers, 'content-length')?.trim()
  if (cl === undefined || !/^\d+$/.test(cl)) return null
  return Number(cl)
}

export function contentTypeOf(headers: HeaderBag): string | undefined {
  return header(headers, 'content-type')
}

/**
 * Reads a whole body, refusing more than `max` bytes (announced or sent). A body that closes
 * before its end is a connection the server closed.
 */
export function readAll(
  body: Readable,
  announced: number | null,
  max: number,
  signal: AbortSignal
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (announced !== null && announced > max) {
      body.destroy()
      reject(tooLarge('answer', max))
      return
    }
    const chunks: Buffer[] = []
    let total = 0
    let done = false
    const finish = (err: unknown, value?: Buffer) => {
      if (done) return
      done = true
      signal.removeEventListener('abort', onAbort)
      if (err) {
        body.destroy()
        reject(err)
      } else resolve(value!)
    }
    // Every body closes after its end: the error is made only for one that closed before.
    const closed = () => {
      if (!done) finish(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }))
    }
    const onAbort = () => finish(signal.reason ?? new Error('aborted'))
    signal.addEventListener('abort', onAbort, { once: true })
    body.on('data', (chunk: Buffer) => {
      total += chunk.length
      if (total > max) finish(tooLarge('answer', max))
      else chunks.push(chunk)
    })
    body.once('end', () => finish(null, Buffer.concat(chunks, total)))
    body.once('aborted', closed)
    body.once('error', (e) => finish(e))
    body.once('close', closed)
  })
}

/** What axios reports for its own size limits, as the transport's `too-large`. */
export function axiosLimit(
  err: unknown,
  what: 'answer' | 'file',
  max: number
): ComfyRequestError | null {
  const msg = (err as { message?: unknown } | null)?.message
  if (typeof msg !== 'string') return null
  if (msg.startsWith('maxContentLength size')) return tooLarge(what, max)
  if (msg.startsWith('Request body larger than maxBodyLength')) {
    return new ComfyRequestError(
      'too-large',
      `The request was larger than ${formatSize(MAX_REQUEST_BYTES)}`
    )
  }
  return null
}

export function answer(
  status: number,
  contentType: string | undefined,
  body: Buffer,
  binary: boolean | undefined
): HttpResponse {
  if (binary) return { status, contentType, text: '', bytes: body }
  let text = body.toString('utf8')
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
  return { status, contentType, text }
}

/** A file system failure (it names a path), as opposed to one of the server's. */
export function isFsError(err: unknown): boolean {
  return typeof (err as { path?: unknown } | null)?.path === 'string'
}
