/**
 * Group nodes (older frontends' `extra.groupNodes`): how an instance's widgets, inputs and
 * outputs map onto the nodes inside, following the frontend's GroupNodeConfig. Per inner node,
 * in order: its widgets become the instance's widgets and its unlinked inputs the instance's
 * inputs (names taken from the inner input, prefixed with the inner node's title when a name
 * repeats); widgets converted to inputs come after all of that; outputs not used only inside
 * become the instance's outputs.
 */
import type { GroupNodeData, UiNode } from './graph'
import { isWidgetSpec, orderedInputs, own, widgetLayout } from './object-info'
import type { ObjectInfo } from './object-info'

export interface InnerRef {
  index: number
  /** Input slot on the inner node. */
  slot: number
}

export interface GroupLayout {
  data: GroupNodeData
  /** Instance widget k -> the inner node input it sets (null: a control or upload widget). */
  widgets: Array<{ index: number; input: string } | null>
  /** Instance input name -> inner node input. */
  inputs: Map<string, InnerRef>
  /** Instance output slot -> inner node output. */
  outputs: Array<{ index: number; slot: number }>
  /** Inner node index -> its input slot -> [origin index, origin slot], inside the group. */
  linksTo: Map<number, Map<number, [number, number]>>
}

/** Why a group node cannot be laid out: `inner` is the offending inner node, if any. */
export class GroupLayoutError extends Error {
  constructor(
    readonly reason: string,
    readonly inner: UiNode | null
  ) {
    super(reason)
  }
}

export function layoutGroupNode(
  data: GroupNodeData,
  objectInfo: ObjectInfo,
  isVirtual: (type: string) => boolean
): GroupLayout {
  const linksTo = new Map<number, Map<number, [number, number]>>()
  const usedInside = new Set<string>()
  for (const [o, os, t, ts] of data.links) {
    if (o === null) continue
    let m = linksTo.get(t)
    if (!m) linksTo.set(t, (m = new Map()))
    m.set(ts, [o, os])
    usedInside.add(`${o}:${os}`)
  }
  const external = new Set(data.external.map(([i, s]) => `${i}:${s}`))
  const widgets: GroupLayout['widgets'] = []
  const inputs = new Map<string, InnerRef>()
  const outputs: GroupLayout['outputs'] = []
  const seen = new Map<string, number>()
  const later: Array<() => void> = []

  const nameFor = (node: UiNode, inputName: string): string => {
    let name = node.inputs.find((i) => i.name === inputName)?.name ?? inputName
    let key = name
    if (seen.has(name)) {
      const prefix = `${node.title ?? node.type} `
      key = name = `${prefix}${inputName}`
      if (seen.has(name)) name = `${prefix}${seen.get(name)} ${inputName}`
    }
    seen.set(key, (seen.get(key) ?? 1) + 1)
    return name
  }

  data.nodes.forEach((node, index) => {
    const info = own(objectInfo, node.type)
    if (!info) {
      if (node.type === 'PrimitiveNode' || node.type === 'Reroute')
        throw new GroupLayoutError(
          'it contains a Primitive or Reroute node, which cannot be converted here. ' +
            'In ComfyUI, right-click the group node, choose "Convert to nodes" and save again',
          node
        )
      if (isVirtual(node.type)) return
      throw new GroupLayoutError('the server does not have this node', node)
    }
    const converted = new Map<number, string>()
    const slots: string[] = []
    for (const [name, spec] of orderedInputs(info)) {
      if (!isWidgetSpec(spec)) {
        slots.push(name)
        continue
      }
      const at = node.inputs.findIndex((i) => i.name === name && i.widget === name)
      if (at > -1) converted.set(at, name)
    }
    for (const slot of widgetLayout(info)) {
      if (slot.input === null) widgets.push(null)
      else if ([...converted.values()].includes(slot.input)) continue
      else {
        nameFor(node, slot.input)
        widgets.push({ index, input: slot.input })
      }
    }
    const nodeLinks = linksTo.get(index)
    slots.forEach((inputName, slot) => {
      if (nodeLinks?.has(slot)) return
      inputs.set(nameFor(node, inputName), { index, slot })
    })
    later.push(() => {
      ;[...converted.keys()]
        .sort((a, b) => a - b)
        .forEach((at, i) => {
          const slot = slots.length + i
          if (nodeLinks?.has(slot)) return
          const inputName = converted.get(at) as string
          inputs.set(nameFor(node, inputName), { index, slot })
          widgets.push({ index, input: inputName })
        })
    })
    ;(info.output ?? []).forEach((_, slot) => {
      const key = `${index}:${slot}`
      if (usedInside.has(key) && !external.has(key)) return
      outputs.push({ index, slot })
    })
  })
  for (const f of later) f()
  return { data, widgets, inputs, outputs, linksTo }
}
