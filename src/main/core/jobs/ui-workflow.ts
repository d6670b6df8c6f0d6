/**
 * Running the workflows artists save with ComfyUI's plain "Save" (UI format: `nodes`, `links`):
 * they are turned into the API prompt the server runs, the way ComfyUI's window does when you
 * press Queue. Pure: nothing here touches the network or disk.
 */
import type { ApiPrompt } from './workflow'
import { Converter } from './ui-workflow/convert'
import type { ConvertOptions } from './ui-workflow/convert'
import { UiWorkflowError } from './ui-workflow/errors'
import { isRecord, parseUiGraph } from './ui-workflow/graph'
import type { ObjectInfo } from './ui-workflow/object-info'

export { UiWorkflowError } from './ui-workflow/errors'
export type { UiNodeRef } from './ui-workflow/errors'
export { VIRTUAL_CLASSES } from './ui-workflow/convert'
export type { ConvertOptions } from './ui-workflow/convert'
export { parseObjectInfo } from './ui-workflow/object-info'
export type { InputSpec, NodeClassInfo, ObjectInfo } from './ui-workflow/object-info'

/** Whether `raw` is a UI-format graph (a `nodes` array with `links` or `last_node_id`). */
export function isUiWorkflow(raw: unknown): boolean {
  return isRecord(raw) && Array.isArray(raw.nodes) && ('links' in raw || 'last_node_id' in raw)
}

/**
 * Converts a UI-format graph into an API prompt for a server whose `/object_info` is
 * `objectInfo` (see `parseObjectInfo`). `warnings` lists what was guessed or left out; a graph
 * that cannot be converted (a node the server lacks, links in a circle, ...) throws
 * {@link UiWorkflowError} naming the node.
 */
export function convertUiWorkflow(
  graph: unknown,
  objectInfo: ObjectInfo,
  opts: ConvertOptions = {}
): { prompt: ApiPrompt; warnings: string[] } {
  if (!isUiWorkflow(graph) || !isRecord(graph))
    throw new UiWorkflowError(null, 'this is not a UI-format ComfyUI workflow (nodes and links)')
  const result = new Converter(parseUiGraph(graph), objectInfo, opts).run()
  if (Object.keys(result.prompt).length === 0)
    throw new UiWorkflowError(null, 'the workflow has no nodes the server can run')
  return result
}
