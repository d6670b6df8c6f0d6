/**
 * The log file: the core's concise (and, when switched on, verbose) lines, one per line with
 * time and level, in the app's log folder. Lines are buffered and written in small batches off
 * the check loop's path; the file is rotated by size (`comfy-balancer.log`, `.1.log`, ...
 * `.<keep>.log`) so it never grows without bound. Plain Node: tested without Electron.
 */
import fs from 'node:fs'
import path from 'node:path'
import { systemClock, type Clock } from './core/app'
import type { LogLine } from '../shared/types'

export interface LogFileOptions {
  /** The app's log folder (Electron's `app.getPath('logs')`). */
  dir: string
  /** @default 'comfy-balancer.log' */
  name?: string
  /** The file is rotated before it would grow past this. @default 1 MiB */
  maxBytes?: number
  /** Rotated files kept. @default 4 */
  keep?: number
  /** How long lines wait in memory before they are written. @default 1000 ms */
  flushDelayMs?: number
  /** Lines buffered before they are written at once. @default 200 */
  maxBuffered?: number
  /** Applied to every line before it is written (hides secrets). */
  redact?: (text: string) => string
  clock?: Clock
}

const LEVELS: Record<LogLine['level'], string> = {
  info: 'INFO ',
  verbose: 'DEBUG',
  warn: 'WARN ',
  error: 'ERROR'
}

/** `2026-11-26T17:00:01.123Z INFO  [LoadBalancer] Available servers: 2/3, ...` */
export function formatLogLine(line: LogLine): string {
  const message = line.message.replace(/\r?\n/g, '\n    ')
  return `${new Date(line.time).toISOString()} ${LEVELS[line.level]} ${message}\n`
}

export class RotatingLogFile {
  readonly path: string
  private readonly maxBytes: number
  private readonly keep: number
  private readonly flushDelayMs: number
  private readonly maxBuffered: number
  private readonly redact: (text: string) => string
  private readonly clock: Clock
  private buffer: string[] = []
  /** Size of the current file, learned once and then counted. */
  private size: number | null = null
  /** Pending flush; set while lines wait in `buffer`. */
  private timer: unknown = null
  private closed = false
  /** The last write error, reported once so a full disk does not flood the console. */
  private failed = false

  constructor(private readonly opts: LogFileOptions) {
    this.path = path.join(opts.dir, opts.name ?? 'comfy-balancer.log')
    this.maxBytes = opts.maxBytes ?? 1024 * 1024
    this.keep = opts.keep ?? 4
    this.flushDelayMs = opts.flushDelayMs ?? 1000
    this.maxBuffered = opts.maxBuffered ?? 200
    this.redact = opts.redact ?? ((t) => t)
    this.clock = opts.clock ?? systemClock
  }

  /** Queues one line; it reaches the disk within `flushDelayMs`. */
  write(line: LogLine): void {
    if (this.closed) return
    this.buffer.push(formatLogLine({ ...line, message: this.redact(line.message) }))
    if (this.buffer.length >= this.maxBuffered) this.flush()
    else if (this.timer === null) {
      this.timer = this.clock.setTimeout(() => {
        this.timer = null
        this.flush()
      }, this.flushDelayMs)
    }
  }

  /** Writes every buffered line now (synchronously: also used on quit). */
  flush(): void {
    if (this.timer !== null) {
      this.clock.clearTimeout(this.timer)
      this.timer = null
    }
    if (this.buffer.length === 0) return
    const lines = this.buffer
    this.buffer = []
    try {
      fs.mkdirSync(this.opts.dir, { recursive: true })
      this.size ??= fileSize(this.path)
      let chunk = ''
      let chunkBytes = 0
      for (const l of lines) {
        const bytes = Buffer.byteLength(l)
        // Rotate before a line that would overflow a file that already has something in it.
        if (this.size + chunkBytes + bytes > this.maxBytes && this.size + chunkBytes > 0) {
          if (chunk) fs.appendFileSync(this.path, chunk)
          chunk = ''
          chunkBytes = 0
          this.rotate()
        }
        chunk += l
        chunkBytes += bytes
      }
      if (chunk) {
        fs.appendFileSync(this.path, chunk)
        this.size += chunkBytes
      }
      this.failed = false
    } catch (err) {
      this.size = null
      if (!this.failed)
        console.error(`[comfy-balancer] cannot write the log file ${this.path}:`, err)
      this.failed = true
    }
  }

  /** Flushes and stops; later lines are dropped. Safe to call twice. */
  close(): void {
    this.flush()
    this.closed = true
  }

  /** The log file and its rotated copies, newest first. */
  files(): string[] {
    return [this.path, ...Array.from({ length: this.keep }, (_, i) => this.rotated(i + 1))].filter(
      (f) => fs.existsSync(f)
    )
  }

  private rotated(n: number): string {
    return this.path.replace(/\.log$/, '') + `.${n}.log`
  }

  private rotate(): void {
    fs.rmSync(this.rotated(this.keep), { force: true })
    for (let n = this.keep - 1; n >= 1; n--) {
      if (fs.existsSync(this.rotated(n))) fs.renameSync(this.rotated(n), this.rotated(n + 1))
    }
    if (this.keep > 0 && fs.existsSync(this.path)) fs.renameSync(this.path, this.rotated(1))
    else fs.rmSync(this.path, { force: true })
    this.size = 0
  }
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size
  } catch {
    return 0
  }
}
