/**
 * `comfy-balancer submit`: one workflow to the best server, optionally followed to the end;
 * with `--count N` the same workflow N times as one batch spread over the fleet (`--seed` for
 * the sampler seeds, `--set NODE.INPUT=VALUE` for single inputs);
 * `submit --resume` takes over the jobs of CLI runs that died and follows them.
 *
 * Every wait ends: a job no server takes is cancelled after the queue timeout, and Ctrl-C
 * ends any wait at once.
 */
import path from 'node:path'
import { BalancerCore } from '../main/core/app'
import {
  loadWorkflowBytes,
  summarize,
  NeedsObjectInfoError,
  WorkflowError,
  type LoadedWorkflow
} from '../main/core/app'
import { cliDataDir } from '../main/core/app'
import { jobErrorLines, sayAttempt, sayJobNote, sayLacks } from '../main/core/app'
import { normalizeServerUrl, parseSettings, serversFromUrls } from '../main/core/app'
import { readWorkflowFile } from '../main/core/app'
import type { ObjectInfo } from '../main/core/app'
import {
  makeVariations,
  MAX_VARIATIONS,
  parseSet,
  SEED_MODES,
  VariationError,
  type InputSet,
  type SeedMode
} from '../main/core/app'
import { stripControls, terminalJson } from '../shared/terminal'
import { type JobNoteSaid } from '../shared/job-said'
import type { AppSettings, FleetStatus, JobRecord, ServerConfig } from '../shared/types'
import { human, type CliIo } from './io'
import {
  CliRun,
  isDead,
  isFinishedJob,
  listRuns,
  matchesId,
  readJournal,
  runJobs,
  type RunFiles
} from './runs'

export interface SubmitArgs {
  file: string
  settings: AppSettings
  server?: string
  wait: boolean
  out?: string
  json: boolean
  /** Longest wait for a server to accept the job (ms). */
  queueTimeoutMs: number
  /** Runs of the workflow, 1 to 1000 (`--count`). @default 1 */
  count?: number
  /** `--seed random|increment|fixed`. @default random for more than one run, else fixed */
  seed?: string
  /** `--set NODE.INPUT=VALUE`, each as given. */
  sets?: string[]
}

export interface ResumeArgs {
  /** A job id (or its start) to resume the run of; all dead runs when absent. */
  id?: string
  /** Settings, or null to use the servers named in the journals. */
  settings: AppSettings | null
  wait: boolean
  out?: string
  json: boolean
  queueTimeoutMs: number
}

/** Exit code after Ctrl-C (128 + SIGINT); the process entry uses 143 for SIGTERM. */
export const EXIT_INTERRUPTED = 130

const s = stripControls

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
  if (p?.node) parts.push(`node ${s(p.node)}`)
  if (p && p.max > 0) parts.push(`step ${p.value}/${p.max}`)
  return parts.join('  ')
}

/** How a job ended, in one line (its own engine's job or one the running app reports). */
export function describeEnd(j: JobRecord): string {
  switch (j.state) {
    case 'done':
      if (j.missingOutputs) {
        return `Done with missing outputs on ${s(j.serverUrl ?? '')}: ${j.outputs.length} saved, ${j.missingOutputs} could not be saved`
      }
      return `Done on ${s(j.serverUrl ?? '')}: ${j.outputs.length} output(s)`
    case 'failed': {
      // The error's English message (the engine writes it from the said): a job the running app
      // reports is not trusted to carry a said of the shape its code promises.
      const e = j.error as Partial<Record<'message' | 'nodeId' | 'nodeType', unknown>> | null
      const text = (v: unknown) => (typeof v === 'string' && v ? s(v) : null)
      const message = text(e?.message) ?? 'unknown error'
      const node = text(e?.nodeId)
      const type = text(e?.nodeType)
      return `Failed: ${message}${node ? ` (node ${node}${type ? `, ${type}` : ''})` : ''}`
    }
    default:
      return `Job ${j.state}`
  }
}

