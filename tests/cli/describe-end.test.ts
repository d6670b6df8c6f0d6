/**
 * The one line for how a job ended, for a job the running app reports: its data is not trusted
 * to carry a reason of the shape its code promises.
 */
import { describe, expect, it } from 'vitest'
import { describeEnd } from '../../src/cli/submit'
import type { JobRecord } from '../../src/shared/types'

const failed = (error: unknown): JobRecord =>
  ({
    id: 'p1',
    state: 'failed',
    source: 'a.json',
    createdAt: 1,
    updatedAt: 2,
    finishedAt: 2,
    serverUrl: null,
    outputs: [],
    attempts: [],
    notes: [],
    error
  }) as unknown as JobRecord

describe('describeEnd', () => {
  it('says a failed job by its message, even when its reason lacks the fields its code has', () => {
    const j = failed({ said: { code: 'no-server-took' }, message: 'No server could take the job' })
    expect(describeEnd(j)).toBe('Failed: No server could take the job')
    const k = failed({
      said: { code: 'no-result' },
      message: 'No result',
      nodeId: '9',
      nodeType: 'KSampler'
    })
    expect(describeEnd(k)).toBe('Failed: No result (node 9, KSampler)')
  })

  it('strips terminal controls and ignores fields that are not text', () => {
    const j = failed({ message: 'bad \u001b[31mred\u001b[0m', nodeId: 7, nodeType: {} })
    expect(describeEnd(j)).toBe('Failed: bad red')
    expect(describeEnd(failed({ message: 42 }))).toBe('Failed: unknown error')
  })
})
