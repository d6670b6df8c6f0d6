/**
 * The one IPC contract between the main process, the preload bridge and the renderer (and the
 * e2e web bridge, which speaks the same contract over a WebSocket). Channel names live in one
 * object, their parameters and results in two maps; everything else is derived from them, so a
 * channel added here and missing elsewhere is a type error.
 *
 * Runtime content: only the `IpcChannel` constant.
 */
import type {
  AppSettings,
  FailureKind,
  FleetStatus,
  JobPriority,
  JobRecord,
  LogLine,
  QueueCounts,
  QueueState,
  ServerConfig,
  SettingsProblem,
  SystemInfo
} from './types'
import type { WorkflowSaid } from './job-said'
import type { ServerSaid } from './said'

/** Every channel name. `*:push` channels go main -> renderer; all others are invoke calls. */
export const IpcChannel = {
  StatusGet: 'status:get',
  SettingsGet: 'settings:get',
  SettingsUpdate: 'settings:update',
  ChecksNow: 'checks:now',
  ChecksPause: 'checks:pause',
  LogsGet: 'logs:get',
  ServersImport: 'servers:import',
  JobsList: 'jobs:list',
  JobsSubmit: 'jobs:submit',
  JobsCancel: 'jobs:cancel',
  StatusHistory: 'status:history',
  ServersTest: 'servers:test',
  JobsInspect: 'jobs:inspect',
  JobsResubmit: 'jobs:resubmit',
  JobsThumbnail: 'jobs:thumbnail',
  JobsOpenOutput: 'jobs:openOutput',
  JobsOpenFolder: 'jobs:openFolder',
  SettingsChooseOutputDir: 'settings:chooseOutputDir',
  GatewayStatus: 'gateway:status',
  QueueState: 'queue:state',
  QueuePause: 'queue:pause',
  QueueResume: 'queue:resume',
  JobsMove: 'jobs:move',
  JobsSetPriority: 'jobs:setPriority',
  JobsCancelBatch: 'jobs:cancelBatch',
  JobsCancelAll: 'jobs:cancelAll',
  JobsRetry: 'jobs:retry',
  JobsRetryBatch: 'jobs:retryBatch',
  StatusPush: 'status:push',
  LogPush: 'log:push',
  SettingsPush: 'settings:push',
  JobPush: 'job:push',
  NavigatePush: 'navigate:push',
  QueuePush: 'queue:push'
} as const

export type IpcChannelName = (typeof IpcChannel)[keyof typeof IpcChannel]

/**
 * A settings change as the renderer sends it. Main never trusts the type: it re-validates every
 * value with the core's `parseSettings`, keeps the current value for each bad one and reports it.
 */
export type SettingsPatch = Partial<AppSettings>

export interface SettingsUpdateResult {
  settings: AppSettings
  problems: SettingsProblem[]
}

export interface ServersImportResult {
  servers: ServerConfig[]
  problems: SettingsProblem[]
}

/**
 * A workflow to submit: a file main reads (an absolute path to a `.json` or `.png`, e.g. from a
 * drop), or the bytes of one the page read itself (a file input). Local input images next to the
 * workflow are uploaded only for a path.
 */
export type WorkflowSource = { path: string } | { name: string; bytes: Uint8Array }

export type JobSubmitRequest = WorkflowSource & {
  /** Run only on this server (no failover); absent or null for the best server. */
  serverId?: string | null
  /**
   * Variations: the workflow run this many times (1 to 1000) as one batch. With `count`,
   * `seed` or `sets` the job is a batch (`JobRecord.batch`); `jobs:submit` then answers with
   * its first run and `job:push` brings every run.
   */
  count?: number
  /** How the sampler seeds change from run to run. @default 'random' */
  seed?: SeedMode
  /** Edits of single inputs (a prompt text), applied to every run. */
  sets?: InputEdit[]
}

/** How a batch's sampler seeds change: a new one each run, one more each run, or as in the file. */
export type SeedMode = 'random' | 'increment' | 'fixed'

/** One input of one node (its id, or its title) set to a value, typed as the input is. */
export interface InputEdit {
  node: string
  input: string
  value: string
}

