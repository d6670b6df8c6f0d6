/**
 * Log lines of the balancer. Concise mode writes a line only when something changed (who is
 * up, who is best); verbose mode adds one line per server after every round. Formatting is
 * pure; sinks (console, file, window) subscribe to the lines.
 *
 * No line leaves here with a URL password or a secret query value in it: the formatters, the
 * buffer, `logLine` and `redactingSink` all pass the text through `redactUrlsInText` (a server's
 * error can quote the URL it failed on, credentials included).
 */
import type { FleetStatus, LogLevel, LogLine, ServerStatus } from '../../shared/types'
import { redactUrlsInText } from '../../shared/urls'

export const LOG_PREFIX = '[LoadBalancer]'

export interface LogEntry {
  level: LogLevel
  message: string
}

/** The line with URL credentials hidden in its message (the same object when none). */
export function redactLogLine<T extends { message: string }>(line: T): T {
  const message = redactUrlsInText(line.message)
  return message === line.message ? line : { ...line, message }
}

/** A log line to push or emit, its message already redacted. */
export function logLine(time: number, level: LogLevel, message: string): LogLine {
  return { time, level, message: redactUrlsInText(message) }
}

/** Wraps a sink so that every line it gets has URL credentials hidden. */
export function redactingSink(sink: LogSink): LogSink {
  return (line) => sink(redactLogLine(line))
}

function entry(level: LogLevel, message: string): LogEntry {
  return { level, message: redactUrlsInText(message) }
}

/** `gpu-1: healthy, running 1, pending 2, total 3 (12 ms)` or `gpu-2: unhealthy - Connection refused`. */
export function verboseServerLine(s: ServerStatus): string {
  if (!s.enabled) return redactUrlsInText(`${LOG_PREFIX} ${s.name}: disabled`)
  if (s.healthy) {
    const ms = s.latencyMs === null ? '' : ` (${Math.round(s.latencyMs)} ms)`
    return redactUrlsInText(
      `${LOG_PREFIX} ${s.name}: healthy, running ${s.queue.running}, pending ${s.queue.pending}, total ${s.queue.total}${ms}`
    )
  }
  return redactUrlsInText(`${LOG_PREFIX} ${s.name}: unhealthy - ${s.error ?? 'unknown error'}`)
}

function best(status: FleetStatus): ServerStatus | undefined {
  return status.bestServerId ? status.servers.find((s) => s.id === status.bestServerId) : undefined
}

function enabledCount(status: FleetStatus): number {
  return status.servers.filter((s) => s.enabled).length
}

/** `Available servers: 2/3, best: gpu-1 (queue: 0)` */
export function availabilityLine(status: FleetStatus): string {
  const b = best(status)
  const head = `${LOG_PREFIX} Available servers: ${status.healthy}/${enabledCount(status)}`
  return redactUrlsInText(
    b
      ? `${head}, best: ${b.name} (queue: ${b.queue.total})`
      : `${head}, best: none (${status.reason})`
  )
}

/** Why the best server changed, from the previous and the new state. */
function switchReason(prev: FleetStatus, next: FleetStatus): string {
  const old = prev.servers.find((s) => s.id === prev.bestServerId)
  const oldNow = next.servers.find((s) => s.id === prev.bestServerId)
  if (!oldNow) return 'previous server removed'
  if (!oldNow.enabled) return `${oldNow.name} disabled`
  if (!oldNow.healthy) return `${oldNow.name} is down`
  const nb = best(next)
  if (nb && old && nb.queue.total < oldNow.queue.total) return 'shorter queue'
  return next.reason
}

/**
 * The concise lines for one transition of the fleet status: server down/up, availability and
 * the best-server switch. Empty when nothing a user cares about changed.
 */
export function conciseLines(prev: FleetStatus | null, next: FleetStatus): LogEntry[] {
  const out: LogEntry[] = []
  if (next.lastHealthCheck === null) return out
  const prevById = new Map((prev?.servers ?? []).map((s) => [s.id, s]))
  for (const s of next.servers) {
    if (!s.enabled || s.lastCheck === null) continue
    const p = prevById.get(s.id)
    const wasHealthy = p ? p.healthy && p.lastCheck !== null : undefined
    if (s.healthy && wasHealthy === false && p?.lastCheck !== null) {
      out.push(entry('info', `${LOG_PREFIX} Server up: ${s.name}`))
    } else if (!s.healthy && wasHealthy !== false) {
      out.push(
        entry('warn', `${LOG_PREFIX} Server down: ${s.name} - ${s.error ?? 'unknown error'}`)
      )
    } else if (!s.healthy && p && p.error !== s.error) {
      out.push(
        entry('warn', `${LOG_PREFIX} Server still down: ${s.name} - ${s.error ?? 'unknown error'}`)
      )
    }
  }
  const firstRound = !prev || prev.lastHealthCheck === null
  const countChanged =
    !prev || prev.healthy !== next.healthy || enabledCount(prev) !== enabledCount(next)
  const bestChanged = !prev || prev.bestServerId !== next.bestServerId
  const nb = best(next)
  if (!firstRound && bestChanged && prev.bestServerId && nb) {
    const pb = prev.servers.find((s) => s.id === prev.bestServerId)
    out.push(
      entry(
        'info',
        `${LOG_PREFIX} Server switch: ${pb?.name ?? prev.bestServer} -> ${nb.name} (${switchReason(prev, next)})`
      )
    )
  }
  if (firstRound || countChanged || bestChanged) {
    out.push(entry(next.healthy === 0 ? 'warn' : 'info', availabilityLine(next)))
  }
  return out
}

/** One line per server, for verbose mode after each round. */
export function verboseLines(status: FleetStatus): LogEntry[] {
  return status.servers.map((s) => ({
    level: 'verbose' as const,
    message: verboseServerLine(s)
  }))
}

export type LogSink = (line: LogLine) => void

/**
 * Keeps the last `capacity` lines for late subscribers (the window); drops the oldest. Lines are
 * kept with URL credentials hidden.
 */
export class LogBuffer {
  private readonly lines: LogLine[] = []
  constructor(private readonly capacity = 1000) {}
  push(line: LogLine): void {
    this.lines.push(redactLogLine(line))
    if (this.lines.length > this.capacity) this.lines.splice(0, this.lines.length - this.capacity)
  }
  all(): LogLine[] {
    return [...this.lines]
  }
  clear(): void {
    this.lines.length = 0
  }
}
