/**
 * `comfy-balancer serve`: the gateway without the tray app. One ComfyUI address for the
 * servers given (or the app's settings), until Ctrl-C or SIGTERM.
 *
 *   serve [--servers URL,...] [--config FILE] [--host 127.0.0.1] [--port 8288] [--token T]
 *         [--out DIR] [--timeout MS]
 *
 * Exit codes: 0 stopped (the process entry turns Ctrl-C into 130, SIGTERM into 143),
 * 1 the gateway could not start, 2 bad usage (a taken port, a wide host without a token).
 */
import fs from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { BalancerCore } from '../main/core/app'
import { GatewayStartError, startGateway, type Gateway } from '../main/core/gateway'
import { cliDataDir, settingsFile } from '../main/core/app'
import { LIMITS, parseSettings, serversFromUrls } from '../main/core/app'
import { stripControls } from '../shared/terminal'
import { FINISHED_JOB_STATES, type AppSettings } from '../shared/types'
import type { CliIo } from './io'
import { CliRun } from './runs'

export const SERVE_USAGE = `Usage: comfy-balancer serve [options]

One ComfyUI address for all your servers: point ComfyUI clients (Krita AI Diffusion,
scripts, comfy-cli) at it and every job goes to the best server.

Options:
  --servers URL[,URL...]  Servers behind the address (default: the app's settings file)
  --config FILE           Settings file to read instead of the app's
  --host HOST             Address to listen on (default 127.0.0.1: this machine only)
  --port P                Port (default 8288; 0 picks a free one)
  --token T               Password clients must send (Authorization: Bearer T, or ?token=T);
                          needed for any --host other than 127.0.0.1 / localhost / ::1
  --out DIR               Where the jobs' outputs are also saved (default ./comfy-outputs)
  --timeout MS            Per-request timeout to the servers (default 10000)
  -h, --help              Show this help

Stop with Ctrl-C.`

/** Longest wait for the gateway and the core to close after a stop. */
const CLOSE_MS = 1_200

class ServeUsage extends Error {}

function wholeNumber(raw: string | undefined, name: string, min: number, max: number) {
  if (raw === undefined) return undefined
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ServeUsage(`--${name} must be a whole number from ${min} to ${max}, got "${raw}"`)
  }
  return Number(raw)
}

function readSettings(servers: string | undefined, config: string | undefined, io: CliIo) {
  if (servers !== undefined) {
    const r = serversFromUrls([servers])
    if (r.problems.length) throw new ServeUsage(r.problems.map((p) => p.message).join('\n'))
    if (!r.servers.length) throw new ServeUsage('--servers needs at least one URL')
    return { settings: parseSettings({ servers: r.servers }).settings, fromFile: false }
  }
  const file = config ?? settingsFile(io.env)
  let raw: unknown
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch (err) {
    throw new ServeUsage(
      (err as NodeJS.ErrnoException).code === 'ENOENT'
        ? `No --servers given and no settings file at ${file}.\nPass --servers http://host:8188,...`
        : `The settings file ${file} could not be read as JSON`
    )
  }
  const { settings, problems } = parseSettings(raw)
  for (const p of problems) io.err(`warning: ${file}: ${p.message}`)
  if (!settings.servers.length) throw new ServeUsage(`The settings file ${file} lists no servers`)
  return { settings, fromFile: true }
}

const within = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<void>((r) => setTimeout(r, ms).unref())])

/** Runs `serve` until `io.interrupted`; returns the exit code. */
export async function runServe(argv: string[], io: CliIo): Promise<number> {
  let v
  try {
    v = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        servers: { type: 'string' },
        config: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        token: { type: 'string' },
        out: { type: 'string' },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h' }
      }
    }).values
  } catch (err) {
    io.err(`comfy-balancer: ${(err as Error).message}\n\n${SERVE_USAGE}`)
    return 2
  }
  if (v.help) {
    io.out(SERVE_USAGE)
    return 0
  }
  let settings: AppSettings
  let host: string
  let port: number
  let token: string | null
  try {
    const read = readSettings(v.servers, v.config, io)
    const timeout = wholeNumber(v.timeout, 'timeout', LIMITS.timeout.min, LIMITS.timeout.max)
    settings = { ...read.settings, ...(timeout !== undefined ? { timeout } : {}) }
    // From the settings file, its gateway address is the default (the flags win).
    const saved = read.fromFile ? settings.gateway : undefined
    host = v.host ?? saved?.host ?? '127.0.0.1'
    port = wholeNumber(v.port, 'port', 0, 65_535) ?? saved?.port ?? 8288
    token = v.token ?? saved?.token ?? null
    if (token !== null && (token.length < 16 || token.length > 512 || /\s/.test(token))) {
      throw new ServeUsage('--token must be 16 to 512 characters without spaces')
    }
  } catch (err) {
    if (!(err instanceof ServeUsage)) throw err
    io.err(`comfy-balancer: ${stripControls(err.message)}`)
    return 2
  }

  const run = CliRun.create(cliDataDir(io.env))
  const gatewayDir = `${run.base}.gateway`
  const core = new BalancerCore({
    settings,
    jobs: {
      journalFile: run.journalFile,
      outputDir: path.resolve(v.out ?? 'comfy-outputs'),
      holdBack: 1,
      historyLimit: 10_000
    }
  })
  const offLog = core.events.on('log', (l) => {
    if (l.level !== 'verbose') io.out(stripControls(l.message))
  })
  let gw: Gateway | null = null
  let code = 0
  try {
    core.start()
    try {
      gw = await startGateway(core, { host, port, token, dataDir: gatewayDir })
    } catch (err) {
      if (!(err instanceof GatewayStartError)) throw err
      io.err(`comfy-balancer: ${stripControls(err.message)}`)
      code = err.code === 'listen' || err.code === 'no-jobs' ? 1 : 2
      return code
    }
    io.out(`Gateway: ${gw.url}  (${settings.servers.length} server(s) behind it)`)
    if (token) io.out('Clients must send the token: Authorization: Bearer <token>, or ?token=')
    io.out('Point ComfyUI clients at this address. Ctrl-C to stop.')
    await io.interrupted
    io.out('Stopping...')
    return 0
  } finally {
    offLog()
    let stopped = false
    await within(
      (async () => {
        await gw?.close()
        await core.stop()
        stopped = true
      })(),
      CLOSE_MS
    )
    if (stopped) {
      run.release()
      const unfinished = core.jobs?.jobs().some((j) => !FINISHED_JOB_STATES.includes(j.state))
      if (!unfinished) fs.rmSync(gatewayDir, { recursive: true, force: true })
    }
  }
}
