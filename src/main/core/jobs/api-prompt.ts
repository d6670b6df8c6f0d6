/** The API format ComfyUI runs: node id -> node (what `POST /prompt` takes as `prompt`). */
export interface ApiNode {
  class_type: string
  inputs: Record<string, unknown>
  _meta?: { title?: string }
}

/** API format: node id -> node. */
export type ApiPrompt = Record<string, ApiNode>
