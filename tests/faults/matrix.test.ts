/**
 * The fault matrix: each row puts one fault on a fake ComfyUI server in one phase of a job's
 * life (the health check before it, the submit, the tracking while it is queued or running, the
 * download of its outputs) and says how the job must end, what it must say, and how many times
 * its prompt may start across the whole fleet (a redirect target outside the fleet included).
 *
 * `runs` counts starts (the fake's executionCount, over restarts): 1 is "exactly once", 0 "never".
 * A row where the server dies or restarts while running the prompt expects 2: the first run
 * was lost with the server, so the job must run again. For every row that ends `done` the
 * prompt is also in at most one server's history: it never completes twice.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import type { BalancerCore } from '../../src/main/core/app'
import type { LoadedWorkflow } from '../../src/main/core/jobs/workflow'
import { fakeFileBytes, type FakeComfy, type FakeComfyOptions } from '../../src/fake-comfy'
import type { JobRecord, JobState } from '../../src/shared/types'
import {
  INTERVAL_MS,
  TIMEOUT_MS,
  makeCore,
  post,
  said,
  saveFiles,
  sleep,
  startCapture,
  startFake,
  statusOf,
  tmpDir,
  txt2img,
  until,
  type Capture
} from './harness'

type Phase = 'check' | 'submit' | 'track' | 'download'

interface Ctx {
  fakes: FakeComfy[]
  core: BalancerCore
  dir: string
  /** A fake outside the fleet that redirects point to. */
  target: FakeComfy | null
  /** A plain server outside the fleet that records what reaches it. */
  capture: Capture | null
  /** The folder the workflow "came from" (local input images). */
  baseDir: string | null
}

interface Row {
  fault: string
  phase: Phase
  /** Servers in the fleet. @default 2 */
  n?: 2 | 3
  fake?: (i: number) => FakeComfyOptions
  extras?: { target?: boolean; capture?: boolean; baseDir?: boolean }
  /** What the capture server answers to every request. @default '{}' */
  captureBody?: string
  /** Server URLs and headers for the core (default: the fakes' URLs). */
  config?: (c: Omit<Ctx, 'core' | 'dir'>) => {
    urls?: string[]
    headers?: Record<number, Record<string, string>>
  }
  /** After the core's first check round, before the submit. */
  before?: (c: Ctx) => Promise<void>
  workflow?: (c: Ctx) => LoadedWorkflow
  /** After the submit, while the job is in flight. */
  during?: (c: Ctx, id: string) => Promise<void>
  state: JobState
  /** Matched against the job's words and the fleet's server errors. */
  message: RegExp
  runs: number
  /** For a state that is not final: how long the job is watched. */
  settleMs?: number
  /** How long to wait for late copies after the end. @default 200 */
  afterMs?: number
  check?: (c: Ctx, job: JobRecord) => void | Promise<void>
  /** Longest wait for the job to finish. @default 20 000 */
  maxWaitMs?: number
  /** A known product bug: the row is expected to fail until it is fixed. */
  bug?: boolean
}

/** Makes fake 0 the best choice: every other one has `more` long jobs of another user queued. */
function busyOthers(more = 2, cost = 40) {
  return async (c: Ctx) => {
    for (const f of c.fakes.slice(1)) f.enqueueDummy(more, cost)
    await c.core.checkNow()
  }
}

async function fault(c: Ctx, i: number, f: Parameters<FakeComfy['setFault']>[0]): Promise<void> {
  await c.fakes[i]!.setFault(f)
}

const onServer = (i: number) => (c: Ctx, j: JobRecord) => {
  expect(j.serverUrl).toBe(c.fakes[i]!.url)
}

const firstTried = (i: number) => (c: Ctx, j: JobRecord) => {
  expect(j.attempts[0]?.serverUrl).toBe(c.fakes[i]!.url)
}

const both =
  (...fns: Array<(c: Ctx, j: JobRecord) => void | Promise<void>>) =>
  async (c: Ctx, j: JobRecord) => {
    for (const fn of fns) await fn(c, j)
  }

/** Fault on fake 0 before anything: it fails its checks, the job goes to fake 1. */
function checkRow(
  fault: string,
  f: Parameters<FakeComfy['setFault']>[0],
  message: RegExp,
  kind: string
): Row {
  return {
    fault,
    phase: 'check',
    before: async (c) => {
      await c.fakes[0]!.setFault(f)
      await c.core.checkNow()
      expect(statusOf(c.core, c.fakes[0]!.url).healthy).toBe(false)
      expect(statusOf(c.core, c.fakes[0]!.url).errorKind).toBe(kind)
    },
    state: 'done',
    message,
    runs: 1,
    check: (c, j) => {
      onServer(1)(c, j)
      expect(c.fakes[0]!.executionCount(j.id)).toBe(0)
    }
  }
}

