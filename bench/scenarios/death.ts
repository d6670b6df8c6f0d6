/**
 * death: 4 servers of speed 1; 40 jobs arrive evenly over 2 s (50% of the fleet's capacity)
 * and the first server dies (process death: queue and running job lost) after 1 s.
 * - lost: jobs that did not end `done`;
 * - duplicates: prompt ids that ran to success more than once (counted from the fakes' own
 *   job-end events, which survive the death; the dead server's history does not);
 * - detectMs: from the kill to the last time a job was sent to the dead server (0 if none),
 *   by the time of the POST attempt the job records; `lastChoiceMs` is the same by the time
 *   the core chose that server (from its log), which can be earlier: the engine waits for the
 *   server's socket before it sends.
 */
import type { FleetHost } from '../fleet-host'
import {
  JOB_MS,
  makeCore,
  round1,
  setupFor,
  sleep,
  standardWorkflow,
  startCore,
  withTimeout,
  type PolicyName
} from '../lib'

export const DEATH_SERVERS = 4
export const KILL_INDEX = 0

export interface DeathPolicyResult {
  policy: string
  holdBack: number | null
  live: boolean
  intervalMs: number
  lost: number
  duplicates: number
  /** Prompt ids with success in the history of more than one surviving server. */
  duplicatesInHistory: number
  detectMs: number
  /** From the kill to the last time the core chose the dead server (its log), 0 if never. */
  lastChoiceMs: number
  /** Jobs sent to the dead server after the kill. */
  sentAfterKill: number
  /** From the kill until the core's status showed the server unhealthy. */
  unhealthyAfterMs: number | null
  reroutes: number
  states: Record<string, number>
  makespanMs: number
}

export interface DeathResult {
  config: {
    servers: number
    jobs: number
    arrivalMs: number
    killAtMs: number
    killed: number
    jobMs: number
  }
  lost: number
  duplicates: number
  detectMs: number
  policies: Record<string, DeathPolicyResult>
}

export async function runDeath(
  host: FleetHost,
  names: PolicyName[],
  jobs = 40
): Promise<DeathResult> {
  const arrivalMs = 2000
  const killAtMs = 1000
  const policies: Record<string, DeathPolicyResult> = {}
  for (const [i, name] of names.entries()) {
    policies[name] = await runOne(host, name, jobs, arrivalMs, killAtMs, 10 + i)
  }
  const ours = policies.ours
  return {
    config: {
      servers: DEATH_SERVERS,
      jobs,
      arrivalMs,
      killAtMs,
      killed: KILL_INDEX,
      jobMs: JOB_MS
    },
    lost: ours?.lost ?? Number.NaN,
    duplicates: ours?.duplicates ?? Number.NaN,
    detectMs: ours?.detectMs ?? Number.NaN,
    policies
  }
}

async function runOne(
  host: FleetHost,
  name: PolicyName,
  jobs: number,
  arrivalMs: number,
  killAtMs: number,
  seed: number
): Promise<DeathPolicyResult> {
  const fleet = await host.startFleet(DEATH_SERVERS, JOB_MS)
  const bc = makeCore(name, fleet.urls, { tag: `death-${name}`, seed })
  try {
    await startCore(bc, fleet.urls.length)
    const engine = bc.core.jobs!
    const dead = bc.core.status().servers[KILL_INDEX]!
    const deadId = dead.id
    const choices: number[] = []
    const offLog = bc.core.events.on('log', (l) => {
      if (l.message.startsWith('[Jobs] ') && l.message.includes(` -> ${dead.name} (`))
        choices.push(l.time)
    })
    let killedAt: number | null = null
    let unhealthyAt: number | null = null
    const off = bc.core.events.on('status', (st) => {
      if (killedAt === null || unhealthyAt !== null) return
      if (!st.servers.find((s) => s.id === deadId)?.healthy) unhealthyAt = Date.now()
    })
    const wf = standardWorkflow()
    const ids: string[] = []
    const t0 = Date.now()
    const gap = arrivalMs / jobs
    const kill = (async () => {
      await sleep(t0 + killAtMs - Date.now())
      killedAt = Date.now()
      await host.die(fleet, KILL_INDEX)
    })()
    for (let i = 0; i < jobs; i++) {
      await sleep(t0 + i * gap - Date.now())
      ids.push(engine.submit(wf).id)
    }
    await kill
    const records = await withTimeout(
      Promise.all(ids.map((id) => engine.waitFor(id))),
      120_000,
      `death (${name})`
    )
    off()
    offLog()
    const k = killedAt as number | null
    if (k === null) throw new Error('the server was never killed')
    const sentAfter = records.flatMap((r) =>
      r.attempts.filter((a) => a.serverId === deadId && a.at >= k)
    )
    const detectMs = sentAfter.length ? Math.max(...sentAfter.map((a) => a.at - k)) : 0
    const choicesAfter = choices.filter((t) => t >= k)
    const lastChoiceMs = choicesAfter.length ? Math.max(...choicesAfter) - k : 0
    const events = await host.events(fleet)
    const successes = new Map<string, number>()
    for (const e of events)
      if (e.k === 'e' && e.ok) successes.set(e.id, (successes.get(e.id) ?? 0) + 1)
    const mine = new Set(ids)
    const duplicates = [...successes].filter(([id, n]) => mine.has(id) && n > 1).length
    const stats = await host.stats(fleet, true)
    const inHistory = new Map<string, number>()
    for (const s of stats)
      for (const id of s.historySuccess) inHistory.set(id, (inHistory.get(id) ?? 0) + 1)
    const states: Record<string, number> = {}
    for (const r of records) states[r.state] = (states[r.state] ?? 0) + 1
    const lastEnd = Math.max(...records.map((r) => r.finishedAt ?? t0))
    const st = setupFor(name)
    const u = unhealthyAt as number | null
    return {
      policy: st.policyName,
      holdBack: st.holdBack,
      live: st.live,
      intervalMs: st.intervalMs,
      lost: records.filter((r) => r.state !== 'done').length,
      duplicates,
      duplicatesInHistory: [...inHistory].filter(([id, n]) => mine.has(id) && n > 1).length,
      detectMs: round1(detectMs),
      lastChoiceMs,
      sentAfterKill: sentAfter.length,
      unhealthyAfterMs: u === null ? null : u - k,
      reroutes: records.reduce((a, r) => a + r.reroutes, 0),
      states,
      makespanMs: lastEnd - t0
    }
  } finally {
    await bc.stop()
    await host.stopFleet(fleet)
  }
}
