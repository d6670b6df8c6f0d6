/**
 * The gateway's history: its own prompts only, each entry read from the server that ran it
 * (with the client's client_id and number), or made from the job's record when no server has it.
 */
import type { ServerResponse } from 'node:http'
import { FINISHED_JOB_STATES, type JobRecord } from '../../../shared/types'
import type { FleetInfo } from './fleet'
import { BadJson, isRecord, outputFiles, publicExtra, sendEmpty, type OutputFile } from './http'
import type { GatewayPrompt, PromptMap } from './ids'

/** History entries read per GET /history without max_items. */
const MAX_HISTORY_LIST = 1_000
/** Finished history entries kept in memory. */
const HISTORY_CACHE = 200

type Entry = Record<string, unknown>

export interface HistoryContext {
  fleet: FleetInfo
  ids: PromptMap
  job(id: string): JobRecord | undefined
  /** Prompts whose end (success, error, interrupt) a server already told. */
  ended: Set<string>
  remember(f: OutputFile, serverId: string): void
}

/** The error message ComfyUI puts last in a failed prompt's history. */
export function errorMessage(
  promptId: string,
  j: JobRecord,
  now: number,
  fallback: string
): Record<string, unknown> {
  return {
    prompt_id: promptId,
    // Strings always, as the ComfyUI window reads them: '' when no node was at fault.
    node_id: j.error?.nodeId ?? '',
    node_type: j.error?.nodeType ?? '',
    executed: [],
    exception_message: j.error?.message ?? fallback,
    exception_type: 'ComfyBalancerError',
    traceback: j.error?.details ?? [],
    current_inputs: {},
    current_outputs: [],
    timestamp: now
  }
}

export class GatewayHistory {
  private readonly cache = new Map<string, Entry>()

  constructor(private readonly c: HistoryContext) {}

  /** A prompt posted again (or its entry changed): read it afresh. */
  forget(promptId: string): void {
    this.cache.delete(promptId)
  }

  /** Finished, or its server said it ended (its history is there before the job is done). */
  private inHistory(j: JobRecord): boolean {
    return FINISHED_JOB_STATES.includes(j.state) || this.c.ended.has(j.id)
  }

  /** The history entry of one of the gateway's prompts, from the server that ran it. */
  private async entryFor(p: GatewayPrompt): Promise<Entry | null> {
    if (p.hidden) return null
    const j = this.c.job(p.promptId)
    if (!j || !this.inHistory(j)) return null
    const cached = this.cache.get(p.promptId)
    if (cached) return cached
    let entry = await this.fromServer(j)
    if (entry) {
      const item = Array.isArray(entry.prompt) ? [...entry.prompt] : []
      const extra = isRecord(item[3]) ? publicExtra(item[3]) : {}
      if (p.clientId) extra.client_id = p.clientId
      else delete extra.client_id
      entry = {
        ...entry,
        prompt: [p.number, p.promptId, item[2] ?? {}, extra, item[4] ?? p.outputs]
      }
    } else {
      // Ran to its end on the server, but the job is not done yet: nothing to show yet.
      if (!FINISHED_JOB_STATES.includes(j.state)) return null
      entry = this.fromRecord(p, j)
    }
    this.cache.set(p.promptId, entry)
    while (this.cache.size > HISTORY_CACHE)
      this.cache.delete(this.cache.keys().next().value as string)
    return entry
  }

  private async fromServer(j: JobRecord): Promise<Entry | null> {
    if (!j.serverId) return null
    let raw: unknown
    try {
      const v = await this.c.fleet.get(j.serverId, `/history/${encodeURIComponent(j.id)}`)
      raw = isRecord(v) ? v[j.id] : undefined
    } catch {
      return null // unreachable: answered from the job's record
    }
    if (!isRecord(raw)) return null
    for (const out of Object.values(isRecord(raw.outputs) ? raw.outputs : {})) {
      for (const f of outputFiles(out)) this.c.remember(f, j.serverId)
    }
    return raw
  }

  private fromRecord(p: GatewayPrompt, j: JobRecord): Entry {
    const failed = j.state !== 'done'
    const now = j.finishedAt ?? Date.now()
    const last: [string, Record<string, unknown>] =
      j.state === 'interrupted' || j.state === 'cancelled'
        ? [
            'execution_interrupted',
            { prompt_id: p.promptId, node_id: '', node_type: '', executed: [], timestamp: now }
          ]
        : failed
          ? ['execution_error', errorMessage(p.promptId, j, now, `The job ended: ${j.state}`)]
          : ['execution_success', { prompt_id: p.promptId, timestamp: now }]
    return {
      prompt: [p.number, p.promptId, {}, p.clientId ? { client_id: p.clientId } : {}, p.outputs],
      outputs: {},
      status: { status_str: failed ? 'error' : 'success', completed: !failed, messages: [last] },
      meta: {}
    }
  }

  async one(promptId: string): Promise<Entry> {
    const p = this.c.ids.byPromptId(promptId)
    const e = p ? await this.entryFor(p) : null
    return e ? { [promptId]: e } : {}
  }

  /** ComfyUI's paging: `max_items` alone gives the newest; `offset` counts from the oldest. */
  async list(url: URL): Promise<Entry> {
    const done = this.c.ids.all().filter((p) => {
      const j = this.c.job(p.promptId)
      return !p.hidden && j && this.inHistory(j)
    })
    const maxRaw = url.searchParams.get('max_items')
    const max = maxRaw !== null && /^\d+$/.test(maxRaw) ? Number(maxRaw) : null
    const offRaw = url.searchParams.get('offset')
    let offset = offRaw !== null && /^-?\d+$/.test(offRaw) ? Number(offRaw) : -1
    if (offset < 0 && max !== null) offset = done.length - max
    const from = Math.max(0, offset)
    const limit = Math.min(max ?? MAX_HISTORY_LIST, MAX_HISTORY_LIST)
    const page = done.slice(from, from + limit)
    const entries: Array<Entry | null> = new Array(page.length).fill(null)
    let next = 0
    const worker = async () => {
      while (next < page.length) {
        const i = next++
        entries[i] = await this.entryFor(page[i]!)
      }
    }
    await Promise.all(Array.from({ length: Math.min(8, page.length) }, worker))
    const out: Entry = {}
    page.forEach((p, i) => {
      if (entries[i]) out[p.promptId] = entries[i]
    })
    return out
  }

  /** POST /history: `clear` and `delete` hide entries from the gateway's view. */
  async post(body: unknown, res: ServerResponse): Promise<void> {
    if (!isRecord(body)) throw new BadJson()
    if (body.clear === true) {
      for (const p of this.c.ids.all()) {
        const j = this.c.job(p.promptId)
        if (!j || FINISHED_JOB_STATES.includes(j.state)) this.c.ids.hide(p.promptId)
      }
      this.cache.clear()
    }
    if (Array.isArray(body.delete)) {
      for (const id of body.delete.slice(0, 10_000)) {
        this.c.ids.hide(String(id))
        this.cache.delete(String(id))
      }
    }
    sendEmpty(res, 200)
  }
}
