/**
 * What each IPC channel does, with every argument validated first. No Electron here: the Electron
 * registration (`ipc.ts`) and the e2e web bridge both dispatch through these same handlers, so
 * the bridge tests the real validation.
 */
import { lstat } from 'node:fs/promises'
import path from 'node:path'
import { z } from 'zod'
import type { BalancerCore } from './core/app'
import { importLegacyServers, normalizeServerUrl } from './core/app'
import { loadWorkflowBytes, MAX_WORKFLOW_BYTES, WorkflowError } from './core/app'
import { checkedOutputPath, opensDirectly, ThumbnailCache } from './outputs'
import { readWorkflowFile, submitWorkflow, type WorkflowLoader } from './submit'
import type { JobEngine } from './core/app'
import type { ApiPrompt } from './core/app'
import type { GatewayState } from './core/gateway/service'
import type { JobRecord } from '../shared/types'
import { UUID_PATTERN } from './client-id'
import {
  IpcChannel,
  type InvokeChannel,
  type InvokeParams,
  type GatewayStatus,
  type IpcHandlers,
  type JobSubmitRequest,
  type PushChannel,
  type PushPayload,
  type QueueTarget,
  type ServerTestRequest,
  type ServerTestResult,
  type SettingsPatch,
  type Unsubscribe,
  type WorkflowInspectRequest,
  type WorkflowInspectResult
} from '../shared/ipc'

/** The part of the core the handlers use. */
export type IpcCore = Pick<
  BalancerCore,
  | 'status'
  | 'settings'
  | 'updateSettings'
  | 'checkNow'
  | 'setPaused'
  | 'logs'
  | 'events'
  | 'jobs'
  | 'queueHistory'
  | 'testServer'
  | 'queueState'
  | 'pauseSending'
  | 'resumeSending'
  | 'moveJobs'
  | 'setJobPriority'
  | 'cancelBatch'
  | 'cancelAllJobs'
  | 'retryJob'
  | 'retryBatch'
> &
  Partial<Pick<BalancerCore, 'loadWorkflow' | 'fleetObjectInfo'>>

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

const workflowPathSchema = z.string().min(1).max(4096)
const workflowBytesSchema = z
  .instanceof(Uint8Array)
  .refine((b) => b.byteLength <= MAX_WORKFLOW_BYTES, 'The workflow file is too large')

/** Most runs in one batch (the core's MAX_VARIATIONS). */
export const MAX_RUNS = 1000
/** Most input edits in one submission, and the longest value (a long prompt fits). */
export const MAX_SETS = 100
export const MAX_SET_VALUE_CHARS = 20_000

// Which node and input are checked by the core when the variations are made.
const setSchema = z.strictObject({
  node: z.string().min(1).max(200),
  input: z.string().min(1).max(200),
  value: z.string().max(MAX_SET_VALUE_CHARS)
})
const variationFields = {
  count: z.number().int().min(1).max(MAX_RUNS).optional(),
  seed: z.enum(['random', 'increment', 'fixed']).optional(),
  sets: z.array(setSchema).max(MAX_SETS).optional()
}

// The workflow itself is checked by the core's loadWorkflowBytes when the call runs.
const submitSchema: z.ZodType<JobSubmitRequest> = z.union([
  z.strictObject({ path: workflowPathSchema, serverId: serverIdSchema, ...variationFields }),
  z.strictObject({
    name: fileNameSchema,
    bytes: workflowBytesSchema,
    serverId: serverIdSchema,
    ...variationFields
  })
])

const inspectSchema: z.ZodType<WorkflowInspectRequest> = z.union([
  z.strictObject({ path: workflowPathSchema }),
  z.strictObject({ name: fileNameSchema, bytes: workflowBytesSchema })
])

/** Longest auth header value (a long bearer token fits; a file dump does not). */
export const MAX_HEADER_VALUE_CHARS = 8192

/** The same rules the settings apply to saved headers: token names, one-line values. */
const headersSchema = z
  .record(
    z.string(),
    z
      .string()
      .max(MAX_HEADER_VALUE_CHARS)
      .refine((v) => !/[\r\n\0]/.test(v), 'Header values must be one line')
  )
  .refine((h) => Object.keys(h).length <= 20, 'Too many headers')
  .refine(
    (h) => Object.keys(h).every((k) => k.length <= 200 && /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k)),
    'Expected an HTTP header name (letters, digits and - _ . only)'
  )

