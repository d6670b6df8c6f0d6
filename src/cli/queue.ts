/**
 * The queue from the command line, on the journals the CLI knows:
 *
 *   cancel --batch ID | --all   cancels the unfinished jobs of CLI runs that ended, on their servers
 *   retry ID | --batch ID       journals failed jobs of ended runs again and sends them (as --resume)
 *   pause | resume              the app's sending, kept in its queue state file; a running app
 *                               takes it up at its next check round
 *
 * Jobs of a CLI run that is still going belong to it, and the app's jobs are changed in the app:
 * both are named, never touched.
 */
import { randomUUID } from 'node:crypto'
import { ComfyClient } from '../main/core/app'
import { deleteFromQueue, interruptPrompt } from '../main/core/app'
import { queueStateFile, readQueueState, writeQueueState } from '../main/core/app'
import { CANCELLED_NOTE, Journal, withNote } from '../main/core/app'
import { appJournalFile, cliDataDir } from '../main/core/app'
import { stripControls as s, terminalJson } from '../shared/terminal'
import type { AppSettings, JobRecord } from '../shared/types'
import type { CliIo } from './io'
import {
  CliRun,
  isDead,
  isFinishedJob,
  listRuns,
  matchesId,
  readJournal,
  runJobs,
  type RunFiles
} from './runs'
import { resumeCommand } from './submit'

/** Which jobs a command acts on: one (by id or its start), a batch's, or every one. */
export type JobSelector = { id: string } | { batch: string } | { all: true }

function selects(sel: JobSelector, j: JobRecord): boolean {
  if ('id' in sel) return matchesId(j.id, sel.id)
  if ('batch' in sel) return j.batch !== undefined && matchesId(j.batch.id, sel.batch)
  return true
}

function what(sel: JobSelector): string {
  if ('id' in sel) return `job ${sel.id}`
  if ('batch' in sel) return `batch ${sel.batch}`
  return 'jobs'
}

interface Found {
  /** Ended runs holding selected jobs. */
  dead: RunFiles[]
  /** Selected jobs of runs still going, with the process ids of those runs. */
  live: { count: number; pids: number[] }
  /** Selected jobs in the app's journal. */
  app: JobRecord[]
}

function find(env: NodeJS.ProcessEnv, sel: JobSelector, want: (j: JobRecord) => boolean): Found {
  const found: Found = { dead: [], live: { count: 0, pids: [] }, app: [] }
  for (const r of listRuns(cliDataDir(env))) {
    const jobs = runJobs(r).filter((e) => selects(sel, e.job) && want(e.job))
    if (!jobs.length) continue
    if (isDead(r)) found.dead.push(r)
    else {
      found.live.count += jobs.length
      if (r.lock?.pid) found.live.pids.push(r.lock.pid)
    }
  }
  found.app = readJournal(appJournalFile(env))
    .map((e) => e.job)
    .filter((j) => selects(sel, j) && want(j))
  return found
}

/** Lines on stderr for the selected jobs the command leaves alone. */
function untouched(found: Found, verb: string, io: CliIo): void {
  if (found.live.count) {
    const pids = found.live.pids.length ? ` (process ${found.live.pids.join(', ')})` : ''
    io.err(
      `${found.live.count} job(s) belong to a CLI run that is still going${pids}: stop it with Ctrl-C first`
    )
  }
  if (found.app.length) io.err(`${found.app.length} job(s) are the app's: ${verb} them in the app`)
}

/** Removes a job from its server (queue and, if running, the run); throws when unreachable. */
async function cancelOnServer(j: JobRecord, settings: AppSettings | null): Promise<string | null> {
  const url =
    j.serverUrl ??
    (j.attempts.at(-1)?.result.code === 'sending' ? j.attempts.at(-1)!.serverUrl : null)
  if (!url) return null
  const conf = settings?.servers.find((x) => x.url === url)
  const timeoutMs = Math.min(settings?.timeout ?? 10_000, 10_000)
  const client = new ComfyClient({ server: { url, headers: conf?.headers }, timeoutMs })
  await deleteFromQueue(client, [j.id])
  await interruptPrompt(client, j.id)
  return url
}

/** `cancel --batch ID` / `cancel --all`: every unfinished selected job of the ended runs. */
export async function cancelManyCommand(
  sel: { batch: string } | { all: true },
  settings: AppSettings | null,
  io: CliIo
): Promise<number> {
  const found = find(io.env, sel, (j) => !isFinishedJob(j))
  untouched(found, 'cancel', io)
  if (!found.dead.length) {
    io.out(`Nothing to cancel: no unfinished ${what(sel)} of an ended CLI run.`)
    return found.live.count || found.app.length ? 1 : 0
  }
  const run = CliRun.create(cliDataDir(io.env))
  let failed = 0
  let cancelled = 0
  try {
    run.takeOver(found.dead)
    const journal = new Journal({ file: run.journalFile, historyLimit: 100_000 })
    journal.open()
    try {
      for (const j of journal.jobs()) {
        if (isFinishedJob(j) || !selects(sel, j)) continue
        let url: string | null
        try {
          url = await cancelOnServer(j, settings)
        } catch (err) {
          failed++
          io.err(
            `comfy-balancer: could not reach ${s(j.serverUrl ?? '')} to cancel ${j.id}: ${s((err as Error).message)}. It was left as it is.`
          )
          continue
        }
        const now = Date.now()
        journal.patch(j.id, {
          state: 'cancelled',
          finishedAt: now,
          updatedAt: now,
          notes: withNote(j.notes, CANCELLED_NOTE)
        })
        cancelled++
        io.out(`Cancelled ${j.id}${url ? ` on ${s(url)}` : ''}`)
      }
    } finally {
      journal.close()
    }
  } finally {
    run.release()
  }
  if (!cancelled && !failed) io.out('Nothing to cancel: another run took these jobs first.')
  return failed ? 1 : 0
}

