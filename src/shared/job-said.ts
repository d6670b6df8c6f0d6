/**
 * Reasons as data for jobs (architecture invariant 7, as `said.ts` for servers): what happened
 * to a job (`JobNoteSaid`), what one try on a server came to (`AttemptSaid`), why the core
 * failed a job (`JobErrorSaid`) and why a file is not a workflow we can send (`WorkflowSaid`).
 * The core writes codes with values; each face says them in its language (English for the log
 * and the CLI in `core/log.ts`, the window in `renderer/src/lib/said.ts`, notifications in
 * `main/messages.ts`). Values from ComfyUI, Node or the file (node ids, class names, server
 * names, exception texts) are literal fields, never translated.
 */
import type { ChoiceSaid, Lacks, ServerSaid } from './said'

/** Why a job on a server was taken off it and sent again (or not). */
export type MovedSaid =
  /** `why`: the server's failure (null when it gave none). */
  | { code: 'server-down'; server: string; why: ServerSaid | null }
  /** The server no longer knows the job (it restarted?). */
  | { code: 'forgotten'; server: string }
  | { code: 'text'; text: string }

/** One output that could not be saved: its file name and why. */
export interface OutputProblem {
  file: string
  why: ServerSaid
}

/** What happened to a job, one note each time. */
export type JobNoteSaid =
  /** Cancelled by the user (in the app or with the CLI). */
  | { code: 'cancelled' }
  /** Someone removed it from its queue on that server (not us). */
  | { code: 'cancelled-on'; server: string }
  | { code: 'interrupted' }
  /** It waits in the app until a server is about to be free (late binding). */
  | { code: 'held-back' }
  /** It waits because the user paused sending. */
  | { code: 'paused' }
  /** It waits for a server that can take it; `why` none can now. */
  | { code: 'waiting'; why: ChoiceSaid }
  | { code: 'retried-as'; id: string }
  | { code: 'retry-of'; id: string }
  /** Taken off its server and sent again (or failed, see its error). */
  | { code: 'moved'; why: MovedSaid }
  /** Done, but outputs were not saved: `over` past the per-job limit, `files` that failed. */
  | { code: 'missing-outputs'; over: { n: number; limit: number } | null; files: OutputProblem[] }
  /** A note with no code (from an older journal), shown as it is. */
  | { code: 'text'; text: string }

export type JobNoteCode = JobNoteSaid['code']

/** What one try of a job on a server came to. */
export type AttemptSaid =
  /** Being sent (journaled before the POST: after a crash, the server is asked first). */
  | { code: 'sending' }
  | { code: 'accepted' }
  /** Asked after a crash: the server does not have it. */
  | { code: 'not-received' }
  /** Asked after a crash: the server did not answer. */
  | { code: 'unknown' }
  /** The server lacks a node or model the workflow needs: ComfyUI's own words. */
  | { code: 'cannot-run'; text: string }
  /** The server refused the workflow: its own words. */
  | { code: 'refused'; text: string }
  /** The request failed. */
  | { code: 'failed'; why: ServerSaid }
  /** An input image could not be uploaded to the server. */
  | { code: 'upload-failed'; why: ServerSaid }
  /** An input image next to the workflow could not be read here. */
  | { code: 'input-unreadable'; path: string; detail: string }
  | { code: 'text'; text: string }

export type AttemptCode = AttemptSaid['code']

/** One server's try in a failed job: its name and what it came to. */
export interface TrySaid {
  server: string
  why: AttemptSaid
}

/** Why a job failed. */
export type JobErrorSaid =
  /** ComfyUI's own error while running it (`Type: message`), as it said it. */
  | { code: 'comfy'; text: string }
  /** The server's history says the job failed, with no words. */
  | { code: 'server-error' }
  /** The server refused the workflow: its own words (per-node lines are in `details`). */
  | { code: 'refused'; text: string }
  | { code: 'server-removed' }
  /** Every server tried failed to take it. */
  | { code: 'no-server-took'; tries: TrySaid[] }
  /** Every enabled server is known to lack what the workflow needs. */
  | { code: 'none-can-run'; servers: Lacks[] }
  /** Servers accepted it and then had no trace of it `n` times. */
  | { code: 'lost-too-often'; n: number; why: MovedSaid }
  /** Moved off dead servers `n` times. */
  | { code: 'moved-too-often'; n: number; why: MovedSaid }
  /** The queue answers but the job's history cannot be read there. */
  | { code: 'no-result'; server: string; why: ServerSaid }
  | { code: 'input-unreadable'; path: string; detail: string }
  /** An unexpected failure in the app: the error's own text. */
  | { code: 'internal'; text: string }
  | { code: 'text'; text: string }

export type JobErrorCode = JobErrorSaid['code']

/** What a problem in a workflow file is about. */
export type BadNodeWhat = 'not-object' | 'no-class' | 'bad-inputs'

/** The node a UI workflow's conversion failed on (as the converter names it). */
export interface UiNodeSaid {
  id: string
  title: string | null
  classType: string
}

