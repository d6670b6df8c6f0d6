/**
 * `comfy-balancer`: the headless face of the same core.
 *
 *   status     [--servers URL[,URL...]] [--config FILE] [--json] [--timeout MS]
 *   submit     FILE [--servers ...] [--server URL] [--wait] [--out DIR] [--json] [--queue-timeout MS]
 *              [--no-app]
 *   submit     --resume [ID] [--wait] [--out DIR]
 *   jobs       [--json]
 *   cancel     ID | --batch ID | --all
 *   retry      ID | --batch ID [--wait] [--out DIR] [--json]
 *   pause | resume   the app's sending (kept in its queue state file)
 *   watch      [--servers URL[,...]] [--interval MS] [--timeout MS] [--verbose] [--rounds N] [--json]
 *   serve      (see serve.ts)
 *   fake-fleet --count N [--port P] [--speeds 1,1,0.5] [--job-ms MS]
 *   demo       [--rounds N]
 *   --version, -V; --help, -h (per command: COMMAND --help)
 *
 * `submit`, `jobs` and `cancel` without `--servers` / `--config` go through the running tray
 * app's gateway when it answers as the app (remote.ts), so a machine has one queue; `--no-app`
 * keeps them on the CLI's own engine.
 *
 * stdout carries only the result; banners, notes and progress go to stderr (see io.ts).
 *
 * Exit codes: 0 ok, 1 the work failed (no healthy server), 2 bad usage or bad input,
 * 130 / 143 stopped by Ctrl-C / SIGTERM.
 */
import { readFileSync } from 'node:fs'
import pkg from '../../package.json' with { type: 'json' }
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { BalancerCore } from '../main/core/app'
import { settingsFile } from '../main/core/app'
import { stripControls, terminalJson } from '../shared/terminal'
import { LIMITS, parseSettings, serversFromUrls } from '../main/core/app'
import type { AppSettings, LogLine } from '../shared/types'
import { startFakeFleet } from '../fake-comfy'
import { jobsText, statusJson, statusText, type StatusJson } from './format'
import { EXIT_INTERRUPTED, resumeCommand, submitCommand } from './submit'
import { cancelCommand, listJobs } from './jobs'
import { appPaused, cancelManyCommand, pauseCommand, retryCommand } from './queue'
import { human, streamIo, type CliIo } from './io'
import { runServe } from './serve'
import {
  appJobs,
  findApp,
  listedFromApp,
  remoteCancel,
  remoteSubmit,
  throughApp,
  type AppGateway
} from './remote'
import { FINISHED_JOB_STATES } from '../shared/types'

export type { CliIo }

const FINISHED = new Set<string>(FINISHED_JOB_STATES)

/** Check rounds a submitted job may wait for a server to take it, by default. */
export const QUEUE_TIMEOUT_INTERVALS = 3

function queueTimeout(v: Values, settings: AppSettings): number {
  return (
    intOption(v, 'queue-timeout', 100, 86_400_000) ??
    QUEUE_TIMEOUT_INTERVALS * settings.healthCheckInterval
  )
}

async function cmdSubmit(args: string[], v: Values, io: CliIo): Promise<number> {
  if (v.resume) {
    const settings = loadSettingsIfAny(v, io)
    return resumeCommand(
      {
        id: args[0],
        settings,
        wait: Boolean(v.wait),
        out: v.out,
        json: Boolean(v.json),
        queueTimeoutMs: queueTimeout(v, settings ?? parseSettings({}).settings)
      },
      io
    )
  }
  const file = args[0]
  if (!file)
    throw new UsageError('submit needs a workflow file: comfy-balancer submit FILE.json|FILE.png')
  const app = await viaApp(v, io)
  if (app) {
    return remoteSubmit(
      app,
      {
        file,
        server: v.server,
        wait: Boolean(v.wait),
        out: v.out,
        json: Boolean(v.json),
        count: intOption(v, 'count', 1, 1000),
        seed: v.seed,
        sets: v.set,
        // The app's queue is the user's: a job waits there unless a deadline is asked for.
        queueTimeoutMs: intOption(v, 'queue-timeout', 100, 86_400_000)
      },
      io
    )
  }
  const settings = loadSettings(v, io)
  return submitCommand(
    {
      file,
      settings,
      server: v.server,
      wait: Boolean(v.wait),
      out: v.out,
      json: Boolean(v.json),
      queueTimeoutMs: queueTimeout(v, settings),
      count: intOption(v, 'count', 1, 1000),
      seed: v.seed,
      sets: v.set
    },
    io
  )
}