/** Fault on POST /prompt of fake 0 (the first choice): the job must end on fake 1, run once. */
function submitRow(
  fault: string,
  f: Parameters<FakeComfy['setFault']>[0],
  message: RegExp,
  extra?: Partial<Row>
): Row {
  return {
    fault,
    phase: 'submit',
    before: async (c) => fault0(c, f),
    state: 'done',
    message,
    runs: 1,
    check: both(firstTried(0), onServer(1), (c, j) =>
      expect(c.fakes[0]!.executionCount(j.id)).toBe(0)
    ),
    ...extra
  }
}

const fault0 = (c: Ctx, f: Parameters<FakeComfy['setFault']>[0]) => fault(c, 0, f)

/**
 * While server 0 floods, the core still follows server 1: work put on it (by someone else) is
 * seen within `intervals` check intervals, over its socket or a check.
 */
async function seesOtherServerBusy(c: Ctx, intervals: number): Promise<void> {
  const other = c.fakes[1]!
  const seen = () => {
    const q = statusOf(c.core, other.url).queue
    return q.running + q.pending > 0
  }
  expect(seen()).toBe(false)
  other.enqueueDummy(3, 4)
  await until('server 1 seen busy during the flood', seen, INTERVAL_MS * intervals)
}

const ROWS: Row[] = [
  // ------------------------------------------------------------------ check
  checkRow('refuse', { kind: 'refuse' }, /Connection refused/, 'refused'),
  checkRow('hang', { kind: 'hang' }, new RegExp(`Timed out after ${TIMEOUT_MS} ms`), 'timeout'),
  checkRow('slow (past the timeout)', { kind: 'slow', delayMs: 900 }, /Timed out/, 'timeout'),
  checkRow('status 500', { kind: 'status', status: 500 }, /HTTP 500/, 'http'),
  checkRow('status 401', { kind: 'status', status: 401 }, /HTTP 401.*auth header/, 'http'),
  checkRow(
    'html-502',
    { kind: 'html-502' },
    /HTTP 502 Bad Gateway \(an error page from a proxy\)/,
    'http'
  ),
  checkRow('invalid-json', { kind: 'invalid-json' }, /not JSON/, 'not-json'),
  checkRow('wrong-shape', { kind: 'wrong-shape' }, /Unexpected queue (count )?answer/, 'bad-shape'),
  {
    fault: 'deep JSON (200 000 levels) in every answer',
    phase: 'check',
    extras: { capture: true },
    captureBody: '['.repeat(200_000) + ']'.repeat(200_000),
    config: (c) => ({ urls: [c.capture!.url, c.fakes[1]!.url] }),
    before: async (c) => {
      await c.core.checkNow()
      const s = statusOf(c.core, c.capture!.url)
      expect(s.healthy).toBe(false)
      expect(['bad-shape', 'not-json']).toContain(s.errorKind)
    },
    state: 'done',
    message: /Unexpected queue (count )?answer|not JSON/,
    runs: 1,
    check: onServer(1)
  },
  {
    fault: 'redirect (all routes) to another server',
    phase: 'check',
    extras: { target: true },
    before: async (c) => {
      await fault0(c, { kind: 'redirect', status: 307, to: c.target!.url })
      await c.core.checkNow()
      const s = statusOf(c.core, c.fakes[0]!.url)
      expect(s.healthy).toBe(false)
      expect(s.errorKind).toBe('redirect')
    },
    state: 'done',
    message: /redirected to another address/,
    runs: 1,
    check: both(onServer(1), (c, j) => {
      expect(c.target!.executionCount(j.id)).toBe(0)
    })
  },
  {
    fault: 'a down server keeps its last queue, not zeros',
    phase: 'check',
    before: async (c) => {
      c.fakes[0]!.enqueueDummy(3, 100)
      await c.core.checkNow()
      expect(statusOf(c.core, c.fakes[0]!.url).queue.total).toBe(3)
      await fault0(c, { kind: 'refuse' })
      await c.core.checkNow()
      await c.core.checkNow()
      const s = statusOf(c.core, c.fakes[0]!.url) as ReturnType<typeof statusOf> & {
        queueAt?: number | null
      }
      expect(s.healthy).toBe(false)
      expect(s.queue).toEqual({ running: 1, pending: 2, total: 3 })
      expect(s.queueAt).toBeTypeOf('number')
    },
    state: 'done',
    message: /Connection refused/,
    runs: 1,
    check: onServer(1)
  },
  {
    fault: 'credentials in the address of a down server',
    phase: 'check',
    config: (c) => ({
      urls: [c.fakes[0]!.url.replace('//', '//artist:s3cr3t-pw@'), c.fakes[1]!.url]
    }),
    before: async (c) => {
      await fault0(c, { kind: 'refuse' })
      await c.core.checkNow()
      await c.core.checkNow()
    },
    state: 'done',
    message: /Connection refused/,
    runs: 1,
    check: (c, j) => {
      const printed = [
        ...c.core.logs.all().map((l) => l.message),
        JSON.stringify(c.core.status().servers.map((s) => [s.name, s.error])),
        JSON.stringify(j)
      ].join('\n')
      expect(printed).toMatch(/Connection refused/)
      expect(printed).not.toContain('s3cr3t-pw')
    }
  },
  {
    fault: 'auth header with a redirect elsewhere (all routes, socket too)',
    phase: 'check',
    extras: { capture: true },
    config: () => ({ headers: { 0: { Authorization: 'Bearer tok-fleet-0' } } }),
    before: async (c) => {
      await fault0(c, { kind: 'redirect', status: 302, to: c.capture!.url })
      await c.core.checkNow()
      await c.core.checkNow()
      expect(statusOf(c.core, c.fakes[0]!.url).healthy).toBe(false)
    },
    state: 'done',
    message: /redirected to another address/,
    runs: 1,
    check: both(onServer(1), (c) => {
      const leaked = c.capture!.requests.filter((r) => JSON.stringify(r.headers).includes('tok-'))
      expect(leaked).toEqual([])
    })
  },
  {
    fault: 'ws-flood does not starve the checks of the others',
    phase: 'check',
    before: async (c) => {
      await until('socket open', () => c.fakes[0]!.clientIds().length > 0)
      await fault0(c, { kind: 'ws-flood' })
      await seesOtherServerBusy(c, 3)
    },
    state: 'done',
    message: /accepted/,
    runs: 1
  },

  // ------------------------------------------------------------------ submit
  {
    // Refusing also closes the server's socket, which the engine notices before the POST.
    fault: 'refuse right before the submit (after a good check)',
    phase: 'submit',
    before: (c) => fault0(c, { kind: 'refuse' }),
    state: 'done',
    message: /Connection refused/,
    runs: 1,
    check: both(onServer(1), (c, j) => expect(c.fakes[0]!.executionCount(j.id)).toBe(0))
  },
  submitRow('hang on POST /prompt', { kind: 'hang', route: '/prompt' }, /Timed out/),
  submitRow(
    'status 500 on POST /prompt',
    { kind: 'status', status: 500, route: '/prompt' },
    /HTTP 500/
  ),
  submitRow('html-502 on POST /prompt', { kind: 'html-502', route: '/prompt' }, /HTTP 502/),
  submitRow('invalid-json on POST /prompt', { kind: 'invalid-json', route: '/prompt' }, /not JSON/),
  submitRow(
    'wrong-shape on POST /prompt',
    { kind: 'wrong-shape', route: '/prompt' },
    /Unexpected answer to the queued prompt/
  ),
  // The client gives up at the timeout and closes the request; the fake then drops it.
  submitRow(
    'slow POST /prompt (past the timeout)',
    { kind: 'slow', delayMs: TIMEOUT_MS + 300, route: '/prompt' },
    /Timed out/,
    { afterMs: 800 }
  ),
  {
    fault: 'gateway-timeout: 504 from a proxy, the server queued it',
    phase: 'submit',
    before: (c) => fault0(c, { kind: 'gateway-timeout' }),
    state: 'done',
    message: /accepted/,
    runs: 1,
    afterMs: 800,
    check: onServer(0)
  },
  {
    fault: 'gateway-timeout: 504 at once, queued 1 s later',
    phase: 'submit',
    before: (c) => fault0(c, { kind: 'gateway-timeout', queueAfterMs: 1000 }),
    state: 'done',
    message: /accepted/,
    runs: 1,
    afterMs: 1500
  },
  ...([307, 308, 302] as const).map((status): Row => ({
    fault: `cross-origin redirect ${status} on POST /prompt`,
    phase: 'submit',
    extras: { target: true },
    before: (c) => fault0(c, { kind: 'redirect', status, to: c.target!.url, route: '/prompt' }),
    state: 'done',
    message: /redirect/,
    runs: 1,
    check: both(firstTried(0), onServer(1), (c, j) => {
      expect(c.target!.executionCount(j.id)).toBe(0)
      expect(c.target!.queueSnapshot()).toEqual({ running: [], pending: [] })
      expect(c.target!.historyIds()).toEqual([])
    })
  })),
  {
    fault: 'auth header not sent to the target of a POST /prompt redirect',
    phase: 'submit',
    extras: { capture: true },
    config: () => ({
      headers: { 0: { Authorization: 'Bearer tok-fleet-0', 'X-Api-Key': 'tok-key-0' } }
    }),
    before: (c) =>
      fault0(c, { kind: 'redirect', status: 307, to: c.capture!.url, route: '/prompt' }),
    state: 'done',
    message: /redirected to another address/,
    runs: 1,
    check: both(firstTried(0), onServer(1), (c) => {
      const leaked = c.capture!.requests.filter((r) => JSON.stringify(r.headers).includes('tok-'))
      expect(leaked).toEqual([])
      expect(c.capture!.requests.filter((r) => r.method === 'POST')).toEqual([])
    })
  },
  {
    fault: 'no server has the model',
    phase: 'submit',
    fake: () => ({ models: { checkpoints: ['other-model.safetensors'] } }),
    state: 'failed',
    message: /No server can run this workflow[\s\S]*v1-5-pruned-emaonly/,
    runs: 0,
    check: (_c, j) => expect(j.attempts).toHaveLength(0)
  },
  {
    fault: 'the only server with the model is down: the job waits, visibly',
    phase: 'submit',
    fake: (i) => (i === 0 ? { models: { checkpoints: ['other-model.safetensors'] } } : {}),
    before: async (c) => {
      await fault(c, 1, { kind: 'refuse' })
      await c.core.checkNow()
    },
    state: 'pending',
    settleMs: 1000,
    message: /Waiting for a healthy server/,
    runs: 0
  },
  {
    fault: 'a linked input image pointing outside the workflow folder',
    phase: 'submit',
    extras: { baseDir: true },
    workflow: (c) => {
      const secret = path.join(c.dir, 'private.png')
      fs.writeFileSync(secret, 'PRIVATE-BYTES')
      fs.symlinkSync(secret, path.join(c.baseDir!, 'photo.png'))
      fs.writeFileSync(path.join(c.baseDir!, 'inside.png'), 'INSIDE-BYTES')
      return txt2img((p) => {
        p['10'] = { class_type: 'LoadImage', inputs: { image: 'photo.png' } }
        p['11'] = { class_type: 'LoadImage', inputs: { image: 'inside.png' } }
      })
    },
    state: 'done',
    message: /accepted/,
    runs: 1,
    check: (c) => {
      const uploaded = c.fakes.flatMap((f) =>
        fs
          .readdirSync(f.inputDir, { recursive: true })
          .map((n) => path.join(f.inputDir, String(n)))
          .filter((p) => fs.statSync(p).isFile())
          .map((p) => fs.readFileSync(p, 'utf8'))
      )
      // The file next to the workflow went up; the link to a file outside did not.
      expect(uploaded).toContain('INSIDE-BYTES')
      expect(uploaded.join('\n')).not.toContain('PRIVATE')
    }
  },

  // ------------------------------------------------------------------ track
  {
    fault: 'restart while queued',
    phase: 'track',
    fake: () => ({ jobMs: 100 }),
    before: async (c) => {
      c.fakes[0]!.enqueueDummy(1, 20)
      await busyOthers(3, 20)(c)
    },
    during: async (c, id) => {
      await until('queued on 0', () => c.fakes[0]!.queueSnapshot().pending.includes(id))
      await c.fakes[0]!.restart()
    },
    state: 'done',
    message: /no longer knows the job/,
    runs: 1,
    check: firstTried(0)
  },
  {
    fault: 'restart while running (the first run is lost with it)',
    phase: 'track',
    fake: () => ({ jobMs: 1500 }),
    during: async (c, id) => {
      await until('running on 0', () => c.fakes[0]!.queueSnapshot().running.includes(id))
      await c.fakes[0]!.restart()
    },
    state: 'done',
    message: /no longer knows the job/,
    runs: 2,
    check: firstTried(0)
  },
  {
    fault: 'die while running',
    phase: 'track',
    fake: (i) => ({ jobMs: i === 0 ? 3000 : 150 }),
    during: async (c, id) => {
      await until('running on 0', () => c.fakes[0]!.queueSnapshot().running.includes(id))
      await c.fakes[0]!.die()
    },
    state: 'done',
    message: /is down/,
    runs: 2,
    check: both(firstTried(0), onServer(1))
  },
  {
    fault: 'refused while queued, back later: the stale copy is removed',
    phase: 'track',
    fake: () => ({ jobMs: 100 }),
    before: async (c) => {
      c.fakes[0]!.enqueueDummy(1, 60) // 6 s: our copy waits behind it
      await busyOthers(2, 1)(c)
    },
    during: async (c, id) => {
      await until('queued on 0', () => c.fakes[0]!.queueSnapshot().pending.includes(id))
      await fault0(c, { kind: 'refuse' })
    },
    state: 'done',
    message: /is down/,
    runs: 1,
    check: async (c, j) => {
      onServer(1)(c, j)
      await fault0(c, null)
      await until('stale copy removed', () => !c.fakes[0]!.queueSnapshot().pending.includes(j.id))
    }
  },
  {
    fault: 'deleted by another client while pending',
    phase: 'track',
    before: async (c) => {
      c.fakes[0]!.enqueueDummy(1, 40)
      await busyOthers(3, 40)(c)
    },
    during: async (c, id) => {
      await until('queued on 0', () => c.fakes[0]!.queueSnapshot().pending.includes(id))
      await sleep(200)
      expect(await post(c.fakes[0]!.url, '/api/queue', { delete: [id] })).toBe(200)
    },
    state: 'cancelled',
    message: /Cancelled on/,
    runs: 0,
    afterMs: 800,
    check: (c, j) => {
      expect(j.cancelledOn).toBeTruthy()
      expect(j.reroutes).toBe(0)
    }
  },
  {
    fault: 'no-history: finished from its events, never sent again',
    phase: 'track',
    before: (c) => fault0(c, { kind: 'no-history' }),
    state: 'done',
    message: /accepted/,
    runs: 1,
    afterMs: 800,
    check: (c, j) => {
      onServer(0)(c, j)
      expect(j.reroutes).toBe(0)
      expect(j.outputs.length).toBeGreaterThan(0)
    }
  },
  {
    fault: 'ws-flood while running',
    phase: 'track',
    fake: () => ({ jobMs: 800 }),
    during: async (c, id) => {
      await until('running on 0', () => c.fakes[0]!.queueSnapshot().running.includes(id))
      await fault0(c, { kind: 'ws-flood' })
      await seesOtherServerBusy(c, 4)
    },
    state: 'done',
    message: /accepted/,
    runs: 1,
    check: onServer(0)
  },
  {
    fault: 'history answers a wrong shape after a run seen to its end',
    phase: 'track',
    // Finished from its socket events after a few polls whose history read failed.
    maxWaitMs: 5_000,
    before: (c) => fault0(c, { kind: 'wrong-shape', route: '/history' }),
    state: 'done',
    message: /accepted/,
    runs: 1,
    check: onServer(0)
  },

  // ------------------------------------------------------------------ download
  ...[500, 404].map((status): Row => ({
    fault: `view-status ${status}`,
    phase: 'download',
    before: (c) => fault0(c, { kind: 'view-status', status }),
    state: 'done',
    message: new RegExp(`could not be downloaded.*HTTP ${status}`),
    runs: 1,
    check: (_c, j) => {
      expect(j.outputs).toEqual([])
      expect(j.missingOutputs).toBe(1)
      expect(j.reroutes).toBe(0)
    }
  })),
  {
    fault: 'view-slow: a steady download longer than the request timeout',
    phase: 'download',
    before: (c) => fault0(c, { kind: 'view-slow', bytesPerSec: 64 * 1024 }),
    workflow: () => saveFiles(['big.bin'], 96 * 1024),
    state: 'done',
    message: /accepted/,
    runs: 1,
    check: (_c, j) => {
      expect(j.outputs).toHaveLength(1)
      expect(j.missingOutputs ?? 0).toBe(0)
      const got = fs.readFileSync(j.outputs[0]!.path)
      expect(got.equals(Buffer.from(fakeFileBytes(0, 0, 96 * 1024)))).toBe(true)
    }
  },
  {
    fault: 'dangerous output names',
    phase: 'download',
    workflow: () =>
      saveFiles([
        '../../escape.png',
        '..\\..\\win-escape.png',
        '/etc/passwd',
        'evil.bat',
        '\u202egnp.bat',
        'COM1 .txt',
        '.bashrc',
        'con.png'
      ]),
    state: 'done',
    message: /could not be downloaded: \.\.\/\.\.\/escape\.png: HTTP 400/,
    runs: 1,
    check: (c, j) => {
      // Like ComfyUI, the fake refuses /view for names with `..` or an absolute path (400):
      // those three are missing, never written outside the job folder.
      expect(j.outputs).toHaveLength(5)
      expect(j.missingOutputs).toBe(3)
      const folder = path.dirname(j.outputs[0]!.path)
      expect(path.dirname(folder)).toBe(path.join(c.dir, 'out'))
      for (const o of j.outputs) {
        const base = path.basename(o.path)
        expect(path.dirname(o.path)).toBe(folder)
        // eslint-disable-next-line no-control-regex
        expect(base).not.toMatch(/[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]/)
        expect(base).not.toMatch(/^\./)
        expect(base).not.toMatch(/\.(bat|cmd|exe|com|sh)$/i)
        expect(base).not.toMatch(/^(con|prn|aux|nul|com\d|lpt\d)(\s|\.|$)/i)
      }
    }
  }
]

