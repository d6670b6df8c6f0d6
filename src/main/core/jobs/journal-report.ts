/** What opening a job journal found: damage, repairs and what was lost, for the log. */

export interface JournalLoadReport {
  jobs: number
  /** Lines that could not be used: the damaged ones plus a half-written last line. */
  badLines: number
  /** Unreadable lines before the end of the file (damage, not a crash during a write). */
  damagedLines: number
  /** A half-written last line (a crash during a write) was dropped. */
  tornTail: boolean
  /** Ids of the jobs a damaged line belonged to, as far as they could be told. */
  damagedJobs: string[]
  /** Of those, the ones no readable line was left for: they are gone from the list. */
  lostJobs: string[]
  /** Where the file was copied before being rewritten, or null when it was not damaged. */
  damagedCopy: string | null
  /** One sentence for the log, or null when there was nothing to say. */
  message: string | null
}

/** The report in one sentence for the log, or null when there was nothing to say. */
export function describeReport(r: JournalLoadReport): string | null {
  const parts: string[] = []
  if (r.damagedLines > 0) {
    parts.push(`${r.damagedLines} damaged line(s) in the job journal were skipped`)
    if (r.damagedJobs.length) parts.push(`jobs affected: ${r.damagedJobs.join(', ')}`)
    if (r.lostJobs.length) parts.push(`${r.lostJobs.length} job(s) could not be recovered`)
  } else if (r.damagedJobs.length) {
    parts.push(`jobs rebuilt from their changes: ${r.damagedJobs.join(', ')}`)
  }
  if (r.damagedCopy) parts.push(`the original file was copied to ${r.damagedCopy}`)
  if (r.tornTail) parts.push('a half-written last line (from a crash) was dropped')
  return parts.length ? `${parts.join('; ')}.` : null
}
