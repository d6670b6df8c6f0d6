/** The simulated faults: parsing them, and the bodies the body-level faults send. */
import { isDict } from './pyjson'
import type { FakeFault } from './types'
import { isJsonReply, jsonReply } from './wire'
import type { Reply } from './wire'

export const NGINX_502 =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.24.0 (Ubuntu)</center>\r\n</body>\r\n</html>\r\n'

const FAULT_KINDS = new Set([
  'refuse',
  'hang',
  'slow',
  'status',
  'html-502',
  'invalid-json',
  'wrong-shape'
])

/** Checks a fault value from untrusted input; returns it typed or throws a RangeError. */
export function parseFault(value: unknown): FakeFault | null {
  if (value === null || value === undefined) return null
  if (!isDict(value) || typeof value.kind !== 'string' || !FAULT_KINDS.has(value.kind)) {
    throw new RangeError(`Unknown fault: ${JSON.stringify(value)}`)
  }
  if (value.kind === 'slow') {
    const d = value.delayMs
    if (typeof d !== 'number' || !Number.isFinite(d) || d < 0) {
      throw new RangeError(`slow fault needs delayMs >= 0, got ${JSON.stringify(d)}`)
    }
    return { kind: 'slow', delayMs: d }
  }
  if (value.kind === 'status') {
    const s = value.status
    if (typeof s !== 'number' || !Number.isInteger(s) || s < 100 || s > 599) {
      throw new RangeError(`status fault needs an HTTP status 100-599, got ${JSON.stringify(s)}`)
    }
    return { kind: 'status', status: s }
  }
  if (value.kind === 'wrong-shape') {
    return Object.hasOwn(value, 'body')
      ? { kind: 'wrong-shape', body: value.body }
      : { kind: 'wrong-shape' }
  }
  return { kind: value.kind } as FakeFault
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
