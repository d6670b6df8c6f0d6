/**
 * The gateway's own small API (beside ComfyUI's), for the CLI on the same machine: one queue
 * per machine, whoever submits.
 *
 *   GET  /balancer/v1/info                   {app: 'comfy-balancer', version, api: 1, dataKey}
 *   POST /balancer/v1/jobs?source=NAME&...   body: the workflow file's bytes; journals the job(s)
 *   GET  /balancer/v1/jobs?limit=N&batch=ID&ids=A,B&unfinished=1&since=MS&wait=MS
 *   GET  /balancer/v1/jobs/ID?since=MS&wait=MS
 *   GET  /balancer/v1/jobs/ID/outputs/N      the output file the app saved
 *   POST /balancer/v1/cancel                 {id} | {batch} | {all: true}
 *
 * It is reached only past the gateway's access rules (token, Host, Origin). Bodies are capped,
 * waits are bounded, errors are JSON `{error: {code, message}}`. It uses the core's front door
 * only: the job engine's submit, get, cancel and batches, the fleet's node list.
 */
import fs from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import pkg from '../../../../package.json' with { type: 'json' }
import {
  FINISHED_JOB_STATES,
  type JobPriority,
  type JobRecord,
  type JobState
} from '../../../shared/types'
import type { BalancerCore, JobEngine, LoadedWorkflow, ObjectInfo } from '../app'
import {
  makeVariations,
  MAX_VARIATIONS,
  MAX_WORKFLOW_BYTES,
  normalizeServerUrl,
  parseSet,
  SEED_MODES,
  summarize,
  VariationError,
  WorkflowError,
  type InputSet,
  type SeedMode
} from '../app'
import {
  ApiError,
  intParam,
  loopbackPeer,
  matches,
  sendError,
  BALANCER_API_VERSION,
  BALANCER_APP,
  BALANCER_HEADER,
  BALANCER_PREFIX,
  dataFolderKey,
  MAX_CHANGE_WAIT_MS,
  MAX_LISTED_JOBS
} from './balancer-wire'
import { HttpError, isRecord, readBody, sendJson } from './http'
import { MAX_SMALL_BODY } from './options'

export {
  BALANCER_API_VERSION,
  BALANCER_APP,
  BALANCER_HEADER,
  BALANCER_PREFIX,
  dataFolderKey,
  MAX_CHANGE_WAIT_MS,
  MAX_LISTED_JOBS
} from './balancer-wire'

/** `--set` values per submit at most. */
const MAX_SETS = 100
/** How long a `--set` waits for the servers' node list (object_info is about 500 KB). */
const OBJECT_INFO_WAIT_MS = 30_000

const FINISHED = new Set<JobState>(FINISHED_JOB_STATES)
const PRIORITIES: readonly JobPriority[] = ['high', 'normal', 'low']

export interface BalancerApiOptions {
  /** Folder input images of a submit are looked up in when the client names none. */
  inputDir: string
  /** The gateway's request deadline; waits end well before it. */
  requestTimeoutMs: number
}

export class BalancerApi {
  private readonly dataKey: string | null

  constructor(
    private readonly core: BalancerCore,
    private readonly o: BalancerApiOptions
  ) {
    const dir = core.dataDir()
    this.dataKey = dir === null ? null : dataFolderKey(dir)
  }

  /** True when `route` is this API's (answered here, whatever the outcome). */
  owns(route: string): boolean {
    return route === '/balancer' || route.startsWith('/balancer/')
  }

  async handle(
    method: string,
    route: string,
    url: URL,
    req: IncomingMessage,
    res: ServerResponse,
    stream: () => void
  ): Promise<void> {
    res.setHeader(BALANCER_HEADER, String(BALANCER_API_VERSION))
    res.setHeader('Cache-Control', 'no-store')
    try {
      await this.route(method, route, url, req, res, stream)
    } catch (err) {
      req.resume()
      if (res.headersSent) {
        res.destroy()
        return
      }
      if (err instanceof ApiError) return sendError(res, err.status, err.code, err.message)
      if (err instanceof HttpError && err.status === 413) {
        return sendError(res, 413, 'too-large', 'The request body is too large')
      }
      if (err instanceof HttpError) return sendError(res, err.status, 'refused', err.message)
      sendError(res, 500, 'internal', 'The app could not do this')
    }
  }

