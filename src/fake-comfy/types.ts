/** Public types of the fake ComfyUI server. */

/**
 * Which request paths a fault applies to. `'/prompt'` matches `/prompt` and `/api/prompt`
 * (and paths below them, such as `/history/{id}` for `'/history'`); `'/api/prompt'` matches
 * only the `/api` form. WebSocket upgrades count as `/ws` (or `/api/ws`). No route: every path.
 */
export type FaultRoute = string | string[]

/** Statuses the 'redirect' fault can answer with. */
export type RedirectStatus = 301 | 302 | 303 | 307 | 308

/** A failure the fake can simulate, on the wire. */
export type FakeFault =
  /** Stop listening and drop every open connection: new connections get ECONNREFUSED. */
  | { kind: 'refuse' }
  /** Accept connections and requests, never answer (clients hit their own timeout). */
  | { kind: 'hang'; route?: FaultRoute }
  /** Answer every request (and WebSocket upgrade) after `delayMs`. */
  | { kind: 'slow'; delayMs: number; route?: FaultRoute }
  /** Every route answers `status` with aiohttp's text body (500: "Server got itself in trouble"). */
  | { kind: 'status'; status: number; route?: FaultRoute }
  /** 502 with nginx's HTML page, `Content-Type: text/html`. */
  | { kind: 'html-502'; route?: FaultRoute }
  /** 200 `application/json` whose body is cut in half, so it does not parse. */
  | { kind: 'invalid-json'; route?: FaultRoute }
  /**
   * 200 with valid JSON of the wrong shape: `/queue` gives `[{"queue_running": "1", ...}]`,
   * other object routes an array, array routes an object. `body` replaces it everywhere.
   */
  | { kind: 'wrong-shape'; body?: unknown; route?: FaultRoute }
  /** Answers `status` with `Location: <to><original path and query>`; nothing is executed. */
  | { kind: 'redirect'; status: RedirectStatus; to: string; route?: FaultRoute }
  /**
   * POST /prompt queues the prompt (at once, or after `queueAfterMs`) but answers a 504
   * nginx page after `delayMs` (default 0), like a proxy that gave up waiting. Other routes
   * are not affected.
   */
  | { kind: 'gateway-timeout'; delayMs?: number; queueAfterMs?: number }
  /** Prompts run normally, but no history entry is kept for a prompt that ends meanwhile. */
  | { kind: 'no-history' }
  /**
   * Every open WebSocket gets `status` messages (with a varying `queue_remaining`) as fast as
   * it reads them, `perTick` (default 200) per socket per event-loop turn, until cleared.
   */
  | { kind: 'ws-flood'; perTick?: number }
  /** `/view` only answers `status` with aiohttp's text body. */
  | { kind: 'view-status'; status: number }
  /** `/view` sends the file body at about `bytesPerSec`, in small chunks. */
  | { kind: 'view-slow'; bytesPerSec: number }

export type FakeFaultKind = FakeFault['kind']

/** A node class the fake knows, in ComfyUI's `object_info` terms plus how it behaves. */
export type InputType = string | string[]
export type InputSpec = [InputType] | [InputType, Record<string, unknown>]

export interface FakeNodeDef {
  input: {
    required?: Record<string, InputSpec>
    optional?: Record<string, InputSpec>
    hidden?: Record<string, string>
  }
  /** RETURN_TYPES */
  output: string[]
  output_name?: string[]
  output_is_list?: boolean[]
  output_tooltips?: string[]
  display_name?: string
  description?: string
  python_module?: string
  category?: string
  output_node?: boolean
  deprecated?: boolean
  experimental?: boolean
  /**
   * How the node behaves when it runs: `sampler` emits `progress` for its `steps` and fails
   * on seed 666, `save`/`preview` write PNGs, `fail` always raises, `save-file` reports
   * generated files (FakeSaveFile). @default 'plain'
   */
  behavior?: 'plain' | 'sampler' | 'save' | 'preview' | 'fail' | 'load-image' | 'save-file'
  /**
   * The class defines IS_CHANGED: the prompt as executed (the one in saved PNGs) gains
   * `"is_changed": [NaN]` on its nodes. Classes in IS_CHANGED_CLASSES always do.
   */
  isChanged?: boolean
  /** Share of the job's time this node takes, relative to the others. @default 1 */
  weight?: number
  /** Emulates a VALIDATE_INPUTS classmethod taking these inputs; skips their range/list checks. */
  validateInputs?: { inputs: string[]; check: (values: Record<string, unknown>) => true | string }
}

export interface FakeComfyOptions {
  /** Loopback address to listen on. @default '127.0.0.1' */
  host?: string
  /** @default 0 (ephemeral) */
  port?: number
  /** Shown in the device name and `/__fake/state`. */
  name?: string
  /** Job duration = jobMs * cost / speed. @default 1 */
  speed?: number
  /** Duration of a cost-1 job at speed 1, in ms. @default 100 */
  jobMs?: number
  /** Only the plain routes; `/api/...` is 404 (405 for non-GET, like aiohttp's static fallback). */
  legacy?: boolean
  /** 'current' = ComfyUI 0.3.64; 'newer' = 0.38-style. @default 'current' */
  version?: 'current' | 'newer'
  /** Node classes this server has; unknown names become generic custom nodes. @default the standard set */
  nodeClasses?: string[]
  /** Extra or replacement node definitions (class name -> definition). */
  customNodes?: Record<string, FakeNodeDef>
  /** Model folder -> files; merged over the defaults per folder. */
  models?: Record<string, string[]>
  /** @default 'NVIDIA GeForce RTX 4090' */
  gpuName?: string
  /** Bytes. @default 25386352640 */
  vramTotal?: number
  /** Where SaveImage writes. @default a fresh temp dir, removed on stop() */
  outputDir?: string
  /** Where uploads go and LoadImage reads. @default a fresh temp dir, removed on stop() */
  inputDir?: string
  /** Reuse outputs of unchanged nodes between prompts like ComfyUI's classic cache. @default false */
  cache?: boolean
  /** Send binary preview frames with each sampler step. @default false (ComfyUI's default) */
  previews?: boolean
  /**
   * Like `--enable-cors-header [origin]`: CORS headers on every answer, OPTIONS gets an empty
   * 200, and the Host/Origin check is off. @default undefined (the origin check is on)
   */
  corsOrigin?: string
}

/** `[number, prompt_id, prompt, extra_data, outputs_to_execute]` */
export type QueueItem = [
  number: number,
  promptId: string,
  prompt: Record<string, unknown>,
  extraData: Record<string, unknown>,
  outputsToExecute: string[]
]

export interface ImageRef {
  filename: string
  subfolder: string
  type: 'output' | 'temp' | 'input'
}

export type StatusMessage = [event: string, data: Record<string, unknown>]

export interface HistoryEntry {
  prompt: QueueItem
  outputs: Record<string, unknown>
  status: { status_str: 'success' | 'error'; completed: boolean; messages: StatusMessage[] }
  meta: Record<string, unknown>
}

export interface FakeComfyStats {
  /** TCP connections accepted since start() (keep-alive reuse keeps this low). */
  connections: number
  /** HTTP requests received (including /__fake ones, excluding WebSocket upgrades). */
  requests: number
  /** WebSocket upgrades accepted. */
  wsConnections: number
}
