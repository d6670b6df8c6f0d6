/** The gateway's options, its handle and its start errors. */
import { MAX_WORKFLOW_BYTES } from '../app'

/** The gateway's port when none is given (not 8188-8191, which artists use for ComfyUI). */
export const DEFAULT_GATEWAY_PORT = 8288
/** Largest JSON body (a prompt with its UI workflow in extra_data). */
export const MAX_JSON_BODY = MAX_WORKFLOW_BYTES
/** Largest body of routes other than /prompt and uploads. */
export const MAX_SMALL_BODY = 1024 * 1024
/** Largest upload (ComfyUI's default --max-upload-size). */
export const MAX_UPLOAD_BYTES = 100 * 1024 * 1024
/** Largest file passed on from /view. */
export const MAX_VIEW_BYTES = 1024 * 1024 * 1024

export interface GatewayOptions {
  /** @default '127.0.0.1' */
  host?: string
  /** 0 picks a free port. @default 8288 */
  port?: number
  /** Required when `host` is not a loopback address. */
  token?: string | null
  /** Browser origins allowed besides the gateway's own (`http://host:port`). */
  allowedOrigins?: string[]
  /** Host header names accepted besides the bound address and localhost. */
  allowedHosts?: string[]
  /** Where the prompt list and the uploads live. @default the journal's folder, else a temp folder */
  dataDir?: string
  maxUploadBytes?: number
  maxViewBytes?: number
  /** Deadline of a request that is not a file stream (which has an idle deadline instead). @default 60000 */
  requestTimeoutMs?: number
  /** Open connections at most. @default 256 */
  maxConnections?: number
  /** Open WebSockets at most. @default 64 */
  maxSockets?: number
  /** How long answers of the servers (object_info, models, system_stats) are reused. @default 10000 */
  cacheMs?: number
}

export interface Gateway {
  /** `http://127.0.0.1:8288` */
  url: string
  close(): Promise<void>
}

export class GatewayStartError extends Error {
  constructor(
    readonly code: 'token-required' | 'port-taken' | 'no-jobs' | 'listen',
    message: string
  ) {
    super(message)
    this.name = 'GatewayStartError'
  }
}
