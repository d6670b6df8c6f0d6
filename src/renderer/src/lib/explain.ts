/**
 * The engine's reasons in the window's language, as parts (`Part`): the values inside (a host,
 * what a server lacks, ComfyUI's own words) stay quoted as they are.
 *
 * Every reason comes as a code with values (`src/shared/said.ts`, `src/shared/job-said.ts`) and
 * is said with the tables of `said.ts`. Words with no code (from an older core: a connection
 * test's error, a plain reason string) are shown as they are, quoted, so nothing is hidden.
 */
import type { WorkflowSaid } from '../../../shared/job-said'
import type { ChoiceSaid, ServerSaid } from '../../../shared/said'
import type { FailureKind } from '../../../shared/types'
import type { Part } from './i18n.svelte'
import { sayChoice, sayServer, sayWorkflowProblem } from './said'

/** The text as it is, quoted. */
function asIs(text: string): Part[] {
  return [{ text, literal: true }]
}

/**
 * Why a server is down, in the window's language: from its code when the data carries one,
 * else its words as they are, else nothing.
 */
export function explainServer(said: ServerSaid | null | undefined, text?: string | null): Part[] {
  if (said) return sayServer(said)
  return text ? asIs(text) : []
}

/** Failure kinds that say all there is without values: their said. */
const KIND_SAID: Partial<Record<FailureKind, ServerSaid>> = {
  refused: { code: 'refused' },
  disabled: { code: 'disabled' }
}

/**
 * The said of an answer that has words beside it (a connection test's failure): the one it
 * carries when it does (its declared type may not name it yet), else the one its failure kind
 * alone says, else null (its words are shown as they are).
 */
export function carriedSaid(answer: { errorKind?: FailureKind | null }): ServerSaid | null {
  const said = (answer as { said?: unknown }).said
  if (said && typeof said === 'object' && typeof (said as { code?: unknown }).code === 'string') {
    return said as ServerSaid
  }
  return (answer.errorKind && KIND_SAID[answer.errorKind]) || null
}

/**
 * Why a server was chosen (or none was), in the window's language: from its code when the data
 * carries one, else its words (a plain string) as they are.
 */
export function explainChoice(
  said: ChoiceSaid | string | null | undefined,
  text?: string | null
): Part[] {
  if (said && typeof said === 'object') return sayChoice(said)
  const words = typeof said === 'string' ? said : text
  return words ? asIs(words) : []
}

/**
 * Why a file is not a workflow we can send: from its code (`jobs:inspect` answers carry it),
 * else the core's words as they are.
 */
export function explainWorkflowProblem(r: { problem: string; said?: WorkflowSaid }): Part[] {
  return r.said ? sayWorkflowProblem(r.said) : asIs(r.problem)
}
