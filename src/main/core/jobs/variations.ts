/**
 * Variations: one workflow turned into N prompts for one batch, with a seed mode for every
 * sampler seed and edits of single inputs (`--set NODE.INPUT=VALUE`). Pure: the randomness
 * comes in as `rng`, nothing touches the network or disk.
 *
 * - Seed inputs are `seed` and `noise_seed` (KSampler, KSamplerAdvanced, RandomNoise and any
 *   node with an INT input so named) holding a number, not a link.
 * - `random` draws each seed of each run on its own, in 0 .. 2^53-1 (ComfyUI allows up to
 *   2^64-1, but larger numbers do not survive JSON in JavaScript exactly), within the input's
 *   own min/max when object_info gives them; the runs of one batch never share a seed.
 * - `increment` gives run i the file's value (or the `--set` value) plus i, wrapping to the
 *   input's minimum after its maximum.
 * - `fixed` leaves the seeds as they are.
 * - Edits are applied first, to every run; values are read as the input's type from
 *   object_info (INT, FLOAT, BOOLEAN, STRING, a list of choices), or, for a class the server
 *   does not describe, as the type of the value in the file.
 */
import type { ApiNode, ApiPrompt } from './api-prompt'
import type { InputSpec, ObjectInfo } from './ui-workflow/object-info'

export type SeedMode = 'random' | 'increment' | 'fixed'
export const SEED_MODES: readonly SeedMode[] = ['random', 'increment', 'fixed']

/** One edit: input `input` of the node whose id or title is `node` gets `value` (as typed). */
export interface InputSet {
  node: string
  input: string
  value: string
}

export interface VariationOptions {
  /** How many prompts, 1 to {@link MAX_VARIATIONS}. */
  count: number
  seed: SeedMode
  sets: InputSet[]
  /** Uniform in [0, 1). @default Math.random */
  rng?: () => number
}

/** Most runs in one batch. */
export const MAX_VARIATIONS = 1000
/** Input names treated as sampler seeds (when they hold a whole number). */
export const SEED_INPUT_NAMES: readonly string[] = ['seed', 'noise_seed']
/** Largest seed drawn by `random`: 2^53-1 (ComfyUI's own limit, 2^64-1, is not exact in JS). */
export const MAX_RANDOM_SEED = Number.MAX_SAFE_INTEGER
/** ComfyUI's largest seed (0xffffffffffffffff), the range when object_info gives none. */
const COMFY_SEED_MAX = 2 ** 64 - 1

/** A variation that cannot be made; the message names the node and input. */
export class VariationError extends Error {
  constructor(
    message: string,
    readonly node?: string,
    readonly input?: string
  ) {
    super(message)
    this.name = 'VariationError'
  }
}

const own = <T>(map: Record<string, T> | undefined, key: string): T | undefined =>
  map && Object.hasOwn(map, key) ? map[key] : undefined

/** Reads `NODE.INPUT=VALUE` (NODE may hold dots: the input is after the last dot). */
export function parseSet(text: string): InputSet {
  const eq = text.indexOf('=')
  const left = eq >= 0 ? text.slice(0, eq) : text
  const dot = left.lastIndexOf('.')
  if (eq < 0 || dot <= 0 || dot === left.length - 1) {
    throw new VariationError(`--set needs NODE.INPUT=VALUE, got "${text}"`)
  }
  return {
    node: left.slice(0, dot).trim(),
    input: left.slice(dot + 1).trim(),
    value: text.slice(eq + 1)
  }
}

function label(id: string, node: ApiNode): string {
  const title = node._meta?.title
  return title && title !== node.class_type
    ? `node ${id} (${title}, ${node.class_type})`
    : `node ${id} (${node.class_type})`
}

/** The id of the node named `ref`: an id, else a unique `_meta.title` (exact, then any case). */
export function resolveNode(prompt: ApiPrompt, ref: string): string {
  if (Object.hasOwn(prompt, ref)) return ref
  const ids = Object.keys(prompt)
  let hits = ids.filter((id) => prompt[id]!._meta?.title === ref)
  if (!hits.length) {
    const low = ref.toLowerCase()
    hits = ids.filter((id) => prompt[id]!._meta?.title?.toLowerCase() === low)
  }
  if (hits.length === 1) return hits[0]!
  if (hits.length > 1) {
    throw new VariationError(
      `The title "${ref}" is on nodes ${hits.join(', ')}: use the node id instead`,
      ref
    )
  }
  throw new VariationError(`No node has the id or title "${ref}"`, ref)
}

