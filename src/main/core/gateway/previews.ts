/**
 * Binary previews from the servers to the client whose prompt they belong to
 * (`comfyui-api.md` section 5). A frame starts with a 4-byte big-endian type: 1 is an image
 * (`[1][format: 1 JPEG, 2 PNG][bytes]`), 3 a node's progress text, 4 an image with metadata
 * (`[4][metaLen][JSON][bytes]`), which ComfyUI sends only to sockets that asked for it with
 * `feature_flags`. Type 1 and 3 frames carry no prompt id: they belong to the prompt running on
 * that server, known from its events.
 */
import type { ServerEvent } from '../app'

type ComfyEvent = ServerEvent['event']

export const PREVIEW_IMAGE = 1
export const PREVIEW_TEXT = 3
export const PREVIEW_IMAGE_WITH_METADATA = 4

/** Longest metadata JSON read from a type 4 frame. */
const MAX_METADATA_BYTES = 64 * 1024

/** One frame for a client, in both shapes. */
export interface RelayedFrame {
  promptId: string
  /** For a client that asked for `supports_preview_metadata` (type 4 when known). */
  withMetadata: Buffer
  /** For every other client (type 1 or 3). */
  plain: Buffer
}

interface Running {
  promptId: string
  node: string | null
  displayNode: string | null
}

function imageType(format: number): string | null {
  if (format === 1) return 'image/jpeg'
  if (format === 2) return 'image/png'
  return null
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n >>> 0, 0)
  return b
}

export class PreviewRelay {
  /** Server id -> the prompt running there now, and its node. */
  private readonly running = new Map<string, Running>()

  /** Follows a server's events, to know which prompt (and node) its previews belong to. */
  track(serverId: string, ev: ComfyEvent): void {
    const id = ev.data.prompt_id
    if (typeof id !== 'string') return
    const node = ev.data.node
    switch (ev.type) {
      case 'execution_start':
        this.running.set(serverId, { promptId: id, node: null, displayNode: null })
        return
      case 'executing':
      case 'progress': {
        if (node === null && ev.type === 'executing') return this.end(serverId, id)
        if (typeof node !== 'string') return
        const display = ev.data.display_node
        const cur = this.running.get(serverId)
        const same = cur?.promptId === id && cur.node === node
        this.running.set(serverId, {
          promptId: id,
          node,
          displayNode: typeof display === 'string' ? display : same ? cur.displayNode : node
        })
        return
      }
      case 'execution_success':
      case 'execution_error':
      case 'execution_interrupted':
        return this.end(serverId, id)
    }
  }

  private end(serverId: string, promptId: string): void {
    if (this.running.get(serverId)?.promptId === promptId) this.running.delete(serverId)
  }

  /** The prompt running on a server now, as far as its events tell. */
  runningOn(serverId: string): string | null {
    return this.running.get(serverId)?.promptId ?? null
  }

  /** A server's binary frame in the shapes clients get, or null when it is not relayed. */
  frame(serverId: string, frame: Buffer): RelayedFrame | null {
    if (frame.length < 4) return null
    const type = frame.readUInt32BE(0)
    const run = this.running.get(serverId)
    if (type === PREVIEW_IMAGE) {
      if (!run || frame.length < 8) return null
      const mime = imageType(frame.readUInt32BE(4))
      if (!mime || run.node === null)
        return { promptId: run.promptId, plain: frame, withMetadata: frame }
      const meta = Buffer.from(
        JSON.stringify({
          node_id: run.node,
          prompt_id: run.promptId,
          display_node_id: run.displayNode ?? run.node,
          parent_node_id: null,
          real_node_id: run.node,
          image_type: mime
        })
      )
      return {
        promptId: run.promptId,
        plain: frame,
        withMetadata: Buffer.concat([
          u32(PREVIEW_IMAGE_WITH_METADATA),
          u32(meta.length),
          meta,
          frame.subarray(8)
        ])
      }
    }
    if (type === PREVIEW_TEXT) {
      return run ? { promptId: run.promptId, plain: frame, withMetadata: frame } : null
    }
    if (type === PREVIEW_IMAGE_WITH_METADATA) {
      if (frame.length < 8) return null
      const len = frame.readUInt32BE(4)
      if (len > MAX_METADATA_BYTES || 8 + len > frame.length) return null
      let meta: unknown
      try {
        meta = JSON.parse(frame.toString('utf8', 8, 8 + len))
      } catch {
        return null
      }
      const m = meta && typeof meta === 'object' ? (meta as Record<string, unknown>) : {}
      const promptId = typeof m.prompt_id === 'string' ? m.prompt_id : run?.promptId
      if (!promptId) return null
      const format = m.image_type === 'image/png' ? 2 : 1
      const plain = Buffer.concat([u32(PREVIEW_IMAGE), u32(format), frame.subarray(8 + len)])
      return { promptId, plain, withMetadata: frame }
    }
    return null
  }
}
