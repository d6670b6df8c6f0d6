/**
 * The engine's reasons in the window's language, as parts (`Part`): the values inside (a host,
 * what a server lacks) stay quoted as they are.
 *
 * Why a server is down and why a server was chosen come as codes with values (`ServerSaid`,
 * `ChoiceSaid`) and are said with the tables of `said.ts`. Workflow problems, attempt results
 * and job notes are still the engine's English sentences: these are recognised here and said
 * again with the window's texts. A sentence not known is shown as it is, quoted, so nothing is
 * hidden.
 */
import type { ChoiceSaid, ServerSaid } from '../../../shared/said'
import { partsText, t, tParts, type MessageKey, type Part } from './i18n.svelte'
import { sayChoice, sayServer } from './said'

type Rule = [RegExp, (m: RegExpExecArray) => Part[]]

const say = (key: MessageKey, values: Record<string, string> = {}): Part[] => [
  { text: t(key, values), literal: false }
]
const quoting = (key: MessageKey, literals: Record<string, string>): Part[] =>
  tParts(key, {}, literals)

function firstMatch(text: string, rules: readonly Rule[]): Part[] | null {
  for (const [re, answer] of rules) {
    const m = re.exec(text)
    if (m) return answer(m)
  }
  return null
}

/** The text as it is, quoted. */
function asIs(text: string): Part[] {
  return [{ text, literal: true }]
}

/**
 * Why a server is down, in the window's language: from its code when the data carries one,
 * else from its words (a result that has no code yet, such as a connection test's: read as an
 * attempt result is), else nothing.
 */
export function explainServer(said: ServerSaid | null | undefined, text?: string | null): Part[] {
  if (said) return sayServer(said)
  if (!text) return []
  const known = recognised(text, ATTEMPT_FAILURES)
  return known ? sayServer(known) : asIs(text)
}

/**
 * Why a server was chosen (or none was), in the window's language: from its code when the data
 * carries one, else from its words (a plain string): the reasons a job note quotes are known,
 * others are shown as they are.
 */
export function explainChoice(
  said: ChoiceSaid | string | null | undefined,
  text?: string | null
): Part[] {
  if (said && typeof said === 'object') return sayChoice(said)
  const words = typeof said === 'string' ? said : text
  return words ? waitingReason(words) : []
}

const WORKFLOW_PROBLEMS: readonly Rule[] = [
  [/^this is a UI-format workflow/, () => say('wfUiFormat')],
  [/^expected a workflow object of nodes/, () => say('wfNotWorkflow')],
  [/^the workflow has no nodes$/, () => say('wfNoNodes')],
  [
    /^node "([^"]*)" (?:is not an object|has no class_type|\(.*\) has inputs that are not an object)/,
    (m) => quoting('wfBadNode', { id: m[1]! })
  ],
  [/^the file is too large/, () => say('wfTooLarge')],
  [/^the PNG could not be read/, () => say('wfBadPng')],
  [/^this PNG holds only a UI workflow/, () => say('wfPngUiOnly')],
  [/^this PNG holds no ComfyUI workflow/, () => say('wfPngNone')],
  [/^the workflow inside this PNG is not valid JSON$/, () => say('wfPngBadJson')],
  [/^not valid JSON/, () => say('wfBadJson')],
  [/^only \.json and \.png workflows/, () => say('wfWrongType')],
  [/^the file does not exist$/, () => say('wfMissing')],
  [/^the file cannot be read/, () => say('wfUnreadable')]
]

/** Why a file is not a workflow we can send (the core's `WorkflowError.problem`). */
export function explainWorkflowProblem(problem: string): Part[] {
  return firstMatch(problem, WORKFLOW_PROBLEMS) ?? asIs(problem)
}

/**
 * A server's failure as an attempt result quotes it (attempt results are still sentences):
 * read back as its code, said with the same table as a server's status.
 */
