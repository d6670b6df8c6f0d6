/**
 * What each IPC channel does, with every argument validated first. No Electron here: the Electron
 * registration (`ipc.ts`) and the e2e web bridge both dispatch through these same handlers, so
 * the bridge tests the real validation.
 */
import { z } from 'zod'
import type { BalancerCore } from './core/app'
import { importLegacyServers } from './core/settings'
import { MAX_WORKFLOW_BYTES } from './core/jobs/workflow'
import { submitWorkflow } from './submit'
import { UUID_PATTERN } from './client-id'
import {
  IpcChannel,
  type InvokeChannel,
  type InvokeParams,
  type IpcHandlers,
  type JobSubmitRequest,
  type PushChannel,
  type PushPayload,
  type SettingsPatch,
  type Unsubscribe
} from '../shared/ipc'

/** The part of the core the handlers use. */
export type IpcCore = Pick<
  BalancerCore,
  'status' | 'settings' | 'updateSettings' | 'checkNow' | 'setPaused' | 'logs' | 'events' | 'jobs'
>

/** Longest text `servers:import` accepts (a pasted config, not a file dump). */
export const MAX_IMPORT_CHARS = 100_000

/** Thrown for a call with bad arguments or an unknown channel; the message quotes the problem. */
export class IpcArgumentError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'IpcArgumentError'
  }
}

// A settings patch must be a plain object here; its values are checked by the core's
// parseSettings, which keeps the current value for each bad one and reports it.
const patchSchema = z.custom<SettingsPatch>(
  (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  { message: 'Expected a settings object' }
)

/** Our job ids: the lowercase UUIDs the engine sends to ComfyUI as prompt_id. */
const jobIdSchema = z.string().regex(UUID_PATTERN, 'Expected a job id')

// The server id is checked against the settings by the engine (an unknown one is refused there).
const serverIdSchema = z.string().min(1).max(100).nullable().optional()

/** A file name, not a path. */
const fileNameSchema = z
  .string()
  .min(1)
  .max(255)
  .refine((n) => !/[\\/\0]/.test(n), 'Expected a file name without folders')

// The workflow itself is checked by the core's loadWorkflowBytes when the call runs.
const submitSchema: z.ZodType<JobSubmitRequest> = z.union([
  z.strictObject({ path: z.string().min(1).max(4096), serverId: serverIdSchema }),
  z.strictObject({
    name: fileNameSchema,
    bytes: z
      .instanceof(Uint8Array)
      .refine((b) => b.byteLength <= MAX_WORKFLOW_BYTES, 'The workflow file is too large'),
    serverId: serverIdSchema
  })
])

/** The argument list each invoke channel accepts (exact length: extra arguments are refused). */
export const ARG_SCHEMAS: { [C in InvokeChannel]: z.ZodType<InvokeParams<C>> } = {
  'status:get': z.tuple([]),
  'settings:get': z.tuple([]),
  'settings:update': z.tuple([patchSchema]),
  'checks:now': z.tuple([]),
  'checks:pause': z.tuple([z.boolean()]),
  'logs:get': z.tuple([]),
  'servers:import': z.tuple([z.string().max(MAX_IMPORT_CHARS)]),
  'jobs:list': z.tuple([]),
  'jobs:submit': z.tuple([submitSchema]),
  'jobs:cancel': z.tuple([jobIdSchema])
}

const INVOKE_CHANNELS = new Set<string>(Object.keys(ARG_SCHEMAS))

export function isInvokeChannel(channel: string): channel is InvokeChannel {
  return INVOKE_CHANNELS.has(channel)
}

/** Validates the raw arguments of a call; throws `IpcArgumentError` quoting the first problem. */
export function parseArgs<C extends InvokeChannel>(channel: C, args: unknown[]): InvokeParams<C> {
  const r = ARG_SCHEMAS[channel].safeParse(args)
  if (r.success) return r.data
  const issue = r.error.issues[0]
  const where = issue?.path.length ? `argument ${issue.path.join('.')}: ` : ''
  throw new IpcArgumentError(`Bad arguments for ${channel}: ${where}${issue?.message ?? 'invalid'}`)
}

/** Thrown by the job channels when the core was started without its job engine. */
export class JobsDisabledError extends Error {
  constructor() {
    super('Jobs are not available in this session')
    this.name = 'JobsDisabledError'
  }
}

export interface IpcHandlerOptions {
  /** Applied to every log line the page gets (hides server credentials). */
  redact?: (text: string) => string
}

/** The implementation of every invoke channel on top of the core. */
export function createIpcHandlers(core: IpcCore, opts: IpcHandlerOptions = {}): IpcHandlers {
  const redact = opts.redact
  const jobs = () => {
    if (!core.jobs) throw new JobsDisabledError()
    return core.jobs
  }
  return {
    'status:get': () => core.status(),
    'settings:get': () => core.settings,
    'settings:update': (patch) => core.updateSettings(patch),
    'checks:now': () => core.checkNow(),
    'checks:pause': (paused) => {
      core.setPaused(paused)
      return core.status()
    },
    'logs:get': () =>
      redact ? core.logs.all().map((l) => ({ ...l, message: redact(l.message) })) : core.logs.all(),
    'servers:import': (text) => importLegacyServers(text),
    'jobs:list': () => jobs().jobs(),
    'jobs:submit': (request) => submitWorkflow(jobs(), request),
    'jobs:cancel': (id) => jobs().cancel(id)
  } satisfies IpcHandlers
}

/**
 * Runs one untrusted call: checks the channel name and the arguments, then the handler.
 * The caller decides who may call (see `ipc.ts` for the sender check).
 */
export async function dispatch(
  handlers: IpcHandlers,
  channel: string,
  args: unknown[]
): Promise<unknown> {
  if (!isInvokeChannel(channel)) {
    throw new IpcArgumentError(`Unknown channel ${JSON.stringify(channel).slice(0, 80)}`)
  }
  const params = parseArgs(channel, args)
  const handler = handlers[channel] as (...p: unknown[]) => unknown
  return handler(...(params as unknown[]))
}

/** Sends one typed push to the page(s). */
export type PushSender = <C extends PushChannel>(channel: C, payload: PushPayload<C>) => void

/** Forwards the core's events as the contract's pushes; returns the function that stops it. */
export function forwardPushes(
  core: Pick<IpcCore, 'events'>,
  send: PushSender,
  opts: IpcHandlerOptions = {}
): Unsubscribe {
  const redact = opts.redact
  const offs = [
    core.events.on('status', (s) => send(IpcChannel.StatusPush, s)),
    core.events.on('log', (l) =>
      send(IpcChannel.LogPush, redact ? { ...l, message: redact(l.message) } : l)
    ),
    core.events.on('settings', (s) => send(IpcChannel.SettingsPush, s)),
    core.events.on('job', (j) => send(IpcChannel.JobPush, j))
  ]
  return () => {
    for (const off of offs.splice(0)) off()
  }
}
