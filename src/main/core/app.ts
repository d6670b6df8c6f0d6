/**
 * The engine assembled: settings, the check loop, the choice policy and the log. The Electron
 * shell, the CLI and the web bridge all start this same object.
 */
// The front door: what the faces (the shell, the CLI, the gateway, the web bridge) may use of the
// core. They import this file and src/shared only (an ESLint rule keeps it so).
export {
  DEFAULT_GATEWAY,
  importLegacyServers,
  LIMITS,
  normalizeServerUrl,
  parseSettings,
  serversFromUrls
} from './settings'
export { appJournalFile, cliDataDir, settingsFile, userDataDir } from './paths'
export {
  loadWorkflowBytes,
  MAX_WORKFLOW_BYTES,
  NeedsObjectInfoError,
  summarize,
  WorkflowError,
  type ApiPrompt,
  type LoadedWorkflow
} from './jobs/workflow'
export {
  readWorkflowFile,
  WORKFLOW_EXTENSIONS,
  type ReadWorkflowFileOptions
} from './jobs/workflow-file'
export { parseObjectInfo, type ObjectInfo } from './jobs/ui-workflow'
export {
  makeVariations,
  MAX_VARIATIONS,
  parseSet,
  SEED_MODES,
  VariationError,
  type InputSet,
  type SeedMode
} from './jobs/variations'
export { Journal } from './jobs/journal'
export { queueStateFile, readQueueState, withNote, writeQueueState } from './jobs/job-store'
export { CANCELLED_NOTE } from './jobs/cancels'
export {
  jobErrorLines,
  outputProblems,
  sayAttempt,
  sayJobError,
  sayJobNote,
  sayLacks,
  sayWorkflowProblem
} from './log'
export { ComfyClient } from './comfy/client'
export type { ServerEvent } from './fleet/monitor'
export { parseApiPrompt } from './jobs/workflow'
export { deleteFromQueue, interruptPrompt } from './comfy/prompt-api'
export { systemClock, type Clock } from './clock'
export type { JobEngine, SubmitOptions } from './jobs/engine'

import type {
  AppSettings,
  FleetStatus,
  JobPriority,
  JobRecord,
  LogLevel,
  LogLine,
  QueueState
} from '../../shared/types'
import { JobEngine, type QueueMove, type QueueTarget } from './jobs/engine'
import { parseObjectInfo, type ObjectInfo } from './jobs/ui-workflow'
import { loadWorkflowBytes, NeedsObjectInfoError, type LoadedWorkflow } from './jobs/workflow'
import { readWorkflowFile } from './jobs/workflow-file'
import { Journal, type JournalLoadReport } from './jobs/journal'
import { systemClock, type Clock } from './clock'
import { probeServer, type ProbeResult } from './comfy/probe'
import type { HttpTransport } from './comfy/transport'
import { Emitter } from './events'
import { FleetMonitor, type ServerEvent } from './fleet/monitor'
import type { ComfyClient } from './comfy/client'
import path from 'node:path'
import { randomUUID } from 'node:crypto'
import {
  expectedCompletionPolicy,
  roundRobinPolicy,
  type Choice,
  type Policy
} from './fleet/policy'
import { conciseLines, LogBuffer, logLine, verboseLines } from './log'
import { parseSettings, type SettingsProblem } from './settings'

export interface BalancerCoreOptions {
  settings: AppSettings
  clock?: Clock
  transportFactory?: (server: AppSettings['servers'][number]) => HttpTransport | undefined
  /** Overrides the policy chosen by `queueWeightEnabled` (benchmarks, experiments). */
  policy?: Policy
  /** Enables the job engine: where the journal and the outputs live. */
  jobs?: {
    journalFile: string
    outputDir: string
    /** Stable WebSocket identity across restarts. */
    clientId?: string
    /** Finished jobs kept in the journal. @default 500 */
    historyLimit?: number
    pollIntervalMs?: number
    /** Late binding (see JobEngine). @default 1 */
    holdBack?: number | null
  }
  /** Keep a WebSocket per server for live queue changes while running. @default true */
  live?: boolean
  /** Randomness for the policy. @default Math.random */
  rng?: () => number
}

export interface CoreEvents {
  /** Any change of the cached status. */
  status: FleetStatus
  /** The end of a check round (after its log lines). */
  round: FleetStatus
  log: LogLine
  settings: AppSettings
  job: JobRecord
}

