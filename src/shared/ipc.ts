/**
 * The one IPC contract between the main process, the preload bridge and the renderer (and the
 * e2e web bridge, which speaks the same contract over a WebSocket). Channel names live in one
 * object, their parameters and results in two maps; everything else is derived from them, so a
 * channel added here and missing elsewhere is a type error.
 *
 * Runtime content: only the `IpcChannel` constant.
 */
import type { AppSettings, FleetStatus, LogLine, ServerConfig, SettingsProblem } from './types'

/** Every channel name. `*:push` channels go main -> renderer; all others are invoke calls. */
export const IpcChannel = {
  StatusGet: 'status:get',
  SettingsGet: 'settings:get',
  SettingsUpdate: 'settings:update',
  ChecksNow: 'checks:now',
  ChecksPause: 'checks:pause',
  LogsGet: 'logs:get',
  ServersImport: 'servers:import',
  StatusPush: 'status:push',
  LogPush: 'log:push',
  SettingsPush: 'settings:push'
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
}

/** Main -> renderer pushes (`webContents.send`): the payload of each. */
export interface IpcPushMap {
  'status:push': FleetStatus
  'log:push': LogLine
  'settings:push': AppSettings
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
}

/** Name of the global the preload defines (`window.comfyBalancer`). */
export const API_GLOBAL = 'comfyBalancer'
