/**
 * Reading a UI-format graph (what ComfyUI's plain "Save" writes) into plain structures: nodes,
 * links (the `[id, origin, slot, target, slot, type]` arrays of the classic format or the
 * objects of the newer one and of subgraphs), subgraph definitions (`definitions.subgraphs`)
 * and group nodes (`extra.groupNodes`). Nothing here knows about the server's classes.
 */

export interface UiInput {
  name: string
  type: string
  link: number | null
  /** The widget this input belongs to (a widget converted to an input), if any. */
  widget: string | null
}

export interface UiNode {
  id: string
  type: string
  /** 0 always, 2 never (muted), 4 bypass. */
  mode: number
  title: string | null
  inputs: UiInput[]
  outputs: Array<{ type: string }>
  /** `widgets_values`: usually an array, an object for some custom nodes (VHS). */
  values: unknown[] | Record<string, unknown> | null
  properties: Record<string, unknown>
}

export interface UiLink {
  originId: string
  originSlot: number
  targetId: string
  targetSlot: number
  type: string
}

export interface SubgraphIo {
  name: string
  type: string
  linkIds: number[]
}

export interface SubgraphDef {
  id: string
  name: string
  nodes: UiNode[]
  links: Map<number, UiLink>
  inputs: SubgraphIo[]
  outputs: SubgraphIo[]
}

export interface GroupNodeData {
  name: string
  nodes: UiNode[]
  /** `[originIndex, originSlot, targetIndex, targetSlot, ...]`; origin null = from outside. */
  links: Array<[number | null, number, number, number, string]>
  /** `[nodeIndex, outputSlot, type]`: inner outputs also used outside the group. */
  external: Array<[number, number]>
}

export interface UiGraph {
  nodes: UiNode[]
  links: Map<number, UiLink>
  subgraphs: Map<string, SubgraphDef>
  groupNodes: Map<string, GroupNodeData>
}

/** Id of the subgraph's input pseudo-node (links from it come from the instance's inputs). */
export const SUBGRAPH_INPUT_ID = '-10'
/** Id of the subgraph's output pseudo-node. */
export const SUBGRAPH_OUTPUT_ID = '-20'

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function idOf(v: unknown): string | null {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v)
  if (typeof v === 'string' && v !== '') return v
  return null
}

function int(v: unknown): number | null {
  if (typeof v === 'number' && Number.isInteger(v)) return v
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v)
  return null
}

function typeName(v: unknown): string {
  if (typeof v === 'string') return v
  if (v === 0 || v === -1) return '*'
  return String(v ?? '*')
}

/** One node; null when it has no id or type (then it cannot be converted or linked). */
export function parseNode(raw: unknown): UiNode | null {
  if (!isRecord(raw)) return null
  const id = idOf(raw.id)
  if (id === null || typeof raw.type !== 'string') return null
  const inputs: UiInput[] = []
  for (const inp of Array.isArray(raw.inputs) ? raw.inputs : []) {
    if (!isRecord(inp)) {
      inputs.push({ name: '', type: '*', link: null, widget: null })
      continue
    }
    const widget =
      isRecord(inp.widget) && typeof inp.widget.name === 'string' ? inp.widget.name : null
    inputs.push({
      name: typeof inp.name === 'string' ? inp.name : '',
      type: typeName(inp.type),
      link: int(inp.link),
      widget
    })
  }
  const outputs = (Array.isArray(raw.outputs) ? raw.outputs : []).map((o) => ({
    type: typeName(isRecord(o) ? o.type : '*')
  }))
  const wv = raw.widgets_values
  return {
    id,
    type: raw.type,
    mode: typeof raw.mode === 'number' ? raw.mode : 0,
    title: typeof raw.title === 'string' ? raw.title : null,
    inputs,
    outputs,
    values: Array.isArray(wv) || isRecord(wv) ? wv : null,
    properties: isRecord(raw.properties) ? raw.properties : {}
  }
}

