/**
 * Turns whatever went wrong talking to a server into a kind (for code) and a sentence a user
 * understands ("Connection refused", "Timed out after 10000 ms", "HTTP 502 Bad Gateway").
 */
import type { FailureKind } from '../../../shared/types'

/**
 * What went wrong, for code. Beyond the fleet's failure kinds: `redirect` (the server sent us
 * elsewhere and we did not follow) and `too-large` (a body over the accepted size).
 */
export type ComfyErrorKind = FailureKind | 'redirect' | 'too-large'

export class ComfyRequestError extends Error {
  readonly kind: ComfyErrorKind
  readonly status: number | null
  constructor(kind: ComfyErrorKind, message: string, status: number | null = null) {
    super(message)
    this.name = 'ComfyRequestError'
    this.kind = kind
    this.status = status
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout'
}

export function httpError(status: number, contentType: string | undefined): ComfyRequestError {
  const text = STATUS_TEXT[status]
  let msg = `HTTP ${status}${text ? ` ${text}` : ''}`
  if (contentType?.includes('text/html') && status >= 500) msg += ' (an error page from a proxy)'
  if (status === 401 || status === 403) msg += ' (check the server address and its auth header)'
  return new ComfyRequestError('http', msg, status)
}

interface ErrLike {
  code?: string
  message?: string
  name?: string
  cause?: unknown
  hostname?: string
}

/** Classifies a transport-level error (axios or Node). */
export function classifyError(err: unknown, timeoutMs: number): ComfyRequestError {
  if (err instanceof ComfyRequestError) return err
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
    return new ComfyRequestError('timeout', `Timed out after ${timeoutMs} ms`)
  }
  switch (code) {
    case 'ECONNREFUSED':
      return new ComfyRequestError(
        'refused',
        'Connection refused (is ComfyUI running on that port?)'
      )
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ComfyRequestError(
        'network',
        `Host not found${e.hostname ? `: ${e.hostname}` : ''}`
      )
    case 'ECONNRESET':
    case 'EPIPE':
      return new ComfyRequestError('network', 'The connection was closed by the server')
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new ComfyRequestError('network', 'Host unreachable (network down or wrong address)')
    case 'ERR_BAD_RESPONSE':
    case 'HPE_INVALID_CONSTANT':
    case 'HPE_INVALID_STATUS':
      return new ComfyRequestError('network', 'The server sent a broken HTTP answer')
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'CERT_HAS_EXPIRED':
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
      return new ComfyRequestError('network', `TLS certificate problem (${code})`)
  }
  const msg = e.message ?? String(err)
  return new ComfyRequestError('network', code ? `${msg} (${code})` : msg)
}
