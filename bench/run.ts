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
import { runMultiClient, type MultiClientResult } from './scenarios/multi-client'
import { runPollScale, type PollScaleResult } from './scenarios/poll-scale'
import { runSubmitOverhead, type SubmitOverheadResult } from './scenarios/submit-overhead'
import { runSoak, type SoakResult } from './scenarios/soak'

const SCENARIOS = ['burst', 'multiClient', 'death', 'pollScale', 'submitOverhead', 'soak'] as const
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
  pollMs: number
  bigServers: number
  submissions: number
  soakJobs: number
}

const FULL: Sizes = {
  burstReps: 3,
  multiClientReps: 3,
  multiClientJobs: 300,
  pollServers: 200,
  pollMs: 60_000,
  bigServers: 10,
  submissions: 1000,
  soakJobs: 10_000
}
const QUICK: Sizes = {
  burstReps: 1,
  multiClientReps: 1,
  multiClientJobs: 120,
  pollServers: 50,
  pollMs: 10_000,
  bigServers: 4,
  submissions: 300,
  soakJobs: 1000
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
      limit: '<= 1.15',
      met: ours / b.lowerBoundMs <= 1.15
    },
    {
      name: 'seed makespan / ours',
      value: round2(seed / ours),
      limit: '>= 2',
      met: seed / ours >= 2
    }
  ]
}

function multiTargets(m: MultiClientResult): Target[] {
  const ours = m.policies.ours?.p95Ms ?? Number.NaN
  const central = m.policies.central?.p95Ms ?? Number.NaN
  const seed = m.policies.seed?.p95Ms ?? Number.NaN
  return [
    {
      name: 'ours p95 / central p95',
      value: round2(ours / central),
      limit: '<= 1.3',
      met: ours / central <= 1.3
    },
    {
      name: 'seed p95 / ours p95',
      value: round2(seed / ours),
      limit: '>= 3',
      met: seed / ours >= 3
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

function pollTargets(p: PollScaleResult): Target[] {
  return [
    {
      name: 'TCP connections per server',
      value: p.connectionsPerServer,
      limit: '<= 2',
      met: p.connectionsPerServer <= 2
    },
    { name: 'CPU % of one core', value: p.cpuPercent, limit: '< 5', met: p.cpuPercent < 5 }
  ]
}

function submitTargets(s: SubmitOverheadResult): Target[] {
  return [{ name: 'submit overhead p50 ms', value: s.p50Ms, limit: '< 5', met: s.p50Ms < 5 }]
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
            r.jobsPerServer.join('/')
          ])
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
      results.multiClient = { mode, note: seedNote, ...m, targets: multiTargets(m) }
      out.push(
        table(
          `multiClient: ${m.config.repetitions} x ${m.config.jobs} jobs, ${m.config.clients} clients, Poisson ${m.config.arrivalsPerSecond}/s (${m.config.load * 100}% of capacity), speeds ${m.config.speeds.join('/')}`,
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
      results.pollScale = { mode, ...p, targets: pollTargets(p) }
      out.push(
        table(
          `pollScale: ${p.config.servers} servers every ${p.config.intervalMs} ms for ${p.config.durationMs / 1000} s (live updates on)`,
          ['measure', 'value'],
          [
            ['check rounds', p.rounds],
            ['TCP connections per server (max)', p.connectionsPerServer],
            ['TCP connections per server (mean)', p.connectionsPerServerMean],
            ['  new ones after the 5th round (max)', p.newConnectionsAfterStartup],
            ['  of which WebSocket', p.wsConnectionsPerServer],
            ['HTTP requests per server per round', p.requestsPerServerPerRound],
            ['CPU of the checking process, % of one core', p.cpuPercent],
            ['  same, without the start-up round', p.cpuPercentSteady],
            ['bytes per server per round, idle', p.idleBytesPerServerPerRound],
            [
              `50 x 100 KB queued (${p.config.bigQueue.servers} servers): full /queue answer`,
              p.fullQueueBytes
            ],
            ['  cheap count answer (GET /prompt)', p.countBytes],
            [
              `  bytes per server per round, with the cheap count (full every ${p.withCheapCount.fullQueueEveryRounds})`,
              p.withCheapCount.bytesPerServerPerRound
            ],
            ['  same, largest round', p.withCheapCount.peakBytesPerServerPerRound],
            [
              '  bytes per server per round, without (derived)',
              p.withoutCheapCount.bytesPerServerPerRound
            ],
            [
              '  per round at 200 servers, with the cheap count',
              p.withCheapCount.bytesPerRoundAt200Servers
            ],
            [
              '  per round at 200 servers, without (derived)',
              p.withoutCheapCount.bytesPerRoundAt200Servers
            ]
          ]
        )
      )
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
