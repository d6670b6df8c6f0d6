/**
 * `npm run bench [-- --quick] [-- --only=burst,death]`: the balancing benchmark on fake
 * fleets with real sockets on 127.0.0.1. Prints a table, writes bench/results/latest.json and
 * bench/results/burst-timeline.svg (not with --only, which is for development).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { burstSvg } from './chart'
import { FleetHost, runFleetHost } from './fleet-host'
import { JOB_MS, SEED_INTERVAL_MS, round2, type PolicyName } from './lib'
import { runBurst, type BurstResult } from './scenarios/burst'
import { runDeath, type DeathResult } from './scenarios/death'
import { runDownload, type DownloadResult } from './scenarios/download'
import { runJournal, type JournalResult } from './scenarios/journal'
import {
  pairedRatio,
  runMultiClient,
  type MultiClientResult,
  type PairedRatio
} from './scenarios/multi-client'
import { runPollScale, type PollScaleResult } from './scenarios/poll-scale'
import { runSubmitOverhead, type SubmitOverheadResult } from './scenarios/submit-overhead'
import { runSoak, type SoakResult } from './scenarios/soak'

const SCENARIOS = [
  'burst',
  'multiClient',
  'death',
  'pollScale',
  'submitOverhead',
  'soak',
  'journal',
  'download'
] as const
type Scenario = (typeof SCENARIOS)[number]

interface Target {
  name: string
  value: number
  limit: string
  met: boolean
}

interface Sizes {
  burstReps: number
  multiClientReps: number
  multiClientJobs: number
  pollServers: number
  /** A second pollScale figure at this many servers (without the big-queue phase). */
  pollSecondServers: number
  pollMs: number
  bigServers: number
  submissions: number
  soakJobs: number
  journalJobs: number
  downloadBytes: number
}

const FULL: Sizes = {
  burstReps: 3,
  multiClientReps: 3,
  multiClientJobs: 300,
  pollServers: 1000,
  pollSecondServers: 200,
  pollMs: 60_000,
  bigServers: 10,
  submissions: 1000,
  soakJobs: 10_000,
  journalJobs: 2000,
  downloadBytes: 1024 * 1024 * 1024
}
const QUICK: Sizes = {
  burstReps: 1,
  multiClientReps: 5,
  multiClientJobs: 80,
  pollServers: 200,
  pollSecondServers: 50,
  pollMs: 10_000,
  bigServers: 4,
  submissions: 300,
  soakJobs: 1000,
  journalJobs: 500,
  downloadBytes: 1024 * 1024 * 1024
}

