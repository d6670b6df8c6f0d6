/**
 * The parts of a ComfyUI server's `/object_info` answer that turning a UI-format workflow into
 * an API prompt needs, read leniently (V3 nodes send `display_name: null`, `null` tooltips and
 * `"default": null`; a node that cannot describe itself is left out by the server too).
 *
 * Class and input names are data: `__proto__` or `constructor` are carried as own properties
 * and looked up with `Object.hasOwn`.
 */

/** `[type or list of options, options?]`, as the server sends an input. */
export type InputSpec = [type: string | unknown[], options?: Record<string, unknown>]

export interface ObjectInfoInputs {
  required?: Record<string, InputSpec>
  optional?: Record<string, InputSpec>
}

export interface NodeClassInfo {
  input: ObjectInfoInputs
  input_order?: { required?: string[]; optional?: string[] }
  /** Output types. */
  output?: string[]
  display_name?: string | null
  output_node?: boolean
}

/** Class name -> description, as parsed by {@link parseObjectInfo}. */
export type ObjectInfo = Record<string, NodeClassInfo>

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Sets an own, enumerable property, even for the key `__proto__`. */
export function setOwn(obj: object, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true })
}

/** `map[key]` for own keys only. */
export function own<T>(map: Record<string, T> | undefined, key: string): T | undefined {
  return map && Object.hasOwn(map, key) ? map[key] : undefined
}

function parseSpec(raw: unknown): InputSpec | null {
  if (!Array.isArray(raw) || raw.length === 0) return null
  const [type, options] = raw as unknown[]
  if (typeof type !== 'string' && !Array.isArray(type)) return null
  return isRecord(options) ? [type, options] : [type]
}

function parseGroup(raw: unknown): Record<string, InputSpec> | undefined {
  if (!isRecord(raw)) return undefined
  const out: Record<string, InputSpec> = {}
  for (const [name, spec] of Object.entries(raw)) {
    const parsed = parseSpec(spec)
    if (parsed) setOwn(out, name, parsed)
  }
  return out
}

function stringList(raw: unknown): string[] | undefined {
  return Array.isArray(raw) ? raw.filter((x): x is string => typeof x === 'string') : undefined
}

/** One class's entry, or null when it is not shaped like one. */
export function parseNodeClassInfo(raw: unknown): NodeClassInfo | null {
  if (!isRecord(raw)) return null
  const inputRaw = isRecord(raw.input) ? raw.input : {}
  const input: ObjectInfoInputs = {}
  const required = parseGroup(inputRaw.required)
  const optional = parseGroup(inputRaw.optional)
  if (required) input.required = required
  if (optional) input.optional = optional
  const info: NodeClassInfo = { input }
  if (isRecord(raw.input_order)) {
    const order: { required?: string[]; optional?: string[] } = {}
    const r = stringList(raw.input_order.required)
    const o = stringList(raw.input_order.optional)
    if (r) order.required = r
    if (o) order.optional = o
    info.input_order = order
  }
  const output = stringList(raw.output)
  if (output) info.output = output
  info.display_name = typeof raw.display_name === 'string' ? raw.display_name : null
  info.output_node = raw.output_node === true
  return info
}

/**
 * Reads a `/object_info` answer. Entries that are not node descriptions are skipped; an answer
 * that is not an object at all is refused.
 */
export function parseObjectInfo(raw: unknown): ObjectInfo {
  if (!isRecord(raw)) throw new TypeError('object_info is not an object of node classes')
  const out: ObjectInfo = {}
  for (const [name, def] of Object.entries(raw)) {
    const info = parseNodeClassInfo(def)
    if (info) setOwn(out, name, info)
  }
  return out
}

const WIDGET_TYPES = new Set(['INT', 'FLOAT', 'STRING', 'BOOLEAN', 'COMBO'])
const UPLOAD_OPTIONS = ['image_upload', 'video_upload', 'animated_image_upload']

/** Whether the frontend draws a widget (a value in `widgets_values`) for this input. */
export function isWidgetSpec(spec: InputSpec): boolean {
  return Array.isArray(spec[0]) || WIDGET_TYPES.has(spec[0])
}

function isCombo(spec: InputSpec): boolean {
  return Array.isArray(spec[0]) || spec[0] === 'COMBO'
}

/** One entry of `widgets_values`: a value for input `input`, or one that is no input. */
export interface WidgetSlot {
  /** The input this value belongs to, or null for the frontend's extra widgets. */
  input: string | null
  spec?: InputSpec
}

/** Required, then optional inputs, in `input_order` when the server gave it. */
export function orderedInputs(info: NodeClassInfo): Array<[string, InputSpec]> {
  const out: Array<[string, InputSpec]> = []
  const seen = new Set<string>()
  for (const group of ['required', 'optional'] as const) {
    const specs = info.input[group]
    if (!specs) continue
    const order = info.input_order?.[group] ?? []
    for (const name of [...order, ...Object.keys(specs)]) {
      const spec = own(specs, name)
      if (!spec || seen.has(name)) continue
      seen.add(name)
      out.push([name, spec])
    }
  }
  return out
}

/**
 * The frontend's widgets for a class, in the order `widgets_values` lists them: one per widget
 * input, plus the value-control widget after an INT with `control_after_generate` (or named
 * `seed`/`noise_seed` when the option is absent), the control and filter widgets after a combo
 * with `control_after_generate`, and the upload button after the required inputs of a class
 * whose combo has `image_upload` (or `video_upload`, `animated_image_upload`).
 *
 * `withForced` also counts inputs with `forceInput`, which older frontends drew as widgets.
 */
export function widgetLayout(info: NodeClassInfo, withForced = false): WidgetSlot[] {
  const slots: WidgetSlot[] = []
  let upload = false
  const inputs = orderedInputs(info)
  const requiredCount = inputs.filter(([name]) => own(info.input.required, name)).length
  inputs.forEach(([name, spec], i) => {
    const opts = spec[1] ?? {}
    if (isWidgetSpec(spec) && (withForced || opts.forceInput !== true)) {
      slots.push({ input: name, spec })
      const control = opts.control_after_generate
      if (isCombo(spec)) {
        if (control) slots.push({ input: null }, { input: null })
      } else if (spec[0] === 'INT') {
        if (control === undefined ? name === 'seed' || name === 'noise_seed' : control)
          slots.push({ input: null })
      }
      if (i < requiredCount && isCombo(spec) && UPLOAD_OPTIONS.some((k) => opts[k] === true))
        upload = true
    }
    if (i === requiredCount - 1 && upload) slots.push({ input: null })
  })
  return slots
}

/** Whether some widget input has `forceInput` (then older and newer frontends differ). */
export function hasForcedWidgets(info: NodeClassInfo): boolean {
  return orderedInputs(info).some(([, spec]) => isWidgetSpec(spec) && spec[1]?.forceInput === true)
}
