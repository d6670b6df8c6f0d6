/**
 * UI-format graph -> API prompt, as ComfyUI's frontend does it when you queue (graphToPrompt):
 * widget values by the class's widget inputs; links followed through Reroutes, bypassed nodes
 * and subgraph/group-node boundaries to the real node; PrimitiveNodes give their value; muted
 * nodes, and inputs fed by them, are left out.
 */
import type { ApiNode, ApiPrompt } from '../api-prompt'
import { describeNode, UiWorkflowError } from './errors'
import type { UiNodeRef } from './errors'
import { groupNodeName, SUBGRAPH_INPUT_ID } from './graph'
import type { SubgraphDef, UiGraph, UiLink, UiNode } from './graph'
import { GroupLayoutError, layoutGroupNode } from './group'
import type { GroupLayout } from './group'
import { hasForcedWidgets, own, setOwn, widgetLayout } from './object-info'
import type { InputSpec, NodeClassInfo, ObjectInfo } from './object-info'

/** Node classes that exist only in the ComfyUI window and never reach the server. */
export const VIRTUAL_CLASSES: readonly string[] = [
  'Note',
  'MarkdownNote',
  'PrimitiveNode',
  'Reroute',
  'Reroute (rgthree)',
  'SetNode',
  'GetNode',
  'Label (rgthree)',
  'Bookmark (rgthree)',
  'Fast Groups Muter (rgthree)',
  'Fast Groups Bypasser (rgthree)',
  'Fast Muter (rgthree)',
  'Fast Bypasser (rgthree)'
]

export interface ConvertOptions {
  /** More classes to treat as window-only (dropped; their inputs pass through by slot). */
  virtualClasses?: readonly string[]
}

export interface ConvertResult {
  prompt: ApiPrompt
  warnings: string[]
}

const MODE_NEVER = 2
const MODE_BYPASS = 4
const MAX_NESTING = 32

interface Scope {
  /** Prefix of execution ids in this scope: '' at the top, `5:` inside instance 5. */
  prefix: string
  nodes: Map<string, UiNode>
  links: Map<number, UiLink>
  parent: Scope | null
  /** The subgraph or group-node instance (in `parent`) this scope is the inside of. */
  instance: UiNode | null
  sub: SubgraphDef | null
  group: GroupLayout | null
  depth: number
}

type Resolved =
  | { kind: 'link'; id: string; slot: number }
  | { kind: 'value'; value: unknown }
  | { kind: 'removed' }
  | undefined

function validConnection(a: string, b: string): boolean {
  if (a === '*' || b === '*' || a === '' || b === '') return true
  const la = a.toLowerCase()
  const lb = b.toLowerCase()
  if (la === lb) return true
  const sa = la.split(',')
  return lb.split(',').some((t) => sa.includes(t))
}

/** The frontend's rule for which input of a bypassed node stands in for output `slot`. */
function bypassIndex(node: UiNode, slot: number, type: string): number {
  const { inputs } = node
  if (type === '*' || type === '') return inputs.length === 0 ? -1 : inputs.length > slot ? slot : 0
  const outType = node.outputs[slot]?.type ?? '*'
  const opposite = inputs[slot]
  if (opposite && validConnection(opposite.type, outType) && validConnection(opposite.type, type))
    return slot
  const exact = inputs.findIndex((i) => i.type === type)
  if (exact !== -1) return exact
  return inputs.findIndex((i) => validConnection(i.type, outType) && validConnection(i.type, type))
}

/** Arrays are links in a prompt, so array widget values travel wrapped, as the frontend does. */
function wrap(v: unknown): unknown {
  return Array.isArray(v) ? { __value__: v } : v
}

function defaultOf(spec: InputSpec | undefined): unknown {
  if (!spec) return undefined
  const d = spec[1]?.default
  if (d !== undefined && d !== null) return d
  if (Array.isArray(spec[0])) return spec[0][0]
  const options = spec[1]?.options
  return Array.isArray(options) ? options[0] : undefined
}

export class Converter {
  readonly prompt: ApiPrompt = {}
  readonly warnings: string[] = []
  private readonly virtual: Set<string>
  private readonly scopes = new Map<string, Scope>()
  private readonly groupLayouts = new Map<string, GroupLayout>()

  constructor(
    private readonly graph: UiGraph,
    private readonly objectInfo: ObjectInfo,
    opts: ConvertOptions = {}
  ) {
    this.virtual = new Set([...VIRTUAL_CLASSES, ...(opts.virtualClasses ?? [])])
  }