function specFor(
  info: ObjectInfo | undefined,
  classType: string,
  input: string
): InputSpec | undefined {
  const cls = own(info, classType)
  if (!cls) return undefined
  return own(cls.input.required, input) ?? own(cls.input.optional, input)
}

function inputNames(info: ObjectInfo | undefined, node: ApiNode): string[] {
  const cls = own(info, node.class_type)
  const names = new Set(Object.keys(node.inputs))
  for (const k of Object.keys(cls?.input.required ?? {})) names.add(k)
  for (const k of Object.keys(cls?.input.optional ?? {})) names.add(k)
  return [...names]
}

const num = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? v : undefined

function checkRange(n: number, opts: Record<string, unknown>, where: string): void {
  const min = num(opts.min)
  const max = num(opts.max)
  if (min !== undefined && n < min) throw new Error(`${where} must be at least ${min}, got ${n}`)
  if (max !== undefined && n > max) throw new Error(`${where} must be at most ${max}, got ${n}`)
}

function parseInt64(value: string, where: string): number {
  const t = value.trim()
  if (!/^[+-]?\d+$/.test(t)) throw new Error(`${where} needs a whole number, got "${value}"`)
  const n = Number(t)
  if (!Number.isSafeInteger(n)) throw new Error(`${where}: ${t} is too large`)
  return n
}

function parseFloatValue(value: string, where: string): number {
  const t = value.trim()
  const n = t === '' ? NaN : Number(t)
  if (!Number.isFinite(n)) throw new Error(`${where} needs a number, got "${value}"`)
  return n
}

function parseBool(value: string, where: string): boolean {
  const t = value.trim().toLowerCase()
  if (t === 'true') return true
  if (t === 'false') return false
  throw new Error(`${where} needs true or false, got "${value}"`)
}

/** `value` read as the input's type in object_info. */
function parseBySpec(value: string, spec: InputSpec, where: string): unknown {
  const [type, opts = {}] = spec
  const choices = Array.isArray(type)
    ? type
    : type === 'COMBO' && Array.isArray(opts.options)
      ? (opts.options as unknown[])
      : null
  if (choices) {
    const hit = choices.find((c) => String(c) === value)
    if (hit === undefined) {
      const shown = choices.slice(0, 10).map(String).join(', ')
      const more = choices.length > 10 ? `, ... (${choices.length} in all)` : ''
      throw new Error(
        choices.length
          ? `${where}: "${value}" is not one of the choices: ${shown}${more}`
          : `${where}: the server offers no choices for it`
      )
    }
    return hit
  }
  switch (type) {
    case 'INT': {
      const n = parseInt64(value, where)
      checkRange(n, opts, where)
      return n
    }
    case 'FLOAT': {
      const n = parseFloatValue(value, where)
      checkRange(n, opts, where)
      return n
    }
    case 'BOOLEAN':
      return parseBool(value, where)
    case 'STRING':
      return value
    default:
      throw new Error(`${where} takes a ${String(type)} from another node, not a value`)
  }
}

/** `value` read as the type of the value now in the file. */
function parseByCurrent(value: string, current: unknown, where: string): unknown {
  if (typeof current === 'string') return value
  if (typeof current === 'number') return parseFloatValue(value, where)
  if (typeof current === 'boolean') return parseBool(value, where)
  if (Array.isArray(current)) {
    throw new Error(
      `${where} is fed by another node (${JSON.stringify(current)}), it cannot be set`
    )
  }
  throw new Error(
    `${where} has no value in the workflow and the servers do not describe it: its type is unknown`
  )
}

