/**
 * submitOverhead: N submissions, one at a time, to one fast fake (jobMs 0) through the core
 * with its defaults. Latency = submit() until the job record says the server accepted it
 * (journal writes with fsync, the policy, the POST, the bookkeeping). The server's own
 * handling is approximated by the same POST /prompt sent by a plain fetch loop (and, for
 * reference, through the core's own HTTP transport without the engine). The three are
 * interleaved, each on an idle server, and the overhead is the difference of the percentiles.
 */
import { randomUUID } from 'node:crypto'
import { createAxiosTransport } from '../../src/main/core/comfy/transport'
import type { FleetHost } from '../fleet-host'
import {
  makeCore,
  now,
  percentile,
  round2,
  standardPrompt,
  standardWorkflow,
  startCore,
  withTimeout
} from '../lib'

export interface SubmitOverheadResult {
  config: { submissions: number; jobMs: number; warmup: number; journal: string }
  /** Core submit-to-accepted minus the plain fetch POST, at the median. */
  p50Ms: number
  p99Ms: number
  acceptP50Ms: number
  acceptP99Ms: number
  plainPostP50Ms: number
  plainPostP99Ms: number
  /** The same POST through the core's HTTP transport (axios, keep-alive), without the engine. */
  transportPostP50Ms: number
  transportPostP99Ms: number
}

export async function runSubmitOverhead(host: FleetHost, n: number): Promise<SubmitOverheadResult> {
  const warmup = 20
  const fleet = await host.startFleet(1, 0)
  const bc = makeCore('ours', fleet.urls, { tag: 'submit' })
  const transport = createAxiosTransport()
  try {
    await startCore(bc, 1)
    const url = `${fleet.urls[0]}/api/prompt`
    const prompt = standardPrompt()
    const engine = bc.core.jobs!
    const wf = standardWorkflow()
    const accepted = new Map<string, number>()
    bc.core.events.on('job', (j) => {
      if (j.state !== 'pending' && !accepted.has(j.id)) accepted.set(j.id, now())
    })
    const plain: number[] = []
    const viaTransport: number[] = []
    const lat: number[] = []
    await withTimeout(
      (async () => {
        for (let i = 0; i < n + warmup; i++) {
          // 1. plain fetch
          let body = JSON.stringify({ prompt, client_id: 'plain', prompt_id: randomUUID() })
          let t = now()
          const res = await fetch(url, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body
          })
          await res.arrayBuffer()
          if (!res.ok) throw new Error(`plain POST answered ${res.status}`)
          if (i >= warmup) plain.push(now() - t)
          await host.idle(fleet)
          // 2. the core's transport alone
          body = JSON.stringify({ prompt, client_id: 'plain', prompt_id: randomUUID() })
          t = now()
          const r2 = await transport.request({
            method: 'POST',
            url,
            body: JSON.parse(body) as unknown,
            timeoutMs: 10_000
          })
          if (r2.status !== 200) throw new Error(`transport POST answered ${r2.status}`)
          if (i >= warmup) viaTransport.push(now() - t)
          await host.idle(fleet)
          // 3. through the core
          t = now()
          const id = engine.submit(wf).id
          const r = await engine.waitFor(id)
          if (r.state !== 'done') throw new Error(`job ended ${r.state}: ${r.error?.message}`)
          const a = accepted.get(id)
          if (a === undefined) throw new Error('a job was never accepted')
          if (i >= warmup) lat.push(a - t)
          accepted.delete(id)
          await host.idle(fleet)
        }
      })(),
      600_000,
      'submitOverhead'
    )
    const a50 = percentile(lat, 50)
    const a99 = percentile(lat, 99)
    const p50 = percentile(plain, 50)
    const p99 = percentile(plain, 99)
    return {
      config: { submissions: n, jobMs: 0, warmup, journal: 'os.tmpdir() on disk, fsync on' },
      p50Ms: round2(a50 - p50),
      p99Ms: round2(a99 - p99),
      acceptP50Ms: round2(a50),
      acceptP99Ms: round2(a99),
      plainPostP50Ms: round2(p50),
      plainPostP99Ms: round2(p99),
      transportPostP50Ms: round2(percentile(viaTransport, 50)),
      transportPostP99Ms: round2(percentile(viaTransport, 99))
    }
  } finally {
    transport.close()
    await bc.stop()
    await host.stopFleet(fleet)
  }
}
