/** What the monitor keeps per server, and one HTTP check of it (see monitor.ts). */
import type { ServerConfig } from '../../../shared/types'
import type { Clock } from '../clock'
import { ComfyClient } from '../comfy/client'
import { ComfyRequestError, classifyError } from '../comfy/errors'
import type { HttpTransport } from '../comfy/transport'
import type { Capabilities } from './capabilities'
import { ServerCheck } from './check'
import { ServerEstimator } from './estimator'
import {
  afterFailedCheck,
  afterGoodCheck,
  initialStatus,
  type MonitoredServerStatus
} from './health'
import type { FeedTarget, LiveFeed } from './live-feed'
import type { OurJobs } from './our-jobs'
import { QueueHistory } from './queue-history'
import type { SkipFacts } from './sweep'

export interface Entry {
  config: ServerConfig
  client: ComfyClient
  status: MonitoredServerStatus
  check: ServerCheck
  est: ServerEstimator
  history: QueueHistory
  /** When its last good HTTP check started (the live feed keeps that state current after). */
  goodCheckAt: number | null
  /** When its live socket last said the queue (a `status` message), while it was healthy. */
  liveStatusAt: number | null
  /**
   * When the live feed last saw a job taken to run there (the queue stayed or shrank, or work
   * began on an idle server), null when idle or not known: how long the running job has run.
   */
  runningSince: number | null
  /**
   * `runningSince` is when a job was seen to be taken to run (not only when a socket that
   * just opened said the queue was busy): once it is done, its run time is known.
   */
  startSeen: boolean
  /** Its check under way (true: its state changed), which another asking for one joins. */
  checking: Promise<boolean> | null
}

export const feedTarget = (c: ServerConfig): FeedTarget => ({
  id: c.id,
  url: c.url,
  headers: c.headers
})

export function makeEntry(
  config: ServerConfig,
  clock: Clock,
  timeoutMs: number,
  transportFactory?: (server: ServerConfig) => HttpTransport | undefined
): Entry {
  const client = new ComfyClient({
    server: config,
    timeoutMs,
    transport: transportFactory?.(config)
  })
  return {
    config,
    client,
    status: initialStatus(config),
    check: new ServerCheck(client, clock),
    est: new ServerEstimator(),
    history: new QueueHistory(),
    goodCheckAt: null,
    liveStatusAt: null,
    runningSince: null,
    startSeen: false,
    checking: null
  }
}

export interface ReadContext {
  clock: Clock
  timeoutMs: number
  intervalMs: number
  rise: number
  fall: number
  caps: Capabilities
  ours: OurJobs
  feed: LiveFeed | null
  /** Whether the entry is still the monitor's and the loop runs (for a redial). */
  still: () => boolean
}

/** Reads the server over HTTP: its state after this check (good or failed). */
export async function readServer(e: Entry, x: ReadContext): Promise<MonitoredServerStatus> {
  const started = x.clock.now()
  const id = e.config.id
  const prev = e.status
  try {
    const r = await e.check.run(prev, x.timeoutMs)
    if (r.restarted) x.caps.invalidate(id)
    x.ours.noteReport(id, started)
    // A socket that says nothing while the queue moves has gone stale: dial it again.
    if (
      x.feed?.isOpen(id) &&
      r.queue.total !== prev.queue.total &&
      (x.feed.lastMessageAt(id) ?? 0) < started - 2 * x.intervalMs
    ) {
      x.feed.redial(feedTarget(e.config), x.still)
    }
    const good = { ...r, legacyRoutes: e.client.legacyRoutes, now: x.clock.now() }
    e.goodCheckAt = started
    return afterGoodCheck(prev, good, x.rise)
  } catch (err) {
    const ce = err instanceof ComfyRequestError ? err : classifyError(err, x.timeoutMs)
    return afterFailedCheck(prev, ce, x.clock.now(), x.fall)
  }
}

/** What decides whether the server may skip a round's HTTP read (see sweep.ts). */
export function skipFacts(e: Entry, feed: LiveFeed | null, ours: OurJobs, now: number): SkipFacts {
  return {
    now,
    socketOpenSince: feed?.openSince(e.config.id) ?? null,
    goodCheckAt: e.goodCheckAt,
    liveStatusAt: e.liveStatusAt,
    healthy: e.status.healthy,
    down: e.status.down,
    queueTotal: e.status.queue.total,
    oursAt: ours.heldAt(e.config.id, now)
  }
}
