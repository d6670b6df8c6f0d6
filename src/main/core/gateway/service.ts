/**
 * The gateway as a long-lived service of the tray app: started from the `gateway` settings,
 * restarted when they change, stopped on quit. A start that fails (a taken port) is a state
 * the shell shows, never a thrown error.
 */
import type { GatewaySettings } from '../../../shared/types'
import type { BalancerCore } from '../app'
import { startGateway } from './start'
import { GatewayStartError, type Gateway } from './options'

export type GatewayState =
  | { state: 'off' }
  | { state: 'starting' }
  | { state: 'on'; url: string }
  | {
      state: 'failed'
      /** `port-taken`, `token-required`, `no-jobs`, `listen`, or `error` for anything else. */
      code: GatewayStartError['code'] | 'error'
      message: string
    }

export interface GatewayServiceOptions {
  /** Where the prompt list and uploads live. @default the core's journal folder */
  dataDir?: string
  /** Called on every change of state. */
  onChange?: (state: GatewayState) => void
}

function keyOf(g: GatewaySettings | undefined): string {
  if (!g || !g.enabled) return 'off'
  return JSON.stringify([g.host, g.port, g.token])
}

export class GatewayService {
  private gw: Gateway | null = null
  private current: GatewayState = { state: 'off' }
  private appliedKey = 'off'
  private chain: Promise<void> = Promise.resolve()

  constructor(
    private readonly core: BalancerCore,
    private readonly opts: GatewayServiceOptions = {}
  ) {}

  get state(): GatewayState {
    return this.current
  }

  private set(next: GatewayState): void {
    this.current = next
    this.opts.onChange?.(next)
  }

  /**
   * Brings the gateway in line with the settings: started, restarted on another address or
   * token, or stopped. Settings that did not change do nothing. Calls run one after another.
   */
  apply(g: GatewaySettings | undefined): Promise<void> {
    const settings = g ? { ...g } : undefined
    this.chain = this.chain.then(() => this.applyNow(settings))
    return this.chain
  }

  /** Stops the gateway (on quit). */
  stop(): Promise<void> {
    return this.apply(undefined)
  }

  private async applyNow(g: GatewaySettings | undefined): Promise<void> {
    const key = keyOf(g)
    if (key === this.appliedKey) return
    this.appliedKey = key
    if (this.gw) {
      const old = this.gw
      this.gw = null
      await old.close().catch(() => {})
      this.core.log('info', '[Gateway] Stopped')
    }
    if (!g || !g.enabled) {
      this.set({ state: 'off' })
      return
    }
    this.set({ state: 'starting' })
    try {
      this.gw = await startGateway(this.core, {
        host: g.host,
        port: g.port,
        token: g.token,
        ...(this.opts.dataDir ? { dataDir: this.opts.dataDir } : {})
      })
      this.core.log(
        'info',
        `[Gateway] ComfyUI clients can use ${this.gw.url}${g.token ? ' (with the token)' : ''}`
      )
      this.set({ state: 'on', url: this.gw.url })
    } catch (err) {
      const code = err instanceof GatewayStartError ? err.code : 'error'
      const message = err instanceof Error ? err.message : String(err)
      this.core.log('error', `[Gateway] Could not start: ${message}`)
      this.set({ state: 'failed', code, message })
    }
  }
}
