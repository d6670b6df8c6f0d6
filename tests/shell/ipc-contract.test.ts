/**
 * The contract checks itself: these assertions are types, compiled by `tsc -p tsconfig.node.json`
 * (a missing or extra channel fails the typecheck); the runtime part checks the same at run time.
 */
import { describe, expect, expectTypeOf, it } from 'vitest'
import { ARG_SCHEMAS, createIpcHandlers, type IpcCore } from '../../src/main/ipc-handlers'
import { createApi } from '../../src/preload/create-api'
import {
  IpcChannel,
  type ChannelsMatchContract,
  type ComfyBalancerApi,
  type InvokeChannel,
  type IpcHandlers,
  type IpcInvokeMap,
  type IpcPushMap,
  type PushChannel
} from '../../src/shared/ipc'
import type {
  AppRoute,
  JobResubmitOptions,
  JobSubmitRequest,
  QueueHistory,
  ServerTestRequest,
  ServerTestResult,
  WorkflowInspectRequest,
  WorkflowInspectResult
} from '../../src/shared/ipc'
import type {
  AppSettings,
  FleetStatus,
  JobRecord,
  LogLine,
  QueueState
} from '../../src/shared/types'

describe('the IPC contract', () => {
  it('names each channel once, in the channel object and in exactly one map', () => {
    expectTypeOf<ChannelsMatchContract>().toEqualTypeOf<true>()
    expectTypeOf<InvokeChannel | PushChannel>().toEqualTypeOf<
      (typeof IpcChannel)[keyof typeof IpcChannel]
    >()
    expectTypeOf<Extract<InvokeChannel, PushChannel>>().toBeNever()
    const all = Object.values(IpcChannel)
    expect(new Set(all).size).toBe(all.length)
  })

  it('has a handler and an argument schema for every invoke channel, and no others', () => {
    // A handler map with a channel missing or extra does not compile.
    expectTypeOf(createIpcHandlers).returns.toEqualTypeOf<IpcHandlers>()
    expectTypeOf<keyof typeof ARG_SCHEMAS>().toEqualTypeOf<InvokeChannel>()
    expectTypeOf<keyof IpcHandlers>().toEqualTypeOf<keyof IpcInvokeMap>()
    const invoke = Object.values(IpcChannel).filter((c) => !c.endsWith(':push'))
    const handlers = createIpcHandlers({} as IpcCore)
    expect(Object.keys(handlers).sort()).toEqual([...invoke].sort())
    expect(Object.keys(ARG_SCHEMAS).sort()).toEqual([...invoke].sort())
  })

  it('types the results and pushes the renderer sees', () => {
    expectTypeOf<IpcInvokeMap['status:get']['result']>().toEqualTypeOf<FleetStatus>()
    expectTypeOf<IpcInvokeMap['settings:get']['result']>().toEqualTypeOf<AppSettings>()
    expectTypeOf<IpcInvokeMap['logs:get']['result']>().toEqualTypeOf<LogLine[]>()
    expectTypeOf<IpcInvokeMap['checks:pause']['params']>().toEqualTypeOf<[paused: boolean]>()
    expectTypeOf<IpcInvokeMap['jobs:list']['result']>().toEqualTypeOf<JobRecord[]>()
    expectTypeOf<IpcInvokeMap['jobs:submit']['params']>().toEqualTypeOf<
      [request: JobSubmitRequest]
    >()
    expectTypeOf<IpcInvokeMap['jobs:submit']['result']>().toEqualTypeOf<JobRecord>()
    expectTypeOf<IpcInvokeMap['jobs:cancel']['params']>().toEqualTypeOf<[jobId: string]>()
    expectTypeOf<IpcInvokeMap['status:history']['result']>().toEqualTypeOf<QueueHistory>()
    expectTypeOf<IpcInvokeMap['servers:test']['params']>().toEqualTypeOf<
      [server: ServerTestRequest]
    >()
    expectTypeOf<IpcInvokeMap['servers:test']['result']>().toEqualTypeOf<ServerTestResult>()
    expectTypeOf<IpcInvokeMap['jobs:inspect']['params']>().toEqualTypeOf<
      [request: WorkflowInspectRequest]
    >()
    expectTypeOf<IpcInvokeMap['jobs:inspect']['result']>().toEqualTypeOf<WorkflowInspectResult>()
    expectTypeOf<IpcInvokeMap['jobs:resubmit']['params']>().toEqualTypeOf<
      [jobId: string, options?: JobResubmitOptions]
    >()
    expectTypeOf<IpcInvokeMap['jobs:thumbnail']['result']>().toEqualTypeOf<string | null>()
    expectTypeOf<IpcInvokeMap['jobs:openOutput']['params']>().toEqualTypeOf<[outputPath: string]>()
    expectTypeOf<IpcInvokeMap['jobs:openFolder']['params']>().toEqualTypeOf<[jobId: string]>()
    expectTypeOf<IpcInvokeMap['settings:chooseOutputDir']['result']>().toEqualTypeOf<
      string | null
    >()
    expectTypeOf<IpcPushMap>().toEqualTypeOf<{
      'status:push': FleetStatus
      'log:push': LogLine
      'settings:push': AppSettings
      'job:push': JobRecord
      'navigate:push': AppRoute
      'queue:push': QueueState
    }>()
    expectTypeOf<ComfyBalancerApi['jobs']['onJob']>().returns.toEqualTypeOf<() => void>()
    expectTypeOf<ComfyBalancerApi['ui']['onNavigate']>().returns.toEqualTypeOf<() => void>()
    expectTypeOf<ComfyBalancerApi['status']['onStatus']>().returns.toEqualTypeOf<() => void>()
    expectTypeOf(createApi).returns.toEqualTypeOf<ComfyBalancerApi>()
  })
})
