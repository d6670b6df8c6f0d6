/**
 * An in-memory FleetPort for unit tests of the job pieces: servers are added by hand (with a
 * real ComfyClient, usually pointed at a FakeComfy, or a stub), the choice is the first healthy
 * server not excluded nor unable, and every call the pieces make is recorded. Also a manual
 * clock for tests where timing matters.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Clock } from '../../src/main/core/clock'
import { ComfyClient } from '../../src/main/core/comfy/client'
import { Emitter } from '../../src/main/core/events'
import type { OurJobState } from '../../src/main/core/fleet/our-jobs'
import type { FleetPort, FleetPortEvents, WorkflowNeeds } from '../../src/main/core/fleet/port'
import type { Choice, PolicyJob } from '../../src/main/core/fleet/policy'
import { JobStore } from '../../src/main/core/jobs/job-store'
import { Journal } from '../../src/main/core/jobs/journal'
import type {
  BalancerSettings,
  FleetStatus,
  JobRecord,
  ServerConfig,
  ServerStatus
} from '../../src/shared/types'

export interface FakeServerOptions {
  healthy?: boolean
  enabled?: boolean
  /** What the choice reports as the time to finish the job there. */
  finishMs?: number
  consecutiveFailures?: number
  /** The client for this server; by default a real ComfyClient on `url`. */
  client?: ComfyClient
}

interface Entry {
  config: ServerConfig
  client: ComfyClient
  healthy: boolean
  finishMs?: number
  consecutiveFailures: number
}

export class FakePort implements FleetPort {
  readonly events = new Emitter<FleetPortEvents>()
  readonly sent: Array<[string, string]> = []
  readonly gone: Array<[string, string]> = []
  readonly runs: Array<{ serverId: string; runMs: number; kind?: string }> = []
  readonly chooseCalls: Array<ReadonlySet<string>> = []
  checks = 0
  /** What unableToRun answers: server id -> why. */
  unable = new Map<string, string>()
  private readonly entries: Entry[] = []

  /** Adds a server; its id is `id`, its name `id` too. */
  add(id: string, url: string, opts: FakeServerOptions = {}): ComfyClient {
    const client = opts.client ?? new ComfyClient({ server: { url }, timeoutMs: 2_000 })
    this.entries.push({
      config: { id, name: id, url, enabled: opts.enabled ?? true },
      client,
      healthy: opts.healthy ?? true,
      finishMs: opts.finishMs,
      consecutiveFailures: opts.consecutiveFailures ?? 0
    })
    return client
  }

  setHealthy(id: string, healthy: boolean, consecutiveFailures = healthy ? 0 : 2): void {
    const e = this.entries.find((x) => x.config.id === id)!
    e.healthy = healthy
    e.consecutiveFailures = consecutiveFailures
  }

  close(): void {
    for (const e of this.entries) e.client.close()
  }

  clientFor(serverId: string): ComfyClient | undefined {
    return this.entries.find((e) => e.config.id === serverId)?.client
  }

  configFor(serverId: string): ServerConfig | undefined {
    return this.entries.find((e) => e.config.id === serverId)?.config
  }

  private view(e: Entry): ServerStatus {
    return {
      id: e.config.id,
      name: e.config.name,
      url: e.config.url,
      enabled: e.config.enabled,
      healthy: e.healthy && e.config.enabled,
      queue: { running: 0, pending: 0, total: 0 },
      latencyMs: 1,
      system: null,
      error: e.healthy ? null : 'no answer',
      errorKind: e.healthy ? null : 'refused',
      lastCheck: 1,
      consecutiveFailures: e.consecutiveFailures,
      legacyRoutes: false,
      checks: 1,
      successes: e.healthy ? 1 : 0,
      consecutiveSuccesses: e.healthy ? 1 : 0,
      down: !e.healthy,
      recovering: false,
      ownInFlight: 0,
      jobMs: null,
      etaMs: null
    }
  }