  run(): ConvertResult {
    const root: Scope = {
      prefix: '',
      nodes: new Map(this.graph.nodes.map((n) => [n.id, n])),
      links: this.graph.links,
      parent: null,
      instance: null,
      sub: null,
      group: null,
      depth: 0
    }
    this.emitScope(root)
    // Inputs whose origin did not make it into the prompt are left out, as the frontend does.
    for (const node of Object.values(this.prompt)) {
      for (const [name, v] of Object.entries(node.inputs)) {
        if (Array.isArray(v) && v.length === 2 && !Object.hasOwn(this.prompt, String(v[0])))
          delete node.inputs[name]
      }
    }
    return { prompt: this.prompt, warnings: this.warnings }
  }

  private isVirtual(type: string): boolean {
    return !own(this.objectInfo, type) && this.virtual.has(type)
  }

  private ref(scope: Scope, node: UiNode): UiNodeRef {
    const info = own(this.objectInfo, node.type)
    return {
      id: scope.prefix + node.id,
      title: node.title ?? info?.display_name ?? null,
      classType: node.type
    }
  }

  private fail(scope: Scope, node: UiNode, reason: string): never {
    throw new UiWorkflowError(this.ref(scope, node), reason)
  }

  private warn(scope: Scope, node: UiNode, text: string): void {
    this.warnings.push(`${describeNode(this.ref(scope, node))}: ${text}`)
  }

  /** The inside of a subgraph or group-node instance, or null when `node` is neither. */
  private inner(scope: Scope, node: UiNode): Scope | null {
    const sub = this.graph.subgraphs.get(node.type) ?? null
    const groupName = sub ? null : groupNodeName(node.type)
    const groupData = groupName === null ? undefined : this.graph.groupNodes.get(groupName)
    if (!sub && !groupData) return null
    const prefix = `${scope.prefix}${node.id}:`
    const cached = this.scopes.get(prefix)
    if (cached) return cached
    if (scope.depth >= MAX_NESTING)
      this.fail(scope, node, `subgraphs are nested more than ${MAX_NESTING} deep`)
    let inner: Scope
    if (sub) {
      inner = {
        prefix,
        nodes: new Map(sub.nodes.map((n) => [n.id, n])),
        links: sub.links,
        parent: scope,
        instance: node,
        sub,
        group: null,
        depth: scope.depth + 1
      }
    } else {
      const data = groupData as NonNullable<typeof groupData>
      let layout = this.groupLayouts.get(data.name)
      if (!layout) {
        try {
          layout = layoutGroupNode(data, this.objectInfo, (t) => this.isVirtual(t))
        } catch (e) {
          if (!(e instanceof GroupLayoutError)) throw e
          const at = e.inner ? `its inner node ${e.inner.id} (${e.inner.type}): ` : ''
          this.fail(scope, node, `${at}${e.reason}`)
        }
        this.groupLayouts.set(data.name, layout)
      }
      inner = {
        prefix,
        nodes: new Map(data.nodes.map((n) => [n.id, n])),
        links: new Map(),
        parent: scope,
        instance: node,
        sub: null,
        group: layout,
        depth: scope.depth + 1
      }
    }
    this.scopes.set(prefix, inner)
    return inner
  }

  private emitScope(scope: Scope): void {
    for (const node of scope.nodes.values()) {
      if (node.mode === MODE_NEVER || node.mode === MODE_BYPASS) continue
      const inner = this.inner(scope, node)
      if (inner) {
        this.emitScope(inner)
        continue
      }
      const info = own(this.objectInfo, node.type)
      if (info) this.emitNode(scope, node, info)
      else if (this.isVirtual(node.type)) continue
      else if (groupNodeName(node.type) !== null)
        this.fail(scope, node, 'the group node is not defined in this workflow file')
      else
        this.fail(
          scope,
          node,
          'the server does not have this node. Install the custom node that provides it on the server, or remove the node'
        )
    }
  }

