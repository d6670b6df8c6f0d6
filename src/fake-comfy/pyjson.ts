/**
 * Small Python look-alikes. ComfyUI answers through aiohttp's `json_response`, which uses
 * Python's `json.dumps`: `", "` and `": "` separators and every non-ASCII character escaped.
 * Validation messages are built with `str()` / `repr()` / `int()` / `float()`, so the fake
 * needs the same spelling to produce byte-identical error details.
 */

/** An exception the Python server would raise; a route that throws one answers HTTP 500. */
export class PyError extends Error {
  constructor(
    /** Python exception class name, e.g. `KeyError`, `JSONDecodeError`. */
    readonly pyType: string,
    /** `str(exception)` */
    message: string
  ) {
    super(message)
    this.name = 'PyError'
  }
}

export function isDict(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v)
}

function escapeAscii(json: string): string {
  return json.replace(/[^\x20-\x7e]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))
}

function dumpString(s: string): string {
  // JSON.stringify already escapes control characters the way Python does (\n, \u001f).
  return escapeAscii(JSON.stringify(s))
}

function dumpNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN'
  if (n === Infinity) return 'Infinity'
  if (n === -Infinity) return '-Infinity'
  return String(n)
}

/** `json.dumps(value)` with Python's default separators and `ensure_ascii=True`. */
export function pyDumps(value: unknown): string {
  if (value === null || value === undefined) return 'null'
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  if (typeof value === 'number') return dumpNumber(value)
  if (typeof value === 'bigint') return value.toString()
  if (typeof value === 'string') return dumpString(value)
  if (Array.isArray(value)) {
    return '[' + value.map((v) => (v === undefined ? 'null' : pyDumps(v))).join(', ') + ']'
  }
  if (value instanceof Map) {
    // A Map keeps insertion order even for integer-like keys (a plain object would not).
    const parts: string[] = []
    for (const [k, v] of value) parts.push(dumpString(String(k)) + ': ' + pyDumps(v))
    return '{' + parts.join(', ') + '}'
  }
  if (typeof value === 'object') {
    const parts: string[] = []
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined || typeof v === 'function') continue
      parts.push(dumpString(k) + ': ' + pyDumps(v))
    }
    return '{' + parts.join(', ') + '}'
  }
  return 'null'
}

/** Python `repr()` of a str. */
function reprString(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'"
  let out = ''
  for (const ch of s) {
    const code = ch.codePointAt(0) ?? 0
    if (ch === '\\') out += '\\\\'
    else if (ch === quote) out += '\\' + ch
    else if (ch === '\n') out += '\\n'
    else if (ch === '\r') out += '\\r'
    else if (ch === '\t') out += '\\t'
    else if (code < 0x20 || code === 0x7f) out += '\\x' + code.toString(16).padStart(2, '0')
    else out += ch
  }
  return quote + out + quote
}

/** Python `repr()` of a JSON-ish value (str quoted, containers recursively). */
export function pyRepr(v: unknown): string {
  if (typeof v === 'string') return reprString(v)
  return pyStr(v)
}

/** Python float repr: integral floats keep a `.0`. */
export function pyFloatStr(n: number): string {
  if (Number.isNaN(n)) return 'nan'
  if (n === Infinity) return 'inf'
  if (n === -Infinity) return '-inf'
  if (Number.isInteger(n) && Math.abs(n) < 1e16) return n.toFixed(1)
  return String(n)
}

/** Python `str()` of a JSON-ish value. */
export function pyStr(v: unknown): string {
  if (v === null || v === undefined) return 'None'
  if (v === true) return 'True'
  if (v === false) return 'False'
  if (typeof v === 'number') return String(v)
  if (typeof v === 'string') return v
  if (Array.isArray(v)) return '[' + v.map(pyRepr).join(', ') + ']'
  if (isDict(v)) {
    return (
      '{' +
      Object.entries(v)
        .map(([k, x]) => reprString(k) + ': ' + pyRepr(x))
        .join(', ') +
      '}'
    )
  }
  return String(v)
}

/** Python truthiness. */
export function pyTruthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false
  if (Array.isArray(v)) return v.length > 0
  if (isDict(v)) return Object.keys(v).length > 0
  return true
}

function pyTypeName(v: unknown): string {
  if (v === null || v === undefined) return 'NoneType'
  if (typeof v === 'boolean') return 'bool'
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float'
  if (typeof v === 'string') return 'str'
  if (Array.isArray(v)) return 'list'
  return 'dict'
}

const INT_RE = /^\s*[+-]?\d+(?:_\d+)*\s*$/
const FLOAT_RE =
  /^\s*[+-]?(?:\d+(?:_\d+)*(?:\.(?:\d+(?:_\d+)*)?)?|\.\d+(?:_\d+)*)(?:[eE][+-]?\d+(?:_\d+)*)?\s*$/

