/**
 * When to notify, and with what words. Pure: fed the core's check rounds and job changes, it
 * returns the notices to show; the Electron adapter (`notifier.ts`) only displays them.
 *
 * Servers (damped, so a flapping server never floods the desktop):
 * - "down" only for a server that was up in this run and then failed `downAfterFailures`
 *   checks in a row (`ServerStatus.consecutiveFailures`);
 * - "back" only for a server announced down, once it has passed `upAfterSuccesses` checks in a
 *   row (a server that answers every other check stays announced down: one notice, not a pair
 *   per flap);
 * - at most one "down" per server per `cooldownMs`: a server that goes down again soon after it
 *   came back is announced only when the cool-down is over and it is still down;
 * - servers that change in the same round share one notice.
 * Jobs: one notice when a job finishes (done, or failed/interrupted); none for a job the
 * user cancelled. A batch (one workflow run N times) gives one notice when its last run ends,
 * with how many were done and failed, instead of one per run. Each kind follows its switch in
 * `settings.notifications`.
 */
import type {
  FleetStatus,
  JobRecord,
  JobState,
  NotificationSettings,
  ServerStatus
} from '../shared/types'
import { clip, jobErrorText, serverSaidText, type Translate } from './messages'
import type { ServerSaid } from '../shared/said'

/** Failed checks in a row before a server is announced down. */
export const DOWN_AFTER_FAILURES = 2
/** Good checks in a row before a server announced down is announced back. */
export const UP_AFTER_SUCCESSES = 2
/** Shortest time between two "down" notices for the same server. */
export const SERVER_COOLDOWN_MS = 10 * 60_000
/** Finished jobs remembered so each is announced once. */
const REMEMBERED_JOBS = 1000
/** Batches followed at once (the oldest are forgotten first). */
const REMEMBERED_BATCHES = 200
/** Files shown as the picture of a batch's notice. */
const IMAGE_EXT = /\.(png|jpe?g|webp)$/i

export interface NoticeServer {
  id: string
  name: string
  /** Why it is down (down notices only), in English. */
  reason?: string
  /** The same as data, said in the user's language. */
  said?: ServerSaid
}

/** How a batch ended. */
export interface BatchTally {
  id: string
  size: number
  done: number
  /** Failed, interrupted, removed on the server, or done with missing outputs. */
  failed: number
  /** Cancelled by the user. */
  cancelled: number
  /** From the first run's creation to the last run's end. */
  durationMs: number
}

/**
 * A batch's notice is a `jobDone` (some runs done) or `jobFailed` (none done) with `batch` set;
 * its `job` is the first run with a saved image (the notice's picture), else the last to end.
 */
export type Notice =
  | { kind: 'serverDown'; servers: NoticeServer[] }
  | { kind: 'serverUp'; servers: NoticeServer[] }
  | { kind: 'jobDone'; job: JobRecord; batch?: BatchTally }
  | { kind: 'jobFailed'; job: JobRecord; batch?: BatchTally }
  | { kind: 'jobCancelledOnServer'; job: JobRecord }

export interface NotifyPolicyOptions {
  /** @default DOWN_AFTER_FAILURES */
  downAfterFailures?: number
  /** @default UP_AFTER_SUCCESSES */
  upAfterSuccesses?: number
  /** @default SERVER_COOLDOWN_MS */
  cooldownMs?: number
}

interface ServerMemory {
  /** `lastCheck` of the status last looked at, so a repeated status counts once. */
  lastCheck: number | null
  /** Seen healthy at least once in this run. */
  wasUp: boolean
  /** The user was told it is down, and not yet that it is back. */
  announcedDown: boolean
  /** Good checks in a row. */
  upStreak: number
  /** When the last "down" notice for it was shown. */
  lastDownNoticeAt: number | null
}

const FAILED_STATES: readonly JobState[] = ['failed', 'interrupted']
const FINISHED_STATES: readonly JobState[] = [...FAILED_STATES, 'done', 'cancelled']

export class NotifyPolicy {
  private readonly downAfter: number
  private readonly upAfter: number
  private readonly cooldownMs: number
  private readonly servers = new Map<string, ServerMemory>()
  /** Jobs already announced (or cancelled), oldest first. */
  private readonly finishedJobs = new Set<string>()
  /** Finished runs of batches not yet announced, by batch id then job id. */
  private readonly batches = new Map<string, Map<string, JobRecord>>()
  /** Batches announced (or ended with every run cancelled), oldest first. */
  private readonly endedBatches = new Set<string>()

  constructor(opts: NotifyPolicyOptions = {}) {
    this.downAfter = opts.downAfterFailures ?? DOWN_AFTER_FAILURES
    this.upAfter = opts.upAfterSuccesses ?? UP_AFTER_SUCCESSES
    this.cooldownMs = opts.cooldownMs ?? SERVER_COOLDOWN_MS
  }

