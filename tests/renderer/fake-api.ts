/** An in-memory `ComfyBalancerApi` for component tests: records calls, lets the test push. */
import type { AppRoute, ComfyBalancerApi, Unsubscribe } from '../../src/shared/ipc'
import type { AppSettings, FleetStatus, JobRecord, LogLine } from '../../src/shared/types'

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
  return {
    calls,
    status: {
      get: async () => status,
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
      import: async () => ({ servers: [], problems: [] })
    },
    jobs: {
      list: async () => [...jobs.values()],
      submit: async (request) => {
        calls.push(['jobs.submit', request])
        throw new Error('The fake API submits nothing')
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
      onJob: (fn) => jobCh.on(fn)
    },
    ui: {
      onNavigate: (fn) => navCh.on(fn)
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
