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
 * Jobs: one notice when a job finishes (done, or failed/lost/interrupted); none for a job the
 * user cancelled. Each kind follows its switch in `settings.notifications`.
 */
import type {
  FleetStatus,
  JobRecord,
  JobState,
  NotificationSettings,
  ServerStatus
} from '../shared/types'
import { clip, type Translate } from './messages'

/** Failed checks in a row before a server is announced down. */
export const DOWN_AFTER_FAILURES = 2
/** Good checks in a row before a server announced down is announced back. */
export const UP_AFTER_SUCCESSES = 2
/** Shortest time between two "down" notices for the same server. */
export const SERVER_COOLDOWN_MS = 10 * 60_000
/** Finished jobs remembered so each is announced once. */
const REMEMBERED_JOBS = 1000

export interface NoticeServer {
  id: string
  name: string
  /** Why it is down (down notices only). */
  reason?: string
}

export type Notice =
  | { kind: 'serverDown'; servers: NoticeServer[] }
  | { kind: 'serverUp'; servers: NoticeServer[] }
  | { kind: 'jobDone'; job: JobRecord }
  | { kind: 'jobFailed'; job: JobRecord }
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

const FAILED_STATES: readonly JobState[] = ['failed', 'lost', 'interrupted']
const FINISHED_STATES: readonly JobState[] = [...FAILED_STATES, 'done', 'cancelled']

export class NotifyPolicy {
  private readonly downAfter: number
  private readonly upAfter: number
  private readonly cooldownMs: number
  private readonly servers = new Map<string, ServerMemory>()
  /** Jobs already announced (or cancelled), oldest first. */
  private readonly finishedJobs = new Set<string>()

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

  /** The notices for one change of a job (the engine reports every change). */
  onJob(job: JobRecord, prefs: NotificationSettings): Notice[] {
    if (!FINISHED_STATES.includes(job.state) || this.finishedJobs.has(job.id)) return []
    this.finishedJobs.add(job.id)
    if (this.finishedJobs.size > REMEMBERED_JOBS) {
      const oldest = this.finishedJobs.values().next().value
      if (oldest !== undefined) this.finishedJobs.delete(oldest)
    }
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
    down.push({ id: s.id, name: s.name, reason: s.error ?? undefined })
  }
}

export interface NoticeText {
  title: string
  body: string
}

/** Longest notification title and body; desktops cut longer ones anyway. */
const TITLE_MAX = 80
const BODY_MAX = 240

/** The words of a notice, in the user's language. */
export function noticeText(
  notice: Notice,
  t: Translate,
  serverName: (id: string | null) => string | null
): NoticeText {
  switch (notice.kind) {
    case 'serverDown': {
      const [one] = notice.servers
      if (notice.servers.length === 1 && one) {
        return text(
          t('serverDownTitle', { name: one.name }),
          t('serverDownBody', { reason: one.reason ?? t('unknownReason') })
        )
      }
      return text(
        t('serversDownTitle', { count: notice.servers.length }),
        t('serversDownBody', {
          names: notice.servers
            .map((s) => `${s.name}: ${s.reason ?? t('unknownReason')}`)
            .join('\n')
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
      if (job.error?.message) {
        message = job.error.nodeType
          ? t('jobFailedNode', { node: job.error.nodeType, message: job.error.message })
          : job.error.message
      } else if (job.state === 'lost') message = t('jobLost')
      else message = t('jobInterrupted')
      return text(t('jobFailedTitle', { source: job.source }), t('jobFailedBody', { message }))
    }
  }
}

function text(title: string, body: string): NoticeText {
  return {
    title: clip(title, TITLE_MAX),
    body: body.length > BODY_MAX ? clip(body, BODY_MAX) : body
  }
}
