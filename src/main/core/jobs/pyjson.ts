/**
 * JSON as Python's `json.dumps` writes it, and checks that keep untrusted JSON values small
 * enough to handle. ComfyUI writes the `prompt` chunk of its PNGs with Python's json, which
 * spells non-finite floats bare (`NaN`, `Infinity`, `-Infinity`); strict JSON refuses them.
 */

/** The bare words Python's json writes for non-finite floats, as they appear outside strings. */
const NON_FINITE = ['NaN', 'Infinity', '-Infinity'] as const

/**
 * Rewrites Python-JSON text into strict JSON: each bare `NaN`, `Infinity` and `-Infinity` outside
 * a string becomes `null` (what `JSON.stringify` makes of a non-finite number, so a value read
 * this way is sent on exactly as a browser would send it). Text inside strings is left alone, so
 * `"NaN"` stays a string. Anything else is left for `JSON.parse` to judge.
 */
export function pythonJsonToJson(text: string): string {
  // Fast path: most text has none of the words at all.
  if (!text.includes('NaN') && !text.includes('Infinity')) return text
  const parts: string[] = []
  let copied = 0
  let i = 0
  const n = text.length
  while (i < n) {
    const c = text.charCodeAt(i)
    if (c === 0x22 /* " */) {
      // Skip the string, honouring backslash escapes.
      i++
      while (i < n) {
        const d = text.charCodeAt(i)
        if (d === 0x5c /* \ */) i += 2
        else if (d === 0x22) break
        else i++
      }
      i++
      continue
    }
    if (c === 0x4e /* N */ || c === 0x49 /* I */ || c === 0x2d /* - */) {
      const word = NON_FINITE.find((w) => text.startsWith(w, i))
      if (word) {
        parts.push(text.slice(copied, i), 'null')
        i += word.length
        copied = i
        continue
      }
    }
    i++
  }
  if (copied === 0) return text
  parts.push(text.slice(copied))
  return parts.join('')
}

/** Parses Python-JSON text (strict JSON plus bare `NaN`, `Infinity`, `-Infinity`, read as `null`). */
export function parsePythonJson(text: string): unknown {
  return JSON.parse(pythonJsonToJson(text)) as unknown
}

export interface JsonShape {
  /** Deepest nesting of objects and arrays seen (a scalar is 0, `{}` or `[]` is 1). */
  depth: number
  /** Objects, arrays and scalars seen. */
  values: number
  /** True when the walk stopped early because a limit was passed. */
  over: 'depth' | 'values' | null
}

/**
 * Measures how deep and how large a parsed JSON value is, without recursion (an explicit stack),
 * so a value nested hundreds of thousands deep is measured, not a stack overflow. The walk stops
 * as soon as `maxDepth` or `maxValues` is passed.
 */
export function jsonShape(value: unknown, maxDepth: number, maxValues = Infinity): JsonShape {
  const stack: { v: unknown; d: number }[] = [{ v: value, d: 0 }]
  let depth = 0
  let values = 0
  while (stack.length > 0) {
    const { v, d } = stack.pop()!
    values++
    if (values > maxValues) return { depth, values, over: 'values' }
    if (typeof v !== 'object' || v === null) continue
    const here = d + 1
    if (here > depth) depth = here
    if (depth > maxDepth) return { depth, values, over: 'depth' }
    const children = Array.isArray(v) ? (v as unknown[]) : Object.values(v)
    for (const child of children) stack.push({ v: child, d: here })
  }
  return { depth, values, over: null }
}