/** The hold-back the job engine uses (see JobEngine): 1 unless the caller says. */
function holdBackOf(jobs: { holdBack?: number | null }): number | null {
  return jobs.holdBack === undefined ? 1 : jobs.holdBack
}

export function policyFor(settings: Pick<AppSettings, 'queueWeightEnabled'>): Policy {
  return settings.queueWeightEnabled ? expectedCompletionPolicy : roundRobinPolicy
}

export class BalancerCore {
  readonly events = new Emitter<CoreEvents>()
  readonly logs = new LogBuffer(2000)
  private settingsValue: AppSettings
  private readonly monitor: FleetMonitor
  private readonly clock: Clock
  private readonly fixedPolicy?: Policy
  private prevStatus: FleetStatus | null = null
  private readonly journal: Journal | null = null
  /** The job engine, when the core was given `jobs` options. */
  readonly jobs: JobEngine | null = null

  constructor(opts: BalancerCoreOptions) {
    this.clock = opts.clock ?? systemClock
    this.settingsValue = opts.settings
    this.fixedPolicy = opts.policy
    const clientId = opts.jobs?.clientId ?? randomUUID()
    this.monitor = new FleetMonitor({
      servers: opts.settings.servers,
      intervalMs: opts.settings.healthCheckInterval,
      timeoutMs: opts.settings.timeout,
      policy: opts.policy ?? policyFor(opts.settings),
      clock: this.clock,
      transportFactory: opts.transportFactory,
      live: opts.live === false ? null : { clientId },
      rng: opts.rng,
      // The same late binding as the job engine's, so the best server shown is where the next
      // job goes.
      holdBack: opts.jobs ? holdBackOf(opts.jobs) : null
    })
    this.monitor.events.on('status', (s) => this.events.emit('status', s))
    this.monitor.events.on('round', (s) => this.onRound(s))
    this.monitor.events.on('log', (l) => this.log(l.level, l.message))
    // A server whose socket closed may come back with other nodes: read its object_info again.
    this.monitor.events.on('socket-closed', ({ serverId }) => this.objectInfoCache.delete(serverId))
    if (opts.jobs) {
      this.journal = new Journal({
        file: opts.jobs.journalFile,
        historyLimit: opts.jobs.historyLimit ?? opts.settings.jobHistoryLimit
      })
      this.jobs = new JobEngine({
        journal: this.journal,
        monitor: this.monitor,
        settings: () => this.settingsValue,
        outputDir: opts.jobs.outputDir,
        clientId,
        holdBack: holdBackOf(opts.jobs),
        clock: this.clock,
        pollIntervalMs: opts.jobs.pollIntervalMs,
        log: (level, message) => this.log(level, message)
      })
      this.jobs.events.on('job', (j) => this.events.emit('job', j))
    }
  }

  get settings(): AppSettings {
    return this.settingsValue
  }

  /** Starts the check loop and, with jobs enabled, opens the journal and resumes its jobs. */
  start(): JournalLoadReport | null {
    let report: JournalLoadReport | null = null
    if (this.journal && this.jobs) {
      report = this.journal.open()
      if (report.message) {
        this.log(report.damagedLines ? 'error' : 'warn', `[Jobs] ${report.message}`)
      } else if (report.badLines) {
        this.log(
          'warn',
          `[Jobs] ${report.badLines} unreadable line(s) in the job journal were skipped`
        )
      }
      this.jobs.start()
    }
    this.monitor.start()
    return report
  }

  /** Stops the loop and the job engine, flushes and closes the journal. Safe to call twice. */
  async stop(): Promise<void> {
    await this.jobs?.stop()
    await this.monitor.stop()
    this.journal?.close()
  }

  /** Cached status; never waits for a check. */
  status(): FleetStatus {
    return this.monitor.status()
  }

  /**
   * Where the next job goes and why, from the same placement the job engine uses (policy and
   * hold-back); cached, never waits for a check.
   */
  best(): Choice {
    return this.monitor.best()
  }

  /** Each server's queue length over the last 30 minutes: id -> [epoch ms, total][]. */
  queueHistory(): Record<string, Array<[number, number]>> {
    return this.monitor.queueHistory()
  }

  /** "Test connection" for a server that may not be in the list yet. */
  testServer(server: { url: string; headers?: Record<string, string> }): Promise<ProbeResult> {
    return probeServer(server, this.settingsValue.timeout)
  }

