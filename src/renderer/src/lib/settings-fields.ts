/**
 * The number fields of the settings view: shown in the units people think in (seconds), saved
 * in the engine's (ms), checked as they are typed. The bounds are the engine's own (`LIMITS` in
 * src/main/core/settings.ts; tests/shell/settings-fields.test.ts keeps them equal), which checks
 * again when the value arrives.
 */
import type { BalancerSettings, AppPreferences } from '../../../shared/types'

export type NumberField = keyof Pick<
  BalancerSettings & AppPreferences,
  'healthCheckInterval' | 'timeout' | 'retryAttempts' | 'jobHistoryLimit'
>

export interface FieldSpec {
  /** Engine units per shown unit (1000 for ms shown as seconds). */
  scale: number
  /** Bounds in engine units. */
  min: number
  max: number
  /** Step of the input, in shown units. */
  step: number
}

export const NUMBER_FIELDS: Record<NumberField, FieldSpec> = {
  healthCheckInterval: { scale: 1000, min: 500, max: 3_600_000, step: 0.5 },
  timeout: { scale: 1000, min: 100, max: 600_000, step: 0.1 },
  retryAttempts: { scale: 1, min: 0, max: 20, step: 1 },
  jobHistoryLimit: { scale: 1, min: 10, max: 100_000, step: 10 }
}

/** A value in engine units as the field shows it (`30000` ms -> `30`). */
export function shown(field: NumberField, value: number): string {
  const v = value / NUMBER_FIELDS[field].scale
  return String(Math.round(v * 1000) / 1000)
}

/**
 * What the user typed, in engine units, or why it cannot be saved: not a number, not whole
 * (counts), or out of bounds (with the bounds in shown units).
 */
export function parseField(
  field: NumberField,
  text: string
):
  | { ok: true; value: number }
  | { ok: false; problem: 'notNumber' | 'notWhole' | 'range'; min: string; max: string } {
  const spec = NUMBER_FIELDS[field]
  const bounds = { min: shown(field, spec.min), max: shown(field, spec.max) }
  const n = Number(text.trim().replace(',', '.'))
  if (!text.trim() || !Number.isFinite(n)) return { ok: false, problem: 'notNumber', ...bounds }
  const value = Math.round(n * spec.scale)
  if (spec.scale === 1 && !Number.isInteger(n)) return { ok: false, problem: 'notWhole', ...bounds }
  if (value < spec.min || value > spec.max) return { ok: false, problem: 'range', ...bounds }
  return { ok: true, value }
}
