import { afterEach, describe, expect, it } from 'vitest'
import {
  cleanDeviceName,
  fleetSummary,
  formatBytes,
  formatDuration,
  formatWait,
  jobTimes,
  overallProgress,
  queuedJobs,
  successRate
} from '../../src/renderer/src/lib/format'
import { partsText, setLocale } from '../../src/renderer/src/lib/i18n.svelte'
import { fleet, q, server } from '../core/helpers'

afterEach(() => setLocale('en'))

describe('format', () => {
  it('sums the queues of the healthy servers for the summary line', () => {
    const status = fleet(
      [
        server('gpu-1', { queue: q(1, 11) }),
        server('gpu-2', { queue: q(0, 0) }),
        server('gpu-3', { healthy: false, queue: q(5, 5) })
      ],
      'gpu-2'
    )
    expect(queuedJobs(status)).toBe(12)
    expect(partsText(fleetSummary(status))).toBe('2/3 up, best gpu-2, 12 jobs queued')
    expect(fleetSummary(status).find((p) => p.literal)?.text).toBe('gpu-2')
    const idle = fleet([server('a')], 'a')
    expect(partsText(fleetSummary(idle))).toBe('1/1 up, best a, nothing queued')
    expect(partsText(fleetSummary(fleet([], null)))).toBe('No servers yet')
    setLocale('zh-CN')
    expect(partsText(fleetSummary(status))).toBe('2/3 台在线，最佳 gpu-2，12 个任务排队中')
  })

  it('says sizes, durations and waits the way people do', () => {
    expect(formatBytes(24 * 1024 ** 3)).toBe('24.0 GB')
    expect(formatBytes(350 * 1024 ** 2)).toBe('350 MB')
    expect(formatBytes(1500)).toBe('1 KB')
    expect(formatDuration(420)).toBe('0.4 s')
    expect(formatDuration(12_400)).toBe('12 s')
    expect(formatDuration(185_000)).toBe('3 min 5 s')
    expect(formatDuration(120_000)).toBe('2 min')
    expect(formatDuration(3_720_000)).toBe('1 h 2 min')
    expect(formatWait(null)).toBe('wait unknown')
    expect(formatWait(100)).toBe('starts at once')
    expect(formatWait(30_000)).toBe('starts in about 30 s')
    setLocale('zh-CN')
    expect(formatWait(30_000)).toBe('约 30 秒后开始')
  })

  it('measures a job: overall progress, wait and run time', () => {
    expect(overallProgress(null)).toBeNull()
    const p = { node: '3', value: 10, max: 20, nodesDone: 3, nodesTotal: 7 }
    expect(overallProgress(p)).toBeCloseTo(3.5 / 7)
    expect(overallProgress({ ...p, node: null, nodesDone: 7 })).toBe(1)
    expect(jobTimes({ createdAt: 1000, startedAt: null, finishedAt: null }, 4000)).toEqual({
      queuedAt: 1000,
      waitedMs: 3000,
      ranMs: null
    })
    expect(jobTimes({ createdAt: 1000, startedAt: 1500, finishedAt: 9500 }, 20_000)).toEqual({
      queuedAt: 1000,
      waitedMs: 500,
      ranMs: 8000
    })
    // Cancelled before it started: it waited until then, and never ran.
    expect(jobTimes({ createdAt: 1000, startedAt: null, finishedAt: 3000 }, 20_000)).toEqual({
      queuedAt: 1000,
      waitedMs: 2000,
      ranMs: null
    })
  })

  it('reads the GPU name and the success rate', () => {
    expect(cleanDeviceName('cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync')).toBe(
      'NVIDIA GeForce RTX 4090'
    )
    expect(successRate({ checks: 0, successes: 0 })).toBeNull()
    expect(successRate({ checks: 3, successes: 2 })).toBe(67)
  })
})
