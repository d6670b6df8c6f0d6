/**
 * `comfy-balancer jobs`: the jobs of every CLI journal and of the app's journal, read only.
 * `comfy-balancer cancel ID`: cancels a job of an ended CLI run on its server.
 */
import { ComfyClient } from '../main/core/app'
import { deleteFromQueue, interruptPrompt } from '../main/core/app'
import { CANCELLED_NOTE, Journal, withNote } from '../main/core/app'
import { appJournalFile, cliDataDir } from '../main/core/app'
import { stripControls as s } from '../shared/terminal'
import type { AppSettings, JobRecord } from '../shared/types'
import type { CliIo } from './io'
import { CliRun, isDead, isFinishedJob, listRuns, matchesId, readJournal, runJobs } from './runs'
import { deadRunsFor } from './submit'

export interface ListedJob {
  id: string
  state: JobRecord['state']
  source: string
  server: string | null
  createdAt: string
  updatedAt: string
  finishedAt: string | null
  /** `cli` (a CLI run) or `app` (the tray app). */
  owner: 'cli' | 'app'
  /** For CLI jobs: the run's process id and whether that run is still going. */
  pid: number | null
  runActive: boolean
  journal: string
}

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString())

export function listJobs(env: NodeJS.ProcessEnv): ListedJob[] {
  const out: ListedJob[] = []
  const add = (
    j: JobRecord,
    owner: 'cli' | 'app',
    journal: string,
    pid: number | null,
    live: boolean
  ) =>
    out.push({
      id: j.id,
      state: j.state,
      source: j.source,
      server: j.serverUrl,
      createdAt: iso(j.createdAt)!,
      updatedAt: iso(j.updatedAt)!,
      finishedAt: iso(j.finishedAt),
      owner,
      pid,
      runActive: live,
      journal
    })
  for (const r of listRuns(cliDataDir(env))) {
    const live = !isDead(r)
    for (const e of runJobs(r))
      add(e.job, 'cli', r.journals[0] ?? r.base, r.lock?.pid ?? null, live)
  }
  const app = appJournalFile(env)
  for (const e of readJournal(app)) add(e.job, 'app', app, null, false)
  return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt))
}

/** Cancels a job of an ended CLI run on its server and marks it cancelled. */
export async function cancelCommand(
  id: string,
  settings: AppSettings | null,
  io: CliIo
): Promise<number> {
  const dir = cliDataDir(io.env)
  const found = deadRunsFor(dir, id)
  if (found.error) {
    const inApp = readJournal(appJournalFile(io.env)).some((e) => matchesId(e.job.id, id))
    io.err(
      `comfy-balancer: ${s(found.error)}${inApp ? '. It is a job of the app: cancel it in the app.' : ''}`
    )
    return 1
  }
  const holder = found.runs.find((r) => runJobs(r).some((e) => matchesId(e.job.id, id)))!
  const matches = runJobs(holder).filter((e) => matchesId(e.job.id, id))
  if (matches.length > 1) {
    io.err(`comfy-balancer: ${id} names ${matches.length} jobs; give more of the id`)
    return 2
  }
  const run = CliRun.create(dir)
  try {
    if (!run.takeOver([holder]).length) {
      io.err('comfy-balancer: another run took this job over first')
      return 1
    }
    const journal = new Journal({ file: run.journalFile, historyLimit: 100_000 })
    journal.open()
    try {
      const j = journal.get(matches[0]!.job.id)?.job
      if (!j) {
        io.err('comfy-balancer: the job is gone from the journal')
        return 1
      }
      if (isFinishedJob(j)) {
        io.out(`Job ${j.id} is already ${j.state}`)
        return 0
      }
      const url =
        j.serverUrl ??
        (j.attempts.at(-1)?.result.code === 'sending' ? j.attempts.at(-1)!.serverUrl : null)
      if (url) {
        const conf = settings?.servers.find((x) => x.url === url)
        const timeoutMs = Math.min(settings?.timeout ?? 10_000, 10_000)
        const client = new ComfyClient({ server: { url, headers: conf?.headers }, timeoutMs })
        try {
          await deleteFromQueue(client, [j.id])
          await interruptPrompt(client, j.id)
        } catch (err) {
          io.err(
            `comfy-balancer: could not reach ${s(url)} to cancel ${j.id}: ${s((err as Error).message)}. Nothing was changed.`
          )
          return 1
        }
      }
      const now = Date.now()
      journal.patch(j.id, {
        state: 'cancelled',
        finishedAt: now,
        updatedAt: now,
        notes: withNote(j.notes, CANCELLED_NOTE)
      })
      io.out(`Cancelled ${j.id}${url ? ` on ${s(url)}` : ''}`)
      return 0
    } finally {
      journal.close()
    }
  } finally {
    run.release()
  }
}
