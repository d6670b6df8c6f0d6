/** An in-memory `ComfyBalancerApi` for component tests: records calls, lets the test push. */
import type {
  AppRoute,
  ComfyBalancerApi,
  GatewayStatus,
  QueueHistory,
  Unsubscribe,
  WorkflowInspectResult
} from '../../src/shared/ipc'
import type { AppSettings, FleetStatus, JobRecord, LogLine } from '../../src/shared/types'

/** A job record with every field, for tests. */
export function makeJob(patch: Partial<JobRecord> & { id: string }): JobRecord {
  return {
    clientId: 'client',
    source: 'txt2img.json',
    state: 'pending',
    createdAt: 1_000,
    updatedAt: 1_000,
    startedAt: null,
    finishedAt: null,
    pinnedServerId: null,
    serverId: null,
    serverUrl: null,
    attempts: [],
    reroutes: 0,
    queuePosition: null,
    progress: { node: null, value: 0, max: 0, nodesDone: 0, nodesTotal: 7 },
    error: null,
    outputs: [],
    notes: [],
    ...patch
  }
}

/** What `jobs.inspect` answers for the txt2img fixture. */
export const TXT2IMG_SUMMARY: WorkflowInspectResult = {
  ok: true,
  source: 'txt2img.json',
  format: 'json',
  summary: {
    nodeCount: 7,
    classes: ['CheckpointLoaderSimple', 'KSampler'],
    models: [{ nodeId: '4', folder: 'checkpoints', name: 'v1-5-pruned-emaonly.safetensors' }],
    images: [],
    nodes: { '3': { type: 'KSampler', title: 'KSampler' } }
  }
}

type Listener<T> = (value: T) => void

class Channel<T> {
  private readonly fns = new Set<Listener<T>>()
  on(fn: Listener<T>): Unsubscribe {
    this.fns.add(fn)
    return () => {
      this.fns.delete(fn)
    }
  }
  emit(value: T): void {
    for (const fn of this.fns) fn(value)
  }
  get size(): number {
    return this.fns.size
  }
}

export interface FakeApi extends ComfyBalancerApi {
  calls: Array<[string, ...unknown[]]>
  pushStatus(status: FleetStatus): void
  pushLog(line: LogLine): void
  pushSettings(settings: AppSettings): void
  pushJob(job: JobRecord): void
  navigate(route: AppRoute): void
  listenerCount(): number
}

