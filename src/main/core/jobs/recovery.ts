/**
 * When servers fail: a server that stops answering while holding our jobs is checked again at
 * once, the jobs of a server found down (or that forgot them) are sent again within limits, and
 * the copies they left behind are removed when that server is back.
 */
import type { MovedSaid } from '../../../shared/job-said'
import type { FleetStatus, JobRecord } from '../../../shared/types'
import type { Clock } from '../clock'
import { deleteFromQueue, getQueueIds, interruptPrompt } from '../comfy/prompt-api'
import type { FleetPort } from '../fleet/port'
import { jobError, sayMoved } from '../log'
import { isFinished, type JobStore } from './job-store'

/** Failed checks in a row before a server's jobs are moved elsewhere. */
export const REROUTE_AFTER_FAILURES = 2
/** A job the servers lose this many times (sent, then neither queued nor in history) fails. */
export const MAX_FORGOTTEN = 3
/** A job moved this many times (dead servers, forgotten) fails instead of moving again. */
export const MAX_REROUTES = 10
/** How long a server is watched for a late copy of a job that went elsewhere. */
export const STALE_WATCH_MS = 5 * 60_000
/** Gap between the extra checks of a server that stopped answering while holding our jobs. */
export const SUSPECT_RECHECK_MS = 500

export interface RecoveryOptions {
  store: JobStore
  fleet: FleetPort
  clock: Clock
  log: (level: 'info' | 'warn', message: string) => void
  running: () => boolean
  /** Sends a pending job. */
  dispatch: (id: string) => void
  /** Sends the jobs waiting for a healthy or a free server. */
  pump: () => void
}

export class Recovery {
  /** Copies left on servers we moved jobs away from: serverId -> prompt id -> when. */
  private readonly stale = new Map<string, Map<string, number>>()
  /** Servers being re-checked because they stopped answering while holding our jobs. */
  private readonly suspects = new Set<string>()

  constructor(private readonly o: RecoveryOptions) {}

  /**
   * A server holding our jobs stopped answering (its socket closed, a poll failed): check the
   * fleet now and once more shortly after, so a dead server is confirmed (it takes
   * REROUTE_AFTER_FAILURES failed checks in a row) in about a second instead of waiting for
   * the regular interval.
   */
  suspect(serverId: string): void {
    if (!this.o.running() || this.suspects.has(serverId)) return
    const holds = this.o.store
      .unfinished()
      .some(
        (e) =>
          e.job.serverId === serverId && (e.job.state === 'queued' || e.job.state === 'running')
      )
    if (!holds) return
    this.suspects.add(serverId)
    let left = REROUTE_AFTER_FAILURES
    const recheck = () => {
      void this.o.fleet.checkNow().then((st) => {
        const s = st.servers.find((x) => x.id === serverId)
        left--
        if (this.o.running() && s && !s.healthy && left > 0) {
          this.o.clock.setTimeout(recheck, SUSPECT_RECHECK_MS)
        } else {
          this.suspects.delete(serverId)
        }
      })
    }
    recheck()
  }

  private nameOf(serverId: string): string {
    return this.o.fleet.configFor(serverId)?.name ?? serverId
  }

  /** Puts a job back to pending and sends it again; `leftOn` keeps the stale copy to remove. */
  reroute(j: JobRecord, why: MovedSaid, leftOn: string | null, forgotten = false): void {
    const { store, clock } = this.o
    const cur = store.get(j.id)
    if (!cur || isFinished(cur.state) || store.busy.has(j.id)) return
    if (leftOn) this.markStale(leftOn, j.id)
    if (cur.pinnedServerId && leftOn) {
      // Pinned jobs wait for their server rather than move.
      return
    }
    const lost = (cur.forgotten ?? 0) + (forgotten ? 1 : 0)
    if (lost >= MAX_FORGOTTEN || cur.reroutes >= MAX_REROUTES) {
      // A server that takes the job and then never has it (a redirect elsewhere, a broken
      // proxy): sending it again and again would run it nowhere or many times.
      this.o.log('warn', `[Jobs] ${j.id.slice(0, 8)}: ${sayMoved(why)}; not sent again`)
      store.update(
        j.id,
        {
          state: 'failed',
          finishedAt: clock.now(),
          forgotten: lost,
          error: jobError(
            lost >= MAX_FORGOTTEN
              ? { code: 'lost-too-often', n: lost, why }
              : { code: 'moved-too-often', n: cur.reroutes, why }
          )
        },
        { code: 'moved', why }
      )
      return
    }
    this.o.log('warn', `[Jobs] ${j.id.slice(0, 8)}: ${sayMoved(why)}; sending it again`)
    store.update(
      j.id,
      {
        state: 'pending',
        serverId: null,
        serverUrl: null,
        queuePosition: null,
        reroutes: cur.reroutes + 1,
        forgotten: lost,
        startedAt: null,
        // It starts over on the next server.
        progress: cur.progress
          ? { ...cur.progress, node: null, value: 0, max: 0, nodesDone: 0 }
          : null
      },
      { code: 'moved', why }
    )
    this.o.dispatch(j.id)
  }

  markStale(serverId: string, id: string): void {
    const m = this.stale.get(serverId) ?? new Map<string, number>()
    m.set(id, this.o.clock.now())
    this.stale.set(serverId, m)
  }

  unmarkStale(serverId: string, id: string): void {
    this.stale.get(serverId)?.delete(id)
  }

  /** The prompt ids watched for a stale copy on the server. */
  staleOn(serverId: string): string[] {
    return [...(this.stale.get(serverId)?.keys() ?? [])]
  }

  onRound(status: FleetStatus): void {
    for (const s of status.servers) {
      if (!s.healthy && s.consecutiveFailures >= REROUTE_AFTER_FAILURES) {
        for (const e of this.o.store.unfinished()) {
          const j = e.job
          if (j.serverId === s.id && (j.state === 'queued' || j.state === 'running')) {
            this.reroute(
              j,
              {
                code: 'server-down',
                server: s.name,
                why: s.said ?? (s.error ? { code: 'text', text: s.error } : null)
              },
              s.id
            )
          }
        }
      }
      if (s.healthy) void this.cleanStale(s.id)
    }
    // Jobs that were waiting for a healthy or a free server.
    this.o.pump()
  }

  /** Removes copies of moved jobs from a server that is back. */
  async cleanStale(serverId: string): Promise<void> {
    const { store } = this.o
    const marks = this.stale.get(serverId)
    const ids = [...(marks?.keys() ?? [])]
    if (!ids.length) return
    const client = this.o.fleet.clientFor(serverId)
    if (!client) return
    const mine = ids.filter((id) => store.get(id)?.serverId !== serverId)
    try {
      const q = await getQueueIds(client)
      const pending = mine.filter((id) => q.pending.includes(id))
      if (pending.length) await deleteFromQueue(client, pending)
      for (const id of mine.filter((x) => q.running.includes(x))) await interruptPrompt(client, id)
      // A copy may still turn up later (a slow server handling our POST): keep watching for a while.
      const now = this.o.clock.now()
      for (const id of ids) {
        const gone = pending.includes(id) || q.running.includes(id)
        if (
          gone ||
          now - (marks?.get(id) ?? 0) > STALE_WATCH_MS ||
          store.get(id)?.serverId === serverId
        ) {
          marks?.delete(id)
        }
      }
      if (pending.length) {
        this.o.log(
          'info',
          `[Jobs] Removed ${pending.length} stale cop${pending.length === 1 ? 'y' : 'ies'} from ${this.nameOf(serverId)}`
        )
      }
    } catch {
      // Still unreachable; try after the next round.
    }
  }
}
