/**
 * Turns whatever went wrong talking to a server into a kind (for code) and a sentence a user
 * understands ("Connection refused", "Timed out after 10000 ms", "HTTP 502 Bad Gateway").
 */
import type { ServerSaid } from '../../../shared/said'
import type { FailureKind } from '../../../shared/types'
import { sayServer } from '../log'

/**
 * What went wrong, for code. Beyond the fleet's failure kinds: `redirect` (the server sent us
 * elsewhere and we did not follow) and `too-large` (a body over the accepted size).
 */
export type ComfyErrorKind = FailureKind | 'redirect' | 'too-large'

export class ComfyRequestError extends Error {
  readonly kind: ComfyErrorKind
  readonly status: number | null
  /** The same failure as data, for the faces to say in their language. */
  readonly said: ServerSaid
  constructor(
    kind: ComfyErrorKind,
    message: string,
    status: number | null = null,
    said?: ServerSaid
  ) {
    super(message)
    this.name = 'ComfyRequestError'
    this.kind = kind
    this.status = status
    this.said = said ?? saidOf(kind, message, status)
  }
}

/** The kind of failure (for code) a said belongs to. */
export function kindOf(said: ServerSaid): ComfyErrorKind {
  switch (said.code) {
    case 'timeout':
    case 'stalled':
      return 'timeout'
    case 'refused':
    case 'http':
    case 'not-json':
    case 'bad-shape':
    case 'disabled':
    case 'redirect':
    case 'too-large':
      return said.code
    case 'redirect-invalid':
    case 'redirect-post':
    case 'redirect-loop':
      return 'redirect'
    default:
      return 'network'
  }
}

/** A failure from its said: the kind, the English words (`message`) and the data. */
export function saidError(said: ServerSaid, status: number | null = null): ComfyRequestError {
  return new ComfyRequestError(kindOf(said), sayServer(said), status, said)
}

/**
 * The said of a failure made with words only (`new ComfyRequestError(kind, message)`): the
 * sentences the comfy layer writes are known; any other text is kept as it is.
 */
function saidOf(kind: ComfyErrorKind, message: string, status: number | null): ServerSaid {
  let m: RegExpExecArray | null
  if ((m = /^Timed out after (\d+) ms$/.exec(message))) return { code: 'timeout', ms: +m[1]! }
  if ((m = /^The download stalled: nothing arrived for (\d+) ms$/.exec(message)))
    return { code: 'stalled', ms: +m[1]! }
  if (message === 'The download was stopped') return { code: 'stopped' }
  if (message === 'The server address is not a valid URL') return { code: 'bad-url' }
  if ((m = /^Not an http or https address: (.*)$/s.exec(message)))
    return { code: 'not-http', protocol: m[1]! }
  if (kind === 'not-json') return { code: 'not-json', page: /web page/.test(message) }
  if (kind === 'bad-shape' && (m = /^Unexpected (.*?)(?:: (.*))?$/s.exec(message))) {
    return m[2] === undefined
      ? { code: 'bad-shape', what: m[1]! }
      : { code: 'bad-shape', what: m[1]!, detail: m[2] }
  }
  if (
    kind === 'too-large' &&
    (m = /^The (answer|file|request) was larger than (.+)$/.exec(message))
  )
    return { code: 'too-large', what: m[1] as 'answer', limitBytes: bytesOf(m[2]!) }
  if (kind === 'redirect') {
    if (
      (m = /^The server redirected to another address \((.*)\); it was not followed$/s.exec(
        message
      ))
    )
      return { code: 'redirect', to: m[1]! }
    if (/not valid/.test(message)) return { code: 'redirect-invalid' }
    if (/too many/.test(message)) return { code: 'redirect-loop' }
    if (status !== null && /instead of taking the request/.test(message))
      return { code: 'redirect-post', status }
  }
  if (kind === 'http' && status !== null && /^HTTP \d+/.test(message)) {
    return { code: 'http', status, proxyPage: /error page from a proxy/.test(message) }
  }
  if (kind === 'refused') return { code: 'refused' }
  if (kind === 'disabled') return { code: 'disabled' }
  return { code: 'text', text: message }
}

/** The bytes of a size as `sizeText` writes it ("64 MB", "1.5 KB", "1 GB", "900 bytes"). */
function bytesOf(text: string): number {
  const m = /^([\d.]+) (bytes|KB|MB|GB)$/.exec(text)
  if (!m) return 0
  const unit = { bytes: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[m[2] as 'KB']
  return Math.round(Number(m[1]) * unit)
}

export function httpError(status: number, contentType: string | undefined): ComfyRequestError {
  const proxyPage = !!contentType?.includes('text/html') && status >= 500
  return saidError({ code: 'http', status, proxyPage }, status)
}

interface ErrLike {
  code?: string
  message?: string
  name?: string
  cause?: unknown
  hostname?: string
}

/** What a transport-level error (axios or Node) says. */
function transportSaid(err: unknown, timeoutMs: number): ServerSaid {
  const e = (err ?? {}) as ErrLike
  const cause = (e.cause ?? {}) as ErrLike
  const code = e.code ?? cause.code ?? ''
  if (
    code === 'ECONNABORTED' ||
    code === 'ETIMEDOUT' ||
    code === 'ERR_CANCELED' ||
    e.name === 'CanceledError' ||
    e.name === 'AbortError' ||
    e.name === 'TimeoutError'
  ) {
    return { code: 'timeout', ms: timeoutMs }
  }
  switch (code) {
    case 'ECONNREFUSED':
      return { code: 'refused' }
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { code: 'host-not-found', host: e.hostname || null }
    case 'ECONNRESET':
    case 'EPIPE':
      return { code: 'closed' }
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return { code: 'unreachable' }
    case 'ERR_BAD_RESPONSE':
    case 'HPE_INVALID_CONSTANT':
    case 'HPE_INVALID_STATUS':
      return { code: 'broken-http' }
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'CERT_HAS_EXPIRED':
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
      return { code: 'tls', detail: code }
  }
  const msg = e.message ?? String(err)
  return { code: 'network', detail: code ? `${msg} (${code})` : msg }
}

/** Classifies a transport-level error (axios or Node). */
export function classifyError(err: unknown, timeoutMs: number): ComfyRequestError {
  if (err instanceof ComfyRequestError) return err
  return saidError(transportSaid(err, timeoutMs))
}