/**
 * The running app's gateway, when the command may go through it: no `--servers`, `--config`
 * or `--no-app`, and the settings' address answers as the app within a moment.
 */
async function viaApp(v: Values, io: CliIo): Promise<AppGateway | null> {
  if (v['no-app'] || v.servers !== undefined || v.config !== undefined) return null
  const probe = await findApp(io.env)
  if (probe && 'tokenRefused' in probe) {
    human(
      io,
      `The gateway at ${probe.tokenRefused} did not take the token in the app's settings; using the CLI's own engine.`
    )
    return null
  }
  return probe?.found ?? null
}

/** Settings as `loadSettings`, or null when none are given and the app has none. */
function loadSettingsIfAny(v: Values, io: CliIo): AppSettings | null {
  if (v.servers === undefined && v.config === undefined) {
    try {
      readFileSync(settingsFile(io.env))
    } catch {
      return null
    }
  }
  return loadSettings(v, io)
}

async function cmdCancel(args: string[], v: Values, io: CliIo): Promise<number> {
  const id = args[0]
  const given = [id !== undefined, v.batch !== undefined, Boolean(v.all)].filter(Boolean).length
  if (given !== 1) {
    throw new UsageError(
      'cancel needs one of a job id, --batch ID or --all: comfy-balancer cancel ID|--batch ID|--all'
    )
  }
  const app = await viaApp(v, io)
  if (app) {
    throughApp(app, io)
    const sel =
      id !== undefined
        ? { id }
        : v.batch !== undefined
          ? { batch: v.batch }
          : { all: true as const }
    const code = await remoteCancel(app, sel, io)
    if (code !== 'unknown') {
      if (!('all' in sel) || code !== 0) return code
      // Every job: the unfinished ones of ended CLI runs too.
      const ended = listJobs(io.env).filter(
        (j) => j.owner === 'cli' && !j.runActive && !FINISHED.has(j.state)
      )
      if (!ended.length) return 0
    }
    // Not the app's: a job or batch of an ended CLI run, perhaps.
  }
  const settings = loadSettingsIfAny(v, io)
  if (id !== undefined) return cancelCommand(id, settings, io)
  return cancelManyCommand(v.batch !== undefined ? { batch: v.batch } : { all: true }, settings, io)
}

async function cmdRetry(args: string[], v: Values, io: CliIo): Promise<number> {
  const id = args[0]
  if ((id === undefined) === (v.batch === undefined)) {
    throw new UsageError('retry needs a job id or --batch ID: comfy-balancer retry ID|--batch ID')
  }
  const settings = loadSettingsIfAny(v, io)
  return retryCommand(
    {
      sel: id !== undefined ? { id } : { batch: v.batch! },
      settings,
      wait: Boolean(v.wait),
      out: v.out,
      json: Boolean(v.json),
      queueTimeoutMs: queueTimeout(v, settings ?? parseSettings({}).settings)
    },
    io
  )
}

export class UsageError extends Error {}

type OptionName = keyof typeof OPTIONS