const serverTestSchema: z.ZodType<ServerTestRequest> = z.strictObject({
  url: z.string().min(1).max(2000),
  headers: headersSchema.optional()
})

/** A path the page got from a job record (an output file); checked against the journal later. */
const outputPathSchema = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => path.isAbsolute(p) && !p.includes('\0'), 'Expected an absolute file path')

const resubmitOptionsSchema = z.strictObject({ serverId: serverIdSchema })

/** A batch id: visible characters (the engine's are UUIDs; the journal is checked by it). */
const batchIdSchema = z.string().regex(/^[\x21-\x7e]{1,200}$/, 'Expected a batch id')

const queueTargetSchema: z.ZodType<QueueTarget> = z.union([
  z.strictObject({ jobId: jobIdSchema }),
  z.strictObject({ batchId: batchIdSchema })
])
const queueMoveSchema = z.enum(['top', 'up', 'down', 'bottom'])
const prioritySchema = z.enum(['high', 'normal', 'low'])

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
  'jobs:cancel': z.tuple([jobIdSchema]),
  'status:history': z.tuple([]),
  'servers:test': z.tuple([serverTestSchema]),
  'jobs:inspect': z.tuple([inspectSchema]),
  'jobs:resubmit': z.union([z.tuple([jobIdSchema]), z.tuple([jobIdSchema, resubmitOptionsSchema])]),
  'jobs:thumbnail': z.tuple([outputPathSchema]),
  'jobs:openOutput': z.tuple([outputPathSchema]),
  'jobs:openFolder': z.tuple([jobIdSchema]),
  'settings:chooseOutputDir': z.tuple([]),
  'gateway:status': z.tuple([]),
  'queue:state': z.tuple([]),
  'queue:pause': z.tuple([]),
  'queue:resume': z.tuple([]),
  'jobs:move': z.tuple([queueTargetSchema, queueMoveSchema]),
  'jobs:setPriority': z.tuple([queueTargetSchema, prioritySchema]),
  'jobs:cancelBatch': z.tuple([batchIdSchema]),
  'jobs:cancelAll': z.tuple([]),
  'jobs:retry': z.tuple([jobIdSchema]),
  'jobs:retryBatch': z.tuple([batchIdSchema])
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

/** Thrown by a channel that needs the desktop (open a file, pick a folder) where there is none. */
export class NotAvailableError extends Error {
  constructor(what: string) {
    super(`${what} is not available in this session`)
    this.name = 'NotAvailableError'
  }
}

export interface IpcHandlerOptions {
  /** Applied to every log line the page gets (hides server credentials). */
  redact?: (text: string) => string
  /**
   * Opens a file or folder with the system (Electron's `shell.openPath`): resolves with an error
   * text, or '' when it worked.
   */
  openPath?: (target: string) => Promise<string>
  /**
   * Shows a file selected in its folder (Electron's `shell.showItemInFolder`). Used for outputs
   * that are not pictures, video or sound, which are never opened with the system. Without it
   * such a file's folder is opened with `openPath` instead.
   */
  showItemInFolder?: (target: string) => void
  /** A folder picker (Electron's dialog); resolves with the folder, or null when cancelled. */
  chooseFolder?: (current: string) => Promise<string | null>
  /** Previews of output images. @default a new ThumbnailCache (pngjs) */
  thumbnails?: ThumbnailCache
  /** The gateway's state (the tray app's `GatewayService`); without it, "not running". */
  gatewayStatus?: () => GatewayStatus
}

/** The window's view of the gateway service's state. */
export function gatewayStatusOf(state: GatewayState): GatewayStatus {
  switch (state.state) {
    case 'on':
      return { enabled: true, url: state.url, error: null }
    case 'failed':
      return { enabled: true, url: null, error: state.message }
    case 'starting':
      return { enabled: true, url: null, error: null }
    default:
      return { enabled: false, url: null, error: null }
  }
}

