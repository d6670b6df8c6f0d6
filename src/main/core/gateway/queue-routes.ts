/**
 * The gateway's queue routes: `GET /queue` (its jobs as ComfyUI queue items, running and
 * pending, with the client's ids and extra_data), `POST /queue {delete, clear}` and
 * `POST /interrupt [{prompt_id}]`, acting on the server that holds each job.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { FINISHED_JOB_STATES, type JobRecord } from '../../../shared/types'
import type { BalancerCore } from '../app'
import { BadJson, isRecord, parseJson, publicExtra, readBody, sendEmpty } from './http'
import type { GatewayPrompt, PromptMap } from './ids'
import { MAX_SMALL_BODY } from './options'

/** A small JSON body (a queue or history action); empty is null when `emptyOk`. */
export async function smallJson(req: IncomingMessage, emptyOk = false): Promise<unknown> {
  const buf = await readBody(req, MAX_SMALL_BODY)
  if (emptyOk && buf.length === 0) return null
  return parseJson(buf)
}

export class GatewayQueue {
  /** What each unfinished job was posted with, as its queue item shows it. */
  readonly posted = new Map<string, { prompt: unknown; extra: Record<string, unknown> }>()

  constructor(
    private readonly core: BalancerCore,
    private readonly ids: PromptMap
  ) {}

  /** The gateway's jobs not finished yet. */
  unfinished(): Array<{ p: GatewayPrompt; j: JobRecord }> {
    const out: Array<{ p: GatewayPrompt; j: JobRecord }> = []
    for (const p of this.ids.all()) {
      const j = this.core.jobs?.get(p.promptId)
      if (j && !FINISHED_JOB_STATES.includes(j.state)) out.push({ p, j })
    }
    return out
  }

  private item(p: GatewayPrompt): unknown[] {
    const posted = this.posted.get(p.promptId)
    const extra = posted ? publicExtra(posted.extra) : p.clientId ? { client_id: p.clientId } : {}
    return [p.number, p.promptId, posted?.prompt ?? {}, extra, p.outputs]
  }

  queue() {
    const running: unknown[] = []
    const pending: unknown[] = []
    for (const { p, j } of this.unfinished()) {
      ;(j.state === 'running' ? running : pending).push(this.item(p))
    }
    return { queue_running: running, queue_pending: pending }
  }

  private async cancel(p: GatewayPrompt | undefined, only: (j: JobRecord) => boolean) {
    if (!p) return
    const j = this.core.jobs?.get(p.promptId)
    if (!j || FINISHED_JOB_STATES.includes(j.state) || !only(j)) return
    await this.core.jobs?.cancel(j.id)
  }

  async postQueue(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await smallJson(req)
    if (!isRecord(body)) throw new BadJson()
    const waiting = (j: JobRecord) => j.state !== 'running'
    if (body.clear === true) {
      await Promise.all(this.unfinished().map(({ p }) => this.cancel(p, waiting)))
    }
    if (Array.isArray(body.delete)) {
      for (const id of body.delete.slice(0, 10_000)) {
        await this.cancel(this.ids.byPromptId(String(id)), waiting)
      }
    }
    sendEmpty(res, 200)
  }

  async postInterrupt(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: unknown = null
    try {
      body = await smallJson(req, true)
    } catch (err) {
      if (!(err instanceof BadJson)) throw err
    }
    const running = (j: JobRecord) => j.state === 'running'
    if (isRecord(body) && body.prompt_id !== undefined && body.prompt_id !== null) {
      await this.cancel(this.ids.byPromptId(String(body.prompt_id)), running)
    } else {
      // A global interrupt: what runs for the gateway's clients now.
      await Promise.all(this.unfinished().map(({ p }) => this.cancel(p, running)))
    }
    sendEmpty(res, 200)
  }
}
