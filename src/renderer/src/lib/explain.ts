/**
 * The engine's reasons in the window's language, as parts (`Part`): the values inside (a host,
 * what a server lacks, ComfyUI's own words) stay quoted as they are.
 *
 * Every reason comes as a code with values (`src/shared/said.ts`, `src/shared/job-said.ts`) and
 * is said with the tables of `said.ts`. Words with no code (a plain reason string from an
 * older core) are shown as they are, quoted, so nothing is hidden.
 */
import type { WorkflowSaid } from '../../../shared/job-said'
import type { ChoiceSaid, ServerSaid } from '../../../shared/said'
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

/** Why a file is not a workflow we can send, from its code (`jobs:inspect` answers carry it). */
export function explainWorkflowProblem(r: { said: WorkflowSaid }): Part[] {
  return sayWorkflowProblem(r.said)
}