const sleep = (ms: number) =>
  new Promise<void>((r) => {
    const t = setTimeout(r, ms)
    t.unref?.()
  })

/** Resolves with 'interrupted' if the user stops first. */
function orInterrupt<T>(p: Promise<T>, io: CliIo): Promise<T | 'interrupted'> {
  return Promise.race([p, io.interrupted.then(() => 'interrupted' as const)])
}

/**
 * Per-server reasons from the engine's last note while the job waited: "no healthy server can
 * run this workflow", with what each server lacks.
 */
function reasonsFromNotes(notes: readonly JobNoteSaid[]): Map<string, string> {
  const out = new Map<string, string>()
  const why = [...notes].reverse().find((n) => n.code === 'waiting')
  if (why?.code !== 'waiting' || why.why.code !== 'none-capable') return out
  for (const l of why.why.servers) if (!out.has(l.name)) out.set(l.name, sayLacks(l))
  return out
}

/** Why no server took the job, one line per enabled server. */
export function whyNotTaken(j: JobRecord, status: FleetStatus, servers: ServerConfig[]): string[] {
  const enabled = servers.filter(
    (x) => x.enabled && (!j.pinnedServerId || x.id === j.pinnedServerId)
  )
  const unable = reasonsFromNotes(j.notes)
  return enabled.map((x) => {
    const st = status.servers.find((y) => y.id === x.id)
    const tried = j.attempts.filter((a) => a.serverId === x.id).at(-1)
    let why: string
    if (st && !st.healthy) why = `down (${st.error ?? 'not checked yet'})`
    else if (unable.has(x.name)) why = unable.get(x.name)!
    else if (tried) why = sayAttempt(tried.result)
    else if (st?.down) why = 'down'
    else why = 'up, but did not take it'
    return `${s(x.name)}: ${s(why)}`
  })
}

function jobJson(j: JobRecord) {
  return {
    promptId: j.id,
    ...(j.batch ? { index: j.batch.index } : {}),
    server: j.serverUrl,
    status: j.state,
    outputs: j.outputs.map((o) => o.path),
    attempts: j.attempts.map((t) => ({ server: t.serverUrl, result: sayAttempt(t.result) })),
    ...(j.error ? { error: j.error } : {})
  }
}

interface FollowOptions {
  core: BalancerCore
  ids: string[]
  wait: boolean
  json: boolean
  queueTimeoutMs: number
  /** Printed in the JSON for one job as an object, else an array. */
  single: boolean
  /** The jobs are one batch: progress is `n/N done`, the JSON `{ batchId, jobs }`. */
  batchId?: string
}

/** `3/12 done` (with the failed ones, if any) for the jobs of a batch. */
export function batchProgress(jobs: JobRecord[]): string {
  const done = jobs.filter((j) => j.state === 'done').length
  const failed = jobs.filter((j) => isFinishedJob(j) && j.state !== 'done').length
  return `${done}/${jobs.length} done${failed ? `, ${failed} failed or cancelled` : ''}`
}