/** Every option: its argument (for the help) and what it does. */
const OPTION_HELP: Record<Exclude<OptionName, 'help' | 'version'>, [string, string]> = {
  servers: ['--servers URL[,URL...]', "Servers to use (default: the app's settings file)"],
  config: ['--config FILE', "Settings file to read instead of the app's"],
  json: ['--json', 'Print JSON instead of text'],
  server: ['--server URL', 'Run on this server only'],
  wait: ['--wait', 'Follow the job to the end and save its outputs'],
  out: ['--out DIR', 'Where outputs go (default ./comfy-outputs)'],
  'queue-timeout': [
    '--queue-timeout MS',
    'Give up and cancel the job when no server has taken it after MS\n(default 3 check intervals: 90000 with --interval 30000)'
  ],
  resume: ['--resume [ID]', 'Take over the unfinished jobs of CLI runs that ended'],
  timeout: ['--timeout MS', 'Per-request timeout (default 10000)'],
  interval: ['--interval MS', 'Time between check rounds (default 30000)'],
  verbose: ['--verbose', 'Report every round, one line per server'],
  rounds: ['--rounds N', 'Stop after N rounds'],
  count: ['--count N', 'Number of servers (default 3)'],
  port: ['--port P', 'First port; servers use P, P+1, ...'],
  speeds: ['--speeds 1,1,0.5', 'Relative speed of each server'],
  'job-ms': ['--job-ms MS', 'Run time of one job at speed 1'],
  seed: ['--seed MODE', 'Seeds of the runs: random, increment or fixed'],
  set: ['--set NODE.INPUT=VALUE', 'Change one input of the workflow (may be repeated)'],
  batch: ['--batch ID', 'Every job of this batch'],
  all: ['--all', 'Every unfinished job'],
  'no-app': ['--no-app', "Use the CLI's own engine even when the app is running"]
}

interface Command {
  usage: string
  summary: string
  options: Array<Exclude<OptionName, 'help' | 'version'>>
  /** Most positional arguments after the command name. */
  args: number
  /** Extra help lines. */
  more?: string
  /** Help texts of this command that differ from `OPTION_HELP`. */
  help?: Partial<typeof OPTION_HELP>
}

const COMMANDS: Record<string, Command> = {
  status: {
    usage: 'status [--servers URL,...] [--json]',
    summary: 'Check every server once and print the fleet state',
    options: ['servers', 'config', 'json', 'timeout'],
    args: 0
  },
  submit: {
    usage:
      'submit FILE [--wait] [--out DIR] [--json]\n       comfy-balancer submit --resume [ID] [--wait]',
    summary:
      'Send a workflow (.json API format or ComfyUI .png) to the least busy server.\nWith --resume: take over the unfinished jobs of CLI runs that ended (all, or the one\nholding job ID), follow them and save their outputs.',
    options: [
      'servers',
      'config',
      'server',
      'wait',
      'out',
      'json',
      'queue-timeout',
      'resume',
      'timeout',
      'interval',
      'count',
      'seed',
      'set',
      'no-app'
    ],
    help: { count: ['--count N', 'Run the workflow N times, spread over the fleet (1 to 1000)'] },
    args: 1,
    more: `Progress goes to stderr; stdout gets only the result.
When the app runs (its gateway on) and neither --servers nor --config is given, the job
goes into the app's queue and --wait follows it there; Ctrl-C stops following and leaves
it queued. --queue-timeout then applies only when given. --no-app runs it here instead.`
  },
  jobs: {
    usage: 'jobs [--json] [--no-app]',
    summary: "List the jobs of the CLI's runs and of the app",
    options: ['json', 'no-app'],
    args: 0,
    more: 'When the app runs, its jobs are read from it (live); else from its journal.'
  },
  cancel: {
    usage: 'cancel ID | --batch ID | --all [--no-app]',
    summary: 'Cancel jobs of the app or of CLI runs that ended, on their servers too',
    options: ['servers', 'config', 'timeout', 'batch', 'all', 'no-app'],
    help: { batch: ['--batch ID', 'Every unfinished job of this batch'] },
    args: 1,
    more: 'When the app runs, its jobs are cancelled through it. Jobs of a CLI run that is still\ngoing are left alone (stop that run with Ctrl-C).'
  },
  retry: {
    usage: 'retry ID | --batch ID [--wait] [--out DIR] [--json]',
    summary: 'Run failed jobs of CLI runs that ended again, in their place in their batch',
    options: ['servers', 'config', 'timeout', 'batch', 'wait', 'out', 'json', 'queue-timeout'],
    help: {
      batch: ['--batch ID', 'Every failed or interrupted job of this batch'],
      wait: ['--wait', 'Follow the new jobs to the end and save their outputs']
    },
    args: 1,
    more: 'A job retried once is replaced by its retry; retry the new job if it fails too.'
  },
  pause: {
    usage: 'pause [--json]',
    summary: 'Pause sending in the app: new jobs wait, jobs on servers go on',
    options: ['json'],
    args: 0,
    more: 'Kept until comfy-balancer resume, also when the app restarts. A running app\ntakes it up at its next server check.'
  },
  resume: {
    usage: 'resume [--json]',
    summary: 'Resume sending in the app: waiting jobs go out again',
    options: ['json'],
    args: 0
  },
  watch: {
    usage: 'watch [--servers URL,...] [--interval MS] [--verbose] [--json]',
    summary: 'Check in a loop and print a line whenever something changes',
    options: ['servers', 'config', 'json', 'timeout', 'interval', 'verbose', 'rounds'],
    args: 0,
    more: 'With --json: one JSON object per line on every change (every round with --verbose),\nwith the same fields as status --json.'
  },
  'fake-fleet': {
    usage: 'fake-fleet [--count N] [--port P] [--speeds 1,1,0.5]',
    summary: 'Start fake ComfyUI servers on 127.0.0.1 for trying things out',
    options: ['count', 'port', 'speeds', 'job-ms'],
    args: 0
  },
  demo: {
    usage: 'demo [--rounds N]',
    summary: 'Start a fake fleet of three servers and watch it',
    options: ['rounds', 'job-ms'],
    args: 0
  }
}

