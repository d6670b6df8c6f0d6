/**
 * The CLI through the running tray app: when the app's gateway answers on the address in its
 * settings, `submit`, `jobs` and `cancel` go through its small balancer API, so a machine has one
 * queue (the app's, journaled by the app). Nothing here runs an engine of its own.
 *
 * Recognising the app: `GET /balancer/v1/info` must answer `{app: 'comfy-balancer', api: 1}` with
 * the API header within a short deadline, and name the CLI's own data folder (the app's journal
 * is the one the CLI reads); a refused connection, a plain ComfyUI, any other program, the app of
 * another data folder, or a token the app does not take, and the CLI runs its own engine as before.
 */
import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import http, { type IncomingMessage } from 'node:http'
import path from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import {
  appJournalFile,
  DEFAULT_GATEWAY,
  parseSettings,
  settingsFile,
  userDataDir
} from '../main/core/app'
import { readWorkflowFile, WorkflowError } from '../main/core/app'
import { gatewayUrl, MAX_VIEW_BYTES } from '../main/core/gateway'
import {
  BALANCER_API_VERSION,
  BALANCER_APP,
  BALANCER_HEADER,
  dataFolderKey
} from '../main/core/gateway/balancer-api'
import { stripControls as s, terminalJson } from '../shared/terminal'
import { FINISHED_JOB_STATES, type GatewaySettings, type JobRecord } from '../shared/types'
import { human, type CliIo } from './io'
import type { ListedJob } from './jobs'
import {
  batchProgress,
  describeEnd,
  EXIT_INTERRUPTED,
  progressLine,
  variationFlags
} from './submit'

/** How long the CLI waits for the app's gateway to say who it is. */
export const APP_PROBE_MS = 300
/** The API version this CLI speaks. */
const API = BALANCER_API_VERSION
const INFO_ROUTE = '/balancer/v1/info'
/** Longest answer read from the app (a list of 5000 jobs with their notes). */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024
/** A submit may wait for the servers' node list (a UI workflow, `--set`). */
const SUBMIT_TIMEOUT_MS = 90_000
/** One long wait for a change of the followed jobs. */
const CHANGE_WAIT_MS = 20_000
/** Longest the app may be unreachable while a job is followed. */
const LOST_APP_MS = 10_000
/** A download with no bytes for this long is given up. */
const DOWNLOAD_IDLE_MS = 30_000

const FINISHED = new Set<string>(FINISHED_JOB_STATES)

/** The running app's gateway, recognised. */
export interface AppGateway {
  /** `http://127.0.0.1:8288` */
  url: string
  token: string | null
  /** The app's version. */
  version: string
}

/** What the probe found on the settings' address. */
export type AppProbe =
  | { found: AppGateway }
  /** Something answered 401: an app with a token the settings do not have (or another one). */
  | { tokenRefused: string }
  | null

/** Where the app's gateway listens and its token, from the app's settings file (or the defaults). */
export function appGatewaySettings(env: NodeJS.ProcessEnv): GatewaySettings | null {
  let raw: unknown = {}
  try {
    raw = JSON.parse(fs.readFileSync(settingsFile(env), 'utf8'))
  } catch (err) {
    // No settings file: the app runs on its defaults. A broken one: no guess at all.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return null
  }
  const g = parseSettings(raw).settings.gateway ?? DEFAULT_GATEWAY
  return g.enabled ? g : null
}

/** The address a client on this machine uses for a gateway listening on `host`. */
function dialHost(host: string): string {
  const h = host.replace(/^\[|\]$/g, '')
  if (h === '0.0.0.0') return '127.0.0.1'
  if (h === '::') return '::1'
  return h
}

class Interrupted extends Error {}

interface Answer {
  status: number
  headers: IncomingMessage['headers']
  body: Buffer
}

interface CallOptions {
  method?: string
  body?: Buffer | string
  type?: string
  timeoutMs: number
  maxBytes?: number
  interrupted?: Promise<void>
}

/** Opens a request to the app; resolves with the response once its headers are in. */
function open(
  gw: { url: string; token: string | null },
  route: string,
  o: CallOptions
): { response: Promise<IncomingMessage>; abort: (err: Error) => void } {
  const headers: Record<string, string | number> = { Accept: 'application/json' }
  if (gw.token) headers.Authorization = `Bearer ${gw.token}`
  if (o.body !== undefined) {
    headers['Content-Type'] = o.type ?? 'application/json'
    headers['Content-Length'] = Buffer.byteLength(o.body)
  }
  let req: http.ClientRequest
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req = http.request(new URL(gw.url + route), { method: o.method ?? 'GET', headers }, resolve)
    req.on('error', reject)
    req.end(o.body)
  })
  return { response, abort: (err) => req.destroy(err) }
}