  private emitNode(scope: Scope, node: UiNode, info: NodeClassInfo): void {
    const inputs: Record<string, unknown> = {}
    this.widgetValues(scope, node, info, inputs)
    if (scope.group) this.groupWidgetValues(scope, node, inputs)
    node.inputs.forEach((input, slot) => {
      if (!input.name) return
      if (!scope.group && input.link === null) return
      const r = this.resolveInput(scope, node, slot, undefined, new Set())
      if (!r) return
      if (r.kind === 'removed') delete inputs[input.name]
      else if (r.kind === 'value') setOwn(inputs, input.name, wrap(r.value))
      else setOwn(inputs, input.name, [r.id, r.slot])
    })
    const apiNode: ApiNode = {
      class_type: node.type,
      inputs,
      _meta: { title: node.title ?? info.display_name ?? node.type }
    }
    setOwn(this.prompt, scope.prefix + node.id, apiNode)
  }

  private widgetValues(
    scope: Scope,
    node: UiNode,
    info: NodeClassInfo,
    inputs: Record<string, unknown>
  ): void {
    let layout = widgetLayout(info)
    const values = node.values
    if (values === null) {
      const named = layout.filter((s) => s.input !== null)
      if (named.length > 0) this.warn(scope, node, 'it has no saved widget values; defaults used')
      for (const s of named) {
        const d = defaultOf(s.spec)
        if (d !== undefined) setOwn(inputs, s.input as string, d)
      }
      return
    }
    if (!Array.isArray(values)) {
      for (const s of layout) {
        if (s.input !== null && Object.hasOwn(values, s.input))
          setOwn(inputs, s.input, wrap(values[s.input]))
      }
      return
    }
    if (values.length !== layout.length && hasForcedWidgets(info)) {
      const older = widgetLayout(info, true)
      if (older.length === values.length) layout = older
    }
    let missing = 0
    layout.forEach((s, k) => {
      if (s.input === null) return
      if (k < values.length) setOwn(inputs, s.input, wrap(values[k]))
      else {
        missing++
        const d = defaultOf(s.spec)
        if (d !== undefined) setOwn(inputs, s.input, d)
      }
    })
    if (missing > 0)
      this.warn(scope, node, `${missing} widget value(s) missing from the file; defaults used`)
    else if (values.length > layout.length)
      this.warn(
        scope,
        node,
        `${values.length - layout.length} widget value(s) not matching any input were ignored`
      )
  }

  /** A group node's inner node takes the instance's widget values for its widgets. */
  private groupWidgetValues(scope: Scope, node: UiNode, inputs: Record<string, unknown>): void {
    const layout = scope.group as GroupLayout
    const instance = scope.instance as UiNode
    const values = Array.isArray(instance.values) ? instance.values : []
    const index = Number(node.id)
    layout.widgets.forEach((w, k) => {
      if (w && w.index === index && k < values.length) setOwn(inputs, w.input, wrap(values[k]))
    })
  }

  private guard(scope: Scope, node: UiNode, key: string, visited: Set<string>): void {
    const full = `${scope.prefix}${node.id}${key}`
    if (visited.has(full)) this.fail(scope, node, 'its links go round in a circle')
    visited.add(full)
  }

  private resolveInput(
    scope: Scope,
    node: UiNode,
    slot: number,
    type: string | undefined,
    visited: Set<string>
  ): Resolved {
    this.guard(scope, node, `[I]${slot}`, visited)
    const input = node.inputs[slot]
    if (!input) return undefined
    const t = type ?? input.type
    if (scope.group) return this.resolveGroupInput(scope, node, slot, t, visited)
    if (input.link === null) return undefined
    const link = scope.links.get(input.link)
    if (!link) {
      this.warn(scope, node, `input "${input.name}" refers to a link that is not in the file`)
      return undefined
    }
    if (link.originId === SUBGRAPH_INPUT_ID && scope.sub && scope.parent && scope.instance) {
      const outer = scope.instance.inputs[link.originSlot]
      if (!outer) return undefined
      if (outer.link === null) return this.promotedValue(scope, link.originSlot)
      return this.resolveInput(scope.parent, scope.instance, link.originSlot, t, visited)
    }
    const origin = scope.nodes.get(link.originId)
    if (!origin) {
      this.warn(
        scope,
        node,
        `input "${input.name}" is linked to node ${link.originId}, which is not in the file`
      )
      return undefined
    }
    return this.resolveOutput(scope, origin, link.originSlot, t, visited)
  }

