/**
 * The job side of one ComfyUI server: queue a prompt, find it again, fetch its history and
 * outputs, upload inputs, remove or interrupt it. Every answer passes a schema.
 */
import { z } from 'zod'
import type { ComfyClient } from './client'
import { parseJsonBody } from './client'
import { ComfyRequestError, httpError } from './errors'
import type { DownloadOptions, DownloadResult } from './transport'

export interface PromptAccepted {
  ok: true
  promptId: string
  number: number | null
  /** Errors for outputs that were dropped; the rest was queued. */
  nodeErrors: Record<string, unknown>
}

export interface PromptRejected {
  ok: false
  status: number
  type: string
  message: string
  /** One line per problem, node by node, as ComfyUI phrased them. */
  details: string[]
  /** True when the server lacks a node class or a model file the workflow uses. */
  missingCapability: boolean
}

const errorBody = z
  .object({
    error: z.union([
      z
        .object({
          type: z.string().catch('error'),
          message: z.string().catch(''),
          details: z.string().optional().catch(undefined),
          extra_info: z.unknown().optional()
        })
        .loose(),
      z.string()
    ]),
    node_errors: z.record(z.string(), z.unknown()).optional().catch({})
  })
  .loose()

/** The answer to a queued prompt (made once: a schema costs more to build than to use). */
const acceptedBody = z
  .object({
    prompt_id: z.string().optional(),
    number: z.number().nullable().optional().catch(null),
    node_errors: z.record(z.string(), z.unknown()).optional().catch({})
  })
  .loose()

const nodeErrorSchema = z
  .object({
    errors: z
      .array(
        z
          .object({
            type: z.string().catch(''),
            message: z.string().catch(''),
            details: z.string().optional().catch(undefined),
            extra_info: z.record(z.string(), z.unknown()).optional().catch(undefined)
          })
          .loose()
      )
      .catch([]),
    class_type: z.string().optional().catch(undefined)
  })
  .loose()

/** Inputs whose bad value means "this server lacks that model", not "the workflow is broken". */
const MODEL_INPUT = /(_name\d*|model_path)$/

/** Reads a 400 answer of POST /prompt into words and whether another server could run it. */
export function parseRejection(status: number, body: unknown): PromptRejected {
  const r = errorBody.safeParse(body)
  if (!r.success) {
    return {
      ok: false,
      status,
      type: 'unknown',
      message: `The server refused the workflow (HTTP ${status})`,
      details: [],
      missingCapability: false
    }
  }
  const e =
    typeof r.data.error === 'string' ? { type: 'error', message: r.data.error } : r.data.error
  const details: string[] = []
  let missing = false
  let allMissingModel = true
  let nodeErrCount = 0
  for (const [nodeId, raw] of Object.entries(r.data.node_errors ?? {})) {
    const n = nodeErrorSchema.safeParse(raw)
    if (!n.success) continue
    for (const err of n.data.errors) {
      nodeErrCount++
      const input = typeof err.extra_info?.input_name === 'string' ? err.extra_info.input_name : ''
      const isModel = err.type === 'value_not_in_list' && MODEL_INPUT.test(input)
      if (!isModel) allMissingModel = false
      const detail = err.details?.trim()
      details.push(
        `Node ${nodeId}${n.data.class_type ? ` (${n.data.class_type})` : ''}: ${err.message.trim()}${detail ? ` - ${detail}` : ''}`
      )
    }
  }
  const type = 'type' in e ? String(e.type) : 'error'
  const message = String(e.message ?? '').trim()
  if (
    type === 'missing_node_type' ||
    (type === 'invalid_prompt' && / does not exist\.?$/.test(message))
  ) {
    missing = true
  } else if (type === 'prompt_outputs_failed_validation' && nodeErrCount > 0 && allMissingModel) {
    missing = true
  }
  if (!details.length && 'details' in e && typeof e.details === 'string' && e.details.trim()) {
    details.push(e.details.trim())
  }
  return {
    ok: false,
    status,
    type,
    message: message || `HTTP ${status}`,
    details,
    missingCapability: missing
  }
}

/**
 * POSTs a prompt. Resolves with the acceptance or the server's refusal (400); throws a
 * ComfyRequestError for a transport failure, a timeout or a 5xx, where the prompt may or may
 * not have arrived.
 */
