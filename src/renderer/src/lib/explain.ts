/**
 * The engine speaks English (its log, its reasons, its error texts). The window speaks the
 * user's language: these functions recognise the engine's sentences and say them again with
 * the window's texts, as parts (`Part`): the values inside (a host, what a server lacks) stay
 * quoted as they are. A sentence they do not know is shown as it is, quoted, so nothing is
 * hidden.
 */
import { getLocale, partsText, t, tParts, type MessageKey, type Part } from './i18n.svelte'

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

/** Joins clauses the way the language does (a comma, or the Chinese comma). */
function joinClauses(
  clauses: readonly Part[][],
  sep = getLocale() === 'zh-CN' ? '，' : ', '
): Part[] {
  return clauses.flatMap((c, i) => (i ? [{ text: sep, literal: false }, ...c] : c))
}

const WHOLE_REASONS: readonly Rule[] = [
  [/^No servers are configured$/, () => say('reasonNoServers')],
  [/^All servers are disabled$/, () => say('reasonAllDisabled')],
  [/^No server has been checked yet$/, () => say('reasonNotChecked')],
  [/^No healthy server \(0\/(\d+) up\)$/, (m) => say('reasonNoneHealthy', { total: m[1]! })],
  [
    /^No healthy server can run this workflow \((.*)\)$/s,
    (m) => quoting('reasonNoneCapable', { details: m[1]! })
  ],
  [/^the only healthy server$/, () => say('reasonOnlyHealthy')],
  [/^next in turn \(queue weighting is off\)$/, () => say('reasonRoundRobin')]
]

/** The clauses an "expected completion" reason is made of, each at the start of what is left. */
const CLAUSES: readonly Rule[] = [
  [/^shortest queue \((\d+)\)/, (m) => say('reasonShortestQueue', { n: m[1]! })],
  [
    /^expected start in ([\d.]+) s, done in ([\d.]+) s/,
    (m) => say('reasonExpected', { start: m[1]!, done: m[2]! })
  ],
  [/^first in the list among (\d+) equal/, (m) => say('reasonTieFirst', { n: m[1]! })],
  [/^one of (\d+) about equal/, (m) => say('reasonNearEqual', { n: m[1]! })],
  [/^just came back/, () => say('reasonJustBack')]
]

/** Why the balancer chose a server (or none), in the window's language. */
export function explainReason(reason: string): Part[] {
  const whole = firstMatch(reason, WHOLE_REASONS)
  if (whole) return whole
  let rest = reason
  let excluded: Part[] | null = null
  const ex = /; (\d+) server\(s\) lack what it needs$/.exec(rest)
  if (ex) {
    excluded = say('reasonExcluded', { n: ex[1]! })
    rest = rest.slice(0, ex.index)
  }
  const clauses: Part[][] = []
  while (rest) {
    let matched = false
    for (const [re, answer] of CLAUSES) {
      const m = re.exec(rest)
      if (!m) continue
      clauses.push(answer(m))
      rest = rest.slice(m[0].length).replace(/^, /, '')
      matched = true
      break
    }
    if (!matched) return asIs(reason)
  }
  if (!clauses.length) return asIs(reason)
  const main = joinClauses(clauses)
  if (!excluded) return main
  return joinClauses([main, excluded], getLocale() === 'zh-CN' ? '；' : '; ')
}

const ERRORS: readonly Rule[] = [
  [/^Timed out after (\d+) ms$/, (m) => say('errTimeout', { ms: m[1]! })],
  [/^Connection refused/, () => say('errRefused')],
  [/^Host not found: (.+)$/, (m) => quoting('errHostNotFound', { host: m[1]! })],
  [/^Host not found$/, () => say('errHostNotFoundBare')],
  [/^The connection was closed by the server$/, () => say('errClosed')],
  [/^Host unreachable/, () => say('errUnreachable')],
  [/^The server sent a broken HTTP answer$/, () => say('errBrokenHttp')],
  [/^TLS certificate problem \((.+)\)$/, (m) => quoting('errTls', { code: m[1]! })],
  [
    /^HTTP (\d+)(?: [A-Za-z ]+?)?( \(an error page from a proxy\))?( \(check the server address and its auth header\))?$/,
    (m) => [
      ...say('errHttp', { status: m[1]! }),
      ...(m[2] ? say('errHttpProxy') : []),
      ...(m[3] ? say('errHttpAuth') : [])
    ]
  ],
  [/^Answered with a web page instead of JSON/, () => say('errWebPage')],
  [/^Answered with something that is not JSON$/, () => say('errNotJson')],
  [/^Unexpected (?:\w+ )?answer/, () => say('errBadShape')],
  [/^Disabled$/, () => say('healthDisabled')]
]

/** A server's error (why it is down, why a test failed), in the window's language. */
export function explainError(error: string): Part[] {
  return firstMatch(error, ERRORS) ?? asIs(error)
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
    (m) => [...say('noteWaitingHealthy'), ...explainReason(m[1]!)]
  ],
  [/^The chosen server was removed$/, () => say('errServerRemoved')],
  [/^The server reported an error$/, () => say('errServerReported')]
]

/** An attempt's result, a job note or a job error, in the window's language when known. */
export function explainJobText(text: string): Part[] {
  return firstMatch(text, JOB_TEXTS) ?? firstMatch(text, ERRORS) ?? asIs(text)
}

export type TextKind = 'reason' | 'error' | 'workflow' | 'job'

const EXPLAIN: Record<TextKind, (text: string) => Part[]> = {
  reason: explainReason,
  error: explainError,
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
