/**
 * The gateway's prompts (the client's prompt_id is the job's id), with what ComfyUI shows of a
 * queued prompt that the job engine does not keep: number, client_id, outputs to execute, and
 * whether the client removed it from its history. Bounded, and kept in a small file so a
 * restart still shows the same queue numbers and history.
 */
import fs from 'node:fs'
import path from 'node:path'

export interface GatewayPrompt {
  /** The id the client knows (its own, or one the gateway chose): also the job's id. */
  promptId: string
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

type Row = [string, string | null, number, string[], number, 0 | 1]

/** The file's format; files of other versions are not read. */
const VERSION = 2

export class PromptMap {
  private readonly byPrompt = new Map<string, GatewayPrompt>()
  private writeTimer: NodeJS.Timeout | null = null

  constructor(
    private readonly file: string | null,
    private readonly max = MAX_PROMPTS
  ) {
    if (file) this.load(file)
  }

  private load(file: string): void {
    let data: unknown
    try {
      data = JSON.parse(fs.readFileSync(file, 'utf8'))
    } catch {
      return // none yet, or unreadable: start empty
    }
    const d = data as { version?: unknown; prompts?: unknown } | null
    if (!d || d.version !== VERSION || !Array.isArray(d.prompts)) return
    for (const r of d.prompts.slice(-this.max)) {
      if (!Array.isArray(r) || typeof r[0] !== 'string') continue
      this.add(
        {
          promptId: r[0],
          clientId: typeof r[1] === 'string' ? r[1] : null,
          number: typeof r[2] === 'number' ? r[2] : 0,
          outputs: Array.isArray(r[3])
            ? r[3].filter((x): x is string => typeof x === 'string')
            : [],
          createdAt: typeof r[4] === 'number' ? r[4] : 0,
          ...(r[5] === 1 ? { hidden: true } : {})
        },
        false
      )
    }
  }

  /** Remembers a prompt (newest last). */
  add(p: GatewayPrompt, save = true): void {
    this.byPrompt.delete(p.promptId)
    this.byPrompt.set(p.promptId, p)
    while (this.byPrompt.size > this.max) {
      const first = this.byPrompt.values().next().value as GatewayPrompt
      this.byPrompt.delete(first.promptId)
    }
    if (save) this.saveSoon()
  }

  byPromptId(id: string): GatewayPrompt | undefined {
    return this.byPrompt.get(id)
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
      p.clientId,
      p.number,
      p.outputs,
      p.createdAt,
      p.hidden ? 1 : 0
    ])
    const tmp = `${this.file}.${process.pid}.tmp`
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true })
      fs.writeFileSync(tmp, JSON.stringify({ version: VERSION, prompts: rows }))
      fs.renameSync(tmp, this.file)
    } catch {
      fs.rmSync(tmp, { force: true })
    }
  }
}
