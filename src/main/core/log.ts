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
import type {
  AttemptSaid,
  JobErrorSaid,
  JobNoteSaid,
  MovedSaid,
  UiNodeSaid,
  WorkflowSaid
} from '../../shared/job-said'
import type { FleetStatus, JobError, LogLevel, LogLine, ServerStatus } from '../../shared/types'
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

const MOVED_EN = {
  'server-down': (m) => `${m.server} is down (${m.why ? sayServer(m.why) : 'no answer'})`,
  forgotten: (m) => `${m.server} no longer knows the job (restarted?)`,
  text: (m) => m.text
} satisfies SaidTable<MovedSaid, string>

/** Why a job was taken off its server, in English. */
export function sayMoved(said: MovedSaid): string {
  return render(MOVED_EN, said)
}

const NOTE_EN = {
  cancelled: () => 'Cancelled by the user',
  'cancelled-on': (n) => `Cancelled on ${n.server} (removed from its queue there)`,
  interrupted: () => 'Interrupted on the server',
  'held-back': () => sayChoice({ code: 'held-back' }),
  paused: () => 'Waiting: sending is paused',
  waiting: (n) => `Waiting for a healthy server: ${sayChoice(n.why)}`,
  'retried-as': (n) => `Retried as ${n.id}`,
  'retry-of': (n) => `Retry of ${n.id}`,
  moved: (n) => sayMoved(n.why),
  'missing-outputs': (n) => `Some outputs could not be downloaded: ${outputProblems(n).join('; ')}`,
  text: (n) => n.text
} satisfies SaidTable<JobNoteSaid, string>

/** Each output that was not saved, in English. */
export function outputProblems(n: Extract<JobNoteSaid, { code: 'missing-outputs' }>): string[] {
  return [
    ...(n.over ? [`${n.over.n} outputs over the limit of ${n.over.limit} per job`] : []),
    ...n.files.map((f) => `${f.file}: ${sayServer(f.why)}`)
  ]
}

/** A job note, in English (the log, the CLI). */
export function sayJobNote(said: JobNoteSaid): string {
  return render(NOTE_EN, said)
}

const ATTEMPT_EN = {
  sending: () => 'sending',
  accepted: () => 'accepted',
  'not-received': () => 'not received',
  unknown: () => 'unknown (server unreachable)',
  'cannot-run': (a) => `cannot run it: ${a.text}`,
  refused: (a) => `refused: ${a.text}`,
  failed: (a) => sayServer(a.why),
  'upload-failed': (a) => `upload failed: ${sayServer(a.why)}`,
  'input-unreadable': (a) => `upload failed: Cannot read the input image ${a.path}: ${a.detail}`,
  text: (a) => a.text
} satisfies SaidTable<AttemptSaid, string>

/** What one try on a server came to, in English. */
export function sayAttempt(said: AttemptSaid): string {
  return render(ATTEMPT_EN, said)
}

const JOB_ERROR_EN = {
  comfy: (e) => e.text,
  'server-error': () => 'The server reported an error',
  refused: (e) => e.text,
  'server-removed': () => 'The chosen server was removed',
  'no-server-took': (e) => `No server could take the job. ${jobErrorLines(e).join('; ')}`,
  'none-can-run': () => 'No server can run this workflow',
  'lost-too-often': (e) =>
    `Servers lost this job ${e.n} times after accepting it; it is not sent again`,
  'moved-too-often': (e) => `Moved ${e.n} times; it is not sent again`,
  'no-result': (e) => `${e.server} does not give the result of this job: ${sayServer(e.why)}`,
  'input-unreadable': (e) => `Cannot read the input image ${e.path}: ${e.detail}`,
  internal: (e) => e.text,
  text: (e) => e.text
} satisfies SaidTable<JobErrorSaid, string>

/** Why a job failed, in English (one line). */
export function sayJobError(said: JobErrorSaid): string {
  return render(JOB_ERROR_EN, said)
}

/** The lines under a job error that lists servers (each try, each server's lack, the move). */
export function jobErrorLines(said: JobErrorSaid): string[] {
  switch (said.code) {
    case 'no-server-took':
      return said.tries.map((t) => `${t.server}: ${sayAttempt(t.why)}`)
    case 'none-can-run':
      return said.servers.map((l) => `${l.name}: ${sayLacks(l)}`)
    case 'lost-too-often':
    case 'moved-too-often':
      return [sayMoved(said.why)]
    default:
      return []
  }
}

/** A job error as the core records it: the said, with its English as `message`. */
export function jobError(
  said: JobErrorSaid,
  more: Omit<JobError, 'said' | 'message'> = {}
): JobError {
  return { ...more, said, message: sayJobError(said) }
}

/** `node 5 "My sampler" (KSampler)`, as a workflow problem names a node. */
export function sayUiNode(node: UiNodeSaid): string {
  const title = node.title && node.title !== node.classType ? ` "${node.title}"` : ''
  return `node ${node.id}${title} (${node.classType})`
}