const ATTEMPT_FAILURES: readonly [RegExp, (m: RegExpExecArray) => ServerSaid][] = [
  [/^Timed out after (\d+) ms$/, (m) => ({ code: 'timeout', ms: Number(m[1]) })],
  [/^Connection refused/, () => ({ code: 'refused' })],
  [/^Host not found: (.+)$/, (m) => ({ code: 'host-not-found', host: m[1]! })],
  [/^Host not found$/, () => ({ code: 'host-not-found', host: null })],
  [/^The connection was closed by the server$/, () => ({ code: 'closed' })],
  [/^Host unreachable/, () => ({ code: 'unreachable' })],
  [/^The server sent a broken HTTP answer$/, () => ({ code: 'broken-http' })],
  [/^TLS certificate problem \((.+)\)$/, (m) => ({ code: 'tls', detail: m[1]! })],
  [
    /^HTTP (\d+)(?: [A-Za-z ]+?)?( \(an error page from a proxy\))?( \(check the server address and its auth header\))?$/,
    (m) => ({ code: 'http', status: Number(m[1]), proxyPage: !!m[2] })
  ],
  [/^Answered with a web page instead of JSON/, () => ({ code: 'not-json', page: true })],
  [/^Answered with something that is not JSON$/, () => ({ code: 'not-json', page: false })],
  [/^Unexpected (.*)$/s, (m) => ({ code: 'bad-shape', what: m[1]! })]
]

/** The reasons a job note quotes while it waits for a server (no server could be chosen). */
const WAITING_REASONS: readonly [RegExp, (m: RegExpExecArray) => ChoiceSaid][] = [
  [/^No servers are configured$/, () => ({ code: 'no-servers' })],
  [/^All servers are disabled$/, () => ({ code: 'all-disabled' })],
  [/^No server has been checked yet$/, () => ({ code: 'not-checked' })],
  [/^No healthy server \(0\/(\d+) up\)$/, (m) => ({ code: 'none-healthy', total: Number(m[1]) })],
  [/^every server was tried \((\d+)\)$/, (m) => ({ code: 'all-tried', n: Number(m[1]) })]
]

function recognised<S>(
  text: string,
  rules: readonly [RegExp, (m: RegExpExecArray) => S][]
): S | null {
  for (const [re, said] of rules) {
    const m = re.exec(text)
    if (m) return said(m)
  }
  return null
}

/** A waiting note's reason: known ones in the window's language, others as they are. */
function waitingReason(text: string): Part[] {
  const said = recognised(text, WAITING_REASONS)
  return said ? sayChoice(said) : asIs(text)
}

const JOB_TEXTS: readonly Rule[] = [
  [/^accepted$/, () => say('attemptAccepted')],
  [/^sending$/, () => say('attemptSending')],
  [/^not received$/, () => say('attemptNotReceived')],
  [/^unknown \(server unreachable\)$/, () => say('attemptUnknown')],
  [/^cannot run it: (.*)$/s, (m) => quoting('attemptCannotRun', { what: m[1]! })],
  [/^refused: (.*)$/s, (m) => quoting('attemptRefused', { why: m[1]! })],
  [/^Cancelled by the user$/, () => say('noteCancelled')],
  [/^Interrupted on the server$/, () => say('noteInterrupted')],
  [/^Waiting in Comfy Balancer until a server is about to be free$/, () => say('noteHeldBack')],
  [
    /^Waiting for a healthy server: (.*)$/s,
    (m) => [...say('noteWaitingHealthy'), ...waitingReason(m[1]!)]
  ],
  [/^The chosen server was removed$/, () => say('errServerRemoved')],
  [/^The server reported an error$/, () => say('errServerReported')]
]

/** An attempt's result, a job note or a job error, in the window's language when known. */
export function explainJobText(text: string): Part[] {
  const job = firstMatch(text, JOB_TEXTS)
  if (job) return job
  const failure = recognised(text, ATTEMPT_FAILURES)
  return failure ? sayServer(failure) : asIs(text)
}

/** The kinds of engine text that are still sentences. */
export type TextKind = 'workflow' | 'job'

const EXPLAIN: Record<TextKind, (text: string) => Part[]> = {
  workflow: explainWorkflowProblem,
  job: explainJobText
}

/** An engine text of a kind, in the window's language, as parts. */
export function explain(kind: TextKind, text: string): Part[] {
  return EXPLAIN[kind](text)
}

/** The same as plain text. */
export function explainText(kind: TextKind, text: string): string {
  return partsText(explain(kind, text))
}