/** Why a file is not a workflow we can send. */
export type WorkflowSaid =
  /** A UI-format graph where an API-format prompt is needed. */
  | { code: 'ui-format' }
  /** A UI-format graph, and no server's node definitions to convert it with. */
  | { code: 'needs-object-info' }
  /** The UI graph could not be converted: the converter's words, about `node`. */
  | { code: 'not-converted'; node: UiNodeSaid | null; detail: string }
  | { code: 'not-workflow' }
  | { code: 'no-nodes' }
  | { code: 'too-many-nodes'; nodes: number; limit: number }
  | { code: 'too-deep'; limit: number }
  /** Node `id` is wrong: `classType` is known for 'bad-inputs'. */
  | { code: 'bad-node'; id: string; what: BadNodeWhat; classType?: string }
  /** `bytes` null: more than the limit, how much more not known. */
  | { code: 'too-large'; bytes: number | null; limitBytes: number }
  | { code: 'bad-png'; detail: string }
  | { code: 'png-none' }
  | { code: 'png-bad-json' }
  /** `at`: the character the parser stopped at, when it said. */
  | { code: 'bad-json'; at: number | null }
  | { code: 'wrong-type' }
  /** A path from the window that is not absolute. */
  | { code: 'not-absolute' }
  | { code: 'missing' }
  | { code: 'not-a-file'; folder: boolean }
  /** `detail`: Node's error code or text. */
  | { code: 'unreadable'; detail: string }
  | { code: 'text'; text: string }

export type WorkflowCode = WorkflowSaid['code']

/** Every code of each kind (a missing one fails the typecheck): what a journal line may carry. */
const NOTE_CODES: Record<JobNoteCode, true> = {
  cancelled: true,
  'cancelled-on': true,
  interrupted: true,
  'held-back': true,
  paused: true,
  waiting: true,
  'retried-as': true,
  'retry-of': true,
  moved: true,
  'missing-outputs': true,
  text: true
}
const ATTEMPT_CODES: Record<AttemptCode, true> = {
  sending: true,
  accepted: true,
  'not-received': true,
  unknown: true,
  'cannot-run': true,
  refused: true,
  failed: true,
  'upload-failed': true,
  'input-unreadable': true,
  text: true
}
const JOB_ERROR_CODES: Record<JobErrorCode, true> = {
  comfy: true,
  'server-error': true,
  refused: true,
  'server-removed': true,
  'no-server-took': true,
  'none-can-run': true,
  'lost-too-often': true,
  'moved-too-often': true,
  'no-result': true,
  'input-unreadable': true,
  internal: true,
  text: true
}

/** Whether a value read from a file is a said of a code we know (a newer version may write others). */
export function isKnownSaid(v: unknown, codes: Readonly<Record<string, true>>): boolean {
  if (!v || typeof v !== 'object') return false
  const code = (v as { code?: unknown }).code
  return typeof code === 'string' && Object.hasOwn(codes, code)
}

/**
 * A value from a journal line: a said of a known code as it is; a string (an older version's
 * sentence) or a said of an unknown code as a text said, so every face can still say it.
 */
function asSaid<S extends { code: string }>(v: unknown, codes: Readonly<Record<string, true>>): S {
  if (isKnownSaid(v, codes)) return v as S
  const text =
    typeof v === 'string' ? v : v && typeof v === 'object' ? JSON.stringify(v) : String(v ?? '')
  return { code: 'text', text: text.slice(0, 2000) } as unknown as S
}

/** Checks for the readers of journal lines. */
export const isKnownNote = (v: unknown): boolean => isKnownSaid(v, NOTE_CODES)
export const isKnownAttempt = (v: unknown): boolean => isKnownSaid(v, ATTEMPT_CODES)
export const isKnownJobError = (v: unknown): boolean => isKnownSaid(v, JOB_ERROR_CODES)

/** A note as read from a journal line (older lines have strings). */
export function noteSaid(v: unknown): JobNoteSaid {
  return asSaid<JobNoteSaid>(v, NOTE_CODES)
}

/**
 * The words older versions wrote as an attempt's state: read as their codes, so a job an
 * older version left "sending" (it crashed during the POST) is still asked about first.
 */
const OLD_ATTEMPT_STATES: Readonly<Record<string, AttemptSaid>> = {
  sending: { code: 'sending' },
  accepted: { code: 'accepted' },
  'not received': { code: 'not-received' },
  'unknown (server unreachable)': { code: 'unknown' }
}

/** An attempt's result as read from a journal line (older lines have strings). */
export function attemptSaid(v: unknown): AttemptSaid {
  if (typeof v === 'string' && Object.hasOwn(OLD_ATTEMPT_STATES, v)) {
    return { ...OLD_ATTEMPT_STATES[v]! }
  }
  return asSaid<AttemptSaid>(v, ATTEMPT_CODES)
}

/** A job error's said as read from a journal line (older lines have only the message). */
export function jobErrorSaid(said: unknown, message: unknown): JobErrorSaid {
  if (isKnownSaid(said, JOB_ERROR_CODES)) return said as JobErrorSaid
  // No said (an older line) or one of a code we do not know: its English message stands.
  const words = typeof message === 'string' && message ? message : said
  return asSaid<JobErrorSaid>(words ?? '', JOB_ERROR_CODES)
}

/** The last note that says a job waits and why (none: null). */
export function waitingChoice(notes: readonly JobNoteSaid[]): ChoiceSaid | null {
  const last = notes.at(-1)
  return last?.code === 'waiting' ? last.why : null
}