/** One request to the app, its whole answer read (at most `maxBytes`), within `timeoutMs`. */
async function call(
  gw: { url: string; token: string | null },
  route: string,
  o: CallOptions
): Promise<Answer> {
  const r = open(gw, route, o)
  const timer = setTimeout(() => r.abort(new Error('The app did not answer in time')), o.timeoutMs)
  let stop = false
  void o.interrupted?.then(() => {
    stop = true
    r.abort(new Interrupted())
  })
  try {
    const res = await r.response
    const max = o.maxBytes ?? MAX_ANSWER_BYTES
    const chunks: Buffer[] = []
    let size = 0
    await new Promise<void>((resolve, reject) => {
      res.on('data', (c: Buffer) => {
        size += c.length
        if (size > max) res.destroy(new Error('The app sent too much'))
        else chunks.push(c)
      })
      res.on('end', resolve)
      res.on('error', reject)
      res.on('close', () => (res.complete ? resolve() : reject(new Error('The app hung up'))))
    })
    return { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }
  } catch (err) {
    if (stop) throw new Interrupted()
    throw err
  } finally {
    clearTimeout(timer)
  }
}

function jsonOf(a: Answer): unknown {
  try {
    return JSON.parse(a.body.toString('utf8'))
  } catch {
    return null
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** The `{error: {code, message}}` of a refusal, or a line made from the status. */
function refusal(a: Answer): { code: string; message: string } {
  const v = jsonOf(a)
  if (isRecord(v) && isRecord(v.error) && typeof v.error.message === 'string') {
    return {
      code: typeof v.error.code === 'string' ? v.error.code : 'error',
      message: s(v.error.message).slice(0, 2000)
    }
  }
  if (a.status === 401)
    return { code: 'token', message: "The app did not take the settings' token" }
  return { code: 'error', message: `The app answered ${a.status}` }
}

/**
 * Asks the address in the app's settings whether the app's gateway is there. Null when the
 * gateway is off in the settings, nothing listens, or what listens is not the app.
 */
export async function findApp(
  env: NodeJS.ProcessEnv,
  deadlineMs = APP_PROBE_MS
): Promise<AppProbe> {
  const g = appGatewaySettings(env)
  if (!g) return null
  const gw = { url: gatewayUrl(dialHost(g.host), g.port), token: g.token ?? null }
  let a: Answer
  try {
    a = await call(gw, INFO_ROUTE, { timeoutMs: deadlineMs, maxBytes: 16 * 1024 })
  } catch {
    return null
  }
  if (a.status === 401) return { tokenRefused: gw.url }
  if (a.status !== 200 || a.headers[BALANCER_HEADER.toLowerCase()] !== String(API)) return null
  const v = jsonOf(a)
  if (!isRecord(v) || v.app !== BALANCER_APP || v.api !== API || v.jobs === false) return null
  // The app of another data folder keeps another journal: not the queue this CLI lists.
  if (v.dataKey !== dataFolderKey(userDataDir(process.platform, env))) return null
  const version = typeof v.version === 'string' ? s(v.version).slice(0, 40) : '?'
  return { found: { ...gw, version } }
}

// ---------------------------------------------------------------- jobs as the app sends them

const JOB_STATES = new Set([
  'pending',
  'queued',
  'running',
  'done',
  'failed',
  'interrupted',
  'cancelled'
])

/** A job record from the app, checked for the fields the CLI reads; null when it is not one. */
function jobOf(v: unknown): JobRecord | null {
  if (!isRecord(v)) return null
  const ok =
    typeof v.id === 'string' &&
    typeof v.state === 'string' &&
    JOB_STATES.has(v.state) &&
    typeof v.source === 'string' &&
    typeof v.createdAt === 'number' &&
    typeof v.updatedAt === 'number' &&
    (v.finishedAt === null || typeof v.finishedAt === 'number') &&
    (v.serverUrl === null || typeof v.serverUrl === 'string') &&
    Array.isArray(v.outputs) &&
    v.outputs.every((o) => isRecord(o) && typeof o.path === 'string') &&
    Array.isArray(v.attempts) &&
    Array.isArray(v.notes) &&
    (v.error === null || v.error === undefined || isRecord(v.error)) &&
    (v.progress === null || v.progress === undefined || isRecord(v.progress))
  return ok ? (v as unknown as JobRecord) : null
}

function jobsOf(v: unknown): JobRecord[] | null {
  if (!Array.isArray(v)) return null
  const jobs = v.map(jobOf)
  return jobs.every((j) => j !== null) ? (jobs as JobRecord[]) : null
}

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString())

/** The app's jobs as `jobs` lists them. */
export function listedFromApp(jobs: JobRecord[], env: NodeJS.ProcessEnv): ListedJob[] {
  return jobs.map((j) => ({
    id: j.id,
    state: j.state,
    source: j.source,
    server: j.serverUrl,
    createdAt: iso(j.createdAt)!,
    updatedAt: iso(j.updatedAt)!,
    finishedAt: iso(j.finishedAt),
    owner: 'app',
    pid: null,
    runActive: false,
    journal: appJournalFile(env)
  }))
}

/** The app's jobs (the newest 5000) and whether its sending is paused. */
export async function appJobs(
  gw: AppGateway,
  io: CliIo
): Promise<{ jobs: JobRecord[]; paused: boolean; truncated: boolean }> {
  const a = await call(gw, '/balancer/v1/jobs?limit=5000', {
    timeoutMs: 15_000,
    interrupted: io.interrupted
  })
  if (a.status !== 200) throw new Error(refusal(a).message)
  const v = jsonOf(a)
  const jobs = isRecord(v) ? jobsOf(v.jobs) : null
  if (!isRecord(v) || !jobs) throw new Error('The app sent an answer that is not a job list')
  return { jobs, paused: v.paused === true, truncated: v.truncated === true }
}

/** The line saying the command went through the app (stderr). */
export function throughApp(gw: AppGateway, io: CliIo): void {
  human(
    io,
    `Through the running app at ${gw.url} (comfy-balancer ${gw.version}); --no-app skips it.`
  )
}

// ---------------------------------------------------------------- cancel

export type RemoteSelector = { id: string } | { batch: string } | { all: true }

/**
 * Cancels jobs in the app. `'unknown'` when the app has no such job or batch (the caller then
 * looks in the CLI's own journals); else the exit code.
 */
export async function remoteCancel(
  gw: AppGateway,
  sel: RemoteSelector,
  io: CliIo
): Promise<number | 'unknown'> {
  const a = await call(gw, '/balancer/v1/cancel', {
    method: 'POST',
    body: JSON.stringify(sel),
    timeoutMs: 30_000,
    interrupted: io.interrupted
  })
  if (a.status === 404) return 'unknown'
  if (a.status !== 200) {
    const r = refusal(a)
    io.err(`comfy-balancer: ${r.message}`)
    return r.code === 'ambiguous' ? 2 : 1
  }
  const v = jsonOf(a)
  const cancelled = isRecord(v) ? jobsOf(v.cancelled) : null
  const matched = isRecord(v) ? jobsOf(v.matched) : null
  if (!cancelled || !matched) {
    io.err('comfy-balancer: the app sent an answer that is not a job list')
    return 1
  }
  for (const j of cancelled) {
    io.out(`Cancelled ${j.id} in the app${j.serverUrl ? ` (it was on ${s(j.serverUrl)})` : ''}`)
  }
  if (!cancelled.length) {
    if ('id' in sel && matched[0]) io.out(`Job ${matched[0].id} is already ${matched[0].state}`)
    else if ('batch' in sel)
      io.out(`Nothing to cancel: every run of batch ${s(sel.batch)} had ended.`)
    else io.out('Nothing to cancel: no unfinished job in the app.')
  }
  return 0
}

// ---------------------------------------------------------------- submit

export interface RemoteSubmitArgs {
  file: string
  server?: string
  wait: boolean
  out?: string
  json: boolean
  count?: number
  seed?: string
  sets?: string[]
  /** Only when given (`--queue-timeout`): the longest wait for a server to take the jobs. */
  queueTimeoutMs?: number
}

function jobJson(j: JobRecord, outputs: string[] | null) {
  return {
    promptId: j.id,
    ...(j.batch ? { index: j.batch.index } : {}),
    server: j.serverUrl,
    status: j.state,
    outputs: outputs ?? j.outputs.map((o) => o.path),
    attempts: j.attempts.map((t) => ({ server: t.serverUrl, result: t.result })),
    ...(j.error ? { error: j.error } : {})
  }
}

/** The last part of a path written on any system, or null when it is no plain name. */
function plainName(p: string): string | null {
  const name = p.split(/[\\/]/).filter(Boolean).pop() ?? ''
  // eslint-disable-next-line no-control-regex
  if (!name || name === '.' || name === '..' || /[\x00-\x1f\x7f<>:"|?*]/.test(name)) return null
  return name.slice(0, 200)
}

/** A name in `dir` not taken yet: `name`, `name (1).ext`, ... */
function freeName(dir: string, name: string): string {
  const ext = path.extname(name)
  const stem = name.slice(0, name.length - ext.length)
  for (let i = 0; i < 10_000; i++) {
    const p = path.join(dir, i === 0 ? name : `${stem} (${i})${ext}`)
    if (!fs.existsSync(p)) return p
  }
  throw new Error(`No free name for ${name} in ${dir}`)
}

/** Downloads output `n` of job `j` from the app into its folder under `outDir`. */
async function download(
  gw: AppGateway,
  j: JobRecord,
  n: number,
  outDir: string,
  io: CliIo
): Promise<string> {
  const o = j.outputs[n]!
  const folder = plainName(path.dirname(o.path.replace(/\\/g, '/'))) ?? j.id.slice(0, 8)
  const name = plainName(o.path) ?? plainName(o.filename) ?? `output-${n}`
  const dir = path.join(outDir, folder)
  fs.mkdirSync(dir, { recursive: true })
  const incoming = path.join(dir, `.incoming-${randomUUID()}`)
  const r = open(gw, `/balancer/v1/jobs/${encodeURIComponent(j.id)}/outputs/${n}`, {
    timeoutMs: DOWNLOAD_IDLE_MS
  })
  let idle: ReturnType<typeof setTimeout> | undefined
  const arm = () => {
    clearTimeout(idle)
    idle = setTimeout(() => r.abort(new Error('the download stalled')), DOWNLOAD_IDLE_MS)
  }
  arm()
  void io.interrupted.then(() => r.abort(new Interrupted()))
  try {
    const res = await r.response
    if (res.statusCode !== 200) {
      res.resume()
      throw new Error(`the app answered ${res.statusCode}`)
    }
    let seen = 0
    const cap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        arm()
        seen += chunk.length
        if (seen > MAX_VIEW_BYTES) cb(new Error('the file is too large'))
        else cb(null, chunk)
      }
    })
    await pipeline(res, cap, fs.createWriteStream(incoming, { flags: 'wx' }))
    const declared = Number(res.headers['content-length'])
    if (Number.isFinite(declared) && declared !== seen) throw new Error('the download was cut off')
    const final = freeName(dir, name)
    fs.renameSync(incoming, final)
    return final
  } catch (err) {
    fs.rmSync(incoming, { force: true })
    throw err
  } finally {
    clearTimeout(idle)
  }
}