export async function queuePrompt(
  client: ComfyClient,
  body: {
    prompt: unknown
    client_id: string
    prompt_id: string
    extra_data?: Record<string, unknown>
  }
): Promise<PromptAccepted | PromptRejected> {
  const res = await client.send('POST', '/prompt', { body })
  if (res.status === 200) {
    const r = acceptedBody.safeParse(parseJsonBody(res))
    if (!r.success)
      throw new ComfyRequestError('bad-shape', 'Unexpected answer to the queued prompt')
    return {
      ok: true,
      promptId: r.data.prompt_id ?? body.prompt_id,
      number: r.data.number ?? null,
      nodeErrors: r.data.node_errors ?? {}
    }
  }
  if (res.status === 400) {
    let parsed: unknown = null
    try {
      parsed = parseJsonBody(res)
    } catch {
      // A 400 that is not JSON is still a refusal.
    }
    return parseRejection(400, parsed)
  }
  throw httpError(res.status, res.contentType)
}

export interface QueueIds {
  running: string[]
  /** In execution order (sorted by number). */
  pending: string[]
}

function idsOf(list: unknown): Array<{ id: string; number: number }> {
  if (!Array.isArray(list)) return []
  const out: Array<{ id: string; number: number }> = []
  for (const item of list) {
    if (Array.isArray(item) && typeof item[1] === 'string') {
      out.push({ id: item[1], number: typeof item[0] === 'number' ? item[0] : 0 })
    }
  }
  return out
}

/** The prompt ids in the server's queue. */
export async function getQueueIds(client: ComfyClient): Promise<QueueIds> {
  const { value } = await client.getJson('/queue')
  if (!value || typeof value !== 'object')
    throw new ComfyRequestError('bad-shape', 'Unexpected queue answer')
  const v = value as Record<string, unknown>
  return {
    running: idsOf(v.queue_running).map((x) => x.id),
    pending: idsOf(v.queue_pending)
      .sort((a, b) => a.number - b.number)
      .map((x) => x.id)
  }
}

export interface OutputFile {
  nodeId: string
  filename: string
  subfolder: string
  type: string
}

export interface HistoryEntry {
  status: 'success' | 'error' | 'unknown'
  completed: boolean
  /** For an error: ComfyUI's exception message and node. */
  error: { message: string; nodeId?: string; nodeType?: string } | null
  interrupted: boolean
  outputs: OutputFile[]
  /** Execution time on the server (execution_start to the end), from the message timestamps. */
  runMs: number | null
}

const fileSchema = z
  .object({
    filename: z.string(),
    subfolder: z.string().catch(''),
    type: z.string().catch('output')
  })
  .loose()

/** Reads one history entry (lenient: custom nodes put anything in outputs). */
export function parseHistoryEntry(raw: unknown): HistoryEntry {
  const e = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>
  const st = (e.status && typeof e.status === 'object' ? e.status : {}) as Record<string, unknown>
  const statusStr =
    st.status_str === 'success' || st.status_str === 'error' ? st.status_str : 'unknown'
  let error: HistoryEntry['error'] = null
  let interrupted = false
  let startTs: number | null = null
  let endTs: number | null = null
  if (Array.isArray(st.messages)) {
    for (const m of st.messages) {
      if (!Array.isArray(m) || typeof m[0] !== 'string') continue
      const data = (m[1] && typeof m[1] === 'object' ? m[1] : {}) as Record<string, unknown>
      if (m[0] === 'execution_error') {
        error = {
          message:
            `${typeof data.exception_type === 'string' ? `${data.exception_type}: ` : ''}${String(data.exception_message ?? 'error')}`.trim(),
          ...(typeof data.node_id === 'string' ? { nodeId: data.node_id } : {}),
          ...(typeof data.node_type === 'string' ? { nodeType: data.node_type } : {})
        }
      }
      if (m[0] === 'execution_interrupted') interrupted = true
      if (typeof data.timestamp === 'number') {
        if (m[0] === 'execution_start') startTs = data.timestamp
        else if (m[0] === 'execution_success' || m[0] === 'execution_error') endTs = data.timestamp
      }
    }
  }
  const outputs: OutputFile[] = []
  if (e.outputs && typeof e.outputs === 'object') {
    for (const [nodeId, ui] of Object.entries(e.outputs as Record<string, unknown>)) {
      if (!ui || typeof ui !== 'object') continue
      for (const key of ['images', 'gifs', 'video', 'audio', 'animated_images']) {
        const list = (ui as Record<string, unknown>)[key]
        if (!Array.isArray(list)) continue
        for (const f of list) {
          const p = fileSchema.safeParse(f)
          if (p.success)
            outputs.push({
              nodeId,
              filename: p.data.filename,
              subfolder: p.data.subfolder,
              type: p.data.type
            })
        }
      }
    }
  }
  const runMs = startTs !== null && endTs !== null && endTs >= startTs ? endTs - startTs : null
  return { status: statusStr, completed: st.completed === true, error, interrupted, outputs, runMs }
}