/** The gateway (one ComfyUI address for the whole fleet): its address when it runs, or why not. */
export interface GatewayStatus {
  /** Turned on in the settings. */
  enabled: boolean
  /** Where ComfyUI clients reach it, while it runs. */
  url: string | null
  /** Why it does not run although it is on (a taken port...). */
  error: string | null
}

/** A workflow to look at before it is submitted (the same two forms as a submission). */
export type WorkflowInspectRequest = WorkflowSource

/** What a workflow is and needs, as `jobs:inspect` reports it. */
export interface WorkflowSummary {
  nodeCount: number
  /** Distinct node classes, sorted. */
  classes: string[]
  /** Model files it loads, with ComfyUI's model folder (`checkpoints`, `loras`, ...). */
  models: Array<{ nodeId: string; folder: string; name: string }>
  /** Input images it loads (names in the server's input folder). */
  images: Array<{ nodeId: string; input: string; name: string }>
  /** Every node: id -> its class and its title in ComfyUI, to name the node a job is at. */
  nodes: Record<string, { type: string; title: string | null }>
  /**
   * The text values set on the nodes (not links): prompt texts among them, to edit before a
   * run. Absent from an older main.
   */
  strings?: Array<{ nodeId: string; input: string; value: string }>
}

/**
 * The answer of `jobs:inspect`: what the file is, or why it is not a workflow. A file that is
 * not a workflow is an answer, not an error: `problem` says what is wrong, without the file name.
 */
export type WorkflowInspectResult =
  | {
      ok: true
      source: string
      format: 'json' | 'png'
      /** A UI-format graph converted to a prompt (with what had to be guessed). */
      converted?: boolean
      warnings?: string[]
      summary: WorkflowSummary
    }
  /** Why not: `said` as data, for the window to say in its language; `problem` in English. */
  | { ok: false; source: string; problem: string; said: WorkflowSaid }

/** A server to try before (or without) saving it: "Test connection". */
export interface ServerTestRequest {
  url: string
  headers?: Record<string, string>
}

/** What the server answered, or why it did not. */
export type ServerTestResult =
  | {
      ok: true
      /** The URL as it was tried (scheme added, trailing slash removed). */
      url: string
      latencyMs: number
      queue: QueueCounts
      system: SystemInfo | null
      legacyRoutes: boolean
    }
  /**
   * Why not: `said` as data, for the window to say in its language; `error` the same in
   * English (for the log and other readers).
   */
  | { ok: false; url: string; error: string; errorKind: FailureKind; said: ServerSaid }

/** Each server's queue length over the last 30 minutes: server id -> [epoch ms, total][]. */
export type QueueHistory = Record<string, Array<[number, number]>>

export interface JobResubmitOptions {
  /** Another server to pin it to, null for the best one; absent keeps the job's own choice. */
  serverId?: string | null
}

/** One waiting job, or every run of a batch. */
export type QueueTarget = { jobId: string } | { batchId: string }

/** Where to move waiting jobs: first, one place up or down, last. */
export type QueueMove = 'top' | 'up' | 'down' | 'bottom'

/**
 * Where the window should go, e.g. after a click on a "job done" notification. A window opened
 * for a route also gets it as its URL hash (`#jobs/<id>`), since it may load after the push.
 */
export type AppRoute =
  | { view: 'servers'; serverId?: string }
  | { view: 'jobs'; jobId?: string }
  | { view: 'logs' }
  | { view: 'settings' }

