/**
 * The fleet seen as one ComfyUI: node classes, models and devices of every healthy server
 * (short-lived cache), and a prompt checked against them with ComfyUI's own refusal shapes.
 */
import type { ServerStatus } from '../../../shared/types'
import type { ComfyClient } from '../app'

/** What the gateway needs from the core to read the fleet. */
export interface FleetSource {
  status(): { servers: ServerStatus[] }
  serverClient(serverId: string): ComfyClient | undefined
}

type NodeDef = Record<string, unknown> & {
  input?: Record<string, Record<string, unknown> | undefined>
  output_node?: unknown
}

/** How long a server's answer is reused. */
export const FLEET_CACHE_MS = 10_000
const CACHE_MAX = 500

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** A combo input's option list (`[[...], {}]` or `["COMBO", {options}]`), or null. */
export function comboOptions(spec: unknown): unknown[] | null {
  if (!Array.isArray(spec)) return null
  if (Array.isArray(spec[0])) return spec[0]
  if (spec[0] === 'COMBO' && isRecord(spec[1]) && Array.isArray(spec[1].options))
    return spec[1].options
  return null
}

function withOptions(spec: unknown[], options: unknown[]): unknown[] {
  if (Array.isArray(spec[0])) return [options, ...spec.slice(1)]
  return [spec[0], { ...(spec[1] as object), options }, ...spec.slice(2)]
}

/** Merges one server's object_info into the union: classes added, combo lists joined. */
export function mergeObjectInfo(into: Record<string, NodeDef>, other: unknown): void {
  if (!isRecord(other)) return
  for (const [cls, def] of Object.entries(other)) {
    if (!isRecord(def)) continue
    const have = into[cls]
    if (!have) {
      into[cls] = structuredClone(def) as NodeDef
      continue
    }
    for (const section of ['required', 'optional'] as const) {
      const mine = have.input?.[section]
      const theirs = (def as NodeDef).input?.[section]
      if (!isRecord(mine) || !isRecord(theirs)) continue
      for (const [name, spec] of Object.entries(theirs)) {
        const a = comboOptions(mine[name])
        const b = comboOptions(spec)
        if (!a || !b) continue
        const seen = new Set(a)
        const extra = b.filter((x) => !seen.has(x))
        if (extra.length) mine[name] = withOptions(mine[name] as unknown[], [...a, ...extra])
      }
    }
  }
}

export class FleetInfo {
  private readonly cache = new Map<string, { at: number; value: Promise<unknown> }>()

  constructor(
    private readonly source: FleetSource,
    private readonly ttlMs = FLEET_CACHE_MS,
    private readonly deadlineMs = 10_000
  ) {}

  healthy(): ServerStatus[] {
    return this.source.status().servers.filter((s) => s.enabled && s.healthy)
  }

  /** One server's JSON answer to a GET (cached); rejects on any failure. */
  get(serverId: string, route: string): Promise<unknown> {
    const key = `${serverId}\n${route}`
    const now = Date.now()
    const hit = this.cache.get(key)
    if (hit && now - hit.at < this.ttlMs) return hit.value
    const client = this.source.serverClient(serverId)
    if (!client) return Promise.reject(new Error('Unknown server'))
    const value = client.getJson(route, this.deadlineMs).then((r) => r.value)
    value.catch(() => this.cache.delete(key))
    this.cache.delete(key)
    this.cache.set(key, { at: now, value })
    while (this.cache.size > CACHE_MAX) this.cache.delete(this.cache.keys().next().value as string)
    return value
  }

  /** Every healthy server's answer to a GET; failures are left out. */
  async each(route: string): Promise<Array<{ server: ServerStatus; value: unknown }>> {
    const list = this.healthy()
    const got = await Promise.allSettled(list.map((s) => this.get(s.id, route)))
    const out: Array<{ server: ServerStatus; value: unknown }> = []
    got.forEach((g, i) => {
      if (g.status === 'fulfilled') out.push({ server: list[i]!, value: g.value })
    })
    return out
  }

  /** The union of the healthy servers' node classes, or null when no server told. */
  async objectInfo(): Promise<Record<string, NodeDef> | null> {
    const all = await this.each('/object_info')
    const good = all.filter((a) => isRecord(a.value))
    if (!good.length) return null
    const out: Record<string, NodeDef> = {}
    for (const a of good) mergeObjectInfo(out, a.value)
    return out
  }

  /** The union of string lists (models, embeddings, extensions); null when no server told. */
  async stringUnion(route: string): Promise<string[] | null> {
    const all = (await this.each(route)).filter((a) => Array.isArray(a.value))
    if (!all.length) return null
    const seen = new Set<string>()
    for (const a of all)
      for (const x of a.value as unknown[]) if (typeof x === 'string') seen.add(x)
    return [...seen]
  }

