/**
 * The check loop: asks every enabled server concurrently, keeps each server's state, and
 * caches the fleet status and the best server between rounds. A round never overlaps the
 * previous one, and nobody waits for a check just to learn the best server.
 */
import type { FleetStatus, ServerConfig, ServerStatus, SystemInfo } from '../../../shared/types'
import { ComfyClient } from '../comfy/client'
import { ComfyRequestError, classifyError } from '../comfy/errors'
import type { HttpTransport } from '../comfy/transport'
import { systemClock, type Clock } from '../clock'
import { Emitter } from '../events'
import { leastQueuePolicy, type Choice, type Policy } from './policy'

/** How many rounds a server's system stats are reused before they are asked again. */
export const SYSTEM_STATS_EVERY_ROUNDS = 5

export interface FleetMonitorOptions {
  servers: ServerConfig[]
  /** ms between the end of one round and the start of the next. */
  intervalMs: number
  /** ms per request; a round costs at most about this much per server, in parallel. */
  timeoutMs: number
  policy?: Policy
  clock?: Clock
  /** Builds the transport for one server (default: axios with a keep-alive agent). */
  transportFactory?: (server: ServerConfig) => HttpTransport | undefined
}

export interface FleetEvents {
  /** After every round, with the new cached status. */
  round: FleetStatus
  /** Whenever the cached status changes (after a round, a config change, pause/resume). */
  status: FleetStatus
}

interface Entry {
  config: ServerConfig
  client: ComfyClient
  status: ServerStatus
  /** Rounds since system stats were last read. */
  statsAge: number
}

function initialStatus(c: ServerConfig): ServerStatus {
  return {
    id: c.id,
    name: c.name,
    url: c.url,
    enabled: c.enabled,
    healthy: false,
    queue: { running: 0, pending: 0, total: 0 },
    latencyMs: null,
    system: null,
    error: c.enabled ? null : 'Disabled',
    errorKind: c.enabled ? null : 'disabled',
    lastCheck: null,
    consecutiveFailures: 0,
    legacyRoutes: false,
    checks: 0,
    successes: 0
  }
}

export class FleetMonitor {
  readonly events = new Emitter<FleetEvents>()
  private entries: Entry[] = []
  private intervalMs: number
  private timeoutMs: number
  private policy: Policy
  private readonly clock: Clock
  private readonly transportFactory?: (server: ServerConfig) => HttpTransport | undefined
  /** The round in progress; set at its start, cleared at its end. */
  private inflight: Promise<FleetStatus> | null = null
  /** Next scheduled round; set after each round while running, cleared by stop/pause. */
  private timer: unknown = null
  private running = false
  private paused = false
  private lastHealthCheck: number | null = null
  private cached: FleetStatus
  private lastChoice: Choice = { server: null, reason: 'No server has been checked yet' }
  /** The last server handed out by `choose` (round-robin continues after it). */
  private lastPickId: string | null = null
  /** Rounds completed since start. */
  rounds = 0

  constructor(opts: FleetMonitorOptions) {
    this.intervalMs = opts.intervalMs
    this.timeoutMs = opts.timeoutMs
    this.policy = opts.policy ?? leastQueuePolicy
    this.clock = opts.clock ?? systemClock
    this.transportFactory = opts.transportFactory
    this.entries = opts.servers.map((c) => this.makeEntry(c))
    this.cached = this.buildStatus()
  }

  private makeEntry(config: ServerConfig): Entry {
    return {
      config,
      client: new ComfyClient({
        server: config,
        timeoutMs: this.timeoutMs,
        transport: this.transportFactory?.(config)
      }),
      status: initialStatus(config),
      statsAge: SYSTEM_STATS_EVERY_ROUNDS
    }
  }

  /** Starts the loop: a round now, then one every interval after the previous ends. */
  start(): void {
    if (this.running) return
    this.running = true
    void this.checkNow()
  }

  /** Stops the loop and waits for a round in progress; closes connections. Safe to call twice. */
  async stop(): Promise<void> {
    this.running = false
    this.clearTimer()
    if (this.inflight) await this.inflight.catch(() => undefined)
    for (const e of this.entries) e.client.close()
  }

  setPaused(paused: boolean): void {
    if (this.paused === paused) return
    this.paused = paused
    if (paused) this.clearTimer()
    else if (this.running && !this.inflight) void this.checkNow()
    this.publish(false)
  }

  get isPaused(): boolean {
    return this.paused
  }

  setIntervalMs(ms: number): void {
    this.intervalMs = ms
    if (this.running && this.timer !== null) {
      this.clearTimer()
      this.schedule()
    }
  }

  setTimeoutMs(ms: number): void {
    this.timeoutMs = ms
    for (const e of this.entries) e.client.setTimeout(ms)
  }

  setPolicy(policy: Policy): void {
    this.policy = policy
    this.publish(false)
  }

  /**
   * Replaces the server list. Servers whose id and URL and headers are unchanged keep their
   * state and connection; removed ones are closed.
   */
  setServers(servers: ServerConfig[]): void {
    const old = new Map(this.entries.map((e) => [e.config.id, e]))
    const next: Entry[] = []
    for (const c of servers) {
      const prev = old.get(c.id)
      if (
        prev &&
        prev.config.url === c.url &&
        JSON.stringify(prev.config.headers ?? {}) === JSON.stringify(c.headers ?? {})
      ) {
        old.delete(c.id)
        prev.config = c
        prev.status = {
          ...prev.status,
          name: c.name,
          enabled: c.enabled,
          ...(c.enabled
            ? prev.status.errorKind === 'disabled'
              ? { error: null, errorKind: null, healthy: false }
              : {}
            : { healthy: false, error: 'Disabled', errorKind: 'disabled' as const })
        }
        next.push(prev)
      } else {
        next.push(this.makeEntry(c))
      }
    }
    for (const e of old.values()) e.client.close()
    this.entries = next
    this.publish(false)
  }