/** Python `int(v)`; throws PyError like CPython does. */
export function pyInt(v: unknown): number {
  if (typeof v === 'boolean') return v ? 1 : 0
  if (typeof v === 'number') {
    if (Number.isNaN(v)) throw new PyError('ValueError', 'cannot convert float NaN to integer')
    if (!Number.isFinite(v)) {
      throw new PyError('OverflowError', 'cannot convert float infinity to integer')
    }
    return Math.trunc(v)
  }
  if (typeof v === 'string') {
    if (!INT_RE.test(v)) {
      throw new PyError('ValueError', `invalid literal for int() with base 10: ${reprString(v)}`)
    }
    return Number.parseInt(v.replace(/_/g, '').trim(), 10)
  }
  throw new PyError(
    'TypeError',
    `int() argument must be a string, a bytes-like object or a real number, not '${pyTypeName(v)}'`
  )
}

/** Python `float(v)`; throws PyError like CPython does. */
export function pyFloat(v: unknown): number {
  if (typeof v === 'boolean') return v ? 1 : 0
  if (typeof v === 'number') return v
  if (typeof v === 'string') {
    const t = v.trim().toLowerCase()
    if (t === 'nan' || t === '+nan' || t === '-nan') return NaN
    if (t === 'inf' || t === '+inf' || t === 'infinity' || t === '+infinity') return Infinity
    if (t === '-inf' || t === '-infinity') return -Infinity
    if (!FLOAT_RE.test(v)) {
      throw new PyError('ValueError', `could not convert string to float: ${reprString(v)}`)
    }
    return Number.parseFloat(v.replace(/_/g, '').trim())
  }
  throw new PyError(
    'TypeError',
    `float() argument must be a string or a real number, not '${pyTypeName(v)}'`
  )
}

/** Python `key in container` for JSON values (dict keys, list items, substrings). */
export function pyIn(key: unknown, container: unknown): boolean {
  if (isDict(container)) return typeof key === 'string' && Object.hasOwn(container, key)
  if (Array.isArray(container)) return container.some((x) => pyEquals(x, key))
  if (typeof container === 'string') {
    if (typeof key !== 'string') {
      throw new PyError(
        'TypeError',
        `'in <string>' requires string as left operand, not ${pyTypeName(key)}`
      )
    }
    return container.includes(key)
  }
  throw new PyError('TypeError', `argument of type '${pyTypeName(container)}' is not iterable`)
}

/** Python `container[key]` for JSON values. */
export function pyGetItem(container: unknown, key: unknown): unknown {
  if (isDict(container)) {
    if (typeof key === 'string' && Object.hasOwn(container, key)) return container[key]
    throw new PyError('KeyError', pyRepr(key))
  }
  if (Array.isArray(container) || typeof container === 'string') {
    if (typeof key === 'number' && Number.isInteger(key)) {
      const i = key < 0 ? container.length + key : key
      if (i >= 0 && i < container.length) return container[i]
      throw new PyError(
        'IndexError',
        Array.isArray(container) ? 'list index out of range' : 'string index out of range'
      )
    }
    const what = Array.isArray(container) ? 'list' : 'string'
    throw new PyError(
      'TypeError',
      `${what} indices must be integers or slices, not ${pyTypeName(key)}`
    )
  }
  throw new PyError('TypeError', `'${pyTypeName(container)}' object is not subscriptable`)
}

/** What `for x in value` yields in Python, for JSON values. */
export function pyIter(value: unknown): unknown[] {
  if (isDict(value)) return Object.keys(value)
  if (Array.isArray(value)) return value
  if (typeof value === 'string') return [...value]
  throw new PyError('TypeError', `'${pyTypeName(value)}' object is not iterable`)
}

/** Python `==` for JSON values (1 == 1.0 == True). */
export function pyEquals(a: unknown, b: unknown): boolean {
  const na = typeof a === 'boolean' ? Number(a) : a
  const nb = typeof b === 'boolean' ? Number(b) : b
  if (typeof na === 'number' && typeof nb === 'number') return na === nb
  if (Array.isArray(na) && Array.isArray(nb)) {
    return na.length === nb.length && na.every((x, i) => pyEquals(x, nb[i]))
  }
  if (isDict(na) && isDict(nb)) {
    const ka = Object.keys(na)
    return ka.length === Object.keys(nb).length && ka.every((k) => pyEquals(na[k], nb[k]))
  }
  return na === nb
}

/** Deep copy of a JSON value. */
export function deepCopy<T>(v: T): T {
  return structuredClone(v)
}
