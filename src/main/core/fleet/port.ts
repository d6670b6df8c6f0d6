/**
 * What the job engine sees of the fleet: the one interface between jobs/ and fleet/. The check
 * loop (FleetMonitor) satisfies it as it is; tests give the engine an in-memory one.
 */
import type { FleetStatus, ServerConfig } from '../../../shared/types'
import type { ComfyClient } from '../comfy/client'
import type { ComfyEvent } from '../comfy/socket'
import type { OurJobState } from './our-jobs'
import type { Choice, PolicyJob } from './policy'

/** The fleet's events the job engine follows. */
export interface FleetPortEvents {
  /** A message on a server's WebSocket. */
  comfy: { serverId: string; event: ComfyEvent }
  /** A server's WebSocket closed (the server may have died). */
  'socket-closed': { serverId: string }
  /** The end of a check round, with the new cached status. */
  round: FleetStatus
}

/** What a workflow needs from a server: its node classes and model files. */
export interface WorkflowNeeds {
  classes: string[]
  models: Array<{ folder: string; name: string }>
}

export interface FleetPort {
  readonly events: {
    on<K extends keyof FleetPortEvents>(
      event: K,
      fn: (payload: FleetPortEvents[K]) => void
    ): () => void
  }
  /** The HTTP client of one server, or undefined. */
  clientFor(serverId: string): ComfyClient | undefined
  /** The configuration of one server, or undefined. */
  configFor(serverId: string): ServerConfig | undefined
  /** The cached fleet status; never starts a check. */
  status(): FleetStatus
  /** The policy's choice among healthy servers, leaving out `exclude`. */
  choose(exclude?: ReadonlySet<string>, job?: PolicyJob): Choice
  /** Servers known to lack something the workflow needs: id -> why. */
  unableToRun(needs: WorkflowNeeds | null): Map<string, string>
  /** Reads what healthy servers can run, waiting at most `maxWaitMs`. */
  ensureCapabilities(maxWaitMs: number): Promise<void>
  /**
   * A job of ours is on its way to (`sending`, when picked), or at (`queued` by default,
   * `running`), the server since `since` (default now). The fleet counts our jobs per server
   * from these and noteGone: the one count for hold-back and for expected waits.
   */
  noteSent(serverId: string, promptId: string, state?: OurJobState, since?: number): void
  /** A job of ours left the server (finished, moved or cancelled). */
  noteGone(serverId: string, promptId: string): void
  /** Our jobs being sent to, or queued on, the server, as noted (the one count of them). */
  ourWaiting(serverId: string): number
  /** A job ran on the server for `runMs` (learns its speed). */
  noteRun(serverId: string, runMs: number, kind?: string): void
  /** Resolves once the server's socket is open, or after `maxWaitMs`. */
  whenSocketOpen(serverId: string, maxWaitMs: number): Promise<void>
  /** A check round now (or the one in progress). */
  checkNow(): Promise<FleetStatus>
}