  private async route(
    method: string,
    route: string,
    url: URL,
    req: IncomingMessage,
    res: ServerResponse,
    stream: () => void
  ): Promise<void> {
    const get = method === 'GET' || method === 'HEAD'
    const post = method === 'POST'
    const rest = route.startsWith(BALANCER_PREFIX) ? route.slice(BALANCER_PREFIX.length) : null
    let m: RegExpExecArray | null
    if (rest === 'info' && get) {
      return sendJson(res, 200, {
        app: BALANCER_APP,
        version: pkg.version,
        api: BALANCER_API_VERSION,
        jobs: this.core.jobs !== null,
        dataKey: this.dataKey
      })
    }
    if (rest === 'jobs' && post) return this.submit(url, req, res)
    if (rest === 'jobs' && get) return this.list(url, res)
    if (rest !== null && (m = /^jobs\/([^/]{1,200})$/.exec(rest)) && get) {
      return this.one(decodeURIComponent(m[1]!), url, res)
    }
    if (rest !== null && (m = /^jobs\/([^/]{1,200})\/outputs\/(\d{1,6})$/.exec(rest)) && get) {
      return this.output(decodeURIComponent(m[1]!), Number(m[2]), req, res, stream)
    }
    if (rest === 'cancel' && post) return this.cancel(req, res)
    const known = ['info', 'jobs', 'cancel'].includes(rest ?? '') || /^jobs\//.test(rest ?? '')
    req.resume()
    if (known) return sendError(res, 405, 'method', `${method} is not allowed here`)
    sendError(res, 404, 'not-found', 'No such route')
  }

  private engine(): JobEngine {
    const jobs = this.core.jobs
    if (!jobs) throw new ApiError(503, 'no-jobs', 'Jobs are turned off in the app')
    return jobs
  }

  // ------------------------------------------------------------------ submit

  /** The options of a submit, checked before the body is read. */
  private submitOptions(url: URL, req: IncomingMessage) {
    const q = url.searchParams
    const rawSource = q.get('source') ?? ''
    // A file name only: whatever came before the last separator is dropped.
    const source = rawSource.split(/[\\/]/).pop() ?? ''
    // eslint-disable-next-line no-control-regex
    if (!source || source.length > 200 || /[\x00-\x1f\x7f]/.test(source)) {
      throw new ApiError(400, 'bad-option', 'source must be a file name of 1 to 200 characters')
    }
    const count = intParam(url, 'count', 1, MAX_VARIATIONS) ?? 1
    const seedRaw = q.get('seed') ?? (count > 1 ? 'random' : 'fixed')
    if (!SEED_MODES.includes(seedRaw as SeedMode)) {
      throw new ApiError(400, 'bad-option', 'seed must be random, increment or fixed')
    }
    const setTexts = q.getAll('set')
    if (setTexts.length > MAX_SETS) {
      throw new ApiError(400, 'bad-option', `At most ${MAX_SETS} set values`)
    }
    const sets: InputSet[] = []
    for (const t of setTexts) {
      try {
        sets.push(parseSet(t))
      } catch (err) {
        throw new ApiError(400, 'bad-option', (err as Error).message)
      }
    }
    const priorityRaw = q.get('priority')
    if (priorityRaw !== null && !PRIORITIES.includes(priorityRaw as JobPriority)) {
      throw new ApiError(400, 'bad-option', 'priority must be high, normal or low')
    }
    let serverId: string | null = null
    const server = q.get('server')
    if (server !== null) {
      const servers = this.core.settings.servers
      const byId = servers.find((s) => s.id === server)
      const n = byId ? null : normalizeServerUrl(server)
      const match = byId ?? (n && 'url' in n ? servers.find((s) => s.url === n.url) : undefined)
      if (!match) {
        throw new ApiError(400, 'unknown-server', `${server} is not one of the app's servers`)
      }
      serverId = match.id
    }
    let baseDir = this.o.inputDir
    const dir = q.get('baseDir')
    if (dir !== null) {
      // Local images come from a folder of this machine only for a client on this machine.
      if (!loopbackPeer(req)) {
        throw new ApiError(400, 'bad-option', 'baseDir is taken only from this machine')
      }
      let ok = false
      try {
        ok = path.isAbsolute(dir) && fs.statSync(dir).isDirectory()
      } catch {
        ok = false
      }
      if (!ok) throw new ApiError(400, 'bad-option', 'baseDir must be an existing folder')
      baseDir = dir
    }
    return {
      source,
      count,
      seed: seedRaw as SeedMode,
      sets,
      priority: priorityRaw as JobPriority | null,
      serverId,
      baseDir
    }
  }