  /** ComfyUI's system_stats for the fleet: the first server's system, every server's devices. */
  async systemStats(): Promise<Record<string, unknown> | null> {
    const all = (await this.each('/system_stats')).filter((a) => isRecord(a.value))
    if (!all.length) return null
    const first = all[0]!.value as Record<string, unknown>
    const devices: unknown[] = []
    for (const a of all) {
      const list = (a.value as { devices?: unknown }).devices
      if (!Array.isArray(list)) continue
      list.forEach((d, i) => {
        if (!isRecord(d)) return
        devices.push({
          ...d,
          name: `${a.server.name}: ${String(d.name ?? 'device')}`,
          // A CPU-only server says `index: null`; the ComfyUI window types it as a number.
          index: typeof d.index === 'number' ? d.index : i
        })
      })
    }
    const system = isRecord(first.system) ? { ...first.system } : {}
    system.argv = ['comfy-balancer']
    return { ...first, system, devices }
  }
}

// ------------------------------------------------------------------ checking a prompt

export interface PromptCheck {
  /** Output node ids to run (ComfyUI's outputs_to_execute). */
  outputs: string[]
}

export interface PromptRefusal {
  error: { type: string; message: string; details: string; extra_info: Record<string, unknown> }
  node_errors: Record<string, unknown>
}

function refusal(type: string, message: string, details = ''): PromptRefusal {
  return { error: { type, message, details, extra_info: {} }, node_errors: {} }
}

function isLink(v: unknown): v is [string, number] {
  return Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'number'
}

/**
 * Checks a prompt against the fleet's node classes, ComfyUI's way: an unknown class is
 * `invalid_prompt`; a combo value (a model, a sampler) no server lists is `value_not_in_list`
 * under `prompt_outputs_failed_validation`. `info` null (nobody told) checks only the shape.
 * `known(value)` says a value is fine anyway (an image uploaded to the gateway).
 */
export function checkPrompt(
  prompt: unknown,
  info: Record<string, NodeDef> | null,
  targets: unknown,
  known: (value: string) => boolean
): PromptCheck | PromptRefusal {
  if (!isRecord(prompt)) return refusal('invalid_prompt', 'Prompt is not a valid workflow')
  const ids = Object.keys(prompt)
  for (const id of ids) {
    const node = prompt[id]
    if (!isRecord(node) || typeof node.class_type !== 'string' || !node.class_type) {
      return refusal(
        'invalid_prompt',
        'Cannot execute because a node is missing the class_type property.',
        `Node ID '#${id}'`
      )
    }
    if (info && !Object.hasOwn(info, node.class_type)) {
      return refusal(
        'invalid_prompt',
        `Cannot execute because node ${node.class_type} does not exist.`,
        `Node ID '#${id}'`
      )
    }
  }
  const nodes = prompt as Record<string, { class_type: string; inputs?: unknown }>
  const outputNode = (id: string) =>
    info
      ? info[nodes[id]!.class_type]?.output_node === true
      : /^(Save|Preview)/.test(nodes[id]!.class_type)
  let outputs = ids.filter(outputNode)
  if (Array.isArray(targets)) {
    const want = new Set(targets.map(String))
    outputs = outputs.filter((id) => want.has(id))
  }
  if (!outputs.length) return refusal('prompt_no_outputs', 'Prompt has no outputs')
  if (!info) return { outputs }
  // Which outputs each node feeds (for dependent_outputs).
  const feeds = new Map<string, Set<string>>()
  for (const out of outputs) {
    const stack = [out]
    const seen = new Set<string>()
    while (stack.length) {
      const id = stack.pop()!
      if (seen.has(id) || !Object.hasOwn(nodes, id)) continue
      seen.add(id)
      let set = feeds.get(id)
      if (!set) feeds.set(id, (set = new Set()))
      set.add(out)
      const inputs = nodes[id]!.inputs
      if (isRecord(inputs)) for (const v of Object.values(inputs)) if (isLink(v)) stack.push(v[0])
    }
  }
  const nodeErrors: Record<string, unknown> = {}
  const lines: string[] = []
  for (const [id, outs] of feeds) {
    const node = nodes[id]!
    const def = info[node.class_type]
    if (!def) continue
    const inputs = isRecord(node.inputs) ? node.inputs : {}
    const errors: unknown[] = []
    for (const section of ['required', 'optional'] as const) {
      const specs = def.input?.[section]
      if (!isRecord(specs)) continue
      for (const [name, spec] of Object.entries(specs)) {
        const options = comboOptions(spec)
        const value = inputs[name]
        if (!options || typeof value !== 'string' || !Object.hasOwn(inputs, name)) continue
        if (options.includes(value) || known(value)) continue
        if (/\s\[(input|output|temp)\]$/.test(value)) continue
        const shown =
          options.length > 20
            ? `(list of length ${options.length})`
            : `[${options.map((o) => `'${String(o)}'`).join(', ')}]`
        const details = `${name}: '${value}' not in ${shown}`
        errors.push({
          type: 'value_not_in_list',
          message: 'Value not in list',
          details,
          extra_info: {
            input_name: name,
            input_config: options.length > 20 ? null : spec,
            received_value: value
          }
        })
        lines.push(`Value not in list: ${details}`)
      }
    }
    if (errors.length) {
      nodeErrors[id] = { errors, dependent_outputs: [...outs], class_type: node.class_type }
    }
  }
  if (lines.length) {
    return {
      error: {
        type: 'prompt_outputs_failed_validation',
        message: 'Prompt outputs failed validation',
        details: lines.join('\n'),
        extra_info: {}
      },
      node_errors: nodeErrors
    }
  }
  return { outputs }
}