  status(): FleetStatus {
    const servers = this.entries.map((e) => this.view(e))
    const best = servers.find((s) => s.healthy) ?? null
    return {
      total: servers.length,
      healthy: servers.filter((s) => s.healthy).length,
      bestServer: best?.name ?? null,
      bestServerId: best?.id ?? null,
      reason: best ? 'first healthy' : 'none healthy',
      lastHealthCheck: 1,
      paused: false,
      servers
    }
  }

  choose(exclude: ReadonlySet<string> = new Set(), job?: PolicyJob): Choice {
    this.chooseCalls.push(new Set(exclude))
    const e = this.entries.find(
      (x) =>
        x.healthy && x.config.enabled && !exclude.has(x.config.id) && !job?.unable?.has(x.config.id)
    )
    if (!e) return { server: null, reason: 'No healthy server (test)' }
    return { server: this.view(e), reason: 'first healthy (test)', finishMs: e.finishMs }
  }

  unableToRun(needs: WorkflowNeeds | null): Map<string, string> {
    return needs ? new Map(this.unable) : new Map()
  }

  async ensureCapabilities(): Promise<void> {}

  /** Our jobs per server as noted, with their state (as the monitor's own count keeps them). */
  private readonly ours = new Map<string, Map<string, OurJobState>>()

  noteSent(serverId: string, promptId: string, state: OurJobState = 'queued'): void {
    this.sent.push([serverId, promptId])
    const jobs = this.ours.get(serverId) ?? new Map<string, OurJobState>()
    jobs.set(promptId, state)
    this.ours.set(serverId, jobs)
  }

  noteGone(serverId: string, promptId: string): void {
    this.gone.push([serverId, promptId])
    this.ours.get(serverId)?.delete(promptId)
  }

  ourWaiting(serverId: string): number {
    let n = 0
    for (const state of this.ours.get(serverId)?.values() ?? []) if (state !== 'running') n++
    return n
  }

  noteRun(serverId: string, runMs: number, kind?: string): void {
    this.runs.push({ serverId, runMs, kind })
  }

  async whenSocketOpen(): Promise<void> {}

  async checkNow(): Promise<FleetStatus> {
    this.checks++
    return this.status()
  }
}

/** A clock that moves only when told to. */
export class ManualClock implements Clock {
  private t = 1_000_000
  private seq = 0
  private readonly timers = new Map<number, { at: number; fn: () => void }>()

  now(): number {
    return this.t
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq
    this.timers.set(id, { at: this.t + ms, fn })
    return id
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number)
  }

  get pending(): number {
    return this.timers.size
  }

  /** Moves time on by `ms`, running the timers that come due, in order. */
  advance(ms: number): void {
    const end = this.t + ms
    for (;;) {
      const due = [...this.timers].filter(([, x]) => x.at <= end).sort((a, b) => a[1].at - b[1].at)
      if (!due.length) break
      const [id, timer] = due[0]!
      this.timers.delete(id)
      this.t = timer.at
      timer.fn()
    }
    this.t = end
  }
}

export const SETTINGS: BalancerSettings = {
  healthCheckInterval: 60_000,
  timeout: 2_000,
  retryAttempts: 3,
  verboseLogging: false,
  queueWeightEnabled: true,
  failoverEnabled: true
}

/** A job store on a fresh journal in a temporary folder; `close` removes it. */
export function makeStore(clock: Clock): {
  store: JobStore
  journal: Journal
  dir: string
  close: () => void
} {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-store-'))
  const journal = new Journal({ file: path.join(dir, 'jobs.jsonl'), fsync: false })
  journal.open()
  return {
    store: new JobStore(journal, clock),
    journal,
    dir,
    close: () => {
      journal.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** A pending job as JobEngine.submit records it. */
export function pendingJob(id: string, now: number, patch: Partial<JobRecord> = {}): JobRecord {
  return {
    id,
    clientId: 'test-client',
    source: 'test.json',
    state: 'pending',
    createdAt: now,
    updatedAt: now,
    startedAt: null,
    finishedAt: null,
    pinnedServerId: null,
    kind: 'test',
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