const EXIT_CODES = `Exit codes: 0 ok, 1 no healthy server or the work failed, 2 bad usage or bad input,
130 stopped with Ctrl-C (143 for SIGTERM). Ctrl-C twice stops at once.`

function optionLines(c: Command): string[] {
  const rows = c.options.map((n) => c.help?.[n] ?? OPTION_HELP[n])
  const w = Math.max(...rows.map(([a]) => a.length), '-h, --help'.length) + 2
  const lines: string[] = []
  for (const [arg, text] of rows) {
    const [first, ...rest] = text.split('\n')
    lines.push(`  ${arg.padEnd(w)}${first}`)
    for (const r of rest) lines.push(`  ${' '.repeat(w)}${r}`)
  }
  lines.push(`  ${'-h, --help'.padEnd(w)}Show this help`)
  return lines
}

/** The help of one command: its usage and its options only. */
export function commandUsage(name: string): string {
  const c = COMMANDS[name]
  if (!c) return USAGE
  return [
    `Usage: comfy-balancer ${c.usage}`,
    '',
    c.summary,
    '',
    'Options:',
    ...optionLines(c),
    ...(c.more ? ['', c.more] : []),
    '',
    EXIT_CODES
  ].join('\n')
}

export const USAGE = `Usage: comfy-balancer <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([n, c]) => `  ${n.padEnd(12)}${c.summary.split('\n')[0]}`)
  .join('\n')}
  serve       One ComfyUI address for all your servers (the gateway), until Ctrl-C

Options:
  -h, --help     Show this help (comfy-balancer COMMAND --help: that command's options)
  -V, --version  Show the version

The CLI keeps a journal of its jobs in the app's data folder (cli/), so a job of a run
that was killed can be resumed or cancelled; COMFY_BALANCER_DATA=DIR moves that folder.
When the tray app runs, submit, jobs and cancel without --servers or --config go through
it (one queue for the machine); --no-app keeps them on the CLI's own engine.

Colours follow the terminal; NO_COLOR=1 turns them off, FORCE_COLOR=1 on.

${EXIT_CODES}`

/** The package version (`comfy-balancer --version`). */
export const VERSION: string = pkg.version

