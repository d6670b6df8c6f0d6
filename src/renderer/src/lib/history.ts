/**
 * Each server's queue over the last 30 minutes: loaded once (`status.history()`), then kept
 * current from the status pushes, never polled. And the path of its small chart.
 */
import type { QueueHistory } from '../../../shared/ipc'
import type { FleetStatus } from '../../../shared/types'

/** The chart's window. */
export const HISTORY_MS = 30 * 60_000
/** The chart spans at least this much, so a fresh start is not stretched across the width. */
export const MIN_CHART_MS = 60_000
/** Points kept per server (a check every second for 30 minutes, with room to spare). */
export const HISTORY_MAX_POINTS = 2000

/**
 * Adds one point per server from a status push: its queue total (0 when it is not healthy, as
 * the engine's own history does), at the time of its last check. A point that repeats the last
 * value is kept only when the last one is older than `minGapMs` (the line stays flat anyway).
 * Returns the same object when nothing changed.
 */
export function appendSamples(
  history: QueueHistory,
  status: FleetStatus,
  now: number,
  minGapMs = 5_000
): QueueHistory {
  let next: QueueHistory | null = null
  const cutoff = now - HISTORY_MS
  for (const s of status.servers) {
    const at = s.lastCheck ?? now
    const total = s.enabled && s.healthy ? s.queue.total : 0
    const points = history[s.id] ?? []
    const last = points.at(-1)
    if (s.lastCheck === null && !last) continue
    if (last && (at < last[0] || (last[1] === total && at - last[0] < minGapMs))) continue
    let kept = [...points, [at, total] as [number, number]]
    const firstKept = kept.findIndex((p) => p[0] >= cutoff)
    // Keep the one point before the window: it says where the line enters the chart.
    if (firstKept > 1) kept = kept.slice(firstKept - 1)
    if (kept.length > HISTORY_MAX_POINTS) kept = kept.slice(-HISTORY_MAX_POINTS)
    next ??= { ...history }
    next[s.id] = kept
  }
  if (next) {
    // Servers that left the list leave the history too.
    const ids = new Set(status.servers.map((s) => s.id))
    for (const id of Object.keys(next)) if (!ids.has(id)) delete next[id]
  }
  return next ?? history
}

export interface SparklineShape {
  /** SVG path of the line (steps: a queue holds its length until the next change). */
  line: string
  /** The same, closed along the bottom, for the shaded area. */
  area: string
  /** The largest queue in the window (the top of the chart). */
  max: number
  /** The latest value. */
  last: number
  /** The time the chart spans (up to `HISTORY_MS`; shorter while there is less history). */
  windowMs: number
}

/**
 * The chart of one server's queue over the last 30 minutes (or since the first point, at least
 * `MIN_CHART_MS`) in a `width` x `height` box. The scale starts at 0 and goes at least to 1, so
 * an idle server is a flat line at the bottom.
 */
export function sparkline(
  points: ReadonlyArray<readonly [number, number]>,
  now: number,
  width: number,
  height: number
): SparklineShape | null {
  if (!points.length) return null
  const windowMs = Math.min(HISTORY_MS, Math.max(MIN_CHART_MS, now - points[0]![0]))
  const start = now - windowMs
  const inWindow = points.filter((p) => p[0] >= start)
  const before = points.filter((p) => p[0] < start).at(-1)
  const shown = before ? [[start, before[1]] as const, ...inWindow] : inWindow
  if (!shown.length) return null
  const max = Math.max(1, ...shown.map((p) => p[1]))
  const pad = 1.5
  const x = (time: number) => ((Math.max(start, time) - start) / windowMs) * width
  const y = (v: number) => height - pad - (v / max) * (height - 2 * pad)
  const r = (n: number) => Math.round(n * 10) / 10
  let d = `M${r(x(shown[0]![0]))},${r(y(shown[0]![1]))}`
  for (let i = 1; i < shown.length; i++) {
    d += `H${r(x(shown[i]![0]))}V${r(y(shown[i]![1]))}`
  }
  d += `H${width}`
  const area = `${d}V${height}H${r(x(shown[0]![0]))}Z`
  return {
    line: d,
    area,
    max: Math.max(...shown.map((p) => p[1])),
    last: shown.at(-1)![1],
    windowMs
  }
}
