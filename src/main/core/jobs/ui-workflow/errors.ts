/** The node a conversion problem is about. */
export interface UiNodeRef {
  /** The node's id as the server would know it (`5`, or `12:3` inside a subgraph or group node). */
  id: string
  title: string | null
  classType: string
}

/**
 * Why a UI-format workflow cannot be turned into one the server runs. `node` is the node at
 * fault (null when the problem is the whole file), `reason` what is wrong with it.
 */
export class UiWorkflowError extends Error {
  constructor(
    readonly node: UiNodeRef | null,
    readonly reason: string
  ) {
    super(node ? `${describeNode(node)}: ${reason}` : reason)
    this.name = 'UiWorkflowError'
  }
}

/** `node 5 "My sampler" (KSampler)`, for messages. */
export function describeNode(node: UiNodeRef): string {
  const title = node.title && node.title !== node.classType ? ` "${node.title}"` : ''
  return `node ${node.id}${title} (${node.classType})`
}