  /** The notices for the end of a check round. */
  onRound(status: FleetStatus, now: number, prefs: NotificationSettings): Notice[] {
    const down: NoticeServer[] = []
    const up: NoticeServer[] = []
    const seen = new Set<string>()
    for (const s of status.servers) {
      if (!s.enabled) continue
      seen.add(s.id)
      const mem = this.memory(s.id)
      if (s.lastCheck === null || s.lastCheck === mem.lastCheck) continue
      mem.lastCheck = s.lastCheck
      if (s.healthy) this.onGood(s, mem, up)
      else this.onBad(s, mem, now, down)
    }
    // A removed or disabled server starts over when it is back in the list.
    for (const id of this.servers.keys()) if (!seen.has(id)) this.servers.delete(id)
    const out: Notice[] = []
    if (down.length && prefs.serverDown) out.push({ kind: 'serverDown', servers: down })
    if (up.length && prefs.serverUp) out.push({ kind: 'serverUp', servers: up })
    return out
  }

  /**
   * The notices for one change of a job (the engine reports every change). For a run of a
   * batch, `batchJobs` are all the batch's runs as the engine knows them (so a batch whose
   * first runs ended before a restart still ends); without it the runs seen here are counted.
   */
  onJob(job: JobRecord, prefs: NotificationSettings, batchJobs?: JobRecord[]): Notice[] {
    if (!FINISHED_STATES.includes(job.state) || this.finishedJobs.has(job.id)) return []
    remember(this.finishedJobs, job.id, REMEMBERED_JOBS)
    if (job.batch) return this.onBatchRun(job, job.batch, prefs, batchJobs)
    if (job.state === 'done') {
      // Outputs that could not be saved are a failure the artist must hear about.
      if (job.missingOutputs)
        return prefs.jobFailed || prefs.jobDone ? [{ kind: 'jobDone', job }] : []
      return prefs.jobDone ? [{ kind: 'jobDone', job }] : []
    }
    if (job.state === 'cancelled' && job.cancelledOn) {
      // Removed on the server by someone else (not by this app's user): say so.
      return prefs.jobFailed ? [{ kind: 'jobCancelledOnServer', job }] : []
    }
    if (FAILED_STATES.includes(job.state))
      return prefs.jobFailed ? [{ kind: 'jobFailed', job }] : []
    return []
  }

  private onBatchRun(
    job: JobRecord,
    batch: NonNullable<JobRecord['batch']>,
    prefs: NotificationSettings,
    batchJobs?: JobRecord[]
  ): Notice[] {
    if (this.endedBatches.has(batch.id)) return []
    let seen = this.batches.get(batch.id)
    if (!seen) {
      seen = new Map()
      this.batches.set(batch.id, seen)
      if (this.batches.size > REMEMBERED_BATCHES) {
        const oldest = this.batches.keys().next().value
        if (oldest !== undefined) this.batches.delete(oldest)
      }
    }
    seen.set(job.id, job)
    for (const j of batchJobs ?? []) {
      if (j.batch?.id === batch.id && FINISHED_STATES.includes(j.state) && !seen.has(j.id))
        seen.set(j.id, j)
    }
    if (seen.size < batch.size) return []
    this.batches.delete(batch.id)
    remember(this.endedBatches, batch.id, REMEMBERED_BATCHES)
    const runs = [...seen.values()]
    const tally: BatchTally = {
      id: batch.id,
      size: batch.size,
      done: 0,
      failed: 0,
      cancelled: 0,
      durationMs: 0
    }
    for (const r of runs) {
      if (r.state === 'done' && !r.missingOutputs) tally.done++
      else if (r.state === 'cancelled' && !r.cancelledOn) tally.cancelled++
      else tally.failed++
    }
    const start = Math.min(...runs.map((r) => r.createdAt))
    const end = Math.max(...runs.map((r) => r.finishedAt ?? r.updatedAt))
    tally.durationMs = Math.max(0, end - start)
    // Cancelled by the user as a whole: nothing to tell.
    if (!tally.done && !tally.failed) return []
    const byIndex = runs.sort((a, b) => (a.batch?.index ?? 0) - (b.batch?.index ?? 0))
    const pictured = byIndex.find((r) => r.outputs.some((o) => IMAGE_EXT.test(o.path)))
    const shown = pictured ?? job
    if (tally.failed) {
      if (!prefs.jobFailed && !prefs.jobDone) return []
      return [{ kind: tally.done ? 'jobDone' : 'jobFailed', job: shown, batch: tally }]
    }
    return prefs.jobDone ? [{ kind: 'jobDone', job: shown, batch: tally }] : []
  }

  private memory(id: string): ServerMemory {
    let mem = this.servers.get(id)
    if (!mem) {
      mem = {
        lastCheck: null,
        wasUp: false,
        announcedDown: false,
        upStreak: 0,
        lastDownNoticeAt: null
      }
      this.servers.set(id, mem)
    }
    return mem
  }

