/** Pure formatting of the fleet status for the window. */
import type { FleetStatus, ServerStatus } from '../../../shared/types'
import { getLocale, t } from './i18n'

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

/** `2/3 up, best gpu-1`, counting enabled servers only. */
export function fleetSummary(status: FleetStatus): string {
  const total = status.servers.filter((s) => s.enabled).length
  if (status.servers.length === 0) return t('summaryNoServers')
  if (status.lastHealthCheck === null) return t('summaryChecking', { total })
  return status.bestServer
    ? t('summaryBest', { up: status.healthy, total, best: status.bestServer })
    : t('summaryNone', { up: status.healthy, total })
}

/** Bytes as `23.6 GB` (or MB below one GB). */
export function formatBytes(bytes: number): string {
  const gb = bytes / 1024 ** 3
  if (gb >= 1) return `${gb.toFixed(1)} GB`
  return `${Math.round(bytes / 1024 ** 2)} MB`
}

export function formatTime(epochMs: number): string {
  return new Date(epochMs).toLocaleTimeString(getLocale(), { hour12: false })
}

export function formatLatency(ms: number): string {
  return t('latencyValue', { ms: ms < 10 ? ms.toFixed(1) : Math.round(ms) })
}

/** `cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync` -> `NVIDIA GeForce RTX 4090`. */
export function cleanDeviceName(name: string): string {
  return name
    .replace(/^[a-z]+:\d+\s+/i, '')
    .replace(/\s+:\s+\S+$/, '')
    .trim()
}
