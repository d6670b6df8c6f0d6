/**
 * Log lines of the balancer. Concise mode writes a line only when something changed (who is
 * up, who is best); verbose mode adds one line per server after every round. Formatting is
 * pure; sinks (console, file, window) subscribe to the lines.
 *
 * No line leaves here with a URL password or a secret query value in it: the formatters, the
 * buffer, `logLine` and `redactingSink` all pass the text through `redactUrlsInText` (a server's
 * error can quote the URL it failed on, credentials included).
 */
import {
  HTTP_STATUS_TEXT,
  isAuthStatus,
  render,
  seconds,
  sizeText,
  type ChoiceSaid,
  type Lacks,
  type SaidTable,
  type ServerSaid
} from '../../shared/said'
import type { FleetStatus, LogLevel, LogLine, ServerStatus } from '../../shared/types'
import { redactUrlsInText } from '../../shared/urls'

/** Why a server is down, in English (the log, the CLI, `ServerStatus.error`). */
const SERVER_EN = {
  timeout: (s) => `Timed out after ${s.ms} ms`,
  stalled: (s) => `The download stalled: nothing arrived for ${s.ms} ms`,
  refused: () => 'Connection refused (is ComfyUI running on that port?)',
  'host-not-found': (s) => `Host not found${s.host ? `: ${s.host}` : ''}`,
  closed: () => 'The connection was closed by the server',
  unreachable: () => 'Host unreachable (network down or wrong address)',
  'broken-http': () => 'The server sent a broken HTTP answer',
  tls: (s) => `TLS certificate problem (${s.detail})`,
  http: (s) => {
    const text = HTTP_STATUS_TEXT[s.status]
    let msg = `HTTP ${s.status}${text ? ` ${text}` : ''}`
    if (s.proxyPage) msg += ' (an error page from a proxy)'
    if (isAuthStatus(s.status)) msg += ' (check the server address and its auth header)'
    return msg
  },
  'not-json': (s) =>
    s.page
      ? 'Answered with a web page instead of JSON (a proxy or login page?)'
      : 'Answered with something that is not JSON',
  'bad-shape': (s) => `Unexpected ${s.what}${s.detail ? `: ${s.detail}` : ''}`,
  network: (s) => s.detail,
  'bad-url': () => 'The server address is not a valid URL',
  'not-http': (s) => `Not an http or https address: ${s.protocol}`,
  stopped: () => 'The download was stopped',
  redirect: (s) => `The server redirected to another address (${s.to}); it was not followed`,
  'redirect-invalid': () =>
    'The server redirected to an address that is not valid; it was not followed',
  'redirect-post': (s) =>
    `The server answered with a redirect (HTTP ${s.status}) instead of taking the request; it was not sent again`,
  'redirect-loop': () => 'The server redirected too many times',
  'too-large': (s) => `The ${s.what} was larger than ${sizeText(s.limitBytes)}`,
  disabled: () => 'Disabled',
  text: (s) => s.text
} satisfies SaidTable<ServerSaid, string>

/** Why a server is down, in English. */
export function sayServer(said: ServerSaid): string {
  return render(SERVER_EN, said)
}

/** What one server lacks, in English: `missing node Foo; missing models a, b`. */
export function sayLacks(l: Omit<Lacks, 'name'>): string {
  if (l.text !== undefined) return l.text
  const why: string[] = []
  if (l.nodes.length) why.push(`missing node${l.nodes.length > 1 ? 's' : ''} ${l.nodes.join(', ')}`)
  if (l.models.length)
    why.push(`missing model${l.models.length > 1 ? 's' : ''} ${l.models.join(', ')}`)
  return why.join('; ')
}

/** The HELD_BACK note after the best server's reason. */
export const HELD_BACK_NOTE = 'the next job waits here until it is about to be free'

const CHOICE_EN = {
  'no-servers': () => 'No servers are configured',
  'all-disabled': () => 'All servers are disabled',
  'not-checked': () => 'No server has been checked yet',
  'none-healthy': (c) => `No healthy server (0/${c.total} up)`,
  'none-capable': (c) =>
    `No healthy server can run this workflow (${c.servers.map((l) => `${l.name}: ${sayLacks(l)}`).join('; ')})`,
  'only-healthy': () => 'the only healthy server',
  'round-robin': () => 'next in turn (queue weighting is off)',
  'shortest-queue': (c) =>
    c.tie
      ? `shortest queue (${c.n}), first in the list among ${c.tie} equal`
      : `shortest queue (${c.n})`,
  expected: (c) => {
    const parts = [
      c.queue !== null
        ? `shortest queue (${c.queue})`
        : `expected start in ${seconds(c.startMs)} s, done in ${seconds(c.doneMs)} s`
    ]
    if (c.about) parts.push(`one of ${c.about} about equal`)
    if (c.justBack) parts.push('just came back')
    const excluded = c.lacking ? `; ${c.lacking} server(s) lack what it needs` : ''
    return parts.join(', ') + excluded
  },
  tried: (c) => `${sayChoice(c.then)}; ${c.n} server(s) already tried`,
  'all-tried': (c) => `every server was tried (${c.n})`,
  'held-back': () => 'Waiting in Comfy Balancer until a server is about to be free',
  'held-for': (c) => `${sayChoice(c.then)}; ${HELD_BACK_NOTE}`,
  text: (c) => c.text
} satisfies SaidTable<ChoiceSaid, string>

/** Why a server was chosen or none was, in English (the log, the CLI, `reason`). */
export function sayChoice(said: ChoiceSaid): string {
  return render(CHOICE_EN, said)
}

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