const OPTIONS = {
  servers: { type: 'string' },
  config: { type: 'string' },
  json: { type: 'boolean' },
  server: { type: 'string' },
  wait: { type: 'boolean' },
  out: { type: 'string' },
  'queue-timeout': { type: 'string' },
  resume: { type: 'boolean' },
  timeout: { type: 'string' },
  interval: { type: 'string' },
  verbose: { type: 'boolean' },
  rounds: { type: 'string' },
  count: { type: 'string' },
  port: { type: 'string' },
  speeds: { type: 'string' },
  'job-ms': { type: 'string' },
  seed: { type: 'string' },
  set: { type: 'string', multiple: true },
  batch: { type: 'string' },
  all: { type: 'boolean' },
  'no-app': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' }
} satisfies ParseArgsConfig['options']

type Values = ReturnType<
  typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>
>['values']

function intOption(v: Values, name: keyof Values, min: number, max: number): number | undefined {
  const raw = v[name]
  if (raw === undefined) return undefined
  const s = String(raw)
  if (!/^\d+$/.test(s) || Number(s) < min || Number(s) > max) {
    throw new UsageError(
      `--${String(name)} must be a whole number from ${min} to ${max}, got "${s}"`
    )
  }
  return Number(s)
}

/** Settings from `--servers` (URLs) or the settings file, with CLI overrides applied. */
export function loadSettings(v: Values, io: CliIo): AppSettings {
  let base: AppSettings
  if (v.servers !== undefined) {
    const { servers, problems } = serversFromUrls([v.servers])
    if (problems.length) throw new UsageError(problems.map((p) => p.message).join('\n'))
    if (!servers.length) throw new UsageError('--servers needs at least one URL')
    base = parseSettings({ servers }).settings
  } else {
    const file = v.config ?? settingsFile(io.env)
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      throw new UsageError(
        `No --servers given and no settings file at ${file}.\nAdd servers in the app, or pass --servers http://host:8188,...`
      )
    }
    let raw: unknown
    try {
      raw = JSON.parse(text)
    } catch {
      throw new UsageError(`The settings file ${file} is not valid JSON`)
    }
    const { settings, problems } = parseSettings(raw)
    for (const p of problems) io.err(`warning: ${file}: ${p.message}`)
    if (!settings.servers.length) throw new UsageError(`The settings file ${file} lists no servers`)
    base = settings
  }
  const timeout = intOption(v, 'timeout', LIMITS.timeout.min, LIMITS.timeout.max)
  const interval = intOption(
    v,
    'interval',
    LIMITS.healthCheckInterval.min,
    LIMITS.healthCheckInterval.max
  )
  return {
    ...base,
    ...(timeout !== undefined ? { timeout } : {}),
    ...(interval !== undefined ? { healthCheckInterval: interval } : {}),
    ...(v.verbose ? { verboseLogging: true } : {})
  }
}

function formatLog(l: LogLine): string {
  const t = new Date(l.time).toISOString().slice(11, 19)
  return `${t} ${stripControls(l.message)}`
}

async function cmdStatus(v: Values, io: CliIo): Promise<number> {
  const core = new BalancerCore({ settings: loadSettings(v, io) })
  try {
    const s = await Promise.race([core.checkNow(), io.interrupted.then(() => null)])
    if (!s) return EXIT_INTERRUPTED
    io.out(
      v.json
        ? terminalJson(statusJson(s))
        : statusText(s, { color: Boolean(io.color), columns: io.columns })
    )
    return s.bestServerId ? 0 : 1
  } finally {
    await stopSoon(core)
  }
}

/** Stops the core, waiting for a hung request no longer than a moment. */
async function stopSoon(core: BalancerCore): Promise<void> {
  await Promise.race([core.stop(), new Promise<void>((r) => setTimeout(r, 800).unref())])
}

/** What makes a `watch --json` line worth printing: the fleet's state, not its timings. */
export function statusChangeKey(j: StatusJson): string {
  return JSON.stringify([
    j.total,
    j.healthy,
    j.bestServer,
    j.servers.map((x) => [x.url, x.name, x.healthy, x.queue, x.error])
  ])
}