/** Renderer -> main calls (`ipcRenderer.invoke`): the parameters each takes and what it returns. */
export interface IpcInvokeMap {
  /** The cached fleet status; never waits for a check. */
  'status:get': { params: []; result: FleetStatus }
  'settings:get': { params: []; result: AppSettings }
  /** Applies good values at once and saves them; bad values are refused with their problems. */
  'settings:update': { params: [patch: SettingsPatch]; result: SettingsUpdateResult }
  /** A check round now (or joins the one running); resolves after it. */
  'checks:now': { params: []; result: FleetStatus }
  /** Pauses (true) or resumes (false) the check loop; returns the status after the change. */
  'checks:pause': { params: [paused: boolean]; result: FleetStatus }
  /** The recent log lines, oldest first. */
  'logs:get': { params: []; result: LogLine[] }
  /**
   * Reads a server list in the original "primary + comma-separated backups" form, or plain
   * URLs. Only parses: nothing is saved until the renderer sends the list with `settings:update`.
   */
  'servers:import': { params: [text: string]; result: ServersImportResult }
  /** Every job in the history (unfinished ones included), oldest first. */
  'jobs:list': { params: []; result: JobRecord[] }
  /**
   * Loads the workflow (refused with a readable reason if it is not one), journals the job and
   * sends it. Resolves at once with the new job; `job:push` follows it.
   */
  'jobs:submit': { params: [request: JobSubmitRequest]; result: JobRecord }
  /** Removes a job from its server's queue, or interrupts it; returns the job after. */
  'jobs:cancel': { params: [jobId: string]; result: JobRecord }
  /** The queue of every server over the last 30 minutes (the pushes keep it current after). */
  'status:history': { params: []; result: QueueHistory }
  /** Asks a server once, without adding it to the list ("Test connection"). */
  'servers:test': { params: [server: ServerTestRequest]; result: ServerTestResult }
  /** Reads a workflow without submitting it: what it is and needs, or why it is not one. */
  'jobs:inspect': { params: [request: WorkflowInspectRequest]; result: WorkflowInspectResult }
  /** Sends a job's workflow again as a new job; returns the new job. */
  'jobs:resubmit': {
    params: [jobId: string, options?: JobResubmitOptions]
    result: JobRecord
  }
  /**
   * A small preview of one output image of a job, as a `data:` URL, or null when the file is
   * not an image that can be previewed. Only files listed as outputs of a known job are read.
   */
  'jobs:thumbnail': { params: [outputPath: string]; result: string | null }
  /** Opens one output file of a job with the system's default app. */
  'jobs:openOutput': { params: [outputPath: string]; result: void }
  /** Opens the folder holding a job's outputs in the system's file manager. */
  'jobs:openFolder': { params: [jobId: string]; result: void }
  /** Lets the user pick a folder for the outputs; returns it (not saved yet), or null. */
  'settings:chooseOutputDir': { params: []; result: string | null }
  /** Whether the gateway runs, and where. */
  'gateway:status': { params: []; result: GatewayStatus }
  /** Whether the app sends waiting jobs to servers, and since when. */
  'queue:state': { params: []; result: QueueState }
  /** Stops sending: new jobs wait here, jobs already on servers go on. Kept across restarts. */
  'queue:pause': { params: []; result: QueueState }
  /** Sends the waiting jobs again, in queue order. */
  'queue:resume': { params: []; result: QueueState }
  /** Moves a waiting job (or a batch's waiting runs) in the queue; returns the waiting jobs in order. */
  'jobs:move': { params: [target: QueueTarget, where: QueueMove]; result: JobRecord[] }
  /** Sets the priority of a waiting job (or a batch's unfinished runs); returns those changed. */
  'jobs:setPriority': {
    params: [target: QueueTarget, priority: JobPriority]
    result: JobRecord[]
  }
  /** Cancels every unfinished run of a batch; returns all its runs. */
  'jobs:cancelBatch': { params: [batchId: string]; result: JobRecord[] }
  /** Cancels everything waiting or running; returns the jobs it cancelled. */
  'jobs:cancelAll': { params: []; result: JobRecord[] }
  /**
   * Runs a failed, interrupted or cancelled job again as a new job in its place (same
   * batch run); the old one gets `retriedAs`. Returns the new job.
   */
  'jobs:retry': { params: [jobId: string]; result: JobRecord }
  /** Retries the failed and interrupted runs of a batch; returns the new jobs. */
  'jobs:retryBatch': { params: [batchId: string]; result: JobRecord[] }
}

/** Main -> renderer pushes (`webContents.send`): the payload of each. */
export interface IpcPushMap {
  'status:push': FleetStatus
  'log:push': LogLine
  'settings:push': AppSettings
  /** Every change of a job: state, progress, outputs. */
  'job:push': JobRecord
  'navigate:push': AppRoute
  /** Sending was paused or resumed (from the window, the tray or the CLI). */
  'queue:push': QueueState
}

export type InvokeChannel = keyof IpcInvokeMap
export type PushChannel = keyof IpcPushMap
export type InvokeParams<C extends InvokeChannel> = IpcInvokeMap[C]['params']
export type InvokeResult<C extends InvokeChannel> = IpcInvokeMap[C]['result']
export type PushPayload<C extends PushChannel> = IpcPushMap[C]

