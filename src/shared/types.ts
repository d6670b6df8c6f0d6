/**
 * Types shared by the core, the Electron shell, the preload bridge, the renderer and the CLI.
 * No runtime code lives here.
 */
import type { AttemptSaid, JobErrorSaid, JobNoteSaid } from './job-said'
import type { ChoiceSaid, ServerSaid } from './said'

/** One ComfyUI server as the user configured it. */
export interface ServerConfig {
  /** Stable id (kebab-case, unique within the list). */
  id: string
  /** Display name; defaults to the URL's host. */
  name: string
  /** Base URL, e.g. `http://192.168.1.20:8188` (no trailing slash). */
  url: string
  /** When false the server is kept in the list but never checked or chosen. */
  enabled: boolean
  /** Extra HTTP headers sent with every request (for example `Authorization`). */
  headers?: Record<string, string>
}

export interface QueueCounts {
  running: number
  pending: number
  /** running + pending */
  total: number
}

export interface DeviceInfo {
  name: string
  type: string
  vramTotal: number | null
  vramFree: number | null
}

export interface SystemInfo {
  comfyuiVersion: string | null
  pythonVersion: string | null
  pytorchVersion: string | null
  os: string | null
  ramTotal: number | null
  ramFree: number | null
  devices: DeviceInfo[]
}

/** The kind of failure, for code; `error` carries the words for people. */
export type FailureKind =
  | 'refused'
  | 'timeout'
  | 'http'
  | 'not-json'
  | 'bad-shape'
  | 'network'
  | 'disabled'
  | 'redirect' // sent elsewhere; not followed
  | 'too-large' // an answer over the size limit

/** The live state of one server as of its last check. */
export interface ServerStatus {
  id: string
  name: string
  url: string
  enabled: boolean
  healthy: boolean
  queue: QueueCounts
  /**
   * Epoch ms at which `queue` was last read from the server (a check or the live feed), or null
   * before the first answer. When the server is not healthy, `queue` is the last one known.
   */
  queueAt?: number | null
  /** Round-trip time of the last queue request in ms, or null before the first answer. */
  latencyMs: number | null
  system: SystemInfo | null
  /** Why the server is unhealthy, in words a user understands; null when healthy. */
  error: string | null
  errorKind: FailureKind | null
  /** The same as data (`error` is its English), for each face to say in its language. */
  said?: ServerSaid | null
  /** Epoch ms of the last completed check of this server, or null. */
  lastCheck: number | null
  /** Consecutive failed checks (0 when healthy). */
  consecutiveFailures: number
  /** True when the server only answers the plain routes (no `/api` prefix). */
  legacyRoutes: boolean
  /** Checks so far and how many of them succeeded (for the success rate). */
  checks: number
  successes: number
  /** Consecutive good checks (0 when the last one failed). */
  consecutiveSuccesses: number
  /**
   * Declared down: it failed several checks in a row (`fall`). Notifications and moving jobs
   * away follow this, not a single failed check, so a flapping server does not cause a flood.
   */
  down: boolean
  /** Back after being down, but not yet for `rise` good checks: only chosen when nothing else is. */
  recovering: boolean
  /** Jobs this app sent that the server's last report did not include yet. */
  ownInFlight: number
  /** Learned run time of one job on this server (ms), or null before the first finished job. */
  jobMs: number | null
  /** Expected wait before a new job would start here (ms), or null when unknown. */
  etaMs: number | null
}

/** The fleet as a whole. */
export interface FleetStatus {
  total: number
  healthy: number
  /** Name of the best server, or null when none is healthy. */
  bestServer: string | null
  /** Id of the best server, or null. */
  bestServerId: string | null
  /** Why the best server is best, or why there is none. */
  reason: string
  /** The same as data (`reason` is its English). */
  reasonSaid?: ChoiceSaid
  /** Epoch ms of the end of the last check round, or null before the first. */
  lastHealthCheck: number | null
  /** True while checks are paused. */
  paused: boolean
  servers: ServerStatus[]
}

/** Settings with the original design's option names. */
export interface BalancerSettings {
  /** ms between check rounds. @default 30000 */
  healthCheckInterval: number
  /** ms per request. @default 10000 */
  timeout: number
  /** @default 3 */
  retryAttempts: number
  /** @default false */
  verboseLogging: boolean
  /** Use queue length in the choice (otherwise round-robin among healthy servers). @default true */
  queueWeightEnabled: boolean
  /** @default true */
  failoverEnabled: boolean
}

/** Which desktop notifications the user wants. */
export interface NotificationSettings {
  /** A server went down (after several failed checks in a row). @default true */
  serverDown: boolean
  /** A server that was down answers again. @default true */
  serverUp: boolean
  /** A job finished. @default true */
  jobDone: boolean
  /** A job failed. @default true */
  jobFailed: boolean
  /** Notifications make their sound (off: silent). @default true */
  sound?: boolean
}

export type Language = 'system' | 'en' | 'zh-CN'
export type Theme = 'system' | 'light' | 'dark'