  private async submit(url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const engine = this.engine()
    const o = this.submitOptions(url, req)
    const bytes = await readBody(req, MAX_WORKFLOW_BYTES)
    if (!bytes.length) throw new ApiError(400, 'bad-workflow', `${o.source}: the file is empty`)
    let wf: LoadedWorkflow
    try {
      wf = await this.core.loadWorkflow(bytes, o.source)
    } catch (err) {
      if (err instanceof WorkflowError) throw new ApiError(400, 'bad-workflow', err.message)
      throw err
    }
    let prompts = [wf.prompt]
    let noNodeList = false
    if (o.count > 1 || o.seed !== 'fixed' || o.sets.length) {
      let info: ObjectInfo | undefined
      if (o.sets.length) {
        info = (await this.core.fleetObjectInfo(OBJECT_INFO_WAIT_MS)) ?? undefined
        noNodeList = !info
      }
      try {
        prompts = makeVariations(wf.prompt, { count: o.count, seed: o.seed, sets: o.sets }, info)
      } catch (err) {
        if (err instanceof VariationError) throw new ApiError(400, 'bad-option', err.message)
        throw err
      }
    }
    const common = { serverId: o.serverId, baseDir: o.baseDir }
    let jobs: JobRecord[]
    let batchId: string | null = null
    try {
      if (prompts.length === 1) {
        const prompt = prompts[0]!
        jobs = [engine.submit({ ...wf, prompt, summary: summarize(prompt) }, common)]
      } else {
        const b = engine.submitBatch(wf, prompts, common)
        batchId = b.batchId
        jobs = b.jobs
      }
    } catch (err) {
      throw new ApiError(400, 'refused', (err as Error).message)
    }
    if (o.priority && o.priority !== 'normal') {
      this.core.setJobPriority(batchId ? { batchId } : { jobId: jobs[0]!.id }, o.priority)
    }
    sendJson(res, 200, {
      batchId,
      workflow: {
        source: wf.source,
        converted: Boolean(wf.converted),
        nodes: wf.summary.nodeCount,
        models: wf.summary.models.length,
        images: wf.summary.images.length,
        warnings: (wf.warnings ?? []).slice(0, 50),
        noNodeList
      },
      jobs: jobs.map((j) => engine.get(j.id) ?? j)
    })
  }

  // ------------------------------------------------------------------ reading