  private onGood(s: ServerStatus, mem: ServerMemory, up: NoticeServer[]): void {
    mem.wasUp = true
    mem.upStreak++
    if (mem.announcedDown && mem.upStreak >= this.upAfter) {
      mem.announcedDown = false
      up.push({ id: s.id, name: s.name })
    }
  }

  private onBad(s: ServerStatus, mem: ServerMemory, now: number, down: NoticeServer[]): void {
    mem.upStreak = 0
    if (mem.announcedDown || !mem.wasUp || s.consecutiveFailures < this.downAfter) return
    if (mem.lastDownNoticeAt !== null && now - mem.lastDownNoticeAt < this.cooldownMs) return
    mem.announcedDown = true
    mem.lastDownNoticeAt = now
    down.push({
      id: s.id,
      name: s.name,
      reason: s.error ?? undefined,
      ...(s.said ? { said: s.said } : {})
    })
  }
}

/** Adds `key`, forgetting the oldest beyond `max`. */
function remember(set: Set<string>, key: string, max: number): void {
  set.add(key)
  if (set.size > max) {
    const oldest = set.values().next().value
    if (oldest !== undefined) set.delete(oldest)
  }
}

export interface NoticeText {
  title: string
  body: string
}

/** Longest notification title and body; desktops cut longer ones anyway. */
const TITLE_MAX = 80
const BODY_MAX = 240

/** Why a server of a notice is down, in `t`'s language. */
function downReason(s: NoticeServer, t: Translate): string {
  return serverSaidText({ said: s.said, error: s.reason ?? null }, t) ?? t('unknownReason')
}

/** The words of a notice, in the user's language. */
export function noticeText(
  notice: Notice,
  t: Translate,
  serverName: (id: string | null) => string | null
): NoticeText {
  if ((notice.kind === 'jobDone' || notice.kind === 'jobFailed') && notice.batch)
    return batchText(notice.job, notice.batch, t)
  switch (notice.kind) {
    case 'serverDown': {
      const [one] = notice.servers
      if (notice.servers.length === 1 && one) {
        return text(
          t('serverDownTitle', { name: one.name }),
          t('serverDownBody', { reason: downReason(one, t) })
        )
      }
      return text(
        t('serversDownTitle', { count: notice.servers.length }),
        t('serversDownBody', {
          names: notice.servers.map((s) => `${s.name}: ${downReason(s, t)}`).join('\n')
        })
      )
    }
    case 'serverUp': {
      const [one] = notice.servers
      if (notice.servers.length === 1 && one) {
        return text(t('serverUpTitle', { name: one.name }), t('serverUpBody', { name: one.name }))
      }
      const names = notice.servers.map((s) => s.name).join(', ')
      return text(
        t('serversUpTitle', { count: notice.servers.length }),
        t('serversUpBody', { names })
      )
    }
    case 'jobDone': {
      const { job } = notice
      const server = serverName(job.serverId) ?? t('unknownServer')
      let files = job.outputs.length
        ? t('jobDoneFiles', { count: job.outputs.length })
        : t('jobDoneNoFiles')
      if (job.missingOutputs) files += ` ${t('jobDoneMissing', { count: job.missingOutputs })}`
      return text(
        t(job.missingOutputs ? 'jobDoneMissingTitle' : 'jobDoneTitle', { source: job.source }),
        t('jobDoneBody', { server, files })
      )
    }
    case 'jobCancelledOnServer': {
      const { job } = notice
      return text(
        t('jobCancelledOnServerTitle', { source: job.source }),
        t('jobCancelledOnServerBody', { server: job.cancelledOn ?? t('unknownServer') })
      )
    }
    case 'jobFailed': {
      const { job } = notice
      let message: string
      const words = job.error ? jobErrorText(job.error, t) : ''
      if (job.error && words) {
        message = job.error.nodeType
          ? t('jobFailedNode', { node: job.error.nodeType, message: words })
          : words
      } else message = t('jobInterrupted')
      return text(t('jobFailedTitle', { source: job.source }), t('jobFailedBody', { message }))
    }
  }
}

/** "12 done, 1 failed in 3 min" for a batch. */
function batchText(job: JobRecord, b: BatchTally, t: Translate): NoticeText {
  const parts = [t('batchDone', { count: b.done })]
  if (b.failed) parts.push(t('batchFailed', { count: b.failed }))
  if (b.cancelled) parts.push(t('batchCancelled', { count: b.cancelled }))
  const secs = Math.round(b.durationMs / 1000)
  const duration =
    secs < 90
      ? t('batchSeconds', { count: secs })
      : t('batchMinutes', { count: Math.round(secs / 60) })
  return text(
    t(b.failed ? 'batchFailedTitle' : 'batchDoneTitle', { source: job.source, count: b.size }),
    t('batchBody', { summary: parts.join(t('batchListSep')), duration })
  )
}

function text(title: string, body: string): NoticeText {
  return {
    title: clip(title, TITLE_MAX),
    body: body.length > BODY_MAX ? clip(body, BODY_MAX) : body
  }
}