/** Most text values `jobs:inspect` lists, and the longest it passes on whole. */
const MAX_STRINGS = 200
const MAX_STRING_CHARS = 20_000

/** The text values set on the nodes (not links), in node order, for editing prompt texts. */
export function stringInputs(
  prompt: ApiPrompt
): Array<{ nodeId: string; input: string; value: string }> {
  const out: Array<{ nodeId: string; input: string; value: string }> = []
  for (const [nodeId, node] of Object.entries(prompt)) {
    for (const [input, value] of Object.entries(node.inputs ?? {})) {
      if (typeof value !== 'string' || value.length > MAX_STRING_CHARS) continue
      out.push({ nodeId, input, value })
      if (out.length >= MAX_STRINGS) return out
    }
  }
  return out
}

/** How long a batch with edits waits for the fleet's node definitions (to type the values). */
const OBJECT_INFO_WAIT_MS = 5_000

/**
 * A submission with variations: the workflow loaded as for one job, then the core's batch
 * (`JobEngine.submitBatch`, which makes the variations). Answers with the first run.
 */
async function submitVariations(
  jobs: Pick<JobEngine, 'submitBatch'>,
  request: JobSubmitRequest,
  load: WorkflowLoader,
  objectInfo?: IpcCore['fleetObjectInfo']
): Promise<JobRecord> {
  const fromPath = 'path' in request
  const bytes = fromPath ? await readWorkflowFile(request.path) : request.bytes
  const wf = await load(bytes, fromPath ? path.basename(request.path) : request.name)
  const sets = request.sets ?? []
  const info = sets.length && objectInfo ? await objectInfo(OBJECT_INFO_WAIT_MS) : null
  const batch = jobs.submitBatch(
    wf,
    { count: request.count ?? 1, seed: request.seed ?? 'random', sets },
    {
      serverId: request.serverId ?? null,
      ...(fromPath ? { baseDir: path.dirname(request.path) } : {}),
      ...(info ? { objectInfo: info } : {})
    }
  )
  return batch.jobs[0]!
}

const isBatch = (r: JobSubmitRequest) =>
  r.count !== undefined || r.seed !== undefined || r.sets !== undefined

/** "Test connection": the URL cleaned as the settings would save it, then one probe. */
async function testServer(core: IpcCore, req: ServerTestRequest): Promise<ServerTestResult> {
  const n = normalizeServerUrl(req.url)
  if ('error' in n) throw new Error(n.error)
  const r = await core.testServer({ url: n.url, headers: req.headers })
  return r.ok
    ? {
        ok: true,
        url: n.url,
        latencyMs: r.latencyMs,
        queue: r.queue,
        system: r.system,
        legacyRoutes: r.legacyRoutes
      }
    : { ok: false, url: n.url, error: r.error, errorKind: r.errorKind, said: r.said }
}

/** What a workflow is, or why it is not one (a bad file is an answer here, not an error). */
async function inspectWorkflow(
  req: WorkflowInspectRequest,
  load: WorkflowLoader
): Promise<WorkflowInspectResult> {
  const source = 'path' in req ? path.basename(req.path) : req.name
  try {
    const bytes = 'path' in req ? await readWorkflowFile(req.path) : req.bytes
    const wf = await load(bytes, source)
    const { nodeCount, classes, models, images } = wf.summary
    return {
      ok: true,
      source,
      format: wf.format,
      ...(wf.converted ? { converted: true, warnings: (wf.warnings ?? []).slice(0, 20) } : {}),
      summary: {
        nodeCount,
        classes: [...classes],
        models: models.map(({ nodeId, folder, name }) => ({ nodeId, folder, name })),
        images: images.map(({ nodeId, input, name }) => ({ nodeId, input, name })),
        nodes: Object.fromEntries(
          Object.entries(wf.prompt).map(([id, node]) => [
            id,
            {
              type: node.class_type,
              title: typeof node._meta?.title === 'string' ? node._meta.title.slice(0, 200) : null
            }
          ])
        ),
        strings: stringInputs(wf.prompt)
      }
    }
  } catch (err) {
    // The problem as data too, for the window to say in its language.
    if (err instanceof WorkflowError) {
      return { ok: false, source, problem: err.problem, said: err.said }
    }
    throw err
  }
}