  /** Resolves once a job `want` selects changes (after `since`) or `waitMs` passed. */
  private async changed(
    res: ServerResponse,
    want: (j: JobRecord) => boolean,
    current: () => JobRecord[],
    url: URL
  ): Promise<void> {
    const since = intParam(url, 'since', 0, Number.MAX_SAFE_INTEGER)
    const cap = Math.max(0, Math.min(MAX_CHANGE_WAIT_MS, this.o.requestTimeoutMs - 5_000))
    const waitMs = Math.min(intParam(url, 'wait', 0, 3_600_000) ?? 0, cap)
    if (since === undefined || waitMs === 0) return
    const now = current()
    if (
      !now.length ||
      now.some((j) => j.updatedAt > since) ||
      now.every((j) => FINISHED.has(j.state))
    )
      return
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        off()
        res.off('close', done)
        resolve()
      }
      const timer = setTimeout(done, waitMs)
      const off = this.core.events.on('job', (j) => {
        if (want(j)) done()
      })
      res.on('close', done)
    })
  }

  private async list(url: URL, res: ServerResponse): Promise<void> {
    const engine = this.engine()
    const limit = intParam(url, 'limit', 1, MAX_LISTED_JOBS) ?? 1_000
    const batch = url.searchParams.get('batch')
    const idsRaw = url.searchParams.get('ids')
    const ids = idsRaw === null ? null : new Set(idsRaw.split(',').slice(0, MAX_LISTED_JOBS))
    const unfinished = url.searchParams.get('unfinished') === '1'
    const want = (j: JobRecord) =>
      (batch === null || j.batch?.id === batch) &&
      (ids === null || ids.has(j.id)) &&
      (!unfinished || !FINISHED.has(j.state))
    const select = () => engine.jobs().filter(want)
    await this.changed(res, want, select, url)
    if (res.destroyed) return
    const all = select().sort((a, b) => a.createdAt - b.createdAt)
    sendJson(res, 200, {
      jobs: all.slice(-limit),
      total: all.length,
      truncated: all.length > limit,
      paused: this.core.isSendingPaused()
    })
  }

  private async one(id: string, url: URL, res: ServerResponse): Promise<void> {
    const engine = this.engine()
    const j = engine.get(id)
    if (!j) throw new ApiError(404, 'unknown-job', `No job ${id} in the app`)
    await this.changed(
      res,
      (x) => x.id === id,
      () => [engine.get(id)!].filter(Boolean),
      url
    )
    if (res.destroyed) return
    sendJson(res, 200, { job: engine.get(id) ?? j })
  }

  /** Streams an output file the app saved for a job (its own copy, whatever the server has). */
  private async output(
    id: string,
    n: number,
    req: IncomingMessage,
    res: ServerResponse,
    stream: () => void
  ): Promise<void> {
    const j = this.engine().get(id)
    if (!j) throw new ApiError(404, 'unknown-job', `No job ${id} in the app`)
    const out = j.outputs[n]
    if (!out) throw new ApiError(404, 'unknown-output', `Job ${id} has no output ${n}`)
    let size: number
    try {
      const st = fs.statSync(out.path)
      if (!st.isFile()) throw new Error('not a file')
      size = st.size
    } catch {
      throw new ApiError(404, 'output-gone', `The app no longer has ${out.filename}`)
    }
    stream()
    res.setTimeout(Math.max(30_000, this.core.settings.timeout), () => res.destroy())
    const name = path.basename(out.path).replace(/["\\\r\n]/g, '_')
    res.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': size,
      'Content-Disposition': `attachment; filename="${name}"`
    })
    if (req.method === 'HEAD') return void res.end()
    await pipeline(
      fs.createReadStream(out.path, { start: 0, end: Math.max(0, size - 1) }),
      res
    ).catch(() => res.destroy())
  }

  // ------------------------------------------------------------------ cancel

  private async cancel(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const engine = this.engine()
    let body: unknown
    try {
      body = JSON.parse((await readBody(req, MAX_SMALL_BODY)).toString('utf8'))
    } catch (err) {
      if (err instanceof HttpError) throw err
      throw new ApiError(400, 'bad-json', 'The body must be JSON')
    }
    if (!isRecord(body)) throw new ApiError(400, 'bad-json', 'The body must be a JSON object')
    const id = typeof body.id === 'string' ? body.id : null
    const batch = typeof body.batch === 'string' ? body.batch : null
    const all = body.all === true
    if ([id !== null, batch !== null, all].filter(Boolean).length !== 1) {
      throw new ApiError(400, 'bad-option', 'Give one of id, batch or all')
    }
    if (id !== null) {
      const exact = engine.get(id)
      const found = exact ? [exact] : engine.jobs().filter((j) => matches(j.id, id))
      if (!found.length) throw new ApiError(404, 'unknown-job', `No job ${id} in the app`)
      if (found.length > 1) {
        throw new ApiError(
          409,
          'ambiguous',
          `${id} names ${found.length} jobs; give more of the id`
        )
      }
      const j = found[0]!
      if (FINISHED.has(j.state)) return sendJson(res, 200, { cancelled: [], matched: [j] })
      const after = await engine.cancel(j.id)
      return sendJson(res, 200, { cancelled: [after], matched: [after] })
    }
    if (batch !== null) {
      const ids = new Set(
        engine
          .jobs()
          .filter((j) => j.batch && matches(j.batch.id, batch))
          .map((j) => j.batch!.id)
      )
      if (!ids.size) throw new ApiError(404, 'unknown-batch', `No batch ${batch} in the app`)
      if (ids.size > 1) {
        throw new ApiError(
          409,
          'ambiguous',
          `${batch} names ${ids.size} batches; give more of the id`
        )
      }
      const batchId = [...ids][0]!
      const before = new Set(
        engine
          .batchJobs(batchId)
          .filter((j) => !FINISHED.has(j.state))
          .map((j) => j.id)
      )
      const runs = await this.core.cancelBatch(batchId)
      return sendJson(res, 200, {
        cancelled: runs.filter((j) => before.has(j.id) && j.state === 'cancelled'),
        matched: runs
      })
    }
    const cancelled = await this.core.cancelAllJobs()
    sendJson(res, 200, { cancelled, matched: cancelled })
  }
}