/** Waits for acceptance (bounded) and, with `wait`, for the end; prints the outcome. */
async function follow(o: FollowOptions, io: CliIo): Promise<number> {
  const { core, ids } = o
  const engine = core.jobs!
  const quiet = o.json
  const get = (id: string) => engine.get(id)!
  let interrupted = false
  let last = ''
  let lastLen = 0
  const inBatch = new Set(o.batchId ? ids : [])
  const show = (j: JobRecord) => {
    if (quiet || !ids.includes(j.id)) return
    if (o.batchId) {
      if (!inBatch.has(j.id)) return
      const line = batchProgress(ids.map(get))
      if (line === last) return
      last = line
      // Progress is for a person: stderr, redrawn in place on a terminal.
      if (io.liveProgress && io.progress) io.progress(line)
      else human(io, line)
      return
    }
    const line = ids.length > 1 ? `${j.id.slice(0, 8)} ${progressLine(j)}` : progressLine(j)
    if (line === last) return
    last = line
    // For a person: stderr (stdout carries only the result), redrawn in place on a terminal.
    if (io.liveProgress && io.progress && ids.length === 1) {
      io.progress(line)
      lastLen = line.length
    } else if (j.state !== 'running' || j.progress?.max === j.progress?.value) {
      human(io, line)
    }
  }
  const unaccepted = () => ids.filter((id) => get(id).state === 'pending')
  // 1. Until a server accepted every job (or it failed), at most the queue timeout.
  const accepted = new Promise<void>((resolve) => {
    const check = () => {
      if (!unaccepted().length) {
        off()
        resolve()
      }
    }
    const off = engine.events.on('job', (j) => {
      if (ids.includes(j.id)) check()
    })
    check()
  })
  let timer: ReturnType<typeof setTimeout> | undefined
  const timedOut = new Promise<'timeout'>(
    (r) => (timer = setTimeout(() => r('timeout'), o.queueTimeoutMs))
  )
  const first = await Promise.race([
    accepted,
    timedOut,
    io.interrupted.then(() => 'interrupted' as const)
  ])
  clearTimeout(timer)
  const notTaken = new Map<string, string[]>()
  if (first === 'timeout' || first === 'interrupted') {
    const status = core.status()
    for (const id of unaccepted()) {
      const reasons = whyNotTaken(get(id), status, core.settings.servers)
      await engine.cancel(id)
      notTaken.set(id, reasons)
    }
    if (first === 'interrupted') interrupted = true
  }
  // 2. With --wait, to the end.
  if (!interrupted && o.wait) {
    const off = engine.events.on('job', show)
    const open = ids.filter((id) => !isFinishedJob(get(id)))
    const r = await orInterrupt(Promise.all(open.map((id) => engine.waitFor(id))), io)
    off()
    if (io.liveProgress && !quiet && ids.length === 1 && !o.batchId && lastLen) io.progress?.(null)
    if (o.batchId && !quiet && io.liveProgress) io.progress?.(null)
    if (r === 'interrupted') interrupted = true
  }
  const finals = ids.map(get)
  const secs = Math.round(o.queueTimeoutMs / 100) / 10
  if (o.json) {
    const objs = finals.map((j) => {
      const reasons = notTaken.get(j.id)
      if (!reasons) return jobJson(j)
      return {
        ...jobJson(j),
        error: {
          message: interrupted
            ? 'Stopped before a server took the job'
            : `No server took the job within ${secs} s`,
          details: reasons
        }
      }
    })
    io.out(terminalJson(o.batchId ? { batchId: o.batchId, jobs: objs } : o.single ? objs[0] : objs))
  } else {
    for (const j of finals) {
      const label = ids.length > 1 ? `${j.id.slice(0, 8)} (${s(j.source)}): ` : ''
      const reasons = notTaken.get(j.id)
      if (reasons) {
        io.out(
          interrupted
            ? `${label}Stopped before a server took the job; it was cancelled.`
            : `${label}No server took the job within ${secs} s; it was cancelled.`
        )
        for (const r of reasons) io.out(`  ${r}`)
      } else if (j.state === 'queued' || j.state === 'running') {
        io.out(
          `${label}${j.state === 'running' ? 'Running' : 'Queued'} on ${s(j.serverUrl ?? '?')} as ${j.id}`
        )
      } else {
        io.out(label + describeEnd(j))
        const lines = j.error ? [...(j.error.details ?? []), ...jobErrorLines(j.error.said)] : []
        for (const d of lines) io.out(`  ${s(d)}`)
        const missing = j.missingOutputs
          ? [...j.notes].reverse().find((n) => n.code === 'missing-outputs')
          : undefined
        if (missing) io.out(`  ${s(sayJobNote(missing))}`)
        for (const out of j.outputs) io.out(`  ${s(out.path)}`)
      }
    }
    if (o.batchId) io.out(`Batch ${o.batchId}: ${batchProgress(finals)}`)
    const open = finals.filter((j) => j.state === 'queued' || j.state === 'running')
    if (open.length && (interrupted || !o.wait)) {
      const one = open.length === 1 ? open[0]!.id : ''
      io.out(
        `Follow ${open.length === 1 ? 'it' : 'them'} and save the outputs with: comfy-balancer submit --resume ${one}${one ? ' ' : ''}--wait`
      )
    }
  }
  if (interrupted) return EXIT_INTERRUPTED
  if (notTaken.size) return 1
  // A job whose outputs could not all be saved did not do its work: exit 1.
  const okWait = finals.every((j) => j.state === 'done' && !j.missingOutputs)
  const okNoWait = finals.every((j) => ['queued', 'running', 'done'].includes(j.state))
  return (o.wait ? okWait : okNoWait) ? 0 : 1
}

