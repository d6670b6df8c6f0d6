/**
 * The last line of defence of the main process: an `uncaughtException` or `unhandledRejection`
 * is written to the log (credentials removed), shown once as a notification, and the app keeps
 * running. A stray rejected promise leaves the engine as it was; an exception thrown out of an
 * event or a timer may have left it half-way through a change, so then (the state is unknown)
 * the engine is restarted from its journal and settings.
 *
 * `CrashGuard` is plain (log, notify, restart and the clock are given to it); `guardApp` wires
 * it to the running tray app with Electron's notifications.
 */
import { app, Notification } from 'electron'
import type { AppHandle, RunningApp } from './lifecycle'
import { SecretRedactor } from './redact'
import { resolveLocale, translator } from './messages'

export type CrashKind = 'uncaughtException' | 'unhandledRejection'

export interface CrashGuardDeps {
  /** Writes one error line to the log. */
  log: (message: string) => void
  /** Shows a notification to the user; `false` when it could not be shown (tried again next time). */
  notify: (title: string, body: string) => boolean | void
  /** Rebuilds the engine; called when the state is unknown. */
  restart: () => Promise<void> | void
  /** Removes credentials from a text before it is logged or shown. */
  redact: (text: string) => string
  /**
   * Whether the engine's state is still known after this error. Defaults to: known after an
   * unhandled rejection, unknown after an uncaught exception.
   */
  stateKnown?: (kind: CrashKind, error: unknown) => boolean
  /** @default Date.now */
  now?: () => number
}

/** Restarts allowed within `RESTART_WINDOW_MS`; past that the guard only logs (no restart loop). */
export const MAX_RESTARTS = 3
export const RESTART_WINDOW_MS = 10 * 60_000
/** Longest error text written to the log. */
export const MAX_LOGGED_CHARS = 4000

export const CRASH_TITLE = 'Comfy Balancer hit an unexpected error'
export const CRASH_BODY_KEPT = 'It keeps running. The details are in the log.'
export const CRASH_BODY_RESTARTED = 'Its engine was restarted. The details are in the log.'

/** The error's stack (or message, or value) as one text. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.stack || `${error.name}: ${error.message}`
  try {
    return typeof error === 'string' ? error : (JSON.stringify(error) ?? String(error))
  } catch {
    return String(error)
  }
}

export class CrashGuard {
  private notified = false
  private restarting: Promise<void> | null = null
  private restarts: number[] = []
  /** Errors handled so far. */
  count = 0

  constructor(private readonly deps: CrashGuardDeps) {}

  /** Handles one error; never throws (a throw here would end the process). */
  handle(kind: CrashKind, error: unknown): void {
    this.count++
    const { deps } = this
    const known = this.safe(() => (deps.stateKnown ?? defaultStateKnown)(kind, error), false)
    const text = this.safe(
      () => deps.redact(describeError(error)),
      '(the error could not be shown)'
    )
    const what = kind === 'uncaughtException' ? 'uncaught exception' : 'unhandled rejection'
    const restart = !known && this.mayRestart()
    const after = known
      ? 'the app keeps running'
      : restart
        ? 'the engine is restarted'
        : 'the engine was restarted too often, so it is left as it is'
    this.safe(() => deps.log(`[App] Unexpected error (${what}), ${after}: ${cut(text)}`), undefined)
    if (!this.notified) {
      const body = restart ? CRASH_BODY_RESTARTED : CRASH_BODY_KEPT
      this.notified = this.safe(() => deps.notify(CRASH_TITLE, body), false) !== false
    }
    if (restart) this.restart()
  }

  /** Hooks the handlers onto `proc`; returns the unhook. */
  install(proc: Pick<NodeJS.Process, 'on' | 'off'> = process): () => void {
    const onException = (err: unknown) => this.handle('uncaughtException', err)
    const onRejection = (reason: unknown) => this.handle('unhandledRejection', reason)
    proc.on('uncaughtException', onException)
    proc.on('unhandledRejection', onRejection)
    return () => {
      proc.off('uncaughtException', onException)
      proc.off('unhandledRejection', onRejection)
    }
  }

  /** Resolves when a restart under way has ended (for tests and shutdown). */
  async settled(): Promise<void> {
    await this.restarting
  }

  private mayRestart(): boolean {
    const now = (this.deps.now ?? Date.now)()
    this.restarts = this.restarts.filter((t) => now - t < RESTART_WINDOW_MS)
    if (this.restarting) return true // joins the restart under way
    if (this.restarts.length >= MAX_RESTARTS) return false
    this.restarts.push(now)
    return true
  }

  private restart(): void {
    if (this.restarting) return
    this.restarting = (async () => {
      try {
        await this.deps.restart()
      } catch (err) {
        const text = this.safe(() => this.deps.redact(describeError(err)), '')
        this.safe(
          () => this.deps.log(`[App] The engine could not be restarted: ${cut(text)}`),
          undefined
        )
      } finally {
        this.restarting = null
      }
    })()
  }

  private safe<T>(fn: () => T, fallback: T): T {
    try {
      return fn()
    } catch {
      return fallback
    }
  }
}

function defaultStateKnown(kind: CrashKind): boolean {
  return kind === 'unhandledRejection'
}

function cut(text: string): string {
  return text.length > MAX_LOGGED_CHARS ? `${text.slice(0, MAX_LOGGED_CHARS)}...` : text
}

/** A running app that can rebuild its engine (`restartCore`), when the shell offers it. */
type Restartable = RunningApp & { restartCore?: () => Promise<void> }

/**
 * Guards the tray app: errors go to its log, the notification through Electron, the restart
 * to the shell's `restartCore` (or, without it, the engine stopped and started again). Before
 * the app is ready, errors go to stderr only. When the app cannot start at all it does not
 * stay behind without a tray: the error goes to stderr and the app exits with 1.
 */
export function guardApp(
  handle: AppHandle,
  proc: Pick<NodeJS.Process, 'on' | 'off'> = process
): { guard: CrashGuard; uninstall: () => void } {
  let running: Restartable | null = null
  const fallback = new SecretRedactor()
  handle.ready.then(
    (r) => (running = r),
    (err: unknown) => {
      console.error(
        `[comfy-balancer] The app could not start: ${fallback.redact(describeError(err))}`
      )
      app.exit(1)
    }
  )
  const guard = new CrashGuard({
    redact: (t) => {
      if (!running) return fallback.redact(t)
      fallback.update(running.core.settings)
      return fallback.redact(t)
    },
    log: (message) => {
      if (running) running.core.log('error', message)
      else console.error(`[comfy-balancer] ${message}`)
    },
    notify: (title, body) => {
      if (!running || !Notification.isSupported()) return false
      // In the window's language (the log keeps English).
      const t = translator(
        resolveLocale(running.core.settings.language ?? 'system', [
          ...(app.getPreferredSystemLanguages?.() ?? []),
          app.getLocale?.() ?? 'en'
        ])
      )
      new Notification({
        title: title === CRASH_TITLE ? t('crashTitle') : title,
        body: t(body === CRASH_BODY_RESTARTED ? 'crashBodyRestarted' : 'crashBodyKept')
      }).show()
      return true
    },
    restart: async () => {
      const r = running
      if (!r) return
      if (r.restartCore) return r.restartCore()
      await r.core.stop()
      r.core.start()
    }
  })
  const uninstall = guard.install(proc)
  return { guard, uninstall }
}