/** The history entry of one prompt, or null when the server does not know it. */
export async function getHistory(
  client: ComfyClient,
  promptId: string
): Promise<HistoryEntry | null> {
  const { value } = await client.getJson(`/history/${encodeURIComponent(promptId)}`)
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new ComfyRequestError('bad-shape', 'Unexpected history answer')
  }
  const entry = (value as Record<string, unknown>)[promptId]
  return entry === undefined ? null : parseHistoryEntry(entry)
}

/** Largest file `viewFile` keeps in memory; outputs go to disk with `downloadOutput`. */
export const MAX_VIEW_BYTES = 64 * 1024 * 1024

function viewRoute(f: Pick<OutputFile, 'filename' | 'subfolder' | 'type'>): string {
  const q = new URLSearchParams({ filename: f.filename, subfolder: f.subfolder, type: f.type })
  return `/view?${q}`
}

/**
 * One small file's bytes from /view (an input image to copy to another server). Files over
 * MAX_VIEW_BYTES fail with `too-large`; outputs are fetched with `downloadOutput`.
 */
export async function viewFile(
  client: ComfyClient,
  f: Pick<OutputFile, 'filename' | 'subfolder' | 'type'>
): Promise<Buffer> {
  const res = await client.send('GET', viewRoute(f), { binary: true, maxBytes: MAX_VIEW_BYTES })
  if (res.status !== 200) throw httpError(res.status, res.contentType)
  return res.bytes ?? Buffer.alloc(0)
}

/**
 * Streams one output file from /view to `destFile` (written under a temporary name beside
 * it, renamed when complete, removed on failure), `/api/view` first and `/view` for older
 * servers. Fails only when nothing arrives for `idleTimeoutMs` (default: the client's request
 * timeout), not after a total time, so a large video on a slow link still arrives. Files over
 * `maxBytes` (default 1 GB) fail with `too-large`; a non-2xx answer with `http` and its status.
 */
export async function downloadOutput(
  client: ComfyClient,
  ref: Pick<OutputFile, 'filename' | 'subfolder' | 'type'>,
  destFile: string,
  opts: Partial<Omit<DownloadOptions, 'destFile'>> = {}
): Promise<DownloadResult> {
  return client.download(viewRoute(ref), destFile, opts)
}

/** Uploads an input image; returns the name the server stored it under. */
export async function uploadImage(
  client: ComfyClient,
  bytes: Uint8Array,
  filename: string,
  subfolder = ''
): Promise<{ name: string; subfolder: string; type: string }> {
  const form = new FormData()
  form.append('image', new Blob([new Uint8Array(bytes)]), filename)
  form.append('type', 'input')
  if (subfolder) form.append('subfolder', subfolder)
  const res = await client.send('POST', '/upload/image', { form })
  if (res.status !== 200) throw httpError(res.status, res.contentType)
  const r = z
    .object({
      name: z.string().min(1),
      subfolder: z.string().catch(''),
      type: z.string().catch('input')
    })
    .loose()
    .safeParse(parseJsonBody(res))
  if (!r.success) throw new ComfyRequestError('bad-shape', 'Unexpected answer to the upload')
  return { name: r.data.name, subfolder: r.data.subfolder, type: r.data.type }
}

/** Removes pending prompts from the server's queue (running ones are not touched). */
export async function deleteFromQueue(client: ComfyClient, ids: string[]): Promise<void> {
  const res = await client.send('POST', '/queue', { body: { delete: ids } })
  if (res.status !== 200) throw httpError(res.status, res.contentType)
}

/** Interrupts the prompt if it is the one running. */
export async function interruptPrompt(client: ComfyClient, promptId: string): Promise<void> {
  const res = await client.send('POST', '/interrupt', { body: { prompt_id: promptId } })
  if (res.status !== 200) throw httpError(res.status, res.contentType)
}
