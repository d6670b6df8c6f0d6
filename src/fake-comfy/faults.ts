/** The simulated faults: parsing them, and the bodies the body-level faults send. */
import { isDict } from './pyjson'
import type { FakeFault } from './types'
import { isJsonReply, jsonReply } from './wire'
import type { Reply } from './wire'

export const NGINX_502 =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.24.0 (Ubuntu)</center>\r\n</body>\r\n</html>\r\n'

export const NGINX_504 =
  '<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n<center><h1>504 Gateway Time-out</h1></center>\r\n<hr><center>nginx/1.24.0 (Ubuntu)</center>\r\n</body>\r\n</html>\r\n'

export const NGINX_SERVER = 'nginx/1.24.0 (Ubuntu)'

const FAULT_KINDS = new Set<string>([
  'refuse',
  'hang',
  'slow',
  'status',
  'html-502',
  'invalid-json',
  'wrong-shape',
  'redirect',
  'gateway-timeout',
  'no-history',
  'ws-flood',
  'view-status',
  'view-slow'
])

/** Faults that take a `route` filter. */
const ROUTED = new Set<string>([
  'hang',
  'slow',
  'status',
  'html-502',
  'invalid-json',
  'wrong-shape',
  'redirect'
])

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308])

function bad(msg: string, v: unknown): never {
  throw new RangeError(`${msg}, got ${JSON.stringify(v)}`)
}

function ms(kind: string, key: string, v: unknown, optional: boolean): number | undefined {
  if (v === undefined && optional) return undefined
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
    bad(`${kind} fault needs ${key} >= 0`, v)
  return v
}

function httpStatus(kind: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 100 || v > 599) {
    bad(`${kind} fault needs an HTTP status 100-599`, v)
  }
  return v
}

function parseRoute(v: unknown): string | string[] {
  const one = (r: unknown): string => {
    if (typeof r !== 'string' || !r.startsWith('/')) bad('a fault route must start with /', r)
    return r.length > 1 && r.endsWith('/') ? r.slice(0, -1) : r
  }
  if (Array.isArray(v)) {
    if (v.length === 0) bad('a fault route list must not be empty', v)
    return v.map(one)
  }
  return one(v)
}

/** Checks a fault value from untrusted input; returns it typed or throws a RangeError. */
export function parseFault(value: unknown): FakeFault | null {
  if (value === null || value === undefined) return null
  if (!isDict(value) || typeof value.kind !== 'string' || !FAULT_KINDS.has(value.kind)) {
    throw new RangeError(`Unknown fault: ${JSON.stringify(value)}`)
  }
  const kind = value.kind
  const out: Record<string, unknown> = { kind }
  switch (kind) {
    case 'slow':
      out.delayMs = ms(kind, 'delayMs', value.delayMs, false)
      break
    case 'status':
    case 'view-status':
      out.status = httpStatus(kind, value.status)
      break
    case 'wrong-shape':
      if (Object.hasOwn(value, 'body')) out.body = value.body
      break
    case 'redirect': {
      const s = value.status
      if (typeof s !== 'number' || !REDIRECT_STATUSES.has(s)) {
        bad('redirect fault needs status 301, 302, 303, 307 or 308', s)
      }
      const to = value.to
      if (typeof to !== 'string' || !/^https?:\/\/[^/?#]+/.test(to)) {
        bad('redirect fault needs to: "http://host:port"', to)
      }
      out.status = s
      out.to = to.replace(/\/+$/, '')
      break
    }
    case 'gateway-timeout': {
      const d = ms(kind, 'delayMs', value.delayMs, true)
      const q = ms(kind, 'queueAfterMs', value.queueAfterMs, true)
      if (d !== undefined) out.delayMs = d
      if (q !== undefined) out.queueAfterMs = q
      break
    }
    case 'ws-flood': {
      const n = value.perTick
      if (n !== undefined) {
        if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 100_000) {
          bad('ws-flood fault needs perTick 1-100000', n)
        }
        out.perTick = n
      }
      break
    }
    case 'view-slow': {
      const b = value.bytesPerSec
      if (typeof b !== 'number' || !Number.isFinite(b) || b <= 0) {
        bad('view-slow fault needs bytesPerSec > 0', b)
      }
      out.bytesPerSec = b
      break
    }
  }
  if (value.route !== undefined) {
    if (!ROUTED.has(kind)) bad(`the ${kind} fault takes no route`, value.route)
    out.route = parseRoute(value.route)
  }
  return out as FakeFault
}

/** Whether a fault's `route` filter (if any) covers this request path. */
export function faultApplies(fault: FakeFault, pathname: string): boolean {
  if (!('route' in fault) || fault.route === undefined) return true
  const routes = Array.isArray(fault.route) ? fault.route : [fault.route]
  const under = (p: string, r: string): boolean =>
    p === r || p.startsWith(r === '/' ? '/\0' : r + '/')
  return routes.some(
    (r) =>
      under(pathname, r) ||
      (r !== '/' && r !== '/api' && !r.startsWith('/api/') && under(pathname, '/api' + r))
  )
}

/** The 'invalid-json' fault: the real JSON answer cut in half (never parseable). */
export function corrupt(real: Reply | null): Reply {
  let text = real && isJsonReply(real) ? String(real.body ?? '') : ''
  if (text.length < 4) text = '{"exec_info": {"queue_remaining": 0}}'
  if (real === null) text = '{"prompt_id": "00000000-0000-4000-8000-000000000000", "number": 0}'
  let cut = text.slice(0, Math.max(1, Math.floor(text.length / 2)))
  try {
    JSON.parse(cut)
    cut += '{'
  } catch {
    // not JSON, as intended
  }
  return { status: 200, headers: { 'Content-Type': 'application/json; charset=utf-8' }, body: cut }
}

/** The 'wrong-shape' fault: valid JSON, unexpected structure. */
export function wrongShape(
  fault: { kind: 'wrong-shape'; body?: unknown },
  real: Reply | null,
  routePath: string | null
): Reply {
  if (Object.hasOwn(fault, 'body')) return jsonReply(fault.body)
  if (routePath === '/queue') return jsonReply([{ queue_running: '1', queue_pending: '0' }])
  if (real && isJsonReply(real)) {
    const parsed: unknown = JSON.parse(String(real.body ?? 'null'))
    return jsonReply(Array.isArray(parsed) ? { items: String(parsed.length) } : [parsed])
  }
  return jsonReply(['unexpected'])
}
