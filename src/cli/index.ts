/**
 * `comfy-balancer`: the headless face of the same core.
 *
 *   status     --servers URL[,URL...] [--json] [--timeout MS]
 *   submit     FILE [--servers ...] [--server URL] [--wait] [--out DIR] [--json] [--queue-timeout MS]
 *   submit     --resume [ID] [--wait] [--out DIR]
 *   jobs       [--json]
 *   cancel     ID
 *   watch      --servers URL[,...] [--interval MS] [--timeout MS] [--verbose] [--rounds N]
 *   fake-fleet --count N [--port P] [--speeds 1,1,0.5] [--job-ms MS]
 *   demo       [--rounds N]
 *
 * Exit codes: 0 ok, 1 the work failed (no healthy server), 2 bad usage or bad input,
 * 130 / 143 stopped by Ctrl-C / SIGTERM.
 */
import { readFileSync } from 'node:fs'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { BalancerCore } from '../main/core/app'
import { settingsFile } from '../main/core/paths'
import { stripControls, terminalJson } from '../shared/terminal'
import { LIMITS, parseSettings, serversFromUrls } from '../main/core/settings'
import type { AppSettings, LogLine } from '../shared/types'
import { startFakeFleet } from '../fake-comfy'
import { statusJson, statusText } from './format'
import { EXIT_INTERRUPTED, resumeCommand, submitCommand } from './submit'
import { cancelCommand, jobsCommand } from './jobs'
import type { CliIo } from './io'

export type { CliIo }

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
  const settings = loadSettings(v, io)
  return submitCommand(
    {
      file,
      settings,
      server: v.server,
      wait: Boolean(v.wait),
      out: v.out,
      json: Boolean(v.json),
      queueTimeoutMs: queueTimeout(v, settings)
    },
    io
  )
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
  if (!id) throw new UsageError('cancel needs a job id: comfy-balancer cancel ID')
  return cancelCommand(id, loadSettingsIfAny(v, io), io)
}

export class UsageError extends Error {}

export const USAGE = `Usage: comfy-balancer <command> [options]

Commands:
  status      Check every server once and print the fleet state
  submit      Send a workflow (.json API format or ComfyUI .png) to the least busy server
  submit --resume [ID]
              Take over the unfinished jobs of CLI runs that ended (all, or the one
              holding job ID), follow them and save their outputs
  jobs        List the jobs of the CLI's runs and of the app
  cancel ID   Cancel a job of a CLI run that ended, on its server
  watch       Check in a loop and print a line whenever something changes
  fake-fleet  Start fake ComfyUI servers on 127.0.0.1 for trying things out
  demo        Start a fake fleet of three servers and watch it

Options:
  --servers URL[,URL...]  Servers to check (default: the app's settings file)
  --config FILE           Settings file to read instead of the app's
  --json                  (status, submit) Print one JSON object
  --server URL            (submit) Run on this server only
  --wait                  (submit) Follow the job to the end and save its outputs
  --out DIR               (submit) Where outputs go (default ./comfy-outputs)
  --queue-timeout MS      (submit) Give up and cancel the job when no server has taken it
                          after MS (default 3 check intervals: 90000 with --interval 30000)
  --timeout MS            Per-request timeout (default 10000)
  --interval MS           (watch) Time between check rounds (default 30000)
  --verbose               (watch) One line per server after every round
  --rounds N              (watch, demo) Stop after N rounds
  --count N               (fake-fleet) Number of servers
  --port P                (fake-fleet) First port; servers use P, P+1, ...
  --speeds 1,1,0.5        (fake-fleet) Relative speed of each server
  --job-ms MS             (fake-fleet, demo) Run time of one job at speed 1
  -h, --help              Show this help

The CLI keeps a journal of its jobs in the app's data folder (cli/), so a job of a run
that was killed can be resumed or cancelled; COMFY_BALANCER_DATA=DIR moves that folder.

Exit codes: 0 ok, 1 no healthy server or the work failed, 2 bad usage or bad input,
130 stopped with Ctrl-C (143 for SIGTERM). Ctrl-C twice stops at once.`

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
  help: { type: 'boolean', short: 'h' }
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
    io.out(v.json ? terminalJson(statusJson(s)) : statusText(s, io.isTty))
    return s.bestServerId ? 0 : 1
  } finally {
    await stopSoon(core)
  }
}

/** Stops the core, waiting for a hung request no longer than a moment. */
async function stopSoon(core: BalancerCore): Promise<void> {
  await Promise.race([core.stop(), new Promise<void>((r) => setTimeout(r, 800).unref())])
}

/** Watches until `rounds` rounds are done or the user interrupts. */
async function watchCore(
  core: BalancerCore,
  rounds: number | undefined,
  io: CliIo
): Promise<number> {
  const offLog = core.events.on('log', (l) => io.out(formatLog(l)))
  let done = 0
  let last = core.status()
  let offRound = () => {}
  const finished = new Promise<void>((resolve) => {
    offRound = core.events.on('round', (s) => {
      last = s
      done++
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
  io.out(
    `Watching ${settings.servers.length} server(s) every ${settings.healthCheckInterval} ms (timeout ${settings.timeout} ms)${settings.verboseLogging ? ', verbose' : ''}. Ctrl-C to stop.`
  )
  return watchCore(core, rounds, io)
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
  const count = intOption(v, 'count', 1, 64) ?? 3
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

export async function main(argv: string[], io: CliIo): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true })
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${USAGE}`)
    return 2
  }
  const { values, positionals } = parsed
  const cmd = positionals[0]
  if (values.help || !cmd || cmd === 'help') {
    io.out(USAGE)
    return cmd || values.help ? 0 : 2
  }
  if (positionals.length > (cmd === 'submit' || cmd === 'cancel' ? 2 : 1)) {
    io.err(`Unexpected argument "${positionals[1]}"\n\n${USAGE}`)
    return 2
  }
  try {
    switch (cmd) {
      case 'status':
        return await cmdStatus(values, io)
      case 'submit':
        return await cmdSubmit(positionals.slice(1), values, io)
      case 'jobs':
        return jobsCommand(Boolean(values.json), io)
      case 'cancel':
        return await cmdCancel(positionals.slice(1), values, io)
      case 'watch':
        return await cmdWatch(values, io)
      case 'fake-fleet':
        return await cmdFakeFleet(values, io)
      case 'demo':
        return await cmdDemo(values, io)
      default:
        io.err(`Unknown command "${cmd}"\n\n${USAGE}`)
        return 2
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
  main(process.argv.slice(2), {
    out: (l) => process.stdout.write(`${l}\n`),
    err: (l) => process.stderr.write(`${l}\n`),
    env: process.env,
    isTty: Boolean(process.stdout.isTTY),
    interrupted
  }).then(
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
