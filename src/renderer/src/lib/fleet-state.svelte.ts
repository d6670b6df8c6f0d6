/**
 * The window's live state: fleet status, each server's recent queue, settings and the log
 * tail, kept current by the pushes of the API (the page never polls). The API object comes in
 * as a parameter, so tests hand in a fake; components only read the getters and call the
 * actions.
 */
import type {
  ComfyBalancerApi,
  QueueHistory,
  SettingsPatch,
  Unsubscribe
} from '../../../shared/ipc'
import type { AppSettings, FleetStatus, LogLine, SettingsProblem } from '../../../shared/types'
import { appendSamples } from './history'

/** Log lines kept for the tail. */
export const LOG_TAIL_LINES = 200

export class FleetState {
  // Replaced as a whole on every push, never mutated: raw state, no deep proxies.
  #status = $state.raw<FleetStatus | null>(null)
  #settings = $state.raw<AppSettings | null>(null)
  #logs = $state.raw<LogLine[]>([])
  #history = $state.raw<QueueHistory>({})
  #error = $state<string | null>(null)
  #busy = $state(false)
  readonly #api: ComfyBalancerApi | undefined
  readonly #maxLogs: number
  readonly #now: () => number

  constructor(
    api: ComfyBalancerApi | undefined,
    opts: { maxLogLines?: number; now?: () => number } = {}
  ) {
    this.#api = api
    this.#maxLogs = opts.maxLogLines ?? LOG_TAIL_LINES
    this.#now = opts.now ?? Date.now
  }

  /** The API, for the other state modules of the window (undefined outside the app). */
  get api(): ComfyBalancerApi | undefined {
    return this.#api
  }

  /** False when the page has no API (opened outside the app); the window then says so. */
  get connected(): boolean {
    return this.#api !== undefined
  }
  get status(): FleetStatus | null {
    return this.#status
  }
  get settings(): AppSettings | null {
    return this.#settings
  }
  get logs(): readonly LogLine[] {
    return this.#logs
  }
  /** Each server's queue over the last 30 minutes: id -> [epoch ms, total][]. */
  get history(): QueueHistory {
    return this.#history
  }
  /** The last failed action's error, until the next action. */
  get error(): string | null {
    return this.#error
  }
  /** True while an action (check, pause, setting) is waiting for main. */
  get busy(): boolean {
    return this.#busy
  }

  /**
   * Subscribes to the pushes, then loads the current values. A push that arrives before the
   * initial answer wins (it is newer). Returns the clean-up; use it from an `$effect`.
   */
  start(): Unsubscribe {
    const api = this.#api
    if (!api) return () => {}
    let statusPushed = false
    let settingsPushed = false
    const offs = [
      api.status.onStatus((s) => {
        statusPushed = true
        this.#status = s
        this.#history = appendSamples(this.#history, s, this.#now())
      }),
      api.settings.onSettings((s) => {
        settingsPushed = true
        this.#settings = s
      }),
      api.logs.onLog((line) => this.#appendLog(line))
    ]
    void this.#run(async () => {
      const [status, settings, logs, history] = await Promise.all([
        api.status.get(),
        api.settings.get(),
        api.logs.get(),
        api.status.history()
      ])
      // Points pushed meanwhile are newer than the snapshot: add them on top of it.
      this.#history = appendSamples(history, this.#status ?? status, this.#now())
      if (!statusPushed) this.#status = status
      if (!settingsPushed) this.#settings = settings
      // Lines pushed meanwhile are newer than the snapshot; keep both, in order, once each.
      const pushed = this.#logs.filter((l) => !logs.some((s) => sameLine(s, l)))
      this.#logs = [...logs, ...pushed].slice(-this.#maxLogs)
    })
    return () => {
      for (const off of offs.splice(0)) off()
    }
  }

  checkNow(): Promise<void> {
    return this.#run(async () => {
      this.#status = await this.#need().checks.now()
    })
  }

  setPaused(paused: boolean): Promise<void> {
    return this.#run(async () => {
      this.#status = await this.#need().checks.pause(paused)
    })
  }

  setVerbose(verbose: boolean): Promise<void> {
    return this.#run(async () => {
      const { settings, problems } = await this.#need().settings.update({
        verboseLogging: verbose
      })
      this.#settings = settings
      if (problems.length) this.#error = problems.map((p) => p.message).join('; ')
    })
  }

  /**
   * Applies a settings change; returns the values main refused (the good ones apply at once).
   * Throws when main could not be reached (the caller shows it where the change was made).
   */
  async updateSettings(patch: SettingsPatch): Promise<SettingsProblem[]> {
    const { settings, problems } = await this.#need().settings.update(patch)
    this.#settings = settings
    return problems
  }

  #appendLog(line: LogLine): void {
    const next = this.#logs.length >= this.#maxLogs ? this.#logs.slice(1) : this.#logs.slice()
    next.push(line)
    this.#logs = next
  }

  #need(): ComfyBalancerApi {
    if (!this.#api) throw new Error('Not connected to Comfy Balancer')
    return this.#api
  }

  async #run(action: () => Promise<void>): Promise<void> {
    this.#busy = true
    this.#error = null
    try {
      await action()
    } catch (err) {
      this.#error = errorText(err)
    } finally {
      this.#busy = false
    }
  }
}

function sameLine(a: LogLine, b: LogLine): boolean {
  return a.time === b.time && a.level === b.level && a.message === b.message
}

/** The error's own words, without Electron's "Error invoking remote method 'x': Error:" wrapper. */
export function errorText(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  return message.replace(/^Error invoking remote method '[^']*': (?:\w*Error: )?/, '')
}
