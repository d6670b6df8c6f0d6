/**
 * How the transport treats addresses and redirects from an untrusted server: a URL is parsed
 * once (a bad one is a `network` error), shown without credentials, query or fragment, and a
 * redirect is followed only when it stays on the same origin and would not turn a POST into a
 * GET, at most MAX_REDIRECTS times; anything else is a `redirect` error with nothing sent on.
 */
import { ComfyRequestError } from './errors'
import { MAX_REDIRECTS } from './transport-types'

export const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308])

/** A URL as it may be shown: no user name, password, query or fragment. */
export function displayUrl(u: URL): string {
  return `${u.protocol}//${u.host}${u.pathname}`
}

export function parseUrl(rawUrl: string): URL {
  try {
    return new URL(rawUrl)
  } catch {
    throw new ComfyRequestError('network', 'The server address is not a valid URL')
  }
}

/**
 * Where a redirect answer sends the request next. Only a redirect that stays on the same
 * origin (scheme, host, port) is followed; one elsewhere, a 301/302/303 answer to a POST (which
 * would otherwise be repeated as a GET) and a redirect loop are the server's answer: a
 * `redirect` error, with nothing sent to the new address.
 */
export function redirectTarget(
  method: 'GET' | 'POST',
  status: number,
  location: string,
  from: URL,
  origin: string,
  hop: number
): URL {
  let target: URL
  try {
    target = new URL(location, from)
  } catch {
    throw new ComfyRequestError(
      'redirect',
      'The server redirected to an address that is not valid; it was not followed',
      status
    )
  }
  if (target.origin !== origin || origin === 'null') {
    throw new ComfyRequestError(
      'redirect',
      `The server redirected to another address (${displayUrl(target)}); it was not followed`,
      status
    )
  }
  if (method === 'POST' && status !== 307 && status !== 308) {
    throw new ComfyRequestError(
      'redirect',
      `The server answered with a redirect (HTTP ${status}) instead of taking the request; it was not sent again`,
      status
    )
  }
  if (hop >= MAX_REDIRECTS) {
    throw new ComfyRequestError('redirect', 'The server redirected too many times', status)
  }
  return target
}
