/**
 * The gateway as the settings view shows it: its address (asked from main with
 * `status.gateway()`, again every few seconds while shown, since it starts and stops on its
 * own), copying it, and its port as typed.
 */
import type { ComfyBalancerApi, GatewayStatus } from '../../../shared/ipc'
import { errorText } from './fleet-state.svelte'
import { copyText } from './log-view.svelte'

/** How often the status is asked again while the view is open. */
export const GATEWAY_POLL_MS = 2_000

/** A port as typed: a whole number from 1 to 65535, or null. */
export function parsePort(text: string): number | null {
  const t = text.trim()
  if (!/^\d{1,5}$/.test(t)) return null
  const n = Number(t)
  return n >= 1 && n <= 65_535 ? n : null
}

export class GatewayView {
  #status = $state.raw<GatewayStatus | null>(null)
  #error = $state<string | null>(null)
  #copied = $state<'ok' | 'failed' | null>(null)
  readonly #api: ComfyBalancerApi | undefined

  constructor(api: ComfyBalancerApi | undefined) {
    this.#api = api
  }

  get status(): GatewayStatus | null {
    return this.#status
  }
  /** Why the status could not be asked. */
  get error(): string | null {
    return this.#error
  }
  get copied(): 'ok' | 'failed' | null {
    return this.#copied
  }

  async refresh(): Promise<void> {
    if (!this.#api) return
    try {
      this.#status = await this.#api.status.gateway()
      this.#error = null
    } catch (err) {
      this.#error = errorText(err)
    }
  }

  /** Asks now and then every `GATEWAY_POLL_MS`; returns the function that stops it. */
  start(): () => void {
    void this.refresh()
    const timer = setInterval(() => void this.refresh(), GATEWAY_POLL_MS)
    return () => clearInterval(timer)
  }

  async copy(): Promise<void> {
    const url = this.#status?.url
    if (!url) return
    this.#copied = (await copyText(url)) ? 'ok' : 'failed'
  }
}
