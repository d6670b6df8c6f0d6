/**
 * A server's state from one check to the next, as pure functions: a good check, a failed one,
 * and the damping around them (down only after `fall` failures in a row, chosen again only
 * after `rise` good checks in a row).
 */
import type { ServerConfig, ServerStatus, SystemInfo } from '../../../shared/types'
import { redactUrl, redactUrlsInText } from '../../../shared/urls'
import type { ServerSaid } from '../../../shared/said'
import type { ComfyRequestError } from '../comfy/errors'

/**
 * A server's state as the monitor publishes it. `queueAt` is the epoch ms at which `queue` was
 * last read from the server (a check or the live feed), or null before the first answer. On a
 * server that is not healthy, `queue` is the last one known, not the current one.
 */
export type MonitoredServerStatus = ServerStatus & { queueAt: number | null }

/** The queue counts a face may show as current: null for a server that is not healthy. */
export function currentQueue(s: ServerStatus): ServerStatus['queue'] | null {
  return s.enabled && s.healthy ? s.queue : null
}

/**
 * A failure's words as kept for a server: without trailing blank lines or spaces, and with the
 * password of any address it quotes hidden.
 */
export function errorText(message: string): string {
  return redactUrlsInText(message).trimEnd()
}

/** A said as kept for a server: its texts as `errorText` keeps them. */
export function keptSaid(said: ServerSaid): ServerSaid {
  switch (said.code) {
    case 'network':
      return { ...said, detail: errorText(said.detail) }
    case 'text':
      return { ...said, text: errorText(said.text) }
    case 'bad-shape':
      return said.detail === undefined ? said : { ...said, detail: errorText(said.detail) }
    case 'redirect':
      return { ...said, to: errorText(said.to) }
    default:
      return said
  }
}

const DISABLED: ServerSaid = Object.freeze({ code: 'disabled' })

export function initialStatus(c: ServerConfig): MonitoredServerStatus {
  return {
    id: c.id,
    name: c.name,
    // Shown everywhere (window, tray, CLI, log): never with the password of the address.
    url: redactUrl(c.url),
    enabled: c.enabled,
    healthy: false,
    queue: { running: 0, pending: 0, total: 0 },
    queueAt: null,
    latencyMs: null,
    system: null,
    error: c.enabled ? null : 'Disabled',
    errorKind: c.enabled ? null : 'disabled',
    said: c.enabled ? null : DISABLED,
    lastCheck: null,
    consecutiveFailures: 0,
    legacyRoutes: false,
    checks: 0,
    successes: 0,
    consecutiveSuccesses: 0,
    down: false,
    recovering: false,
    ownInFlight: 0,
    jobMs: null,
    etaMs: null
  }
}

/** What a good check read. */
export interface GoodCheck {
  queue: ServerStatus['queue']
  latencyMs: number
  system: SystemInfo | null
  legacyRoutes: boolean
  now: number
}

/** The state after a good check; a server that was down is up again after `rise` in a row. */
export function afterGoodCheck(
  prev: MonitoredServerStatus,
  c: GoodCheck,
  rise: number
): MonitoredServerStatus {
  return {
    ...prev,
    healthy: true,
    queue: c.queue,
    queueAt: c.now,
    latencyMs: Math.round(c.latencyMs * 10) / 10,
    system: c.system,
    error: null,
    errorKind: null,
    said: null,
    lastCheck: c.now,
    consecutiveFailures: 0,
    legacyRoutes: c.legacyRoutes,
    checks: prev.checks + 1,
    successes: prev.successes + 1,
    consecutiveSuccesses: prev.consecutiveSuccesses + 1,
    down: prev.down && prev.consecutiveSuccesses + 1 < rise
  }
}

/**
 * The state after a failed check: not healthy at once, down only after `fall` in a row (a
 * server never seen up is down at once when it keeps failing from the start). The last queue
 * known stays, with the time it was read (`queueAt`): it is not current.
 */
export function afterFailedCheck(
  prev: MonitoredServerStatus,
  err: ComfyRequestError,
  now: number,
  fall: number
): MonitoredServerStatus {
  return {
    ...prev,
    healthy: false,
    error: errorText(err.message),
    errorKind: err.kind,
    said: keptSaid(err.said),
    lastCheck: now,
    consecutiveFailures: prev.consecutiveFailures + 1,
    checks: prev.checks + 1,
    consecutiveSuccesses: 0,
    down: prev.down || prev.consecutiveFailures + 1 >= fall
  }
}

/** A server's status after its configuration changed in place (same address). */
export function reconfigured(prev: MonitoredServerStatus, c: ServerConfig): MonitoredServerStatus {
  return {
    ...prev,
    name: c.name,
    enabled: c.enabled,
    ...(c.enabled
      ? prev.errorKind === 'disabled'
        ? { error: null, errorKind: null, said: null, healthy: false }
        : {}
      : { healthy: false, error: 'Disabled', errorKind: 'disabled' as const, said: DISABLED })
  }
}
