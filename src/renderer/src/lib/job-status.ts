/**
 * What a job's badge says, beyond its bare state: done but with outputs missing (a warning,
 * not a success), cancelled on its server by someone else, or waiting for a server to take it.
 * The notes are codes; the last one's code says whether the job waits for a server.
 */
import type { JobNoteCode } from '../../../shared/job-said'
import type { JobRecord } from '../../../shared/types'
import type { MessageKey } from './i18n.svelte'

export type JobTone = 'active' | 'done' | 'warn' | 'failed' | 'cancelled'

export type JobBadge =
  | { kind: 'plain'; key: MessageKey; tone: JobTone }
  | { kind: 'missing'; n: number; tone: 'warn' }
  | { kind: 'cancelledOn'; server: string; tone: 'cancelled' }

/** The engine's notes for a job that no server can take now. */
const WAITING_NOTES = new Set<JobNoteCode>(['waiting', 'held-back'])

/** A pending job the engine holds until a server can take it. */
export function waitingForServer(job: Pick<JobRecord, 'state' | 'notes'>): boolean {
  const last = job.notes.at(-1)
  return job.state === 'pending' && !!last && WAITING_NOTES.has(last.code)
}

const STATE_KEY: Record<JobRecord['state'], MessageKey> = {
  pending: 'jobPending',
  queued: 'jobQueued',
  running: 'jobRunning',
  done: 'jobDone',
  failed: 'jobFailed',
  interrupted: 'jobInterrupted',
  cancelled: 'jobCancelled'
}

const TONE: Record<JobRecord['state'], JobTone> = {
  pending: 'active',
  queued: 'active',
  running: 'active',
  done: 'done',
  failed: 'failed',
  interrupted: 'failed',
  cancelled: 'cancelled'
}

export function jobBadge(
  job: Pick<JobRecord, 'state' | 'notes' | 'missingOutputs' | 'cancelledOn'>
): JobBadge {
  if (job.state === 'done' && (job.missingOutputs ?? 0) > 0) {
    return { kind: 'missing', n: job.missingOutputs!, tone: 'warn' }
  }
  if (job.state === 'cancelled' && job.cancelledOn) {
    return { kind: 'cancelledOn', server: job.cancelledOn, tone: 'cancelled' }
  }
  if (waitingForServer(job)) return { kind: 'plain', key: 'jobWaitingServer', tone: 'active' }
  return { kind: 'plain', key: STATE_KEY[job.state], tone: TONE[job.state] }
}

/** Whether the card shows the job's last note next to its state (it explains the badge). */
export function badgeNeedsNote(badge: JobBadge): boolean {
  return badge.kind !== 'plain'
}