/** Runs `body` with a started core journaling into this run's journal, then cleans up. */
async function withCore(
  settings: AppSettings,
  run: CliRun,
  outputDir: string,
  clientId: string | undefined,
  quiet: boolean,
  io: CliIo,
  body: (core: BalancerCore) => Promise<number>
): Promise<number> {
  const core = new BalancerCore({
    settings,
    jobs: {
      journalFile: run.journalFile,
      outputDir,
      pollIntervalMs: 1000,
      holdBack: null,
      historyLimit: 100_000,
      ...(clientId ? { clientId } : {})
    }
  })
  const offLog = core.events.on('log', (l) => {
    if (!quiet && l.message.startsWith('[Jobs]')) io.out(s(l.message.replace(/^\[Jobs\] /, '')))
  })
  let stopped = false
  try {
    core.start()
    return await body(core)
  } finally {
    offLog()
    // A hung server must not hold the exit: stop, but not for longer than a moment.
    await Promise.race([core.stop().then(() => (stopped = true)), sleep(800)])
    if (stopped) run.release()
  }
}

/** How long `--set` waits for a server's node list (object_info is about 500 KB). */
export const OBJECT_INFO_TIMEOUT_MS = 30_000

interface Variations {
  count: number
  seed: SeedMode
  sets: InputSet[]
}

/** The variation flags, checked; a message for bad usage. */
export function variationFlags(
  a: Pick<SubmitArgs, 'count' | 'seed' | 'sets'>
): Variations | string {
  const count = a.count ?? 1
  if (!Number.isInteger(count) || count < 1 || count > MAX_VARIATIONS) {
    return `--count must be a whole number from 1 to ${MAX_VARIATIONS}, got "${count}"`
  }
  const seed = a.seed ?? (count > 1 ? 'random' : 'fixed')
  if (!SEED_MODES.includes(seed as SeedMode)) {
    return `--seed must be random, increment or fixed, got "${seed}"`
  }
  const sets: InputSet[] = []
  for (const text of a.sets ?? []) {
    try {
      sets.push(parseSet(text))
    } catch (err) {
      return (err as Error).message
    }
  }
  return { count, seed: seed as SeedMode, sets }
}

