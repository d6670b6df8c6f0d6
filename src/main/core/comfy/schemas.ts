/**
 * Schemas for what ComfyUI answers. Lenient about unknown fields (ComfyUI adds fields often),
 * strict about the ones the balancer uses. Every server response passes through here.
 */
import { z } from 'zod'
import type { QueueCounts, SystemInfo } from '../../../shared/types'

export class ShapeError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ShapeError'
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'a list'
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`
}

/**
 * Queue counts from `GET /queue`, as the original design reads them: the lengths of
 * `queue_running` and `queue_pending`; a missing or non-array field counts 0.
 * A body that is not an object, or has neither field as a list, is not a ComfyUI queue.
 */
export function parseQueue(body: unknown): QueueCounts {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ShapeError(`expected a queue object, got ${describe(body)}`)
  }
  const o = body as Record<string, unknown>
  const r = o.queue_running
  const p = o.queue_pending
  if (!Array.isArray(r) && !Array.isArray(p)) {
    throw new ShapeError('the answer has no queue_running or queue_pending list')
  }
  const running = Array.isArray(r) ? r.length : 0
  const pending = Array.isArray(p) ? p.length : 0
  return { running, pending, total: running + pending }
}

/** `GET /prompt`: `{exec_info: {queue_remaining}}` (running + pending). */
const promptInfoSchema = z.object({
  exec_info: z.object({ queue_remaining: z.number().int().nonnegative() })
})

export function parsePromptInfo(body: unknown): number {
  // Built once: a schema per call cost more than the request itself across a large fleet.
  const r = promptInfoSchema.safeParse(body)
  if (!r.success) throw new ShapeError('expected exec_info.queue_remaining')
  return r.data.exec_info.queue_remaining
}

const num = z.number().finite().nullable().optional().catch(null)
const str = z.string().nullable().optional().catch(null)

const systemStatsSchema = z.object({
  system: z
    .object({
      os: str,
      ram_total: num,
      ram_free: num,
      comfyui_version: z.union([z.string(), z.number()]).nullable().optional().catch(null),
      python_version: str,
      pytorch_version: str
    })
    .loose(),
  devices: z
    .array(
      z
        .object({
          name: z.string().catch('unknown device'),
          type: z.string().catch('unknown'),
          vram_total: num,
          vram_free: num
        })
        .loose()
    )
    .optional()
    .catch([])
})

/** `GET /system_stats`, reduced to what the user is shown. */
export function parseSystemStats(body: unknown): SystemInfo {
  const r = systemStatsSchema.safeParse(body)
  if (!r.success) throw new ShapeError('expected system_stats with a "system" object')
  const s = r.data.system
  return {
    comfyuiVersion: s.comfyui_version == null ? null : String(s.comfyui_version),
    pythonVersion: s.python_version ? s.python_version.split(' ')[0]! : null,
    pytorchVersion: s.pytorch_version ?? null,
    os: s.os ?? null,
    ramTotal: s.ram_total ?? null,
    ramFree: s.ram_free ?? null,
    devices: (r.data.devices ?? []).map((d) => ({
      name: d.name,
      type: d.type,
      vramTotal: d.vram_total ?? null,
      vramFree: d.vram_free ?? null
    }))
  }
}