/** Applies the edits to `prompt` in place (it is a copy). */
function applySets(prompt: ApiPrompt, sets: InputSet[], info: ObjectInfo | undefined): void {
  for (const s of sets) {
    const id = resolveNode(prompt, s.node)
    const node = prompt[id]!
    const where = `${label(id, node)} input "${s.input}"`
    const spec = specFor(info, node.class_type, s.input)
    const has = Object.hasOwn(node.inputs, s.input)
    if (!has && !spec) {
      const names = inputNames(info, node)
      throw new VariationError(
        `${label(id, node)} has no input "${s.input}"${names.length ? ` (its inputs: ${names.join(', ')})` : ''}`,
        id,
        s.input
      )
    }
    try {
      const current = has ? node.inputs[s.input] : undefined
      const value = spec
        ? parseBySpec(s.value, spec, where)
        : parseByCurrent(s.value, current, where)
      Object.defineProperty(node.inputs, s.input, {
        value,
        enumerable: true,
        writable: true,
        configurable: true
      })
    } catch (err) {
      if (err instanceof VariationError) throw err
      throw new VariationError((err as Error).message, id, s.input)
    }
  }
}

/** A seed input: its node, name, and range (from object_info, else 0 .. 2^64-1). */
export interface SeedInput {
  node: string
  input: string
  min: number
  max: number
}

/** Every sampler seed of the prompt (see the file's comment), in node order. */
export function seedInputs(prompt: ApiPrompt, objectInfo?: ObjectInfo): SeedInput[] {
  const out: SeedInput[] = []
  for (const [id, node] of Object.entries(prompt)) {
    for (const name of SEED_INPUT_NAMES) {
      if (!Object.hasOwn(node.inputs, name)) continue
      const v = node.inputs[name]
      if (typeof v !== 'number' || !Number.isInteger(v)) continue
      const spec = specFor(objectInfo, node.class_type, name)
      if (spec && spec[0] !== 'INT') continue
      const opts = spec?.[1] ?? {}
      const min = num(opts.min) ?? 0
      const max = num(opts.max) ?? COMFY_SEED_MAX
      out.push({ node: id, input: name, min, max: Math.max(min, max) })
    }
  }
  return out
}

/** A whole number in [min, max] from 53 random bits. */
function draw(rng: () => number, min: number, max: number): number {
  const hi = Math.floor(rng() * 2 ** 21)
  const lo = Math.floor(rng() * 2 ** 32)
  const bits = hi * 2 ** 32 + lo
  const span = max - min + 1
  return min + (span > MAX_RANDOM_SEED ? bits : bits % span)
}

/**
 * `count` prompts from `prompt`: the edits applied to each, then the seed mode. Throws
 * {@link VariationError} naming the node and input when an edit cannot be made.
 */
export function makeVariations(
  prompt: ApiPrompt,
  opts: VariationOptions,
  objectInfo?: ObjectInfo
): ApiPrompt[] {
  const { count } = opts
  if (!Number.isInteger(count) || count < 1 || count > MAX_VARIATIONS) {
    throw new VariationError(`The number of runs must be from 1 to ${MAX_VARIATIONS}, got ${count}`)
  }
  if (!SEED_MODES.includes(opts.seed)) {
    throw new VariationError(`The seed mode must be random, increment or fixed, got "${opts.seed}"`)
  }
  const rng = opts.rng ?? Math.random
  const base = structuredClone(prompt)
  applySets(base, opts.sets, objectInfo)
  const seeds = opts.seed === 'fixed' ? [] : seedInputs(base, objectInfo)
  const used = new Map<string, Set<number>>()
  const runs: ApiPrompt[] = []
  for (let i = 0; i < count; i++) {
    const run = structuredClone(base)
    for (const s of seeds) {
      const start = base[s.node]!.inputs[s.input] as number
      let v: number
      if (opts.seed === 'increment') {
        v = start + i
        // Past the maximum: on from the minimum.
        if (v > s.max) v = s.min + ((v - s.max - 1) % (s.max - s.min + 1))
      } else {
        const lo = Math.max(0, s.min)
        const hi = Math.max(lo, Math.min(MAX_RANDOM_SEED, s.max))
        const key = `${s.node}\u0000${s.input}`
        const seen = used.get(key) ?? new Set<number>()
        used.set(key, seen)
        v = draw(rng, lo, hi)
        // A repeat (a poor rng, a narrow range): draw again, then take the next free value.
        for (let tries = 0; seen.has(v) && tries < 8; tries++) v = draw(rng, lo, hi)
        for (let k = 0; seen.has(v) && k < count; k++) v = v >= hi ? lo : v + 1
        seen.add(v)
      }
      run[s.node]!.inputs[s.input] = v
    }
    runs.push(run)
  }
  return runs
}
