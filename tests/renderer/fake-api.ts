/** An in-memory `ComfyBalancerApi` for component tests: records calls, lets the test push. */
import type { ComfyBalancerApi, Unsubscribe } from '../../src/shared/ipc'
import type { AppSettings, FleetStatus, LogLine } from '../../src/shared/types'

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
  listenerCount(): number
}

export function fakeApi(init: {
  status: FleetStatus
  settings: AppSettings
  logs?: LogLine[]
}): FakeApi {
  let status = init.status
  let settings = init.settings
  const logs = [...(init.logs ?? [])]
  const statusCh = new Channel<FleetStatus>()
  const logCh = new Channel<LogLine>()
  const settingsCh = new Channel<AppSettings>()
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
    listenerCount: () => statusCh.size + logCh.size + settingsCh.size
  }
}