  private resolveGroupInput(
    scope: Scope,
    node: UiNode,
    slot: number,
    type: string,
    visited: Set<string>
  ): Resolved {
    const layout = scope.group as GroupLayout
    const index = Number(node.id)
    const inside = layout.linksTo.get(index)?.get(slot)
    if (inside) {
      const origin = scope.nodes.get(String(inside[0]))
      return origin ? this.resolveOutput(scope, origin, inside[1], type, visited) : undefined
    }
    const instance = scope.instance as UiNode
    const parent = scope.parent as Scope
    const inputName = node.inputs[slot]?.name
    for (const [name, ref] of layout.inputs) {
      if (ref.index !== index || ref.slot !== slot) continue
      const at = instance.inputs.findIndex((i) => i.name === name)
      if (at === -1 || (instance.inputs[at]?.link ?? null) === null) return undefined
      return this.resolveInput(parent, instance, at, type, visited)
    }
    // A group widget the user turned into an input on the instance.
    const w = layout.widgets.findIndex((x) => x?.index === index && x.input === inputName)
    if (w === -1) return undefined
    const at = instance.inputs.findIndex((i) => i.widget !== null && i.name === inputName)
    if (at === -1 || (instance.inputs[at]?.link ?? null) === null) return undefined
    return this.resolveInput(parent, instance, at, type, visited)
  }

  /** An unlinked subgraph input: the value of the instance's widget for it, if it has one. */
  private promotedValue(scope: Scope, inputIndex: number): Resolved {
    const sub = scope.sub as SubgraphDef
    const instance = scope.instance as UiNode
    if (!Array.isArray(instance.values) || 'proxyWidgets' in instance.properties) return undefined
    let widgetIndex = -1
    for (let k = 0; k <= inputIndex; k++) {
      const hasWidget = (sub.inputs[k]?.linkIds ?? []).some((id) => {
        const l = sub.links.get(id)
        const target = l ? scope.nodes.get(l.targetId) : undefined
        return !!(l && target?.inputs[l.targetSlot]?.widget)
      })
      if (hasWidget) widgetIndex++
      else if (k === inputIndex) return undefined
    }
    if (widgetIndex < 0 || widgetIndex >= instance.values.length) return undefined
    return { kind: 'value', value: instance.values[widgetIndex] }
  }

  private resolveOutput(
    scope: Scope,
    node: UiNode,
    slot: number,
    type: string,
    visited: Set<string>
  ): Resolved {
    this.guard(scope, node, `[O]${slot}`, visited)
    if (node.mode === MODE_BYPASS) {
      const at = bypassIndex(node, slot, type)
      if (at === -1) {
        this.warn(scope, node, `it is bypassed but has no input of type ${type} to pass on`)
        return undefined
      }
      return this.resolveInput(scope, node, at, type, visited)
    }
    if (node.mode === MODE_NEVER) return { kind: 'removed' }
    const inner = this.inner(scope, node)
    if (inner?.sub) {
      const linkId = inner.sub.outputs[slot]?.linkIds[0]
      const link = linkId === undefined ? undefined : inner.links.get(linkId)
      if (!link) return undefined
      if (link.originId === SUBGRAPH_INPUT_ID)
        return this.resolveInput(scope, node, link.originSlot, type, visited)
      const origin = inner.nodes.get(link.originId)
      return origin ? this.resolveOutput(inner, origin, link.originSlot, type, visited) : undefined
    }
    if (inner?.group) {
      const out = inner.group.outputs[slot]
      const origin = out ? inner.nodes.get(String(out.index)) : undefined
      return origin && out ? this.resolveOutput(inner, origin, out.slot, type, visited) : undefined
    }
    if (own(this.objectInfo, node.type)) return { kind: 'link', id: scope.prefix + node.id, slot }
    if (node.type === 'PrimitiveNode') {
      const v = Array.isArray(node.values) ? node.values[0] : undefined
      return v === undefined ? undefined : { kind: 'value', value: v }
    }
    if (node.type === 'GetNode') {
      const name = Array.isArray(node.values) ? node.values[0] : undefined
      for (const n of scope.nodes.values()) {
        if (n.type === 'SetNode' && Array.isArray(n.values) && n.values[0] === name)
          return this.resolveInput(scope, n, 0, type, visited)
      }
      this.warn(scope, node, `no SetNode named "${String(name)}" was found`)
      return undefined
    }
    if (this.isVirtual(node.type)) {
      return node.inputs[slot] ? this.resolveInput(scope, node, slot, type, visited) : undefined
    }
    // A node the server lacks: emitScope refuses it (unless muted, handled above).
    return { kind: 'link', id: scope.prefix + node.id, slot }
  }
}