/** Links in either form, by id. */
export function parseLinks(raw: unknown): Map<number, UiLink> {
  const out = new Map<number, UiLink>()
  for (const l of Array.isArray(raw) ? raw : []) {
    let parts: unknown[]
    if (Array.isArray(l)) parts = l
    else if (isRecord(l))
      parts = [l.id, l.origin_id, l.origin_slot, l.target_id, l.target_slot, l.type]
    else continue
    const [id, originId, originSlot, targetId, targetSlot, type] = parts.map((p, i) =>
      i === 1 || i === 3 ? idOf(p) : i === 5 ? p : int(p)
    )
    if (typeof id !== 'number' || typeof originSlot !== 'number' || typeof targetSlot !== 'number')
      continue
    if (typeof originId !== 'string' || typeof targetId !== 'string') continue
    out.set(id, { originId, originSlot, targetId, targetSlot, type: typeName(type) })
  }
  return out
}

function parseNodes(raw: unknown): UiNode[] {
  const out: UiNode[] = []
  for (const n of Array.isArray(raw) ? raw : []) {
    const node = parseNode(n)
    if (node) out.push(node)
  }
  return out
}

function parseIo(raw: unknown): SubgraphIo[] {
  return (Array.isArray(raw) ? raw : []).map((io) => {
    const r = isRecord(io) ? io : {}
    const ids = Array.isArray(r.linkIds) ? r.linkIds.map(int).filter((x) => x !== null) : []
    return {
      name: typeof r.name === 'string' ? r.name : '',
      type: typeName(r.type),
      linkIds: ids as number[]
    }
  })
}

function collectSubgraphs(raw: unknown, into: Map<string, SubgraphDef>, depth: number): void {
  if (!isRecord(raw) || depth > 64) return
  const defs = isRecord(raw.definitions) ? raw.definitions.subgraphs : undefined
  for (const d of Array.isArray(defs) ? defs : []) {
    if (!isRecord(d) || typeof d.id !== 'string' || into.has(d.id)) continue
    into.set(d.id, {
      id: d.id,
      name: typeof d.name === 'string' ? d.name : d.id,
      nodes: parseNodes(d.nodes),
      links: parseLinks(d.links),
      inputs: parseIo(d.inputs),
      outputs: parseIo(d.outputs)
    })
    collectSubgraphs(d, into, depth + 1)
  }
}

function parseGroupNodes(raw: unknown): Map<string, GroupNodeData> {
  const out = new Map<string, GroupNodeData>()
  if (!isRecord(raw)) return out
  for (const [name, g] of Object.entries(raw)) {
    if (!isRecord(g)) continue
    const nodes: UiNode[] = []
    ;(Array.isArray(g.nodes) ? g.nodes : []).forEach((n, i) => {
      // Inner nodes of a group are known by their position; their own ids are meaningless.
      const node = parseNode(isRecord(n) ? { ...n, id: i } : n)
      if (node) nodes.push(node)
    })
    const links: GroupNodeData['links'] = []
    for (const l of Array.isArray(g.links) ? g.links : []) {
      if (!Array.isArray(l)) continue
      const [o, os, t, ts] = [int(l[0]), int(l[1]), int(l[2]), int(l[3])]
      if (os === null || t === null || ts === null) continue
      links.push([o, os, t, ts, typeName(l[5])])
    }
    const external: GroupNodeData['external'] = []
    for (const e of Array.isArray(g.external) ? g.external : []) {
      if (!Array.isArray(e)) continue
      const [i, s] = [int(e[0]), int(e[1])]
      if (i !== null && s !== null) external.push([i, s])
    }
    out.set(name, { name, nodes, links, external })
  }
  return out
}

export function parseUiGraph(raw: Record<string, unknown>): UiGraph {
  const subgraphs = new Map<string, SubgraphDef>()
  collectSubgraphs(raw, subgraphs, 0)
  const extra = isRecord(raw.extra) ? raw.extra : {}
  return {
    nodes: parseNodes(raw.nodes),
    links: parseLinks(raw.links),
    subgraphs,
    groupNodes: parseGroupNodes(extra.groupNodes)
  }
}

/** The group-node name for an instance type (`workflow>Name`, older `workflow/Name`). */
export function groupNodeName(type: string): string | null {
  for (const prefix of ['workflow>', 'workflow/'])
    if (type.startsWith(prefix)) return type.slice(prefix.length)
  return null
}
