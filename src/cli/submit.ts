/** `comfy-balancer submit`: one workflow to the best server, optionally followed to the end. */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { BalancerCore } from '../main/core/app'
import { loadWorkflowBytes, WorkflowError } from '../main/core/jobs/workflow'
import { normalizeServerUrl, parseSettings, serversFromUrls } from '../main/core/settings'
import type { AppSettings, JobRecord } from '../shared/types'
import type { CliIo } from './io'

export interface SubmitArgs {
  file: string
  settings: AppSettings
  server?: string
  wait: boolean
  out?: string
  json: boolean
}

/** `[#########...........]  45%  node 3  step 9/20` */
export function progressLine(j: JobRecord, width = 24): string {
  const p = j.progress
  let frac = 0
  if (j.state === 'done') frac = 1
  else if (p && p.nodesTotal > 0) {
    const inNode = p.max > 0 ? p.value / p.max : 0
    frac = Math.min(1, (p.nodesDone + inNode) / p.nodesTotal)
  }
  const filled = Math.round(frac * width)
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.round(frac * 100)).padStart(3)}%`
  const parts = [bar, j.state]
  if (j.state === 'queued' && j.queuePosition) parts.push(`position ${j.queuePosition}`)
  if (p?.node) parts.push(`node ${p.node}`)
  if (p && p.max > 0) parts.push(`step ${p.value}/${p.max}`)
  return parts.join('  ')
}

function describeEnd(j: JobRecord): string {
  switch (j.state) {
    case 'done':
      return `Done on ${j.serverUrl}: ${j.outputs.length} output(s)`
    case 'failed':
      return `Failed: ${j.error?.message ?? 'unknown error'}${j.error?.nodeId ? ` (node ${j.error.nodeId}${j.error.nodeType ? `, ${j.error.nodeType}` : ''})` : ''}`
    default:
      return `Job ${j.state}`
  }
}

export async function submitCommand(a: SubmitArgs, io: CliIo): Promise<number> {
  let bytes: Buffer
  try {
    bytes = fs.readFileSync(a.file)
  } catch (err) {
    io.err(
      `comfy-balancer: cannot read ${a.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`
    )
    return 2
  }
  let wf
  try {
    wf = loadWorkflowBytes(bytes, path.basename(a.file))
  } catch (err) {
    if (err instanceof WorkflowError) {
      io.err(`comfy-balancer: ${err.message}`)
      return 2
    }
    throw err
  }
  let settings = a.settings
  let pinned: string | undefined
  if (a.server) {
    const n = normalizeServerUrl(a.server)
    if ('error' in n) {
      io.err(`comfy-balancer: --server: ${n.error}`)
      return 2
    }
    let match = settings.servers.find((s) => s.url === n.url)
    if (!match) {
      const extra = serversFromUrls([n.url]).servers[0]!
      settings = parseSettings({
        ...settings,
        servers: [...settings.servers, { ...extra, id: `${extra.id}-pinned` }]
      }).settings
      match = settings.servers.find((s) => s.url === n.url)!
    }
    pinned = match.id
  }
  // A private journal per run: two CLI runs never resume each other's jobs.
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'comfy-balancer-cli-'))
  const outputDir = path.resolve(a.out ?? 'comfy-outputs')
  const core = new BalancerCore({
    settings,
    jobs: { journalFile: path.join(work, 'jobs.jsonl'), outputDir, pollIntervalMs: 1000 }
  })
  const engine = core.jobs!
  const quiet = a.json
  const offLog = core.events.on('log', (l) => {
    if (!quiet && l.message.startsWith('[Jobs]')) io.out(l.message.replace(/^\[Jobs\] /, ''))
  })
  try {
    core.start()
    const status = await core.checkNow()
    if (!quiet) {
      io.out(
        `${wf.source}: ${wf.summary.nodeCount} nodes, ${wf.summary.models.length} model(s), ${wf.summary.images.length} input image(s)`
      )
      io.out(`${status.healthy}/${status.total} servers up`)
    }
    const job = engine.submit(wf, {
      serverId: pinned ?? null,
      baseDir: path.dirname(path.resolve(a.file))
    })
    let last = ''
    let lastLen = 0
    const show = (j: JobRecord) => {
      if (quiet || j.id !== job.id) return
      const line = progressLine(j)
      if (line === last) return
      last = line
      if (io.isTty) {
        process.stdout.write(`\r${line}${' '.repeat(Math.max(0, lastLen - line.length))}`)
        lastLen = line.length
      } else if (j.state !== 'running' || j.progress?.max === j.progress?.value) {
        io.out(line)
      }
    }
    // Wait until a server accepted it (or it failed).
    const accepted = await new Promise<JobRecord>((resolve) => {
      const check = (j: JobRecord) => {
        if (j.id === job.id && j.state !== 'pending') {
          off()
          resolve(j)
        }
      }
      const off = engine.events.on('job', check)
      const now = engine.get(job.id)!
      if (now.state !== 'pending') {
        off()
        resolve(now)
      }
    })
    let final = accepted
    if (
      a.wait &&
      !['failed', 'cancelled', 'lost', 'interrupted', 'done'].includes(accepted.state)
    ) {
      const off = engine.events.on('job', show)
      final = await Promise.race([
        engine.waitFor(job.id),
        io.interrupted.then(() => engine.get(job.id)!)
      ])
      off()
      if (io.isTty && !quiet) process.stdout.write('\n')
    }
    if (a.json) {
      io.out(
        JSON.stringify(
          {
            promptId: final.id,
            server: final.serverUrl,
            status: final.state,
            outputs: final.outputs.map((o) => o.path),
            attempts: final.attempts.map((t) => ({ server: t.serverUrl, result: t.result })),
            ...(final.error ? { error: final.error } : {})
          },
          null,
          2
        )
      )
    } else {
      if (final.state === 'queued' || final.state === 'running') {
        io.out(
          `Queued on ${final.serverUrl} as ${final.id}${a.wait ? '' : ' (use --wait to follow it and save the outputs)'}`
        )
      } else {
        io.out(describeEnd(final))
        for (const d of final.error?.details ?? []) io.out(`  ${d}`)
        for (const o of final.outputs) io.out(`  ${o.path}`)
      }
    }
    return final.state === 'done' ||
      (!a.wait && (final.state === 'queued' || final.state === 'running'))
      ? 0
      : 1
  } finally {
    offLog()
    await core.stop()
    fs.rmSync(work, { recursive: true, force: true })
  }
}