const stopped = Symbol('stopped')

/** Sends a workflow file to the app's queue and, with `wait`, follows it there to the end. */
export async function remoteSubmit(
  gw: AppGateway,
  a: RemoteSubmitArgs,
  io: CliIo
): Promise<number> {
  const flags = variationFlags(a)
  if (typeof flags === 'string') {
    io.err(`comfy-balancer: ${s(flags)}`)
    return 2
  }
  let bytes: Uint8Array
  const file = path.resolve(a.file)
  try {
    bytes = await readWorkflowFile(file)
  } catch (err) {
    if (!(err instanceof WorkflowError)) throw err
    io.err(`comfy-balancer: ${s(err.message)}`)
    return 2
  }
  const q = new URLSearchParams({ source: path.basename(file), baseDir: path.dirname(file) })
  if (flags.count > 1) q.set('count', String(flags.count))
  if (a.seed !== undefined || flags.count > 1) q.set('seed', flags.seed)
  for (const t of a.sets ?? []) q.append('set', t)
  if (a.server !== undefined) q.set('server', a.server)
  throughApp(gw, io)
  let answer: Answer
  try {
    answer = await call(gw, `/balancer/v1/jobs?${q}`, {
      method: 'POST',
      body: Buffer.from(bytes),
      type: 'application/octet-stream',
      timeoutMs: SUBMIT_TIMEOUT_MS,
      interrupted: io.interrupted
    })
  } catch (err) {
    if (err instanceof Interrupted) {
      io.err('Stopped while sending: comfy-balancer jobs shows whether the app queued it.')
      return EXIT_INTERRUPTED
    }
    io.err(
      `comfy-balancer: could not send the job to the app at ${gw.url}: ${s((err as Error).message)}`
    )
    return 1
  }
  if (answer.status !== 200) {
    const r = refusal(answer)
    const hint = r.code === 'unknown-server' ? '. Add it in the app, or run with --no-app' : ''
    io.err(`comfy-balancer: ${r.message}${hint}`)
    return answer.status === 400 ? 2 : 1
  }
  const v = jsonOf(answer)
  const sent = isRecord(v) ? jobsOf(v.jobs) : null
  if (!isRecord(v) || !sent || !sent.length) {
    io.err('comfy-balancer: the app sent an answer that is not a job list')
    return 1
  }
  const batchId = typeof v.batchId === 'string' ? v.batchId : null
  const wf = isRecord(v.workflow) ? v.workflow : {}
  if (!a.json) {
    if (wf.converted === true) {
      human(io, `${s(path.basename(file))}: UI workflow, converted with the servers' node list`)
    }
    if (wf.noNodeList === true) {
      human(io, 'No server sent its node list: --set values are read like the values in the file')
    }
    io.out(
      `${s(String(wf.source ?? path.basename(file)))}: ${Number(wf.nodes) || 0} nodes, ${Number(wf.models) || 0} model(s), ${Number(wf.images) || 0} input image(s)`
    )
    if (batchId) human(io, `Batch ${batchId}: ${sent.length} runs, seeds ${flags.seed}`)
  }
  const ids = sent.map((j) => j.id)
  const jobs = new Map(sent.map((j) => [j.id, j]))
  const finals = () => ids.map((id) => jobs.get(id)!)
  const since = () => Math.max(...finals().map((j) => j.updatedAt))
  /** The followed jobs, once one of them changed after `since` (or `waitMs` passed). */
  const route = (waitMs: number) => {
    const p = new URLSearchParams({ since: String(since()), wait: String(waitMs) })
    if (!batchId) return `/balancer/v1/jobs/${encodeURIComponent(ids[0]!)}?${p}`
    p.set('batch', batchId)
    p.set('limit', '5000')
    return `/balancer/v1/jobs?${p}`
  }

  let interrupted = false
  let lost: string | null = null
  const notTaken = new Set<string>()
  let last = ''
  let live = false
  const show = () => {
    if (a.json) return
    const line = batchId ? batchProgress(finals()) : progressLine(finals()[0]!)
    if (line === last) return
    last = line
    if (io.liveProgress && io.progress) {
      io.progress(line)
      live = true
      return
    }
    // Plain lines: the states and the end of each node, not every step.
    const j = finals()[0]!
    if (batchId || j.state !== 'running' || j.progress?.max === j.progress?.value) human(io, line)
  }
  const started = Date.now()
  const watchAcceptance = a.queueTimeoutMs !== undefined
  const open = () => finals().filter((j) => !FINISHED.has(j.state))
  const pending = () => finals().filter((j) => j.state === 'pending')
  let failingSince: number | null = null
  while (a.wait ? open().length : watchAcceptance && pending().length) {
    if (a.wait) show()
    let waitMs = CHANGE_WAIT_MS
    if (watchAcceptance && pending().length) {
      const left = a.queueTimeoutMs! - (Date.now() - started)
      if (left <= 0) {
        // No server took them in time: they leave the app's queue, as the CLI's own runs do.
        for (const j of pending()) {
          notTaken.add(j.id)
          const c = await call(gw, '/balancer/v1/cancel', {
            method: 'POST',
            body: JSON.stringify({ id: j.id }),
            timeoutMs: 10_000
          }).catch(() => null)
          const after =
            c && c.status === 200 && isRecord(jsonOf(c))
              ? jobsOf((jsonOf(c) as Record<string, unknown>).matched)
              : null
          if (after?.[0]) jobs.set(j.id, after[0])
        }
        break
      }
      waitMs = Math.min(waitMs, Math.max(100, left))
    }
    let got: Answer | typeof stopped
    try {
      got = await call(gw, route(waitMs), {
        timeoutMs: waitMs + 10_000,
        interrupted: io.interrupted
      })
    } catch (err) {
      if (err instanceof Interrupted) got = stopped
      else {
        failingSince ??= Date.now()
        if (Date.now() - failingSince > LOST_APP_MS) {
          lost = (err as Error).message
          break
        }
        const pause = await Promise.race([
          new Promise<'slept'>((r) => setTimeout(() => r('slept'), 500).unref()),
          io.interrupted.then(() => stopped)
        ])
        if (pause === stopped) got = stopped
        else continue
      }
    }
    if (got === stopped) {
      interrupted = true
      break
    }
    failingSince = null
    if (got.status !== 200) {
      lost = refusal(got).message
      break
    }
    const body = jsonOf(got)
    const list = isRecord(body) ? (batchId ? jobsOf(body.jobs) : jobsOf([body.job])) : null
    if (!list) {
      lost = 'the app sent an answer that is not a job list'
      break
    }
    for (const j of list) if (jobs.has(j.id)) jobs.set(j.id, j)
  }
  if (a.wait && !interrupted && !lost) show()
  if (live) io.progress?.(null)

  // The outputs, from the app's own copies.
  const saved = new Map<string, string[]>()
  const failedDownloads: string[] = []
  if (a.wait && !interrupted && !lost) {
    const outDir = path.resolve(a.out ?? 'comfy-outputs')
    for (const j of finals()) {
      if (j.state !== 'done') continue
      const paths: string[] = []
      for (let n = 0; n < j.outputs.length; n++) {
        try {
          paths.push(await download(gw, j, n, outDir, io))
        } catch (err) {
          if (err instanceof Interrupted) {
            interrupted = true
            break
          }
          failedDownloads.push(
            `${j.id.slice(0, 8)} ${j.outputs[n]!.filename}: ${(err as Error).message}`
          )
        }
      }
      saved.set(j.id, paths)
      if (interrupted) break
    }
  }

  const list = finals()
  if (a.json) {
    const objs = list.map((j) => {
      const o = jobJson(j, saved.get(j.id) ?? null)
      if (!notTaken.has(j.id)) return o
      const secs = Math.round(a.queueTimeoutMs! / 100) / 10
      return { ...o, error: { message: `No server took the job within ${secs} s` } }
    })
    io.out(terminalJson(batchId ? { batchId, jobs: objs } : objs[0]))
  } else {
    for (const j of list) {
      const label = ids.length > 1 ? `${j.id.slice(0, 8)} (${s(j.source)}): ` : ''
      if (notTaken.has(j.id)) {
        const secs = Math.round(a.queueTimeoutMs! / 100) / 10
        io.out(`${label}No server took the job within ${secs} s; it was cancelled in the app.`)
      } else if (!FINISHED.has(j.state)) {
        const where = j.serverUrl ? ` on ${s(j.serverUrl)}` : ''
        const word =
          j.state === 'running' ? 'Running' : j.state === 'queued' ? 'Queued' : 'Waiting in the app'
        io.out(`${label}${word}${where} as ${j.id}`)
      } else {
        io.out(label + describeEnd(j))
        for (const d of j.error?.details ?? []) io.out(`  ${s(String(d))}`)
        for (const p of saved.get(j.id) ?? j.outputs.map((o) => o.path)) io.out(`  ${s(p)}`)
      }
    }
    if (batchId) io.out(`Batch ${batchId}: ${batchProgress(list)}`)
  }
  for (const f of failedDownloads) io.err(`comfy-balancer: could not save ${s(f)}`)
  const unfinished = list.filter((j) => !FINISHED.has(j.state))
  if (unfinished.length && (interrupted || lost || !a.wait)) {
    const one = unfinished.length === 1 ? unfinished[0]!.id : null
    human(
      io,
      `${interrupted ? 'Stopped following. ' : ''}${one ? 'The job stays' : `${unfinished.length} jobs stay`} in the app's queue: comfy-balancer jobs lists ${one ? 'it' : 'them'}, comfy-balancer cancel ${one ?? (batchId ? `--batch ${batchId}` : 'ID')} cancels ${one ? 'it' : 'them'}.`
    )
  }
  if (lost) io.err(`comfy-balancer: lost the app at ${gw.url}: ${s(lost)}`)
  if (interrupted) return EXIT_INTERRUPTED
  if (lost || notTaken.size || failedDownloads.length) return 1
  if (a.wait) return list.every((j) => j.state === 'done' && !j.missingOutputs) ? 0 : 1
  return list.every((j) => !FINISHED.has(j.state) || j.state === 'done') ? 0 : 1
}