/** What main implements for each invoke channel (arguments already validated). */
export type IpcHandlers = {
  [C in InvokeChannel]: (...params: InvokeParams<C>) => InvokeResult<C> | Promise<InvokeResult<C>>
}

type Exact<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
type Assert<T extends true> = T
/** Compiles only while the channel object and the two maps name exactly the same channels. */
export type ChannelsMatchContract = Assert<Exact<IpcChannelName, InvokeChannel | PushChannel>>

/**
 * A `File` from a drop or a file input, as far as this contract needs one (the shared code is
 * compiled without the DOM library; the preload hands it to Electron as it is).
 */
export interface DroppedFile {
  readonly name: string
  readonly size: number
}

/** Removes a subscription; safe to call twice. */
export type Unsubscribe = () => void

/**
 * The API the preload script exposes to the page as `window.comfyBalancer`, and the only way
 * the page reaches the main process. Calls reject with an Error when main refuses them.
 */
export interface ComfyBalancerApi {
  readonly status: {
    get(): Promise<FleetStatus>
    /** Each server's queue over the last 30 minutes. */
    history(): Promise<QueueHistory>
    /** Called on every change of the fleet status (after each check round, pause, edits). */
    onStatus(fn: (status: FleetStatus) => void): Unsubscribe
    /** The gateway's address for ComfyUI clients, or why it does not run. */
    gateway(): Promise<GatewayStatus>
  }
  readonly settings: {
    get(): Promise<AppSettings>
    update(patch: SettingsPatch): Promise<SettingsUpdateResult>
    /** A folder picker for the output folder; resolves with the folder, or null if cancelled. */
    chooseOutputDir(): Promise<string | null>
    onSettings(fn: (settings: AppSettings) => void): Unsubscribe
  }
  readonly checks: {
    now(): Promise<FleetStatus>
    pause(paused: boolean): Promise<FleetStatus>
  }
  readonly logs: {
    get(): Promise<LogLine[]>
    onLog(fn: (line: LogLine) => void): Unsubscribe
  }
  readonly servers: {
    import(text: string): Promise<ServersImportResult>
    test(server: ServerTestRequest): Promise<ServerTestResult>
  }
  readonly jobs: {
    list(): Promise<JobRecord[]>
    submit(request: JobSubmitRequest): Promise<JobRecord>
    cancel(jobId: string): Promise<JobRecord>
    inspect(request: WorkflowInspectRequest): Promise<WorkflowInspectResult>
    resubmit(jobId: string, options?: JobResubmitOptions): Promise<JobRecord>
    thumbnail(outputPath: string): Promise<string | null>
    openOutput(outputPath: string): Promise<void>
    openFolder(jobId: string): Promise<void>
    onJob(fn: (job: JobRecord) => void): Unsubscribe
    /** Moves a waiting job or a batch's waiting runs; resolves with the waiting jobs in order. */
    move(target: QueueTarget, where: QueueMove): Promise<JobRecord[]>
    setPriority(target: QueueTarget, priority: JobPriority): Promise<JobRecord[]>
    cancelBatch(batchId: string): Promise<JobRecord[]>
    cancelAll(): Promise<JobRecord[]>
    retry(jobId: string): Promise<JobRecord>
    retryBatch(batchId: string): Promise<JobRecord[]>
  }
  /** Sending waiting jobs to the servers: paused or not. */
  readonly queue: {
    state(): Promise<QueueState>
    pause(): Promise<QueueState>
    resume(): Promise<QueueState>
    /** Called when sending is paused or resumed (by the window, the tray or the CLI). */
    onState(fn: (state: QueueState) => void): Unsubscribe
  }
  readonly ui: {
    /** Called when main asks the window to show something (see `AppRoute`). */
    onNavigate(fn: (route: AppRoute) => void): Unsubscribe
    /**
     * The path of a file the user dropped or picked (Electron's `webUtils.getPathForFile`), or
     * null where there is none (the e2e web bridge, a file made in the page). A workflow sent
     * by path gets the input images next to it uploaded too. Local: no IPC.
     */
    pathForFile(file: DroppedFile): string | null
  }
}

/** Name of the global the preload defines (`window.comfyBalancer`). */
export const API_GLOBAL = 'comfyBalancer'