/** States a job of an ended run is retried from (`retry ID` also takes a cancelled one). */
const RETRY_ONE = new Set<JobRecord['state']>(['failed', 'interrupted', 'cancelled'])
const RETRY_BATCH = new Set<JobRecord['state']>(['failed', 'interrupted'])

export interface RetryArgs {
  sel: { id: string } | { batch: string }
  settings: AppSettings | null
  wait: boolean
  out?: string
  json: boolean
  queueTimeoutMs: number
}

/**
 * `retry ID` / `retry --batch ID`: each failed job becomes a new job with the same workflow,
 * priority and place in its batch (the old one notes which job replaced it); the new jobs are
 * then sent and followed as `submit --resume` does.
 */
export async function retryCommand(a: RetryArgs, io: CliIo): Promise<number> {
  const states = 'id' in a.sel ? RETRY_ONE : RETRY_BATCH
  const want = (j: JobRecord) => !j.retriedAs && states.has(j.state)
  const found = find(io.env, a.sel, want)
  untouched(found, 'retry', io)
  if (!found.dead.length) {
    const all = find(io.env, a.sel, () => true)
    const known = all.dead.length + all.live.count + all.app.length > 0
    io.err(
      `comfy-balancer: ${
        known
          ? `Nothing to retry: no failed ${what(a.sel)} of an ended CLI run`
          : `No ${what(a.sel)} in the CLI's journals`
      }`
    )
    return 1
  }
  if ('id' in a.sel) {
    const n = found.dead.flatMap((r) => runJobs(r)).filter((e) => selects(a.sel, e.job)).length
    if (n > 1) {
      io.err(`comfy-balancer: ${a.sel.id} names ${n} jobs; give more of the id`)
      return 2
    }
  }
  const run = CliRun.create(cliDataDir(io.env))
  const added: string[] = []
  try {
    run.takeOver(found.dead)
    const journal = new Journal({ file: run.journalFile, historyLimit: 100_000 })
    journal.open()
    try {
      for (const old of journal.jobs()) {
        if (!selects(a.sel, old) || !want(old)) continue
        const e = journal.get(old.id)
        if (!e?.prompt) {
          io.err(`comfy-balancer: ${old.id} no longer has its workflow; it cannot be retried`)
          continue
        }
        const now = Date.now()
        const job: JobRecord = {
          id: randomUUID(),
          clientId: old.clientId,
          source: old.source,
          state: 'pending',
          createdAt: now,
          updatedAt: now,
          startedAt: null,
          finishedAt: null,
          pinnedServerId: old.pinnedServerId,
          ...(old.kind !== undefined ? { kind: old.kind } : {}),
          serverId: null,
          serverUrl: null,
          attempts: [],
          reroutes: 0,
          queuePosition: null,
          progress: {
            ...(old.progress ?? { node: null, max: 0, nodesTotal: 0 }),
            value: 0,
            nodesDone: 0
          },
          error: null,
          outputs: [],
          notes: [{ code: 'retry-of', id: old.id }],
          ...(old.batch ? { batch: old.batch } : {}),
          ...(old.priority ? { priority: old.priority } : {}),
          retryOf: old.id
        }
        journal.put(job, e.prompt, e.extra ?? null)
        journal.patch(old.id, {
          retriedAs: job.id,
          updatedAt: now,
          notes: withNote(old.notes, { code: 'retried-as', id: job.id })
        })
        added.push(job.id)
        if (!a.json) io.out(`Retrying ${old.id} as ${job.id}`)
      }
    } finally {
      journal.close()
    }
  } finally {
    run.release()
  }
  if (!added.length) {
    io.err('comfy-balancer: Nothing to retry: another run took these jobs first')
    return 1
  }
  return resumeCommand(
    {
      id: added[0],
      settings: a.settings,
      wait: a.wait,
      out: a.out,
      json: a.json,
      queueTimeoutMs: a.queueTimeoutMs
    },
    io
  )
}

/** `pause` / `resume`: the app's sending, in its queue state file. */
export function pauseCommand(paused: boolean, json: boolean, io: CliIo): number {
  const file = queueStateFile(appJournalFile(io.env))
  const before = readQueueState(file)
  const state = before.paused === paused ? before : { paused, changedAt: Date.now() }
  if (state !== before) writeQueueState(file, state)
  if (json) {
    io.out(terminalJson(state))
    return 0
  }
  if (state === before) io.out(paused ? 'Sending was already paused.' : 'Sending is not paused.')
  else if (paused) {
    io.out(
      'Sending paused: the app sends no new job to the servers (jobs already there go on).\ncomfy-balancer resume sends them again.'
    )
  } else io.out('Sending resumed: the app sends its waiting jobs again.')
  return 0
}

/** True when the app's sending is paused (for the `jobs` listing). */
export function appPaused(env: NodeJS.ProcessEnv): boolean {
  return readQueueState(queueStateFile(appJournalFile(env))).paused
}