/** Settings of the app around the balancer. */
export interface AppPreferences {
  notifications: NotificationSettings
  /** @default false */
  startAtLogin: boolean
  /** Where job outputs are saved; empty means the default (Pictures/Comfy Balancer). @default '' */
  outputDir: string
  /** @default 'system' */
  language: Language
  /** @default 'system' */
  theme: Theme
  /** Finished jobs kept in the job history. @default 500 */
  jobHistoryLimit: number
  /** The local ComfyUI-compatible address for the whole fleet. */
  gateway?: GatewaySettings
}

export interface GatewaySettings {
  /** @default true */
  enabled: boolean
  /** Loopback unless a token is set. @default '127.0.0.1' */
  host: string
  /** @default 8288 */
  port: number
  /** Needed by every client when the host is not loopback. @default null */
  token: string | null
}

export interface AppSettings extends BalancerSettings, AppPreferences {
  servers: ServerConfig[]
}

/** One rejected settings value; its previous value (or the default) was kept instead. */
export interface SettingsProblem {
  /** Dotted path of the bad value, e.g. `servers.1.url` or `timeout`. */
  path: string
  message: string
}

export type LogLevel = 'info' | 'verbose' | 'warn' | 'error'

export interface LogLine {
  time: number
  level: LogLevel
  message: string
}

/** Where a job is in its life. */
export type JobState =
  | 'pending' // in our journal, not yet accepted by a server
  | 'queued' // accepted by a server, waiting in its queue
  | 'running'
  | 'done'
  | 'failed'
  | 'interrupted'
  | 'cancelled'

export const FINISHED_JOB_STATES: readonly JobState[] = [
  'done',
  'failed',
  'interrupted',
  'cancelled'
]

export interface JobAttempt {
  serverId: string
  serverUrl: string
  at: number
  /** What happened, as data: accepted, refused by the server, failed (why), ... */
  result: AttemptSaid
}

export interface JobProgress {
  /** Node being executed, or null. */
  node: string | null
  /** Step within the node (KSampler steps). */
  value: number
  max: number
  /** Nodes finished (executed or cached) out of all nodes. */
  nodesDone: number
  nodesTotal: number
}

export interface JobOutput {
  nodeId: string
  /** Absolute path of the saved file. */
  path: string
  /** Name as ComfyUI reported it. */
  filename: string
  type: string
}

export interface JobError {
  /** Why, as data, for each face to say in its language. */
  said: JobErrorSaid
  /**
   * The same in English (ComfyUI's own text for its errors), for readers with no language of
   * their own: the gateway's ComfyUI answers, scripts reading the journal.
   */
  message: string
  nodeId?: string
  nodeType?: string
  /** Per-node validation messages from a 400, one line each. */
  details?: string[]
}

export interface JobRecord {
  /** Equals the prompt_id sent to ComfyUI (a lowercase hyphenated UUID chosen by us). */
  id: string
  clientId: string
  /** The workflow's file name or a label. */
  source: string
  state: JobState
  createdAt: number
  updatedAt: number
  startedAt: number | null
  finishedAt: number | null
  /** Pinned by the user to this server id, or null for auto. */
  pinnedServerId: string | null
  /** The kind of workflow (node classes and steps); run times are learned per kind. */
  kind?: string
  serverId: string | null
  serverUrl: string | null
  attempts: JobAttempt[]
  /** How many times the job was moved off a dead or forgetful server. */
  reroutes: number
  /** How many times a server accepted the job and then had no trace of it (restarts). */
  forgotten?: number
  queuePosition: number | null
  progress: JobProgress | null
  error: JobError | null
  outputs: JobOutput[]
  /** What happened, as data (moved off a server, cancelled, waiting and why, ...). */
  notes: JobNoteSaid[]
  /** Outputs the server reported that could not be saved (the job is "done with missing outputs"). */
  missingOutputs?: number
  /** Set when someone removed the job on its server (not us, not a restart): that server's name. */
  cancelledOn?: string
  /** Set for a run of a batch (one workflow run N times): the batch, this run's place in it. */
  batch?: JobBatch
  /** How soon a waiting job is sent, before the order; absent means 'normal'. */
  priority?: JobPriority
  /**
   * Its place among waiting jobs of the same priority (smaller goes first); absent means its
   * `createdAt`. Set when the user moves it.
   */
  order?: number
  /** This job is a retry of that job (same workflow, same place in its batch). */
  retryOf?: string
  /** This job was retried as that job (the retry replaces it in its batch). */
  retriedAs?: string
}

/** How soon a waiting job is sent: every high one before any normal one, low ones last. */
export type JobPriority = 'high' | 'normal' | 'low'

/** Whether the app sends waiting jobs to servers; persisted next to the job journal. */
export interface QueueState {
  /** True while nothing new is sent (jobs already on servers go on). */
  paused: boolean
  /** Epoch ms of the last change, or null when never changed. */
  changedAt: number | null
}

/** A job's place in its batch: run `index` (0-based) of `size` runs of batch `id`. */
export interface JobBatch {
  id: string
  index: number
  size: number
}
