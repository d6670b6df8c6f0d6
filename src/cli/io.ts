/**
 * What a CLI command may touch: output, environment, and the user's Ctrl-C.
 *
 * stdout carries only the result (a table, a list, one JSON document), so pipes stay clean;
 * everything meant for a person watching (banners, notes, progress) goes to stderr through
 * `human` and `progress`.
 */
import { truncate } from './width'

export interface CliIo {
  /** One line of the result: stdout. */
  out: (line: string) => void
  /** Errors and warnings: stderr. */
  err: (line: string) => void
  env: NodeJS.ProcessEnv
  /** stdout is a terminal. */
  isTty: boolean
  /** Resolves when the user asks to stop (Ctrl-C, SIGTERM). */
  interrupted: Promise<void>
  /** Lines for a person only (banners, notes, progress steps): stderr. Defaults to `err`. */
  human?: (line: string) => void
  /**
   * Redraws one live progress line in place on stderr's terminal; `null` ends it (the last line
   * stays). Does nothing when stderr is no terminal: then send the steps worth keeping to `human`.
   */
  progress?: (line: string | null) => void
  /** stderr is a terminal, so `progress` draws. */
  liveProgress?: boolean
  /** stdout takes colours (NO_COLOR, FORCE_COLOR and TERM=dumb honoured). */
  color?: boolean
  /** Columns of stdout's terminal; undefined when stdout is no terminal. */
  columns?: number
}

/** Writes a line meant for a person: `io.human`, or stderr. */
export function human(io: CliIo, line: string): void {
  ;(io.human ?? io.err)(line)
}

/** A stream as far as colours and width go. */
export interface TermStream {
  isTTY?: boolean
  columns?: number
  hasColors?: (env?: object) => boolean
  write: (chunk: string) => unknown
}

const FORCE_OFF = new Set(['0', 'false'])

/**
 * Whether `stream` takes colours: a terminal asks `stream.hasColors(env)` (which honours
 * NO_COLOR, FORCE_COLOR, NODE_DISABLE_COLORS and TERM=dumb); anything else only with FORCE_COLOR.
 */
export function streamColors(stream: TermStream, env: NodeJS.ProcessEnv): boolean {
  if (stream.isTTY && typeof stream.hasColors === 'function') return stream.hasColors(env)
  const force = env.FORCE_COLOR
  return force !== undefined && !FORCE_OFF.has(force.toLowerCase())
}

/** The io of the real process on `stdout` / `stderr`. */
export function streamIo(
  interrupted: Promise<void>,
  streams: { stdout: TermStream; stderr: TermStream; env: NodeJS.ProcessEnv } = {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env
  }
): CliIo {
  const { stdout, stderr, env } = streams
  const live = Boolean(stderr.isTTY)
  /** The progress line on screen, or null. */
  let shown: string | null = null
  const CLEAR = '\r\x1b[K'
  /** Writes a whole line, moving a progress line out of the way on the terminal first. */
  const line = (stream: TermStream, text: string) => {
    const sameScreen = shown !== null && Boolean(stream.isTTY)
    if (sameScreen) stderr.write(CLEAR)
    stream.write(`${text}\n`)
    if (sameScreen && shown !== null) stderr.write(shown)
  }
  return {
    out: (l) => line(stdout, l),
    err: (l) => line(stderr, l),
    human: (l) => line(stderr, l),
    progress: (l) => {
      if (!live) return
      if (l === null) {
        if (shown !== null) stderr.write('\n')
        shown = null
        return
      }
      // One column short of the width, so the terminal never wraps it.
      const width = stderr.columns && stderr.columns > 1 ? stderr.columns - 1 : 79
      shown = truncate(l, width)
      stderr.write(CLEAR + shown)
    },
    liveProgress: live,
    env,
    isTty: Boolean(stdout.isTTY),
    color: streamColors(stdout, env),
    columns: stdout.isTTY && stdout.columns ? stdout.columns : undefined,
    interrupted
  }
}
