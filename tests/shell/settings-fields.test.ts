import { describe, expect, it } from 'vitest'
import { LIMITS } from '../../src/main/core/settings'
import { NUMBER_FIELDS, parseField, shown } from '../../src/renderer/src/lib/settings-fields'

describe("the settings view's number fields", () => {
  it('use the engine bounds', () => {
    for (const [field, limits] of Object.entries(LIMITS)) {
      const spec = NUMBER_FIELDS[field as keyof typeof NUMBER_FIELDS]
      expect({ min: spec.min, max: spec.max }, field).toEqual(limits)
    }
  })

  it('show seconds, save milliseconds, and say what is wrong', () => {
    expect(shown('healthCheckInterval', 30_000)).toBe('30')
    expect(shown('timeout', 800)).toBe('0.8')
    expect(parseField('timeout', ' 2,5 ')).toEqual({ ok: true, value: 2500 })
    expect(parseField('healthCheckInterval', '0.1')).toEqual({
      ok: false,
      problem: 'range',
      min: '0.5',
      max: '3600'
    })
    expect(parseField('retryAttempts', '1.5')).toMatchObject({ ok: false, problem: 'notWhole' })
    expect(parseField('jobHistoryLimit', 'lots')).toMatchObject({ ok: false, problem: 'notNumber' })
    expect(parseField('jobHistoryLimit', '')).toMatchObject({ ok: false, problem: 'notNumber' })
  })
})