const MB = 1024 * 1024
const mb = (n: number): string => (n / MB).toFixed(1)

const WORKFLOW_EN = {
  'ui-format': () =>
    'this is a UI-format workflow (nodes and links), which the server cannot run directly. ' +
    'In ComfyUI use "Save (API)" (Workflow menu > Export (API)), or use a PNG image saved by ComfyUI.',
  'needs-object-info': () =>
    'this is a UI-format workflow (nodes and links), which needs a server to convert it',
  'not-converted': (w) =>
    `this UI workflow could not be converted: ${w.node ? `${sayUiNode(w.node)}: ` : ''}${w.detail}`,
  'not-workflow': () => 'expected a workflow object of nodes (API format)',
  'no-nodes': () => 'the workflow has no nodes',
  'too-many-nodes': (w) => `the workflow is too large (${w.nodes} nodes; the limit is ${w.limit})`,
  'too-deep': (w) =>
    `the workflow is nested too deeply (more than ${w.limit} levels) to be a ComfyUI workflow`,
  'bad-node': (w) =>
    w.what === 'not-object'
      ? `node "${w.id}" is not an object; is this an API-format workflow?`
      : w.what === 'no-class'
        ? `node "${w.id}" has no class_type; is this an API-format workflow?`
        : `node "${w.id}" (${w.classType ?? '?'}) has inputs that are not an object`,
  'too-large': (w) =>
    `the file is too large (${w.bytes === null ? 'more than ' : ''}${mb(w.bytes ?? w.limitBytes)} MB; the limit is ${mb(w.limitBytes)} MB)`,
  'bad-png': (w) => `the PNG could not be read: ${w.detail}`,
  'png-none': () =>
    'this PNG holds no ComfyUI workflow (it was not saved by ComfyUI, or its metadata was stripped)',
  'png-bad-json': () => 'the workflow inside this PNG is not valid JSON',
  'bad-json': (w) =>
    `not valid JSON${w.at !== null ? ` (error near character ${w.at})` : ''}; expected an API-format workflow (.json) or a ComfyUI PNG`,
  'wrong-type': () => 'only .json and .png workflows can be submitted',
  'not-absolute': () => 'the path must be absolute (the full path from the drive or root)',
  missing: () => 'the file does not exist',
  'not-a-file': (w) =>
    w.folder ? 'this is not a file but a folder' : 'this is not a file (a device or a pipe)',
  unreadable: (w) => `the file cannot be read (${w.detail})`,
  text: (w) => w.text
} satisfies SaidTable<WorkflowSaid, string>

/** Why a file is not a workflow we can send, in English (without the file's name). */
export function sayWorkflowProblem(said: WorkflowSaid): string {
  return render(WORKFLOW_EN, said)
}

const AGAIN = 'Save it again from ComfyUI ("Export (API)") and try that file.'
const ORIGINAL_PNG = 'Use the original image ComfyUI saved.'

const ADVICE_EN = {
  'ui-format': () => null,
  'needs-object-info': () => 'Check that a server is up, or in ComfyUI use "Export (API)".',
  'not-converted': () => null,
  'not-workflow': () => AGAIN,
  'no-nodes': () => AGAIN,
  'too-many-nodes': () => 'Split it into smaller workflows.',
  'too-deep': () => AGAIN,
  'bad-node': () => AGAIN,
  'too-large': () => 'Choose the workflow file itself (.json or a ComfyUI .png).',
  'bad-png': () => 'Use an image saved by ComfyUI.',
  'png-none': () => ORIGINAL_PNG,
  'png-bad-json': () => ORIGINAL_PNG,
  'bad-json': () => AGAIN,
  'wrong-type': () => 'In ComfyUI use "Export (API)", or use an image ComfyUI saved.',
  'not-absolute': () => 'Choose the file again.',
  missing: () => 'Check its name and folder.',
  'not-a-file': () => 'Choose a .json or .png workflow file.',
  unreadable: () => 'Check that you may open it, or copy it to a folder of yours.',
  text: () => null
} satisfies SaidTable<WorkflowSaid, string | null>

/** What to do about a workflow problem, in English, or null. */
export function workflowAdvice(said: WorkflowSaid): string | null {
  return render(ADVICE_EN, said)
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
  let prevById: Map<string, ServerStatus> | null = null
  // Most rounds keep the list as it was: each server is where it was, often unchanged.
  const prevOf = (s: ServerStatus, i: number): ServerStatus | undefined => {
    const same = prev?.servers[i]
    if (same?.id === s.id) return same
    prevById ??= new Map((prev?.servers ?? []).map((x) => [x.id, x]))
    return prevById.get(s.id)
  }
  for (const [i, s] of next.servers.entries()) {
    if (!s.enabled || s.lastCheck === null) continue
    const p = prevOf(s, i)
    if (p === s) continue
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
