/** Pure formatting for the window: health, the fleet summary, sizes, times and durations. */
import type { FleetStatus, JobProgress, JobRecord, ServerStatus } from '../../../shared/types'
import { getLocale, t, tn, tParts, type Part } from './i18n.svelte'

export type Health = 'healthy' | 'down' | 'checking' | 'disabled'

export function healthOf(s: ServerStatus): Health {
  if (!s.enabled) return 'disabled'
  if (s.healthy) return 'healthy'
  // Not answered yet and no failure either: the first check is still running.
  if (s.lastCheck === null && s.error === null) return 'checking'
  return 'down'
}

const HEALTH_KEY = {
  healthy: 'healthHealthy',
  down: 'healthDown',
  checking: 'healthChecking',
  disabled: 'healthDisabled'
} as const

export function healthLabel(h: Health): string {
  return t(HEALTH_KEY[h])
}

/** Jobs waiting or running on the healthy servers. */
export function queuedJobs(status: FleetStatus): number {
  return status.servers.reduce((n, s) => n + (s.enabled && s.healthy ? s.queue.total : 0), 0)
}

/** `2/3 up, best gpu-1, 12 jobs queued`, counting enabled servers only (the name quoted). */
export function fleetSummary(status: FleetStatus): Part[] {
  const total = status.servers.filter((s) => s.enabled).length
  if (status.servers.length === 0) return tParts('summaryNoServers')
  if (status.lastHealthCheck === null) return tParts('summaryChecking', { total })
  const n = queuedJobs(status)
  const queued = n ? tn('summaryQueued', n) : t('summaryNothingQueued')
  return status.bestServer
    ? tParts('summaryBest', { up: status.healthy, total, queued }, { best: status.bestServer })
    : tParts('summaryNone', { up: status.healthy, total, queued })
}

/** Bytes as `23.6 GB` (MB below one GB, KB below one MB). */
export function formatBytes(bytes: number): string {
  const gb = bytes / 1024 ** 3
  if (gb >= 1) return `${gb.toFixed(1)} GB`
  if (bytes >= 1024 ** 2) return `${Math.round(bytes / 1024 ** 2)} MB`
  return `${Math.max(1, Math.round(bytes / 1024))} KB`
}

export function formatTime(epochMs: number): string {
  return new Date(epochMs).toLocaleTimeString(getLocale(), { hour12: false })
}

/** Today: the time; another day: the date and the time. */
export function formatWhen(epochMs: number, now: number): string {
  const d = new Date(epochMs)
  const today = new Date(now)
  if (d.toDateString() === today.toDateString()) return formatTime(epochMs)
  return d.toLocaleString(getLocale(), {
    hour12: false,
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit'
  })
}

export function formatLatency(ms: number): string {
  return t('msValue', { ms: ms < 10 ? ms.toFixed(1) : Math.round(ms) })
}

/** A duration for people: `0.4 s`, `12 s`, `3 min 5 s`, `1 h 2 min`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, ms) / 1000
  if (s < 10) return t('secondsValue', { s: s.toFixed(1) })
  if (s < 60) return t('secondsValue', { s: Math.round(s) })
  const total = Math.round(s)
  if (total < 3600) {
    const m = Math.floor(total / 60)
    const rest = total % 60
    return rest ? t('minutesSecondsValue', { m, s: rest }) : t('minutesValue', { m })
  }
  const h = Math.floor(total / 3600)
  const m = Math.floor((total % 3600) / 60)
  return m ? t('hoursMinutesValue', { h, m }) : t('hoursValue', { h })
}

/** The expected wait before a new job starts on a server. */
export function formatWait(etaMs: number | null): string {
  if (etaMs === null) return t('waitUnknown')
  if (etaMs < 500) return t('waitNone')
  return t('waitAbout', { time: formatDuration(etaMs) })
}

/** Checks that succeeded, as a whole percentage, or null before the first check. */
export function successRate(s: Pick<ServerStatus, 'checks' | 'successes'>): number | null {
  return s.checks > 0 ? Math.round((100 * s.successes) / s.checks) : null
}

/** `cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync` -> `NVIDIA GeForce RTX 4090`. */
export function cleanDeviceName(name: string): string {
  return name
    .replace(/^[a-z]+:\d+\s+/i, '')
    .replace(/\s+:\s+\S+$/, '')
    .trim()
}

/**
 * How far a job is, from 0 to 1: finished nodes plus the share of the current node's steps.
 * Null while nothing is known (not started).
 */
export function overallProgress(p: JobProgress | null): number | null {
  if (!p || p.nodesTotal <= 0) return null
  const step = p.max > 0 ? Math.min(1, p.value / p.max) : 0
  const running = p.node !== null && p.nodesDone < p.nodesTotal ? step : 0
  return Math.min(1, (p.nodesDone + running) / p.nodesTotal)
}

/** The times of a job: when it was queued, how long it waited, how long it ran (so far). */
export function jobTimes(
  job: Pick<JobRecord, 'createdAt' | 'startedAt' | 'finishedAt'>,
  now: number
): { queuedAt: number; waitedMs: number; ranMs: number | null } {
  const startOrEnd = job.startedAt ?? job.finishedAt ?? now
  return {
    queuedAt: job.createdAt,
    waitedMs: Math.max(0, startOrEnd - job.createdAt),
    ranMs: job.startedAt === null ? null : Math.max(0, (job.finishedAt ?? now) - job.startedAt)
  }
}
