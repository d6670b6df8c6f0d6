/** Text and JSON renderings of the fleet status for the terminal. */
import { stripControls as strip } from '../shared/terminal'
import type { FleetStatus, ServerStatus } from '../shared/types'
import type { ListedJob } from './jobs'
import { displayWidth, fit, padEnd, truncate } from './width'

/** The documented `status --json` object. `bestServer` is the best server's URL, or null. */
export interface StatusJson {
  total: number
  healthy: number
  bestServer: string | null
  lastHealthCheck: string | null
  servers: Array<{
    url: string
    name: string
    healthy: boolean
    /** null when the server did not answer (its queue is unknown). */
    queue: { running: number; pending: number; total: number } | null
    /** null when there was no answer. */
    latencyMs: number | null
    system: ServerStatus['system']
    error: string | null
    /** Expected wait before a new job would start there (ms), or null when unknown. */
    etaMs: number | null
  }>
}

export function statusJson(s: FleetStatus): StatusJson {
  const best = s.servers.find((x) => x.id === s.bestServerId)
  return {
    total: s.total,
    healthy: s.healthy,
    bestServer: best ? best.url : null,
    lastHealthCheck: s.lastHealthCheck === null ? null : new Date(s.lastHealthCheck).toISOString(),
    servers: s.servers.map((x) => ({
      url: x.url,
      name: x.name,
      healthy: x.healthy,
      queue: x.healthy ? { ...x.queue } : null,
      latencyMs: x.healthy ? x.latencyMs : null,
      system: x.system,
      error: x.healthy ? null : (x.error ?? 'not checked'),
      etaMs: x.etaMs
    }))
  }
}

const GB = 1024 ** 3

function gpu(s: ServerStatus): string {
  const d = s.system?.devices[0]
  if (!d) return ''
  const name = strip(d.name)
    .replace(/^cuda:\d+\s+/, '')
    .replace(/\s*:\s*\w+$/, '')
  if (d.vramTotal && d.vramFree !== null) {
    return `${name} ${(d.vramFree / GB).toFixed(1)}/${(d.vramTotal / GB).toFixed(1)} GB free`
  }
  return name
}

export interface TextOptions {
  /** Colour the states (stdout takes colours). */
  color?: boolean
  /** The terminal's width: long names and lines are cut with `…` to fit it. */
  columns?: number
}

const clamp = (n: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, n))

/** A human-readable table: one line per server, the best marked with `*`. */
export function statusText(s: FleetStatus, options: boolean | TextOptions = {}): string {
  const o = typeof options === 'boolean' ? { color: options } : options
  const color = Boolean(o.color)
  const cols = o.columns && o.columns > 0 ? o.columns : undefined
  const c = (code: number, t: string) => (color ? `\x1b[${code}m${t}\x1b[0m` : t)
  const best = s.servers.find((x) => x.id === s.bestServerId)
  const enabled = s.servers.filter((x) => x.enabled).length
  const head = best
    ? `${s.healthy}/${enabled} servers up - best: ${strip(best.name)} (${strip(s.reason)})`
    : `${s.healthy}/${enabled} servers up - no best server: ${strip(s.reason)}`
  const lines = [cols ? truncate(head, cols) : head]
  const nameCap = cols ? clamp(Math.floor(cols * 0.25), 6, 24) : 24
  const urlCap = cols ? clamp(Math.floor(cols * 0.35), 10, 40) : 40
  const nameW = Math.min(nameCap, Math.max(4, ...s.servers.map((x) => displayWidth(strip(x.name)))))
  const urlW = Math.min(urlCap, Math.max(3, ...s.servers.map((x) => displayWidth(strip(x.url)))))
  // ` * name  url  state  `
  const prefixW = 3 + nameW + 2 + urlW + 2 + 4 + 2
  for (const x of s.servers) {
    const mark = x.id === s.bestServerId ? c(1, '*') : ' '
    const state = !x.enabled ? c(90, 'off ') : x.healthy ? c(32, 'up  ') : c(31, 'DOWN')
    let detail: string
    if (x.healthy) {
      const parts = [
        `running ${x.queue.running}, pending ${x.queue.pending}, total ${x.queue.total}`,
        x.latencyMs === null ? '' : `${Math.round(x.latencyMs)} ms`,
        gpu(x),
        x.system?.comfyuiVersion ? `ComfyUI ${strip(x.system.comfyuiVersion)}` : '',
        x.legacyRoutes ? 'old routes' : ''
      ]
      detail = parts.filter(Boolean).join('  ')
    } else {
      detail = `queue unknown  ${strip(x.error ?? 'not checked')}`
    }
    if (cols) detail = truncate(detail, Math.max(0, cols - prefixW))
    lines.push(
      ` ${mark} ${fit(strip(x.name), nameW)}  ${fit(strip(x.url), urlW)}  ${state}  ${detail}`.trimEnd()
    )
  }
  return lines.join('\n')
}

/** What `jobs` lists of one job (see `listJobs`). */
export type JobRow = Pick<
  ListedJob,
  'id' | 'state' | 'server' | 'source' | 'updatedAt' | 'finishedAt' | 'owner' | 'runActive' | 'pid'
>

/** The `jobs` table: one line per job, columns lined up whatever the script of the names. */
export function jobsText(jobs: JobRow[], options: TextOptions = {}): string[] {
  const cols = options.columns && options.columns > 0 ? options.columns : undefined
  const serverW = cols ? clamp(Math.floor(cols * 0.25), 10, 26) : 26
  return jobs.map((j) => {
    const when = (j.finishedAt ?? j.updatedAt).replace('T', ' ').slice(0, 19)
    const who =
      j.owner === 'app' ? 'app' : j.runActive ? `cli, running (process ${j.pid})` : 'cli, ended'
    const head = `${j.id}  ${padEnd(j.state, 11)}  ${fit(strip(j.server ?? '-'), serverW)}  ${when}  `
    const tail = `  [${who}]`
    let source = strip(j.source)
    if (cols) source = truncate(source, Math.max(8, cols - displayWidth(head) - tail.length))
    const line = `${head}${source}${tail}`
    return cols ? truncate(line, cols) : line
  })
}