export async function submitCommand(a: SubmitArgs, io: CliIo): Promise<number> {
  const flags = variationFlags(a)
  if (typeof flags === 'string') {
    io.err(`comfy-balancer: ${s(flags)}`)
    return 2
  }
  // Read and checked before anything starts; a UI-format workflow is converted once the
  // servers' node definitions are known (below).
  let wf: LoadedWorkflow | null = null
  let bytes: Uint8Array
  const source = path.basename(a.file)
  try {
    bytes = await readWorkflowFile(path.resolve(a.file))
    wf = loadWorkflowBytes(Buffer.from(bytes), source)
  } catch (err) {
    if (!(err instanceof WorkflowError)) throw err
    if (!(err instanceof NeedsObjectInfoError)) {
      io.err(`comfy-balancer: ${s(err.message)}`)
      return 2
    }
    bytes ??= new Uint8Array()
  }
  let settings = a.settings
  let pinned: string | undefined
  if (a.server) {
    const n = normalizeServerUrl(a.server)
    if ('error' in n) {
      io.err(`comfy-balancer: --server: ${n.error}`)
      return 2
    }
    let match = settings.servers.find((x) => x.url === n.url)
    if (!match) {
      const extra = serversFromUrls([n.url]).servers[0]!
      settings = parseSettings({
        ...settings,
        servers: [...settings.servers, { ...extra, id: `${extra.id}-pinned` }]
      }).settings
      match = settings.servers.find((x) => x.url === n.url)!
    }
    pinned = match.id
  }
  const run = CliRun.create(cliDataDir(io.env))
  const outputDir = path.resolve(a.out ?? 'comfy-outputs')
  return withCore(settings, run, outputDir, undefined, a.json, io, async (core) => {
    const status = await orInterrupt(core.checkNow(), io)
    if (status === 'interrupted') return EXIT_INTERRUPTED
    if (!wf) {
      try {
        const got = await orInterrupt(core.loadWorkflow(bytes, source), io)
        if (got === 'interrupted') return EXIT_INTERRUPTED
        wf = got
      } catch (err) {
        if (!(err instanceof WorkflowError)) throw err
        io.err(`comfy-balancer: ${s(err.message)}`)
        return 2
      }
      if (!a.json) human(io, `${s(source)}: UI workflow, converted with the servers' node list`)
    }
    if (!a.json) {
      io.out(
        `${s(wf.source)}: ${wf.summary.nodeCount} nodes, ${wf.summary.models.length} model(s), ${wf.summary.images.length} input image(s)`
      )
      io.out(`${status.healthy}/${status.total} servers up`)
    }
    let prompts = [wf.prompt]
    if (flags.count > 1 || flags.seed !== 'fixed' || flags.sets.length) {
      let info: ObjectInfo | undefined
      if (flags.sets.length) {
        const got = await orInterrupt(core.fleetObjectInfo(OBJECT_INFO_TIMEOUT_MS), io)
        if (got === 'interrupted') return EXIT_INTERRUPTED
        info = got ?? undefined
        if (!info && !a.json) {
          human(
            io,
            'No server sent its node list: --set values are read like the values in the file'
          )
        }
      }
      try {
        prompts = makeVariations(wf.prompt, flags, info)
      } catch (err) {
        if (!(err instanceof VariationError)) throw err
        io.err(`comfy-balancer: ${s(err.message)}`)
        return 2
      }
    }
    const common = { serverId: pinned ?? null, baseDir: path.dirname(path.resolve(a.file)) }
    if (prompts.length === 1) {
      const prompt = prompts[0]!
      const job = core.jobs!.submit({ ...wf, prompt, summary: summarize(prompt) }, common)
      return follow(
        {
          core,
          ids: [job.id],
          wait: a.wait,
          json: a.json,
          queueTimeoutMs: a.queueTimeoutMs,
          single: true
        },
        io
      )
    }
    const batch = core.jobs!.submitBatch(wf, prompts, common)
    if (!a.json) {
      human(io, `Batch ${batch.batchId}: ${prompts.length} runs, seeds ${flags.seed}`)
    }
    return follow(
      {
        core,
        ids: batch.jobs.map((j) => j.id),
        wait: a.wait,
        json: a.json,
        queueTimeoutMs: a.queueTimeoutMs,
        single: false,
        batchId: batch.batchId
      },
      io
    )
  })
}

/** Servers named by jobs, for a resume without settings. */
export function serversOfJobs(jobs: JobRecord[]): string[] {
  const urls = new Set<string>()
  for (const j of jobs) {
    if (j.serverUrl) urls.add(j.serverUrl)
    for (const t of j.attempts) urls.add(t.serverUrl)
  }
  return [...urls]
}

/** The dead runs to take over: all, or the one holding job `id`. */
export function deadRunsFor(
  dir: string,
  id: string | undefined
): { runs: RunFiles[]; error?: string } {
  const all = listRuns(dir)
  if (!id) return { runs: all.filter(isDead) }
  const holding = all.filter((r) => runJobs(r).some((e) => matchesId(e.job.id, id)))
  if (!holding.length) return { runs: [], error: `No job ${id} in the CLI's journals` }
  const dead = holding.filter(isDead)
  if (!dead.length) {
    const pid = holding[0]!.lock?.pid
    return {
      runs: [],
      error: `Job ${id} belongs to a run that is still going${pid ? ` (process ${pid})` : ''}`
    }
  }
  return { runs: dead }
}

