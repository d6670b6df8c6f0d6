/**
 * Reasons as data (architecture invariant 7): why a server is down or failed a check
 * (`ServerSaid`), and why a server was chosen or left out (`ChoiceSaid`). The core says codes
 * with values; each face renders them in its own language at its edge (English for the log and
 * the CLI in `core/log.ts`, the window in `renderer/src/lib/said.ts`, the tray and notifications
 * in `main/messages.ts`). Texts from ComfyUI, Node or a server (a host name, an error code, a
 * missing node's name) travel as literal values, never translated.
 */

/** Why a server is down, or why one request to it failed. */
export type ServerSaid =
  | { code: 'timeout'; ms: number }
  /** A download where nothing arrived for `ms`. */
  | { code: 'stalled'; ms: number }
  | { code: 'refused' }
  | { code: 'host-not-found'; host: string | null }
  | { code: 'closed' }
  | { code: 'unreachable' }
  | { code: 'broken-http' }
  /** `detail` is the TLS error code as Node gave it. */
  | { code: 'tls'; detail: string }
  /** `proxyPage`: a 5xx answered with an HTML page (a proxy's, not ComfyUI's). */
  | { code: 'http'; status: number; proxyPage: boolean }
  /** `page`: a web page (a proxy or login page) rather than other non-JSON. */
  | { code: 'not-json'; page: boolean }
  /** `what`: which answer (as the core names it); `detail`: what was wrong in it. */
  | { code: 'bad-shape'; what: string; detail?: string }
  /** Any other transport failure; `detail` is Node's own text. */
  | { code: 'network'; detail: string }
  | { code: 'bad-url' }
  | { code: 'not-http'; protocol: string }
  | { code: 'stopped' }
  /** Sent elsewhere (`to`, passwords hidden) and not followed. */
  | { code: 'redirect'; to: string }
  | { code: 'redirect-invalid' }
  /** A POST answered with a redirect that would turn it into a GET. */
  | { code: 'redirect-post'; status: number }
  | { code: 'redirect-loop' }
  | { code: 'too-large'; what: 'answer' | 'file' | 'request'; limitBytes: number }
  | { code: 'disabled' }
  /** A text with no code (from an older version or an unknown source), shown as it is. */
  | { code: 'text'; text: string }

export type ServerCode = ServerSaid['code']

/** What one server lacks to run a workflow (names as the workflow has them). */
export interface Lacks {
  /** The server's display name. */
  name: string
  nodes: string[]
  models: string[]
  /** Words with no data (from a source that gave only text), shown as they are. */
  text?: string
}

/** Why a server was chosen, or why none was. */
export type ChoiceSaid =
  | { code: 'no-servers' }
  | { code: 'all-disabled' }
  | { code: 'not-checked' }
  | { code: 'none-healthy'; total: number }
  /** Healthy servers exist, but none has what the workflow needs. */
  | { code: 'none-capable'; servers: Lacks[] }
  | { code: 'only-healthy' }
  /** Queue weighting off: the next healthy server after the previous choice. */
  | { code: 'round-robin' }
  /** The smallest queue (`n` jobs); `tie`: first in the list among that many equal. */
  | { code: 'shortest-queue'; n: number; tie?: number }
  /**
   * Expected completion. `queue` is the jobs ahead while the server's run time is not known
   * yet (then the queue is what is said), else null and `startMs`/`doneMs` are said.
   * `about`: one of that many about equal; `justBack`: the server just came back;
   * `lacking`: that many servers lack what the job needs.
   */
  | {
      code: 'expected'
      queue: number | null
      startMs: number
      doneMs: number
      about?: number
      justBack?: boolean
      lacking?: number
    }
  /** `then`, and `n` servers were left out because they already failed this job. */
  | { code: 'tried'; n: number; then: ChoiceSaid }
  | { code: 'all-tried'; n: number }
  /** The job waits in the app until a server is about to be free. */
  | { code: 'held-back' }
  /** The best server is `then`'s, and the next job waits here until it is about to be free. */
  | { code: 'held-for'; then: ChoiceSaid }
  | { code: 'text'; text: string }

export type ChoiceCode = ChoiceSaid['code']

/** The said of one code. */
export type SaidOf<S extends { code: string }, C extends S['code']> = Extract<S, { code: C }>

/**
 * A table that renders every code of `S` (a missing one fails the typecheck when the table is
 * declared with `satisfies SaidTable<...>`).
 */
export type SaidTable<S extends { code: string }, Out> = {
  [C in S['code']]: (said: SaidOf<S, C>) => Out
}

/** Renders a said with a table. */
export function render<S extends { code: string }, Out>(table: SaidTable<S, Out>, said: S): Out {
  return (table[said.code as S['code']] as (s: S) => Out)(said)
}

/** Seconds as the reasons say them: one decimal under 10 s, whole seconds above. */
export function seconds(ms: number): string {
  return ms < 10_000 ? (ms / 1000).toFixed(1) : String(Math.round(ms / 1000))
}

/** "64 MB", "1 GB", "1500 bytes": a size limit in words (units are the same in every language). */
export function sizeText(bytes: number): string {
  const MB = 1024 * 1024
  if (bytes >= 1024 * MB && bytes % (1024 * MB) === 0) return `${bytes / (1024 * MB)} GB`
  if (bytes >= MB) return `${Math.round((bytes / MB) * 10) / 10} MB`
  if (bytes >= 1024) return `${Math.round((bytes / 1024) * 10) / 10} KB`
  return `${bytes} bytes`
}

/** Standard HTTP status words (English, as the protocol has them). */
export const HTTP_STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout'
}

/** A 401 or 403: the address or its auth header is likely wrong. */
export function isAuthStatus(status: number): boolean {
  return status === 401 || status === 403
}