function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`)
}

function table(title: string, head: string[], rows: Array<Array<string | number>>): string {
  const cells = [head, ...rows.map((r) => r.map((c) => String(c)))]
  const w = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)))
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ')
  return [
    `\n${title}`,
    line(head),
    w.map((n) => '-'.repeat(n)).join('  '),
    ...cells.slice(1).map(line)
  ].join('\n')
}

const ms = (x: number) => (Number.isFinite(x) ? Math.round(x).toString() : '-')

function burstTargets(b: BurstResult): Target[] {
  const ours = b.policies.ours?.makespanMs ?? Number.NaN
  const seed = b.policies.seed?.makespanMs ?? Number.NaN
  return [
    {
      name: 'ours makespan / lower bound',
      value: round2(ours / b.lowerBoundMs),
      limit: '<= 1.08',
      met: ours / b.lowerBoundMs <= 1.08
    },
    {
      name: 'seed makespan / ours',
      value: round2(seed / ours),
      limit: '>= 2',
      met: seed / ours >= 2
    }
  ]
}

/** Median of the runs' ratios (each run has its own arrivals, shared by the policies). */
function multiTargets(m: MultiClientResult): Target[] {
  const oc = pairedRatio(m, 'ours', 'central')
  const so = pairedRatio(m, 'seed', 'ours')
  const spread = (r: PairedRatio | null) =>
    r && r.runs.length > 1 ? ` (median of ${r.runs.length} runs, ${r.min}-${r.max})` : ''
  return [
    {
      name: `ours p95 / central p95${spread(oc)}`,
      value: oc?.median ?? Number.NaN,
      limit: '<= 1.15',
      met: (oc?.median ?? Infinity) <= 1.15
    },
    {
      name: `seed p95 / ours p95${spread(so)}`,
      value: so?.median ?? Number.NaN,
      limit: '>= 3',
      met: (so?.median ?? 0) >= 3
    }
  ]
}

function deathTargets(d: DeathResult): Target[] {
  return [
    { name: 'lost (ours)', value: d.lost, limit: '= 0', met: d.lost === 0 },
    { name: 'run twice (ours)', value: d.duplicates, limit: '= 0', met: d.duplicates === 0 },
    { name: 'detect ms (ours)', value: d.detectMs, limit: '< 1000', met: d.detectMs < 1000 }
  ]
}

function pollTargets(p: PollScaleResult, second: PollScaleResult | null): Target[] {
  const n = p.config.servers
  return [
    {
      name: `TCP connections per server (${n} servers)`,
      value: p.connectionsPerServer,
      limit: '<= 2',
      met: p.connectionsPerServer <= 2
    },
    {
      name: `CPU % of one core (${n} servers)`,
      value: p.cpuPercent,
      limit: '< 5',
      met: p.cpuPercent < 5
    },
    ...(second
      ? [
          {
            name: `CPU % of one core (${second.config.servers} servers)`,
            value: second.cpuPercent,
            limit: '< 5',
            met: second.cpuPercent < 5
          }
        ]
      : [])
  ]
}

function journalTargets(j: JournalResult): Target[] {
  return [
    {
      name: 'job changes per second (group commits)',
      value: j.grouped.changesPerSecond,
      limit: '>= 1000',
      met: j.grouped.changesPerSecond >= 1000
    }
  ]
}

function downloadTargets(d: DownloadResult): Target[] {
  return [
    {
      name: `rss growth MB (${Math.round(d.config.bytes / 1048576)} MB output)`,
      value: d.rssGrowthMB,
      limit: '< 64',
      met: d.rssGrowthMB < 64
    },
    {
      name: 'arrayBuffers growth MB',
      value: d.arrayBuffersGrowthMB,
      limit: '< 64',
      met: d.arrayBuffersGrowthMB < 64
    },
    {
      name: 'bytes saved = bytes served',
      value: d.savedBytes,
      limit: `= ${d.config.bytes}`,
      met: d.savedBytes === d.config.bytes
    }
  ]
}

function submitTargets(s: SubmitOverheadResult): Target[] {
  return [{ name: 'submit overhead p50 ms', value: s.p50Ms, limit: '< 1.5', met: s.p50Ms < 1.5 }]
}

function soakTargets(s: SoakResult): Target[] {
  return [
    {
      name: 'heap after / after warm-up',
      value: s.heapGrowthRatio,
      limit: '<= 1.10',
      met: s.heapGrowthRatio <= 1.1
    },
    {
      name: 'journal max 2nd half / 1st half',
      value: round2(s.journalMaxSecondHalfBytes / s.journalMaxFirstHalfBytes),
      limit: '<= 1.10',
      met: s.journalMaxSecondHalfBytes <= 1.1 * s.journalMaxFirstHalfBytes
    }
  ]
}

async function main(): Promise<void> {
  const args = process.argv.slice(2)
  if (args.includes('--fleet-host')) {
    runFleetHost()
    return
  }
  const quick = args.includes('--quick')
  const onlyArg = args.find((a) => a.startsWith('--only='))
  const only = onlyArg ? (onlyArg.slice('--only='.length).split(',') as Scenario[]) : [...SCENARIOS]
  for (const o of only) if (!SCENARIOS.includes(o)) throw new Error(`unknown scenario ${o}`)
  const sizes = quick ? QUICK : FULL
  const mode = quick ? 'quick' : 'full'
  const started = Date.now()
  log(
    `mode ${mode}; Node ${process.version}; ${os.cpus().length} CPUs; gc ${typeof (globalThis as { gc?: unknown }).gc === 'function' ? 'exposed' : 'NOT exposed'}`
  )
  log(
    `seed interval = 3 x ${JOB_MS} ms = ${SEED_INTERVAL_MS} ms, set directly (below the 500 ms minimum of parseSettings)`
  )
  const host = await FleetHost.start(path.resolve(process.argv[1]!))
  const results: Partial<Record<Scenario, object>> = {}
  const out: string[] = []
  const policies3: PolicyName[] = ['seed', 'roundRobin', 'ours']
  const seedNote = `seed: leastQueuePolicy, no late binding, no live updates, no own accounting; checks every 3 x ${JOB_MS} ms = ${SEED_INTERVAL_MS} ms, set directly in the settings object (parseSettings would refuse anything under 500 ms); ours and roundRobin use the same interval`
  try {
    if (only.includes('burst')) {
      log('burst...')
      const b = await runBurst(host, policies3, sizes.burstReps)
      const t = burstTargets(b)
      results.burst = { mode, note: seedNote, ...b, targets: t }
      out.push(
        table(
          `burst: ${b.config.jobs} jobs at once, speeds ${b.config.speeds.join('/')}; lower bound ${b.lowerBoundMs} ms; median of ${b.config.repetitions} run(s)`,
          ['policy', 'makespan ms', 'x lower bound', 'all runs ms', 'engine ms', 'jobs per server'],
          Object.entries(b.policies).map(([n, r]) => [
            n,
            ms(r.makespanMs),
            (r.makespanMs / b.lowerBoundMs).toFixed(2),
            r.makespanRunsMs.map(ms).join('/'),
            ms(r.engineMakespanMs),
            `${r.jobsPerServer.join('/')} (optimum ${b.optimum.join('/')})`
          ])
        )
      )
      out.push(
        table(
          `burst, where the time went per server (median run; ms from the first submit; gaps = idle between a job's end and the next start there)`,
          [
            'policy',
            'server',
            'speed',
            'jobs',
            'optimum',
            'first start',
            'gaps',
            'gap sum',
            'gap max',
            'tail idle'
          ],
          Object.entries(b.policies).flatMap(([n, r]) =>
            r.idle.map((x, i) => [
              i === 0 ? n : '',
              i + 1,
              b.config.speeds[i]!,
              r.jobsPerServer[i]!,
              b.optimum[i]!,
              ms(x.firstStartMs),
              x.gaps,
              x.gapSumMs.toFixed(1),
              x.gapMaxMs.toFixed(1),
              ms(x.tailMs)
            ])
          )
        )
      )
      fs.mkdirSync('bench/results', { recursive: true })
      if (!onlyArg) fs.writeFileSync('bench/results/burst-timeline.svg', burstSvg(b))
    }
    if (only.includes('multiClient')) {
      log('multiClient...')
      const m = await runMultiClient(
        host,
        [...policies3, 'central'],
        sizes.multiClientJobs,
        sizes.multiClientReps
      )
      const ratios = Object.fromEntries(
        (
          [
            ['ours/central', 'ours', 'central'],
            ['seed/ours', 'seed', 'ours'],
            ['roundRobin/ours', 'roundRobin', 'ours']
          ] as const
        ).map(([k, a, b]) => [k, pairedRatio(m, a, b)])
      )
      results.multiClient = { mode, note: seedNote, ...m, ratios, targets: multiTargets(m) }
      out.push(
        table(
          `multiClient: ${m.config.repetitions} x ${m.config.jobs} jobs (after ${m.config.warmupJobs} not counted), ${m.config.clients} clients, Poisson ${m.config.arrivalsPerSecond}/s (${m.config.load * 100}% of capacity), speeds ${m.config.speeds.join('/')}`,
          [
            'policy',
            'clients',
            'p50 ms',
            'p95 ms',
            'p95 per run',
            'mean ms',
            'max ms',
            'engine p95',
            'jobs per server'
          ],
          Object.entries(m.policies).map(([n, r]) => [
            n,
            r.clients,
            ms(r.p50Ms),
            ms(r.p95Ms),
            r.p95RunsMs.map(ms).join('/'),
            ms(r.meanMs),
            ms(r.maxMs),
            ms(r.engineP95Ms),
            r.jobsPerServer.join('/')
          ])
        )
      )
      out.push(
        table(
          `multiClient: p95 ratios run by run (same arrivals within a run); the targets use the median`,
          ['ratio', 'median', 'min', 'max', 'per run', 'pooled'],
          Object.entries(ratios).flatMap(([k, r]) =>
            r
              ? [
                  [
                    k,
                    r.median.toFixed(2),
                    r.min.toFixed(2),
                    r.max.toFixed(2),
                    r.runs.map((v) => v.toFixed(2)).join('/'),
                    r.pooled.toFixed(2)
                  ]
                ]
              : []
          )
        )
      )
    }
    if (only.includes('death')) {
      log('death...')
      const d = await runDeath(host, policies3)
      results.death = { mode, note: seedNote, ...d, targets: deathTargets(d) }
      out.push(
        table(
          `death: ${d.config.jobs} jobs over ${d.config.arrivalMs} ms, server ${d.config.killed + 1} of ${d.config.servers} dies at ${d.config.killAtMs} ms`,
          [
            'policy',
            'lost',
            'run twice',
            'detect ms',
            'last choice ms',
            'sent after kill',
            'unhealthy after ms',
            'reroutes'
          ],
          Object.entries(d.policies).map(([n, r]) => [
            n,
            r.lost,
            r.duplicates,
            ms(r.detectMs),
            ms(r.lastChoiceMs),
            r.sentAfterKill,
            r.unhealthyAfterMs === null ? '-' : ms(r.unhealthyAfterMs),
            r.reroutes
          ])
        )
      )
    }
    if (only.includes('pollScale')) {
      log(`pollScale (${sizes.pollServers} servers, ${sizes.pollMs / 1000} s)...`)
      const p = await runPollScale(host, {
        servers: sizes.pollServers,
        durationMs: sizes.pollMs,
        bigServers: sizes.bigServers
      })
      log(`pollScale (${sizes.pollSecondServers} servers, ${sizes.pollMs / 1000} s)...`)
      const p2 = await runPollScale(host, {
        servers: sizes.pollSecondServers,
        durationMs: sizes.pollMs,
        bigServers: 0
      })
      results.pollScale = {
        mode,
        ...p,
        second: p2,
        targets: pollTargets(p, p2)
      }
      const both = (f: (x: PollScaleResult) => number | string): Array<number | string> => [
        f(p),
        f(p2)
      ]
      const wc = p.withCheapCount
      const wo = p.withoutCheapCount
      out.push(
        table(
          `pollScale: ${p.config.servers} and ${p2.config.servers} servers every ${p.config.intervalMs} ms for ${p.config.durationMs / 1000} s (live updates on)`,
          ['measure', `${p.config.servers} servers`, `${p2.config.servers} servers`],
          [
            ['check rounds', ...both((x) => x.rounds)],
            ['TCP connections per server (max)', ...both((x) => x.connectionsPerServer)],
            ['TCP connections per server (mean)', ...both((x) => x.connectionsPerServerMean)],
            ['  new ones after the 5th round (max)', ...both((x) => x.newConnectionsAfterStartup)],
            ['  of which WebSocket', ...both((x) => x.wsConnectionsPerServer)],
            ['HTTP requests per server per round', ...both((x) => x.requestsPerServerPerRound)],
            ['HTTP requests per server per minute', ...both((x) => x.requestsPerServerPerMinute)],
            ['time between check rounds, ms', ...both((x) => x.roundPeriodMs)],
            ['CPU of the fake servers process, % of one core', ...both((x) => x.fakesCpuPercent)],
            ['CPU of the checking process, % of one core', ...both((x) => x.cpuPercent)],
            ['  same, without the start-up round', ...both((x) => x.cpuPercentSteady)],
            ['  of the whole run, in the kernel (system time)', ...both((x) => x.cpuPercentSystem)],
            ['CPU ms of the start-up (to the end of round 2)', ...both((x) => x.startupCpuMs)],
            ['heap per server, KB', ...both((x) => x.heapPerServerKB)],
            [
              'rss per server, KB (noisy: memory given back counts)',
              ...both((x) => x.rssPerServerKB)
            ],
            ['bytes per server per round, idle', ...both((x) => x.idleBytesPerServerPerRound)]
          ]
        )
      )
      if (wc && wo) {
        out.push(
          table(
            `pollScale, 50 x 100 KB queued on ${p.config.bigQueue.servers} servers`,
            ['measure', 'value'],
            [
              ['full /queue answer', p.fullQueueBytes],
              ['cheap count answer (GET /prompt)', p.countBytes],
              [
                `bytes per server per round, with the cheap count (full every ${wc.fullQueueEveryRounds})`,
                wc.bytesPerServerPerRound
              ],
              ['  same, largest round', wc.peakBytesPerServerPerRound],
              ['bytes per server per round, without (derived)', wo.bytesPerServerPerRound],
              ['per round at 200 servers, with the cheap count', wc.bytesPerRoundAt200Servers],
              ['per round at 200 servers, without (derived)', wo.bytesPerRoundAt200Servers]
            ]
          )
        )
      }
    }
    if (only.includes('submitOverhead')) {
      log('submitOverhead...')
      const s = await runSubmitOverhead(host, sizes.submissions)
      results.submitOverhead = { mode, ...s, targets: submitTargets(s) }
      out.push(
        table(
          `submitOverhead: ${s.config.submissions} submissions one at a time to one fast server`,
          ['measure', 'p50 ms', 'p99 ms'],
          [
            ['submit -> accepted (core)', s.acceptP50Ms, s.acceptP99Ms],
            ['plain fetch POST /prompt (server)', s.plainPostP50Ms, s.plainPostP99Ms],
            ['same POST via the core transport', s.transportPostP50Ms, s.transportPostP99Ms],
            ['overhead (core - plain fetch)', s.p50Ms, s.p99Ms]
          ]
        )
      )
    }
    if (only.includes('soak')) {
      log(`soak (${sizes.soakJobs} jobs)...`)
      const s = await runSoak(host, sizes.soakJobs)
      results.soak = { mode, ...s, targets: soakTargets(s) }
      out.push(
        table(
          `soak: ${s.config.jobs} jobs, ${s.config.inFlight} in flight, history limit ${s.config.historyLimit} (${s.jobsPerSecond} jobs/s)`,
          ['measure', 'before', `after ${s.config.warmupJobs}`, 'after all', 'max'],
          [
            ['heap MB after GC', s.heapBeforeMB, s.heapAfterWarmupMB, s.heapAfterMB, '-'],
            [
              'journal bytes',
              s.journalBeforeBytes,
              s.journalAfterWarmupBytes,
              s.journalAfterBytes,
              s.journalMaxBytes
            ]
          ]
        )
      )
    }
    if (only.includes('journal')) {
      log(`journal (${sizes.journalJobs} jobs)...`)
      const j = await runJournal(sizes.journalJobs)
      results.journal = { mode, ...j, targets: journalTargets(j) }
      out.push(
        table(
          `journal: ${j.config.jobs} jobs, ${j.config.inFlight} in flight, ${j.config.changesPerJob} changes each, fsync on (this disk: fsync p50 ${j.fsyncP50Ms} ms)`,
          [
            'mode',
            'changes/s',
            'changes per fsync',
            'fsyncs',
            'ms',
            'put->on disk p50 ms',
            'p99 ms'
          ],
          (
            [
              ['each change flushed (before)', j.perChange],
              ['group commits', j.grouped]
            ] as const
          ).map(([n, r]) => [
            n,
            r.changesPerSecond,
            r.changesPerCommit,
            r.commits,
            r.ms,
            r.durableP50Ms,
            r.durableP99Ms
          ])
        )
      )
    }
    if (only.includes('download')) {
      log(`download (${Math.round(sizes.downloadBytes / 1048576)} MB)...`)
      const d = await runDownload(host, sizes.downloadBytes)
      results.download = { mode, ...d, targets: downloadTargets(d) }
      out.push(
        table(
          `download: one ${Math.round(d.config.bytes / 1048576)} MB output saved by the engine (${d.ms} ms, ${d.mbPerSecond} MB/s); memory of this process, sampled every ${d.config.sampleMs} ms`,
          ['measure', 'start MB', 'peak MB', 'growth MB'],
          [
            ['rss', d.rssStartMB, d.rssPeakMB, d.rssGrowthMB],
            ['arrayBuffers', d.arrayBuffersStartMB, d.arrayBuffersPeakMB, d.arrayBuffersGrowthMB]
          ]
        )
      )
    }
  } finally {
    await host.close()
  }
  const targets = Object.entries(results).flatMap(([k, v]) =>
    ((v as { targets?: Target[] }).targets ?? []).map((t) => [
      k,
      t.name,
      t.value,
      t.limit,
      t.met ? 'met' : 'MISSED'
    ])
  )
  out.push(table('targets', ['scenario', 'target', 'value', 'limit', ''], targets))
  out.push(`\n(${mode} run, ${Math.round((Date.now() - started) / 1000)} s)`)
  process.stdout.write(out.join('\n') + '\n')
  if (!onlyArg) {
    const json = Object.fromEntries(SCENARIOS.map((k) => [k, results[k]]))
    fs.mkdirSync('bench/results', { recursive: true })
    fs.writeFileSync('bench/results/latest.json', JSON.stringify(json, null, 2) + '\n')
    log('wrote bench/results/latest.json and bench/results/burst-timeline.svg')
  }
}

main().then(
  () => {
    if (process.argv.includes('--fleet-host')) return
    // Everything was stopped; name anything still holding the process before leaving.
    const left = process
      .getActiveResourcesInfo()
      .filter((r) => !['TTYWrap', 'PipeWrap', 'ProcessWrap'].includes(r))
    if (left.length) log(`still active at exit: ${left.join(', ')}`)
    process.exit(0)
  },
  (err: unknown) => {
    process.stderr.write(`[bench] failed: ${(err as Error).stack ?? String(err)}\n`)
    process.exit(1)
  }
)