interface WatchOutput {
  /** One JSON object per line instead of log lines. */
  json: boolean
  /** With json: a line every round, not only on changes. */
  everyRound: boolean
}

/** Watches until `rounds` rounds are done or the user interrupts. */
async function watchCore(
  core: BalancerCore,
  rounds: number | undefined,
  io: CliIo,
  output: WatchOutput = { json: false, everyRound: false }
): Promise<number> {
  const offLog = output.json ? () => {} : core.events.on('log', (l) => io.out(formatLog(l)))
  let done = 0
  let last = core.status()
  let lastKey: string | null = null
  let offRound = () => {}
  const finished = new Promise<void>((resolve) => {
    offRound = core.events.on('round', (s) => {
      last = s
      done++
      if (output.json) {
        const j = statusJson(s)
        const key = statusChangeKey(j)
        if (output.everyRound || key !== lastKey) io.out(terminalJson(j, 0))
        lastKey = key
      }
      if (rounds !== undefined && done >= rounds) resolve()
    })
  })
  core.start()
  let stopped = false
  await Promise.race([finished, io.interrupted.then(() => (stopped = true))])
  offRound()
  offLog()
  await stopSoon(core)
  if (stopped) return EXIT_INTERRUPTED
  return last.bestServerId ? 0 : 1
}

async function cmdWatch(v: Values, io: CliIo): Promise<number> {
  const settings = loadSettings(v, io)
  const rounds = intOption(v, 'rounds', 1, 1_000_000)
  const core = new BalancerCore({ settings })
  human(
    io,
    `Watching ${settings.servers.length} server(s) every ${settings.healthCheckInterval} ms (timeout ${settings.timeout} ms)${settings.verboseLogging ? ', verbose' : ''}. Ctrl-C to stop.`
  )
  return watchCore(core, rounds, io, { json: Boolean(v.json), everyRound: Boolean(v.verbose) })
}

/** `jobs`: the table (or JSON) of every job the CLI and the app know. */
async function cmdJobs(v: Values, io: CliIo): Promise<number> {
  let jobs = listJobs(io.env)
  let paused: boolean | null = null
  const app = await viaApp(v, io)
  if (app) {
    try {
      const got = await appJobs(app, io)
      throughApp(app, io)
      if (got.truncated) human(io, `The app's newest ${got.jobs.length} jobs are listed.`)
      jobs = [...jobs.filter((j) => j.owner === 'cli'), ...listedFromApp(got.jobs, io.env)].sort(
        (a, b) => a.createdAt.localeCompare(b.createdAt)
      )
      paused = got.paused
    } catch (err) {
      human(
        io,
        `Could not read the jobs of the app at ${app.url} (${stripControls((err as Error).message)}); its journal is listed instead.`
      )
    }
  }
  if (v.json) {
    io.out(terminalJson(jobs))
    return 0
  }
  if (paused ?? appPaused(io.env)) human(io, "The app's sending is paused: comfy-balancer resume")
  if (!jobs.length) {
    io.out('No jobs.')
    return 0
  }
  for (const line of jobsText(jobs, { columns: io.columns })) io.out(line)
  const resumable = jobs.filter(
    (j) => j.owner === 'cli' && !j.runActive && !FINISHED.has(j.state)
  ).length
  if (resumable) {
    human(
      io,
      `${resumable} unfinished job(s) of ended runs: comfy-balancer submit --resume --wait follows them`
    )
  }
  return 0
}

function parseSpeeds(s: string | undefined, count: number): number[] | undefined {
  if (s === undefined) return undefined
  const parts = s.split(',').map((x) => x.trim())
  const speeds = parts.map(Number)
  if (speeds.some((x) => !Number.isFinite(x) || x <= 0 || x > 1000)) {
    throw new UsageError(`--speeds must be positive numbers separated by commas, got "${s}"`)
  }
  if (speeds.length !== count) {
    throw new UsageError(`--speeds lists ${speeds.length} speed(s) but --count is ${count}`)
  }
  return speeds
}

