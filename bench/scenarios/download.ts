/**
 * download: one job on one fake server whose output is a 1 GB generated file (FakeSaveFile),
 * run through the core with its defaults, so the engine's tracker saves it. This process's
 * memory is sampled every 10 ms from the submit until the job is done: rss and arrayBuffers
 * (Buffers live there) at the start, after a GC, and at their peak. Held whole, the file
 * would add 1024 MB to both; streamed to disk, both stay flat.
 */
import fs from 'node:fs'
import { loadWorkflowBytes } from '../../src/main/core/jobs/workflow'
import type { FleetHost } from '../fleet-host'
import { makeCore, now, round1, startCore, withTimeout } from '../lib'

export interface DownloadResult {
  config: { bytes: number; sampleMs: number }
  ms: number
  mbPerSecond: number
  savedBytes: number
  rssStartMB: number
  rssPeakMB: number
  rssGrowthMB: number
  arrayBuffersStartMB: number
  arrayBuffersPeakMB: number
  arrayBuffersGrowthMB: number
}

const MB = 1024 * 1024

export async function runDownload(host: FleetHost, bytes: number): Promise<DownloadResult> {
  const sampleMs = 10
  const fleet = await host.startFleet(1, 0)
  const bc = makeCore('ours', fleet.urls, { tag: 'download', timeoutMs: 10_000 })
  try {
    await startCore(bc, 1)
    const prompt = {
      '1': {
        class_type: 'FakeSaveFile',
        inputs: { filename: 'big_output.bin', bytes, count: 1 }
      }
    }
    const wf = loadWorkflowBytes(Buffer.from(JSON.stringify(prompt)), 'big-output.json')
    ;(globalThis as { gc?: () => void }).gc?.()
    const start = process.memoryUsage()
    let rssPeak = start.rss
    let abPeak = start.arrayBuffers
    const sample = setInterval(() => {
      const m = process.memoryUsage()
      rssPeak = Math.max(rssPeak, m.rss)
      abPeak = Math.max(abPeak, m.arrayBuffers)
    }, sampleMs)
    const t0 = now()
    let job
    try {
      const engine = bc.core.jobs!
      const id = engine.submit(wf).id
      job = await withTimeout(engine.waitFor(id), 600_000, 'download')
    } finally {
      clearInterval(sample)
    }
    const ms = now() - t0
    if (job.state !== 'done') throw new Error(`the job ended ${job.state}: ${job.error?.message}`)
    const saved = job.outputs.map((o) => fs.statSync(o.path).size).reduce((a, b) => a + b, 0)
    for (const o of job.outputs) fs.rmSync(o.path, { force: true })
    return {
      config: { bytes, sampleMs },
      ms: Math.round(ms),
      mbPerSecond: round1(bytes / MB / (ms / 1000)),
      savedBytes: saved,
      rssStartMB: round1(start.rss / MB),
      rssPeakMB: round1(rssPeak / MB),
      rssGrowthMB: round1((rssPeak - start.rss) / MB),
      arrayBuffersStartMB: round1(start.arrayBuffers / MB),
      arrayBuffersPeakMB: round1(abPeak / MB),
      arrayBuffersGrowthMB: round1((abPeak - start.arrayBuffers) / MB)
    }
  } finally {
    await bc.stop()
    await host.stopFleet(fleet)
  }
}