/** Settings that know every server the jobs name, and the jobs' server ids mapped to them. */
export function settingsForJobs(
  base: AppSettings | null,
  jobs: JobRecord[]
): { settings: AppSettings; adapt: (j: JobRecord) => JobRecord } {
  let settings = base ?? parseSettings({ servers: [] }).settings
  const missing = serversOfJobs(jobs).filter((u) => !settings.servers.some((x) => x.url === u))
  if (missing.length) {
    const { servers } = serversFromUrls(missing)
    const taken = new Set(settings.servers.map((x) => x.id))
    const extra = servers.map((x) => {
      let id = x.id
      for (let i = 2; taken.has(id); i++) id = `${x.id}-${i}`
      taken.add(id)
      return { ...x, id }
    })
    settings = parseSettings({ ...settings, servers: [...settings.servers, ...extra] }).settings
  }
  const byUrl = new Map(settings.servers.map((x) => [x.url, x.id]))
  const ids = new Set(settings.servers.map((x) => x.id))
  const adapt = (j: JobRecord): JobRecord => {
    const idFor = (id: string | null, url: string | null) =>
      url && byUrl.has(url) ? byUrl.get(url)! : id && ids.has(id) ? id : id
    const serverId = idFor(j.serverId, j.serverUrl)
    let pinnedServerId = j.pinnedServerId
    if (pinnedServerId && !ids.has(pinnedServerId)) {
      const url = j.attempts.find((t) => t.serverId === pinnedServerId)?.serverUrl ?? j.serverUrl
      pinnedServerId = url && byUrl.has(url) ? byUrl.get(url)! : pinnedServerId
    }
    return {
      ...j,
      serverId,
      pinnedServerId,
      attempts: j.attempts.map((t) => ({ ...t, serverId: idFor(t.serverId, t.serverUrl)! }))
    }
  }
  return { settings, adapt }
}

export async function resumeCommand(a: ResumeArgs, io: CliIo): Promise<number> {
  const dir = cliDataDir(io.env)
  const found = deadRunsFor(dir, a.id)
  if (found.error) {
    io.err(`comfy-balancer: ${s(found.error)}`)
    return 1
  }
  const open = found.runs
    .flatMap((r) => runJobs(r).map((e) => e.job))
    .filter((j) => !isFinishedJob(j))
  if (!open.length) {
    io.out(a.json ? '[]' : 'Nothing to resume: no unfinished job of an ended run.')
    return 0
  }
  const { settings, adapt } = settingsForJobs(a.settings, open)
  if (!settings.servers.length) {
    io.err('comfy-balancer: no servers known: pass --servers http://host:8188,...')
    return 2
  }
  const run = CliRun.create(dir)
  run.takeOver(found.runs, adapt)
  const jobs = readJournal(run.journalFile).map((e) => e.job)
  const ids = jobs.filter((j) => !isFinishedJob(j)).map((j) => j.id)
  if (!ids.length) {
    run.release()
    io.out(a.json ? '[]' : 'Nothing to resume: another run took these jobs first.')
    return 0
  }
  if (!a.json) io.out(`Resuming ${ids.length} job(s) from ${found.runs.length} ended run(s)`)
  const clientId = jobs.find((j) => ids.includes(j.id))?.clientId
  const outputDir = path.resolve(a.out ?? 'comfy-outputs')
  return withCore(settings, run, outputDir, clientId, a.json, io, async (core) => {
    const status = await orInterrupt(core.checkNow(), io)
    if (status === 'interrupted') return EXIT_INTERRUPTED
    return follow(
      { core, ids, wait: a.wait, json: a.json, queueTimeoutMs: a.queueTimeoutMs, single: false },
      io
    )
  })
}