async function cmdFakeFleet(v: Values, io: CliIo): Promise<number> {
  // Up to 1000: a large fake fleet (for a CPU or scale measurement) in one process.
  const count = intOption(v, 'count', 1, 1000) ?? 3
  const port = intOption(v, 'port', 1, 65535)
  if (port !== undefined && port + count - 1 > 65535)
    throw new UsageError('--port is too high for --count servers')
  const speeds = parseSpeeds(v.speeds, count)
  const jobMs = intOption(v, 'job-ms', 1, 3_600_000)
  const fleet = await startFakeFleet({ count, port, speeds, jobMs })
  io.out(`Fake ComfyUI fleet: ${count} server(s) on 127.0.0.1. Ctrl-C to stop.`)
  fleet.urls.forEach((u, i) => io.out(`${u}  speed ${speeds?.[i] ?? 1}`))
  await io.interrupted
  await Promise.race([fleet.stop(), new Promise<void>((r) => setTimeout(r, 800).unref())])
  return 0
}

/** Three fake servers of different speeds, some traffic, one outage; watched verbosely. */
async function cmdDemo(v: Values, io: CliIo): Promise<number> {
  const rounds = intOption(v, 'rounds', 1, 1_000_000)
  const jobMs = intOption(v, 'job-ms', 1, 3_600_000) ?? 1500
  const speeds = [1, 0.5, 0.25]
  const names = ['gpu-fast', 'gpu-medium', 'gpu-slow']
  const fleet = await startFakeFleet({ count: 3, speeds, jobMs, names })
  io.out(
    'Demo: three fake ComfyUI servers on 127.0.0.1 (speeds 1, 0.5, 0.25), watched every second.'
  )
  fleet.urls.forEach((u, i) => io.out(`  ${names[i]}  ${u}  speed ${speeds[i]}`))
  io.out(
    'A job arrives every second, mostly on the best server; gpu-medium goes down for a while and comes back. Ctrl-C to stop.\n'
  )
  const { servers } = serversFromUrls(fleet.urls)
  const settings = parseSettings({
    servers: servers.map((s, i) => ({ ...s, name: names[i] })),
    healthCheckInterval: 1000,
    timeout: 800,
    verboseLogging: true
  }).settings
  const core = new BalancerCore({ settings })
  let tick = 0
  const traffic = setInterval(() => {
    tick++
    // Most jobs go where the balancer says; now and then someone else's job lands anywhere.
    const bestId = core.best().server?.id
    const bestIndex = settings.servers.findIndex((s) => s.id === bestId)
    const random = Math.random() < 0.3 || bestIndex < 0
    const target =
      fleet.servers[random ? Math.floor(Math.random() * fleet.servers.length) : bestIndex]
    target?.enqueueDummy(1)
    const medium = fleet.servers[1]
    if (medium && tick % 12 === 5) medium.setFault({ kind: 'refuse' })
    if (medium && tick % 12 === 9) medium.setFault(null)
  }, 1000)
  traffic.unref()
  try {
    return await watchCore(core, rounds, io)
  } finally {
    clearInterval(traffic)
    await fleet.stop()
  }
}

/** The command named in `argv` and where it is, whatever options come before it. */
function findCommand(argv: string[]): { name: string; index: number } | null {
  const { tokens } = parseArgs({
    args: argv,
    options: OPTIONS,
    allowPositionals: true,
    strict: false,
    tokens: true
  })
  const t = tokens.find((x) => x.kind === 'positional')
  return t && t.kind === 'positional' ? { name: t.value, index: t.index } : null
}