  /** The HTTP client of one server (shares its keep-alive connection), or undefined. */
  clientFor(serverId: string): ComfyClient | undefined {
    return this.entries.find((e) => e.config.id === serverId)?.client
  }

  /** The configuration of one server, or undefined. */
  configFor(serverId: string): ServerConfig | undefined {
    return this.entries.find((e) => e.config.id === serverId)?.config
  }

  /**
   * The policy's choice among healthy servers, leaving out `exclude` (servers that already
   * failed this job). Pure over the cached state; never starts a check.
   */
  choose(exclude: ReadonlySet<string> = new Set()): Choice {
    const servers = this.entries.map((e) => e.status).filter((s) => !exclude.has(s.id))
    const c = this.policy(servers, {
      previousId: this.lastPickId ?? this.lastChoice.server?.id ?? null
    })
    if (c.server) this.lastPickId = c.server.id
    if (!c.server && exclude.size && servers.length) {
      return { server: null, reason: `${c.reason}; ${exclude.size} server(s) already tried` }
    }
    if (!c.server && !servers.length && exclude.size) {
      return { server: null, reason: `every server was tried (${exclude.size})` }
    }
    return c
  }

  /** The cached fleet status. Never starts a check. */
  status(): FleetStatus {
    return this.cached
  }

  /** The cached best server and why. Never starts a check. */
  best(): Choice {
    return this.lastChoice
  }

  /**
   * Runs a round now, or joins the one in progress (rounds never overlap). Resolves with the
   * fleet status after the round.
   */
  checkNow(): Promise<FleetStatus> {
    if (this.inflight) return this.inflight
    this.clearTimer()
    const round = this.runRound().finally(() => {
      this.inflight = null
      if (this.running && !this.paused) this.schedule()
    })
    this.inflight = round
    return round
  }

  private schedule(): void {
    this.clearTimer()
    this.timer = this.clock.setTimeout(() => {
      this.timer = null
      if (this.running && !this.paused) void this.checkNow()
    }, this.intervalMs)
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      this.clock.clearTimeout(this.timer)
      this.timer = null
    }
  }

  private async runRound(): Promise<FleetStatus> {
    const entries = this.entries
    await Promise.all(entries.filter((e) => e.config.enabled).map((e) => this.checkOne(e)))
    this.rounds++
    this.lastHealthCheck = this.clock.now()
    const status = this.publish(true)
    return status
  }

  private async checkOne(e: Entry): Promise<void> {
    const started = this.clock.now()
    const deadline = this.timeoutMs
    const prev = e.status
    let next: ServerStatus
    try {
      const q = await e.client.getQueue(deadline)
      let system: SystemInfo | null = prev.system
      e.statsAge++
      if (!system || e.statsAge >= SYSTEM_STATS_EVERY_ROUNDS || !prev.healthy) {
        // Same connection, after the queue; bounded by what is left of this server's deadline.
        const left = deadline - (this.clock.now() - started)
        if (left > 1) {
          try {
            system = (await e.client.getSystemStats(left)).value
            e.statsAge = 0
          } catch {
            // System stats are informative only; the queue decides health.
          }
        }
      }
      next = {
        ...prev,
        healthy: true,
        queue: q.value,
        latencyMs: Math.round(q.latencyMs * 10) / 10,
        system,
        error: null,
        errorKind: null,
        lastCheck: this.clock.now(),
        consecutiveFailures: 0,
        legacyRoutes: e.client.legacyRoutes,
        checks: prev.checks + 1,
        successes: prev.successes + 1
      }
    } catch (err) {
      const ce = err instanceof ComfyRequestError ? err : classifyError(err, deadline)
      next = {
        ...prev,
        healthy: false,
        queue: { running: 0, pending: 0, total: 0 },
        error: ce.message,
        errorKind: ce.kind,
        lastCheck: this.clock.now(),
        consecutiveFailures: prev.consecutiveFailures + 1,
        checks: prev.checks + 1
      }
    }
    // The entry may have been replaced by setServers while we waited.
    if (this.entries.includes(e) && e.config.enabled) e.status = next
  }

  private publish(afterRound: boolean): FleetStatus {
    const servers = this.entries.map((e) => e.status)
    this.lastChoice = this.policy(servers, { previousId: this.lastChoice.server?.id ?? null })
    this.cached = this.buildStatus()
    if (afterRound) this.events.emit('round', this.cached)
    this.events.emit('status', this.cached)
    return this.cached
  }

  private buildStatus(): FleetStatus {
    const servers = this.entries.map((e) => e.status)
    const best = this.lastChoice.server
    return Object.freeze({
      total: servers.length,
      healthy: servers.filter((s) => s.enabled && s.healthy).length,
      bestServer: best ? best.name : null,
      bestServerId: best ? best.id : null,
      reason: this.lastChoice.reason,
      lastHealthCheck: this.lastHealthCheck,
      paused: this.paused,
      servers
    })
  }
}