async function run(row: Row): Promise<{ c: Ctx; job: JobRecord }> {
  const fakes: FakeComfy[] = []
  for (let i = 0; i < (row.n ?? 2); i++) fakes.push(await startFake(row.fake?.(i) ?? {}))
  const target = row.extras?.target ? await startFake() : null
  const capture = row.extras?.capture ? await startCapture(row.captureBody) : null
  const dir = tmpDir()
  const baseDir = row.extras?.baseDir
    ? fs.mkdirSync(path.join(dir, 'wf'), { recursive: true })!
    : null
  const cfg = row.config?.({ fakes, target, capture, baseDir }) ?? {}
  const core = makeCore(cfg.urls ?? fakes.map((f) => f.url), dir, { headers: cfg.headers })
  const c: Ctx = { fakes, core, dir, target, capture, baseDir }
  core.start()
  await core.checkNow()
  await row.before?.(c)
  const submitted = core.jobs!.submit(row.workflow?.(c) ?? txt2img(), baseDir ? { baseDir } : {})
  const id = submitted.id
  await row.during?.(c, id)
  let job: JobRecord
  if (row.settleMs) {
    await sleep(row.settleMs)
    job = core.jobs!.get(id)!
  } else {
    job = await Promise.race([
      core.jobs!.waitFor(id),
      sleep(row.maxWaitMs ?? 20_000).then(() => {
        const j = core.jobs!.get(id)!
        throw new Error(`job still ${j.state} after ${row.maxWaitMs ?? 20_000} ms: ${said(j)}`)
      })
    ])
    await sleep(row.afterMs ?? 200)
  }
  return { c, job }
}

function fleetRuns(c: Ctx, id: string): number {
  return [...c.fakes, ...(c.target ? [c.target] : [])].reduce((n, f) => n + f.executionCount(id), 0)
}

async function verify(row: Row): Promise<void> {
  const { c, job } = await run(row)
  expect(job.state, said(job)).toBe(row.state)
  const words = [said(job), ...c.core.status().servers.map((s) => s.error ?? '')].join('\n')
  expect(words).toMatch(row.message)
  expect(fleetRuns(c, job.id)).toBe(row.runs)
  if (job.state === 'done') {
    const completed = c.fakes.filter((f) => f.historyIds().includes(job.id))
    expect(completed.length).toBeLessThanOrEqual(1)
  }
  await row.check?.(c, job)
}

const table = (phase: Phase, bug: boolean) =>
  ROWS.filter((r) => r.phase === phase && !!r.bug === bug).map((r) => [r.fault, r] as const)

describe.each(['check', 'submit', 'track', 'download'] as const)('phase %s', (phase) => {
  it.each(table(phase, false))('%s', (_name, row) => verify(row))
  if (table(phase, true).length) {
    it.fails.each(table(phase, true))('known product bug: %s', (_name, row) => verify(row))
  }
})