function usageError(io: CliIo, message: string, cmd: string | undefined): number {
  const help =
    cmd && (COMMANDS[cmd] || cmd === 'serve')
      ? `comfy-balancer ${cmd} --help`
      : 'comfy-balancer --help'
  io.err(`comfy-balancer: ${message}\nSee ${help}.`)
  return 2
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  const found = findCommand(argv)
  // `serve` reads its own options.
  if (found?.name === 'serve') {
    const rest = [...argv.slice(0, found.index), ...argv.slice(found.index + 1)]
    return runServe(rest, io)
  }
  let parsed
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true })
  } catch (err) {
    return usageError(io, (err as Error).message, found?.name)
  }
  const { values, positionals } = parsed
  let cmd = positionals[0]
  if (values.version) {
    io.out(VERSION)
    return 0
  }
  if (cmd === 'help') {
    cmd = positionals[1]
    if (!cmd) {
      io.out(USAGE)
      return 0
    }
    if (cmd === 'serve') return runServe(['--help'], io)
    if (!COMMANDS[cmd]) return usageError(io, `Unknown command "${cmd}"`, undefined)
    io.out(commandUsage(cmd))
    return 0
  }
  if (!cmd) {
    if (values.help) {
      io.out(USAGE)
      return 0
    }
    io.err(USAGE)
    return 2
  }
  const command = COMMANDS[cmd]
  if (!command) return usageError(io, `Unknown command "${cmd}"`, undefined)
  if (values.help) {
    io.out(commandUsage(cmd))
    return 0
  }
  const foreign = Object.keys(values).filter(
    (k) => !(command.options as string[]).includes(k) && k !== 'help' && k !== 'version'
  )
  if (foreign.length) {
    return usageError(io, `${cmd} does not take --${foreign[0]}`, cmd)
  }
  if (positionals.length > 1 + command.args) {
    return usageError(io, `Unexpected argument "${positionals[1 + command.args]}"`, cmd)
  }
  try {
    switch (cmd) {
      case 'status':
        return await cmdStatus(values, io)
      case 'submit':
        return await cmdSubmit(positionals.slice(1), values, io)
      case 'jobs':
        return await cmdJobs(values, io)
      case 'cancel':
        return await cmdCancel(positionals.slice(1), values, io)
      case 'retry':
        return await cmdRetry(positionals.slice(1), values, io)
      case 'pause':
      case 'resume':
        return pauseCommand(cmd === 'pause', Boolean(values.json), io)
      case 'watch':
        return await cmdWatch(values, io)
      case 'fake-fleet':
        return await cmdFakeFleet(values, io)
      case 'demo':
        return await cmdDemo(values, io)
      default:
        return usageError(io, `Unknown command "${cmd}"`, undefined)
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`comfy-balancer: ${err.message}`)
      return 2
    }
    io.err(`comfy-balancer: ${stripControls((err as Error).stack ?? String(err))}`)
    return 1
  }
}

/** True when this module is the process entry (not imported by a test). */
function isEntry(): boolean {
  return (
    process.argv[1] !== undefined &&
    /comfy-balancer(\.js)?$|out[\\/]cli[\\/]index\.js$/.test(process.argv[1])
  )
}

/** Exit code for a stop signal: 128 + its number. */
const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 }
/** After a stop signal the command has this long to finish before the process leaves anyway. */
const STOP_GRACE_MS = 1500

if (isEntry()) {
  let signalled: string | null = null
  const interrupted = new Promise<void>((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      const code = SIGNAL_EXIT[sig] ?? 130
      if (signalled) process.exit(code) // the second Ctrl-C: at once
      signalled = sig
      process.exitCode = code
      resolve()
      setTimeout(() => process.exit(code), STOP_GRACE_MS)
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
  // `comfy-balancer status | head -1`: a closed pipe ends the command quietly.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(signalled ? (SIGNAL_EXIT[signalled] ?? 130) : 0)
    })
  }
  main(process.argv.slice(2), streamIo(interrupted)).then(
    (result) => {
      const code = signalled ? (SIGNAL_EXIT[signalled] ?? 130) : result
      process.exitCode = code
      // Let stdout drain, then leave even if a socket lingers.
      setTimeout(() => process.exit(code), 50).unref()
    },
    (err) => {
      process.stderr.write(`${stripControls(String(err))}\n`)
      process.exit(1)
    }
  )
}