export function fakeApi(init: {
  status: FleetStatus
  settings: AppSettings
  logs?: LogLine[]
  jobs?: JobRecord[]
  history?: QueueHistory
  gateway?: GatewayStatus
  inspect?: WorkflowInspectResult
}): FakeApi {
  let status = init.status
  let settings = init.settings
  const logs = [...(init.logs ?? [])]
  const statusCh = new Channel<FleetStatus>()
  const logCh = new Channel<LogLine>()
  const settingsCh = new Channel<AppSettings>()
  const jobCh = new Channel<JobRecord>()
  const navCh = new Channel<AppRoute>()
  const jobs = new Map((init.jobs ?? []).map((j) => [j.id, j]))
  const calls: Array<[string, ...unknown[]]> = []
  let nextJob = 1
  return {
    calls,
    status: {
      get: async () => status,
      history: async () => init.history ?? {},
      gateway: async () => init.gateway ?? { enabled: false, url: null, error: null },
      onStatus: (fn) => statusCh.on(fn)
    },
    settings: {
      get: async () => settings,
      update: async (patch) => {
        calls.push(['settings.update', patch])
        settings = { ...settings, ...patch }
        settingsCh.emit(settings)
        return { settings, problems: [] }
      },
      chooseOutputDir: async () => {
        calls.push(['settings.chooseOutputDir'])
        return '/home/me/Renders'
      },
      onSettings: (fn) => settingsCh.on(fn)
    },
    checks: {
      now: async () => {
        calls.push(['checks.now'])
        return status
      },
      pause: async (paused) => {
        calls.push(['checks.pause', paused])
        status = { ...status, paused }
        statusCh.emit(status)
        return status
      }
    },
    logs: {
      get: async () => [...logs],
      onLog: (fn) => logCh.on(fn)
    },
    servers: {
      import: async (text) => {
        calls.push(['servers.import', text])
        return { servers: [], problems: [] }
      },
      test: async (server) => {
        calls.push(['servers.test', server])
        // With the failure as data too, as main sends it.
        const failed = {
          ok: false as const,
          url: server.url,
          error: 'Connection refused (is ComfyUI running on that port?)',
          errorKind: 'refused' as const,
          said: { code: 'refused' as const }
        }
        return failed
      }
    },
    jobs: {
      list: async () => [...jobs.values()],
      submit: async (request) => {
        calls.push(['jobs.submit', request])
        const job = makeJob({
          id: `00000000-0000-4000-8000-${String(nextJob++).padStart(12, '0')}`,
          source: 'name' in request ? request.name : request.path.split('/').pop()!,
          pinnedServerId: request.serverId ?? null,
          ...(request.count !== undefined
            ? { batch: { id: 'batch-1', index: 0, size: request.count } }
            : {}),
          createdAt: 5_000,
          updatedAt: 5_000
        })
        jobs.set(job.id, job)
        jobCh.emit(job)
        return job
      },
      inspect: async (request) => {
        calls.push(['jobs.inspect', request])
        return init.inspect ?? TXT2IMG_SUMMARY
      },
      resubmit: async (id, options) => {
        calls.push(['jobs.resubmit', id, options])
        const old = jobs.get(id)
        if (!old) throw new Error(`Unknown job ${id}`)
        const job = makeJob({ ...old, id: `${id.slice(0, -1)}9`, state: 'pending', outputs: [] })
        jobs.set(job.id, job)
        jobCh.emit(job)
        return job
      },
      thumbnail: async (path) => {
        calls.push(['jobs.thumbnail', path])
        return 'data:image/png;base64,iVBORw0KGgo='
      },
      openOutput: async (path) => {
        calls.push(['jobs.openOutput', path])
      },
      openFolder: async (id) => {
        calls.push(['jobs.openFolder', id])
      },
      cancel: async (id) => {
        calls.push(['jobs.cancel', id])
        const job = jobs.get(id)
        if (!job) throw new Error(`Unknown job ${id}`)
        const next = { ...job, state: 'cancelled' as const }
        jobs.set(id, next)
        jobCh.emit(next)
        return next
      },
      onJob: (fn) => jobCh.on(fn),
      move: async (target, where) => {
        calls.push(['jobs.move', target, where])
        return []
      },
      setPriority: async (target, priority) => {
        calls.push(['jobs.setPriority', target, priority])
        return []
      },
      cancelBatch: async (batchId) => {
        calls.push(['jobs.cancelBatch', batchId])
        return []
      },
      cancelAll: async () => {
        calls.push(['jobs.cancelAll'])
        return []
      },
      retry: async (id) => {
        calls.push(['jobs.retry', id])
        const old = jobs.get(id)
        if (!old) throw new Error(`Unknown job ${id}`)
        return old
      },
      retryBatch: async (batchId) => {
        calls.push(['jobs.retryBatch', batchId])
        return []
      }
    },
    queue: {
      state: async () => ({ paused: false, changedAt: null }),
      pause: async () => ({ paused: true, changedAt: 1 }),
      resume: async () => ({ paused: false, changedAt: 2 }),
      onState: () => () => undefined
    },
    ui: {
      onNavigate: (fn) => navCh.on(fn),
      pathForFile: () => null
    },
    pushStatus(next) {
      status = next
      statusCh.emit(next)
    },
    pushLog(line) {
      logs.push(line)
      logCh.emit(line)
    },
    pushSettings(next) {
      settings = next
      settingsCh.emit(next)
    },
    pushJob(job) {
      jobs.set(job.id, job)
      jobCh.emit(job)
    },
    navigate(route) {
      navCh.emit(route)
    },
    listenerCount: () => statusCh.size + logCh.size + settingsCh.size + jobCh.size + navCh.size
  }
}