/** The implementation of every invoke channel on top of the core. */
export function createIpcHandlers(core: IpcCore, opts: IpcHandlerOptions = {}): IpcHandlers {
  const redact = opts.redact
  const thumbnails = opts.thumbnails ?? new ThumbnailCache()
  // UI-format workflows need the fleet's node definitions: the core's loader converts them.
  const load: WorkflowLoader = core.loadWorkflow
    ? (bytes, source) => core.loadWorkflow!(bytes, source)
    : async (bytes, source) => loadWorkflowBytes(bytes, source)
  const jobs = () => {
    if (!core.jobs) throw new JobsDisabledError()
    return core.jobs
  }
  // The queue's calls go through the core's front door, which needs its job engine.
  const queue = () => {
    jobs()
    return core
  }
  const openPath = async (target: string) => {
    if (!opts.openPath) throw new NotAvailableError('Opening files')
    const error = await opts.openPath(target)
    if (error) throw new Error(error)
  }
  // Only pictures, video and sound are handed to the system's default app: a file a server
  // named could be a program, and opening it would run it. Anything else is shown instead.
  const openOutput = async (file: string) => {
    if (opensDirectly(file)) return openPath(file)
    if (opts.showItemInFolder) return opts.showItemInFolder(file)
    return openPath(path.dirname(file))
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
    'jobs:submit': (request) =>
      isBatch(request)
        ? submitVariations(
            jobs(),
            request,
            load,
            core.fleetObjectInfo ? (ms) => core.fleetObjectInfo!(ms) : undefined
          )
        : submitWorkflow(jobs(), request, load),
    'jobs:cancel': (id) => jobs().cancel(id),
    'status:history': () => core.queueHistory(),
    'servers:test': (server) => testServer(core, server),
    'jobs:inspect': (request) => inspectWorkflow(request, load),
    'jobs:resubmit': (id, options) => jobs().resubmit(id, options ?? {}),
    'jobs:thumbnail': async (file) => thumbnails.get(await checkedOutputPath(jobs().jobs(), file)),
    'jobs:openOutput': async (file) => openOutput(await checkedOutputPath(jobs().jobs(), file)),
    'jobs:openFolder': async (id) => {
      const job = jobs().get(id)
      if (!job) throw new Error(`Unknown job ${id}`)
      const first = job.outputs[0]
      if (!first) throw new Error('This job has saved no files yet')
      const folder = path.dirname(first.path)
      const stat = await lstat(folder).catch(() => null)
      if (!stat?.isDirectory()) throw new Error('The output folder is no longer there')
      await openPath(folder)
    },
    'settings:chooseOutputDir': async () => {
      if (!opts.chooseFolder) throw new NotAvailableError('Choosing a folder')
      return opts.chooseFolder(core.settings.outputDir)
    },
    'gateway:status': () =>
      opts.gatewayStatus?.() ?? {
        enabled: core.settings.gateway?.enabled ?? false,
        url: null,
        error: null
      },
    // The queue: the core's front door does the work (and refuses what cannot be done).
    'queue:state': () => core.queueState(),
    'queue:pause': () => queue().pauseSending(),
    'queue:resume': () => queue().resumeSending(),
    'jobs:move': (target, where) => queue().moveJobs(target, where),
    'jobs:setPriority': (target, priority) => queue().setJobPriority(target, priority),
    'jobs:cancelBatch': (batchId) => queue().cancelBatch(batchId),
    'jobs:cancelAll': () => queue().cancelAllJobs(),
    'jobs:retry': (id) => queue().retryJob(id),
    'jobs:retryBatch': (batchId) => queue().retryBatch(batchId)
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
  core: Pick<IpcCore, 'events'> & Partial<Pick<BalancerCore, 'onQueueState'>>,
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
    core.events.on('job', (j) => send(IpcChannel.JobPush, j)),
    // Paused or resumed, by the window, the tray or the CLI (the core reads the CLI's change).
    core.onQueueState?.((q) => send(IpcChannel.QueuePush, q)) ?? (() => undefined)
  ]
  return () => {
    for (const off of offs.splice(0)) off()
  }
}