  /** A round now (or the one already running). */
  checkNow(): Promise<FleetStatus> {
    return this.monitor.checkNow()
  }

  setPaused(paused: boolean): void {
    this.monitor.setPaused(paused)
    this.log('info', paused ? '[LoadBalancer] Checks paused' : '[LoadBalancer] Checks resumed')
  }

  setVerbose(verbose: boolean): void {
    this.updateSettings({ verboseLogging: verbose })
  }

  /**
   * Applies a settings change from an untrusted source. Bad values are refused with their
   * problems and the current values stay; good values take effect at once.
   */
  updateSettings(patch: unknown): { settings: AppSettings; problems: SettingsProblem[] } {
    const { settings, problems } = parseSettings(patch, this.settingsValue)
    const prev = this.settingsValue
    this.settingsValue = settings
    if (settings.healthCheckInterval !== prev.healthCheckInterval) {
      this.monitor.setIntervalMs(settings.healthCheckInterval)
    }
    if (settings.timeout !== prev.timeout) this.monitor.setTimeoutMs(settings.timeout)
    if (settings.queueWeightEnabled !== prev.queueWeightEnabled && !this.fixedPolicy) {
      this.monitor.setPolicy(policyFor(settings))
    }
    if (settings.servers !== prev.servers) this.monitor.setServers(settings.servers)
    if (settings.jobHistoryLimit !== prev.jobHistoryLimit) {
      this.journal?.setHistoryLimit(settings.jobHistoryLimit)
    }
    if (settings.outputDir !== prev.outputDir && settings.outputDir && this.jobs) {
      this.jobs.setOutputDir(settings.outputDir)
    }
    if (settings.verboseLogging !== prev.verboseLogging) {
      this.log('info', `[LoadBalancer] Verbose logging ${settings.verboseLogging ? 'on' : 'off'}`)
    }
    for (const p of problems) this.log('warn', `[Settings] ${p.message}`)
    this.events.emit('settings', settings)
    return { settings, problems }
  }

  log(level: LogLevel, message: string): void {
    // Every line, whoever reads it (window, log file, CLI), without URL credentials.
    const line: LogLine = logLine(this.clock.now(), level, message)
    this.logs.push(line)
    this.events.emit('log', line)
  }

  private onRound(status: FleetStatus): void {
    for (const l of conciseLines(this.prevStatus, status)) this.log(l.level, l.message)
    if (this.settingsValue.verboseLogging) {
      for (const l of verboseLines(status)) this.log(l.level, l.message)
    }
    this.prevStatus = status
    this.events.emit('round', status)
  }

  // ---------------------------------------------------------------- for the gateway

  /**
   * Every message of every server's WebSocket, as it comes (`prompt_id` in job events is the
   * job engine's id). Returns the unsubscribe function.
   */
  onServerEvent(fn: (e: ServerEvent) => void): () => void {
    return this.monitor.events.on('comfy', fn)
  }

  /** The HTTP client of a configured server (with its headers and credentials), or undefined. */
  serverClient(serverId: string): ComfyClient | undefined {
    return this.monitor.clientFor(serverId)
  }

  /** The folder holding the job journal, or null when jobs are off. */
  dataDir(): string | null {
    return this.journal ? path.dirname(this.journal.file) : null
  }

  // ---------------------------------------------------------------- workflows (the front door)

  /** Parsed object_info per server, read on demand and kept until its socket closes. */
  private readonly objectInfoCache = new Map<string, { at: number; info: ObjectInfo }>()

  /**
   * The node definitions of the fleet (every healthy server's object_info; a class any of them
   * has), for converting UI-format workflows and typing `--set` values. Null when no healthy
   * server answers within `maxWaitMs`.
   */
  async fleetObjectInfo(maxWaitMs = OBJECT_INFO_WAIT_MS): Promise<ObjectInfo | null> {
    const now = this.clock.now()
    const healthy = this.monitor.status().servers.filter((s) => s.enabled && s.healthy)
    const infos = await Promise.all(
      healthy.map(async (s) => {
        const hit = this.objectInfoCache.get(s.id)
        if (hit && now - hit.at < OBJECT_INFO_TTL_MS) return hit.info
        const client = this.monitor.clientFor(s.id)
        if (!client) return null
        try {
          const { value } = await client.getJson('/object_info', maxWaitMs)
          const info = parseObjectInfo(value)
          this.objectInfoCache.set(s.id, { at: now, info })
          return info
        } catch {
          return null
        }
      })
    )
    const merged: ObjectInfo = {}
    let any = false
    for (const info of infos) {
      if (!info) continue
      any = true
      for (const [name, def] of Object.entries(info))
        if (!Object.hasOwn(merged, name)) merged[name] = def
    }
    return any ? merged : null
  }

