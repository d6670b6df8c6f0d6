/**
 * Builds the page's API object on top of `ipcRenderer`. Kept apart from `index.ts` so tests can
 * drive it with a fake `ipcRenderer` and no Electron.
 */
import type { IpcRenderer, IpcRendererEvent } from 'electron'
import {
  IpcChannel,
  type ComfyBalancerApi,
  type DroppedFile,
  type InvokeChannel,
  type InvokeParams,
  type InvokeResult,
  type PushChannel,
  type PushPayload,
  type QueueMove,
  type QueueTarget,
  type Unsubscribe
} from '../shared/ipc'
import type { JobPriority } from '../shared/types'

export type IpcRendererLike = Pick<IpcRenderer, 'invoke' | 'on' | 'removeListener'>

/** Electron's `webUtils.getPathForFile`; absent outside Electron. */
export type PathForFile = (file: DroppedFile) => string

export function createApi(ipc: IpcRendererLike, pathForFile?: PathForFile): ComfyBalancerApi {
  const invoke = <C extends InvokeChannel>(
    channel: C,
    ...params: InvokeParams<C>
  ): Promise<InvokeResult<C>> => ipc.invoke(channel, ...params) as Promise<InvokeResult<C>>

  // The page gets the payload only, never the IPC event (it would leak `sender`).
  const subscribe = <C extends PushChannel>(
    channel: C,
    fn: (payload: PushPayload<C>) => void
  ): Unsubscribe => {
    const listener = (_event: IpcRendererEvent, payload: PushPayload<C>) => fn(payload)
    ipc.on(channel, listener)
    return () => {
      ipc.removeListener(channel, listener)
    }
  }

  return Object.freeze({
    status: Object.freeze({
      get: () => invoke(IpcChannel.StatusGet),
      history: () => invoke(IpcChannel.StatusHistory),
      gateway: () => invoke(IpcChannel.GatewayStatus),
      onStatus: (fn: (payload: PushPayload<'status:push'>) => void) =>
        subscribe(IpcChannel.StatusPush, fn)
    }),
    settings: Object.freeze({
      get: () => invoke(IpcChannel.SettingsGet),
      update: (patch: InvokeParams<'settings:update'>[0]) =>
        invoke(IpcChannel.SettingsUpdate, patch),
      chooseOutputDir: () => invoke(IpcChannel.SettingsChooseOutputDir),
      onSettings: (fn: (payload: PushPayload<'settings:push'>) => void) =>
        subscribe(IpcChannel.SettingsPush, fn)
    }),
    checks: Object.freeze({
      now: () => invoke(IpcChannel.ChecksNow),
      pause: (paused: boolean) => invoke(IpcChannel.ChecksPause, paused)
    }),
    logs: Object.freeze({
      get: () => invoke(IpcChannel.LogsGet),
      onLog: (fn: (payload: PushPayload<'log:push'>) => void) => subscribe(IpcChannel.LogPush, fn)
    }),
    servers: Object.freeze({
      import: (text: string) => invoke(IpcChannel.ServersImport, text),
      test: (server: InvokeParams<'servers:test'>[0]) => invoke(IpcChannel.ServersTest, server)
    }),
    jobs: Object.freeze({
      list: () => invoke(IpcChannel.JobsList),
      submit: (request: InvokeParams<'jobs:submit'>[0]) => invoke(IpcChannel.JobsSubmit, request),
      cancel: (jobId: string) => invoke(IpcChannel.JobsCancel, jobId),
      inspect: (request: InvokeParams<'jobs:inspect'>[0]) =>
        invoke(IpcChannel.JobsInspect, request),
      // No `undefined` on the wire for an absent option: the argument list stays exact.
      resubmit: (jobId: string, options?: InvokeParams<'jobs:resubmit'>[1]) =>
        options === undefined
          ? invoke(IpcChannel.JobsResubmit, jobId)
          : invoke(IpcChannel.JobsResubmit, jobId, options),
      thumbnail: (outputPath: string) => invoke(IpcChannel.JobsThumbnail, outputPath),
      openOutput: (outputPath: string) => invoke(IpcChannel.JobsOpenOutput, outputPath),
      openFolder: (jobId: string) => invoke(IpcChannel.JobsOpenFolder, jobId),
      onJob: (fn: (payload: PushPayload<'job:push'>) => void) => subscribe(IpcChannel.JobPush, fn),
      move: (target: QueueTarget, where: QueueMove) => invoke(IpcChannel.JobsMove, target, where),
      setPriority: (target: QueueTarget, priority: JobPriority) =>
        invoke(IpcChannel.JobsSetPriority, target, priority),
      cancelBatch: (batchId: string) => invoke(IpcChannel.JobsCancelBatch, batchId),
      cancelAll: () => invoke(IpcChannel.JobsCancelAll),
      retry: (jobId: string) => invoke(IpcChannel.JobsRetry, jobId),
      retryBatch: (batchId: string) => invoke(IpcChannel.JobsRetryBatch, batchId)
    }),
    queue: Object.freeze({
      state: () => invoke(IpcChannel.QueueState),
      pause: () => invoke(IpcChannel.QueuePause),
      resume: () => invoke(IpcChannel.QueueResume),
      onState: (fn: (payload: PushPayload<'queue:push'>) => void) =>
        subscribe(IpcChannel.QueuePush, fn)
    }),
    ui: Object.freeze({
      onNavigate: (fn: (payload: PushPayload<'navigate:push'>) => void) =>
        subscribe(IpcChannel.NavigatePush, fn),
      pathForFile: (file: DroppedFile) => {
        if (!pathForFile) return null
        try {
          // Electron answers '' for a file that is not on disk (made in the page).
          return pathForFile(file) || null
        } catch {
          return null
        }
      }
    })
  })
}
