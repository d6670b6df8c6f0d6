/**
 * What each IPC channel does, with every argument validated first. No Electron here: the Electron
 * registration (`ipc.ts`) and the e2e web bridge both dispatch through these same handlers, so
 * the bridge tests the real validation.
 */
import { z } from 'zod'
import type { BalancerCore } from './core/app'
import { importLegacyServers } from './core/settings'
import {
  IpcChannel,
  type InvokeChannel,
  type InvokeParams,
  type IpcHandlers,
  type PushChannel,
  type PushPayload,
  type SettingsPatch,
  type Unsubscribe
} from '../shared/ipc'

/** The part of the core the handlers use. */
export type IpcCore = Pick<
  BalancerCore,
  'status' | 'settings' | 'updateSettings' | 'checkNow' | 'setPaused' | 'logs' | 'events'
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

/** The argument list each invoke channel accepts (exact length: extra arguments are refused). */
export const ARG_SCHEMAS: { [C in InvokeChannel]: z.ZodType<InvokeParams<C>> } = {
  'status:get': z.tuple([]),
  'settings:get': z.tuple([]),
  'settings:update': z.tuple([patchSchema]),
  'checks:now': z.tuple([]),
  'checks:pause': z.tuple([z.boolean()]),
  'logs:get': z.tuple([]),
  'servers:import': z.tuple([z.string().max(MAX_IMPORT_CHARS)])
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

/** The implementation of every invoke channel on top of the core. */
export function createIpcHandlers(core: IpcCore): IpcHandlers {
  return {
    'status:get': () => core.status(),
    'settings:get': () => core.settings,
    'settings:update': (patch) => core.updateSettings(patch),
    'checks:now': () => core.checkNow(),
    'checks:pause': (paused) => {
      core.setPaused(paused)
      return core.status()
    },
    'logs:get': () => core.logs.all(),
    'servers:import': (text) => importLegacyServers(text)
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
export function forwardPushes(core: Pick<IpcCore, 'events'>, send: PushSender): Unsubscribe {
  const offs = [
    core.events.on('status', (s) => send(IpcChannel.StatusPush, s)),
    core.events.on('log', (l) => send(IpcChannel.LogPush, l)),
    core.events.on('settings', (s) => send(IpcChannel.SettingsPush, s))
  ]
  return () => {
    for (const off of offs.splice(0)) off()
  }
}
