/** Text and JSON renderings of the fleet status for the terminal. */
import { stripControls as strip } from '../shared/terminal'
import type { FleetStatus, ServerStatus } from '../shared/types'

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

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length)
}

/** A human-readable table: one line per server, the best marked with `*`. */
export function statusText(s: FleetStatus, color = false): string {
  const c = (code: number, t: string) => (color ? `\x1b[${code}m${t}\x1b[0m` : t)
  const best = s.servers.find((x) => x.id === s.bestServerId)
  const enabled = s.servers.filter((x) => x.enabled).length
  const head = best
    ? `${s.healthy}/${enabled} servers up - best: ${strip(best.name)} (${strip(s.reason)})`
    : `${s.healthy}/${enabled} servers up - no best server: ${strip(s.reason)}`
  const lines = [head]
  const nameW = Math.min(24, Math.max(4, ...s.servers.map((x) => strip(x.name).length)))
  const urlW = Math.min(40, Math.max(3, ...s.servers.map((x) => strip(x.url).length)))
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
    lines.push(
      ` ${mark} ${pad(strip(x.name), nameW)}  ${pad(strip(x.url), urlW)}  ${state}  ${detail}`
    )
  }
  return lines.join('\n')
}
