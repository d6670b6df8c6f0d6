/**
 * The gateway's prompts: the client's prompt_id <-> the job engine's id, with what ComfyUI shows
 * of a queued prompt (number, client_id, outputs to execute). Bounded, and kept in a small file
 * so a restart still knows which job a client's prompt_id is.
 */
import fs from 'node:fs'
import path from 'node:path'

export interface GatewayPrompt {
  /** The id the client knows (its own, or one the gateway chose). */
  promptId: string
  /** The job engine's id (the prompt_id sent to the servers). */
  jobId: string
  /** The client_id it was posted with (its WebSocket's clientId), or null. */
  clientId: string | null
  number: number
  /** Output node ids (ComfyUI's outputs_to_execute). */
  outputs: string[]
  createdAt: number
  /** Removed from the gateway's history view (POST /history delete or clear). */
  hidden?: boolean
}

/** Prompts remembered at most; the oldest go first. */
export const MAX_PROMPTS = 10_000

type Row = [string, string, string | null, number, string[], number, 0 | 1]

export class PromptMap {
  private readonly byPrompt = new Map<string, GatewayPrompt>()
  private readonly byJob = new Map<string, GatewayPrompt>()
  private writeTimer: NodeJS.Timeout | null = null

  constructor(
    private readonly file: string | null,
    private readonly max = MAX_PROMPTS
  ) {
    if (file) this.load(file)
  }

  private load(file: string): void {
    let rows: unknown
    try {
      rows = JSON.parse(fs.readFileSync(file, 'utf8'))
    } catch {
      return // none yet, or unreadable: start empty
    }
    if (!Array.isArray(rows)) return
    for (const r of rows.slice(-this.max)) {
      if (!Array.isArray(r) || typeof r[0] !== 'string' || typeof r[1] !== 'string') continue
      this.add(
        {
          promptId: r[0],
          jobId: r[1],
          clientId: typeof r[2] === 'string' ? r[2] : null,
          number: typeof r[3] === 'number' ? r[3] : 0,
          outputs: Array.isArray(r[4])
            ? r[4].filter((x): x is string => typeof x === 'string')
            : [],
          createdAt: typeof r[5] === 'number' ? r[5] : 0,
          ...(r[6] === 1 ? { hidden: true } : {})
        },
        false
      )
    }
  }

  /** Remembers a prompt (a prompt_id posted again now names the new job). */
  add(p: GatewayPrompt, save = true): void {
    const old = this.byPrompt.get(p.promptId)
    if (old) {
      this.byPrompt.delete(old.promptId)
      this.byJob.delete(old.jobId)
    }
    this.byPrompt.set(p.promptId, p)
    this.byJob.set(p.jobId, p)
    while (this.byPrompt.size > this.max) {
      const first = this.byPrompt.values().next().value as GatewayPrompt
      this.byPrompt.delete(first.promptId)
      this.byJob.delete(first.jobId)
    }
    if (save) this.saveSoon()
  }

  byPromptId(id: string): GatewayPrompt | undefined {
    return this.byPrompt.get(id)
  }

  byJobId(id: string): GatewayPrompt | undefined {
    return this.byJob.get(id)
  }

  /** Oldest first. */
  all(): GatewayPrompt[] {
    return [...this.byPrompt.values()]
  }

  hide(promptId: string): void {
    const p = this.byPrompt.get(promptId)
    if (p && !p.hidden) {
      p.hidden = true
      this.saveSoon()
    }
  }

  private saveSoon(): void {
    if (!this.file || this.writeTimer) return
    this.writeTimer = setTimeout(() => {
      this.writeTimer = null
      this.save()
    }, 100)
    this.writeTimer.unref?.()
  }

  /** Writes the file now (also on close). */
  save(): void {
    if (this.writeTimer) {
      clearTimeout(this.writeTimer)
      this.writeTimer = null
    }
    if (!this.file) return
    const rows: Row[] = this.all().map((p) => [
      p.promptId,
      p.jobId,
      p.clientId,
      p.number,
      p.outputs,
      p.createdAt,
      p.hidden ? 1 : 0
    ])
    const tmp = `${this.file}.${process.pid}.tmp`
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true })
      fs.writeFileSync(tmp, JSON.stringify(rows))
      fs.renameSync(tmp, this.file)
    } catch {
      fs.rmSync(tmp, { force: true })
    }
  }
}
