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
  FleetStatus,
  JobRecord,
  LogLine,
  ServerConfig,
  SettingsProblem
} from './types'

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
  StatusPush: 'status:push',
  LogPush: 'log:push',
  SettingsPush: 'settings:push',
  JobPush: 'job:push',
  NavigatePush: 'navigate:push'
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
}

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
}

/** Main -> renderer pushes (`webContents.send`): the payload of each. */
export interface IpcPushMap {
  'status:push': FleetStatus
  'log:push': LogLine
  'settings:push': AppSettings
  /** Every change of a job: state, progress, outputs. */
  'job:push': JobRecord
  'navigate:push': AppRoute
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

/** Removes a subscription; safe to call twice. */
export type Unsubscribe = () => void

/**
 * The API the preload script exposes to the page as `window.comfyBalancer`, and the only way
 * the page reaches the main process. Calls reject with an Error when main refuses them.
 */
export interface ComfyBalancerApi {
  readonly status: {
    get(): Promise<FleetStatus>
    /** Called on every change of the fleet status (after each check round, pause, edits). */
    onStatus(fn: (status: FleetStatus) => void): Unsubscribe
  }
  readonly settings: {
    get(): Promise<AppSettings>
    update(patch: SettingsPatch): Promise<SettingsUpdateResult>
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
  }
  readonly jobs: {
    list(): Promise<JobRecord[]>
    submit(request: JobSubmitRequest): Promise<JobRecord>
    cancel(jobId: string): Promise<JobRecord>
    onJob(fn: (job: JobRecord) => void): Unsubscribe
  }
  readonly ui: {
    /** Called when main asks the window to show something (see `AppRoute`). */
    onNavigate(fn: (route: AppRoute) => void): Unsubscribe
  }
}

/** Name of the global the preload defines (`window.comfyBalancer`). */
export const API_GLOBAL = 'comfyBalancer'
