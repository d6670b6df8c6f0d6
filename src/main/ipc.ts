/**
 * The thin typed wrapper around `ipcMain`: registers one handler per invoke channel of the
 * contract, refuses calls from anything but our own window's main frame, and validates every
 * argument (see `ipc-handlers.ts`) before the core sees it.
 */
import type { IpcMain, IpcMainInvokeEvent, WebContents } from 'electron'
import { ARG_SCHEMAS, dispatch, IpcArgumentError } from './ipc-handlers'
import type { InvokeChannel, IpcHandlers, Unsubscribe } from '../shared/ipc'

/** Thrown when a call comes from a page or frame that is not the Comfy Balancer window. */
export class IpcSenderError extends Error {
  constructor(channel: string) {
    super(`Refused ${channel}: the call did not come from the Comfy Balancer window`)
    this.name = 'IpcSenderError'
  }
}

export type SenderCheck = (event: IpcMainInvokeEvent) => boolean

/**
 * A sender check that accepts only the main frame of the given window's page, and only while it
 * shows our own page (`isAppUrl`). `getContents` is read at each call, because the window is
 * created and closed on demand.
 */
export function trustedSender(
  getContents: () => WebContents | null,
  isAppUrl: (url: string) => boolean
): SenderCheck {
  return (event) => {
    const contents = getContents()
    if (!contents || contents.isDestroyed() || event.sender !== contents) return false
    const frame = event.senderFrame
    const main = contents.mainFrame
    if (!frame || frame.processId !== main.processId || frame.routingId !== main.routingId) {
      return false
    }
    return isAppUrl(frame.url)
  }
}

export interface RegisterIpcOptions {
  ipcMain: Pick<IpcMain, 'handle' | 'removeHandler'>
  handlers: IpcHandlers
  isTrustedSender: SenderCheck
  /** Where refused calls are reported. */
  onRefused?: (channel: string, error: Error) => void
}

/** Registers every invoke channel; returns the function that removes them again. */
export function registerIpc(opts: RegisterIpcOptions): Unsubscribe {
  const channels = Object.keys(ARG_SCHEMAS) as InvokeChannel[]
  for (const channel of channels) {
    opts.ipcMain.handle(channel, async (event, ...args: unknown[]) => {
      if (!opts.isTrustedSender(event)) {
        const err = new IpcSenderError(channel)
        opts.onRefused?.(channel, err)
        throw err
      }
      try {
        return await dispatch(opts.handlers, channel, args)
      } catch (err) {
        if (err instanceof IpcArgumentError) opts.onRefused?.(channel, err)
        throw err
      }
    })
  }
  return () => {
    for (const channel of channels) opts.ipcMain.removeHandler(channel)
  }
}