  /**
   * Loads a workflow from a file's bytes (API JSON, a ComfyUI PNG, or a UI-format graph, which
   * is converted with the fleet's object_info). Throws WorkflowError with what to do.
   */
  async loadWorkflow(bytes: Uint8Array, source: string): Promise<LoadedWorkflow> {
    try {
      return loadWorkflowBytes(bytes, source)
    } catch (err) {
      if (!(err instanceof NeedsObjectInfoError)) throw err
      const info = await this.fleetObjectInfo()
      if (!info) throw err
      return loadWorkflowBytes(bytes, source, info)
    }
  }

  /** Reads (boundedly) and loads a workflow file. */
  async readWorkflow(file: string): Promise<LoadedWorkflow> {
    const bytes = await readWorkflowFile(file)
    return this.loadWorkflow(bytes, path.basename(file))
  }

  // ---------------------------------------------------------------- the queue (the front door)

  private engine(): JobEngine {
    if (!this.jobs) throw new Error('Jobs are off in this core')
    return this.jobs
  }

  /** Pauses sending: jobs wait here, those on servers go on. Kept across restarts. */
  pauseSending(): QueueState {
    return this.engine().setPaused(true)
  }

  /** Resumes sending: waiting jobs go in queue order. */
  resumeSending(): QueueState {
    return this.engine().setPaused(false)
  }

  /** True while sending is paused (false when jobs are off). */
  isSendingPaused(): boolean {
    return this.jobs?.isPaused() ?? false
  }

  /** Whether sending is paused, and since when. */
  queueState(): QueueState {
    return this.jobs?.queue() ?? { paused: false, changedAt: null }
  }

  /** Calls `fn` whenever sending is paused or resumed; returns the unsubscribe function. */
  onQueueState(fn: (state: QueueState) => void): () => void {
    return this.jobs ? this.jobs.events.on('queue', fn) : () => undefined
  }

  /** Jobs waiting here (not yet on a server), in the order they will be sent. */
  waitingJobs(): JobRecord[] {
    return this.jobs?.waiting() ?? []
  }

  /** Moves a waiting job, or a batch's waiting runs, in the queue; returns the new queue. */
  moveJobs(target: QueueTarget, where: QueueMove): JobRecord[] {
    return this.engine().move(target, where)
  }

  /** Sets the priority of a job or of a batch's unfinished runs; returns the changed jobs. */
  setJobPriority(target: QueueTarget, priority: JobPriority): JobRecord[] {
    return this.engine().setPriority(target, priority)
  }

  /** Cancels every unfinished run of a batch; returns all its runs. */
  cancelBatch(batchId: string): Promise<JobRecord[]> {
    return this.engine().cancelBatch(batchId)
  }

  /** Cancels everything waiting or running; returns the jobs it cancelled. */
  cancelAllJobs(): Promise<JobRecord[]> {
    return this.engine().cancelAll()
  }

  /** Runs a failed job again as a new job in its place (same batch); returns the new job. */
  retryJob(id: string): JobRecord {
    return this.engine().retry(id)
  }

  /** Runs the failed runs of a batch again; returns the new jobs. */
  retryBatch(batchId: string): JobRecord[] {
    return this.engine().retryBatch(batchId)
  }

  /**
   * Every binary frame of every server's WebSocket (ComfyUI's previews: a 4-byte big-endian
   * type, then its data), in the order of that server's messages. Returns the unsubscribe
   * function.
   */
  onServerBinary(fn: (e: { serverId: string; frame: Buffer }) => void): () => void {
    return this.monitor.events.on('comfy', ({ serverId, event }) => {
      // Only a binary frame carries a Buffer: parsed JSON never does.
      const frame = event.data.frame
      if (Buffer.isBuffer(frame)) fn({ serverId, frame })
    })
  }
}

/** Longest wait for a server's object_info (about 500 KB on a default install, more with custom nodes). */
const OBJECT_INFO_WAIT_MS = 30_000
/** How long a server's object_info is trusted (new custom nodes need a restart of the server). */
const OBJECT_INFO_TTL_MS = 10 * 60_000
