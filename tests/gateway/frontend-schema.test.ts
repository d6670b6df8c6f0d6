/* eslint-disable @typescript-eslint/no-explicit-any -- JSON answers of a ComfyUI API */
/**
 * The official ComfyUI frontend's shapes (frontend-schemas.ts) accept every answer and every
 * /ws message of a real run: through the gateway, and from a fake server directly (the
 * gateway relays the servers' events, so they must fit too).
 */
import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import type { z } from 'zod'
import {
  embeddingsAnswer,
  extensionsAnswer,
  featureFlags,
  historyAnswer,
  modelsAnswer,
  objectInfoAnswer,
  promptAccepted,
  promptInfoAnswer,
  promptRefused,
  queueAnswer,
  systemStatsAnswer,
  wsData,
  wsMessage,
  type WsType
} from './frontend-schemas'
import { servers } from '../jobs/helpers'
import { getJson, postJson, setup, txt2img, until, WsClient } from './helpers'

/** Every answer checked, and what the schemas said of each. */
class Checks {
  readonly problems: string[] = []
  readonly checked: string[] = []
  check(label: string, schema: z.ZodType, value: unknown): void {
    this.checked.push(label)
    const r = schema.safeParse(value)
    if (r.success) return
    for (const i of r.error.issues.slice(0, 5)) {
      this.problems.push(`${label}: ${i.path.join('.')}: ${i.message}`)
    }
  }
  messages(label: string, list: unknown[]): void {
    list.forEach((m, i) => this.check(`${label} ws #${i} ${(m as any)?.type}`, wsMessage, m))
  }
}

async function get(c: Checks, base: string, route: string, schema: z.ZodType): Promise<any> {
  const value = await getJson(base, route)
  c.check(`GET ${route}`, schema, value)
  return value
}

async function post(c: Checks, base: string, body: unknown, status: number): Promise<any> {
  const r = await postJson(base, '/prompt', body)
  expect(r.status).toBe(status)
  c.check(`POST /prompt (${status})`, status === 200 ? promptAccepted : promptRefused, r.json)
  return r.json
}

/** A socket that speaks first as the frontend does (feature_flags) and keeps every message. */
async function frontendSocket(base: string): Promise<WsClient> {
  const ws = new WsClient(base, randomUUID())
  await ws.opened()
  ws.ws.send(JSON.stringify({ type: 'feature_flags', data: { supports_preview_metadata: true } }))
  return ws
}

/** Waits until the prompt is listed as running in `/queue` (checking each answer). */
async function running(c: Checks, base: string, id: string): Promise<void> {
  const t0 = Date.now()
  for (;;) {
    const q = await get(c, base, '/queue', queueAnswer)
    if (q.queue_running.some((item: any) => item[1] === id)) return
    if (Date.now() - t0 > 10_000) throw new Error(`${id} never ran`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/**
 * One run of what the frontend does against `base`: read the server, queue a prompt that
 * saves an image, one that fails while running, one that is interrupted, and three that are
 * refused; read queue and history along the way. Returns the socket's messages.
 */
async function drive(c: Checks, base: string): Promise<Array<{ type: string; data: any }>> {
  const ws = await frontendSocket(base)
  const clientId = new URL(ws.ws.url).searchParams.get('clientId')!
  await get(c, base, '/prompt', promptInfoAnswer)
  await get(c, base, '/features', featureFlags)
  await get(c, base, '/system_stats', systemStatsAnswer)
  await get(c, base, '/embeddings', embeddingsAnswer)
  await get(c, base, '/extensions', extensionsAnswer)
  await get(c, base, '/models', modelsAnswer)
  await get(c, base, '/models/checkpoints', modelsAnswer)
  const info = await get(c, base, '/object_info', objectInfoAnswer)
  expect(Object.keys(info).length).toBeGreaterThan(10)
  await get(c, base, '/object_info/KSampler', objectInfoAnswer)
  await get(c, base, '/queue', queueAnswer)

  // An image, saved.
  const ok = await post(c, base, { prompt: txt2img(), client_id: clientId }, 200)
  await running(c, base, ok.prompt_id)
  await get(c, base, '/prompt', promptInfoAnswer)
  await ws.finished(ok.prompt_id)
  const h = await get(c, base, `/history/${ok.prompt_id}`, historyAnswer)
  expect(h[ok.prompt_id].outputs['9'].images.length).toBeGreaterThan(0)

  // The same prompt again: cached nodes.
  const again = await post(c, base, { prompt: txt2img(), client_id: clientId }, 200)
  await ws.finished(again.prompt_id)

  // Out of memory while sampling (the fake fails seed 666).
  const bad = await post(
    c,
    base,
    { prompt: txt2img((p) => (p['3'].inputs.seed = 666)), client_id: clientId },
    200
  )
  await ws.finished(bad.prompt_id)
  expect(ws.of(bad.prompt_id)).toContain('execution_error')
  await get(c, base, `/history/${bad.prompt_id}`, historyAnswer)

  // Interrupted while running (a long job: cost 50).
  const long = await post(
    c,
    base,
    {
      prompt: txt2img((p) => (p['3'].inputs.seed = 7)),
      client_id: clientId,
      extra_data: { fake_cost: 50, extra_pnginfo: { workflow: { nodes: [] } } }
    },
    200
  )
  await running(c, base, long.prompt_id)
  await get(c, base, '/queue', queueAnswer)
  expect((await postJson(base, '/interrupt', { prompt_id: long.prompt_id })).status).toBe(200)
  await ws.finished(long.prompt_id)
  expect(ws.of(long.prompt_id)).toContain('execution_interrupted')
  await get(c, base, `/history/${long.prompt_id}`, historyAnswer)

  // Refused: an unknown class, a model nobody has, no prompt at all.
  await post(c, base, { prompt: txt2img((p) => (p['8'].class_type = 'NoSuchNode')) }, 400)
  await post(c, base, { prompt: txt2img((p) => (p['4'].inputs.ckpt_name = 'nope.ckpt')) }, 400)
  await post(c, base, { client_id: clientId }, 400)

  await get(c, base, '/history', historyAnswer)
  await get(c, base, '/history?max_items=2', historyAnswer)
  await get(c, base, '/prompt', promptInfoAnswer)
  return ws.messages
}

/** The message types a full run must have shown, so the check covered each schema. */
const EXPECTED: WsType[] = Object.keys(wsData) as WsType[]

function expectAllTypes(messages: Array<{ type: string }>): void {
  const seen = new Set(messages.map((m) => m.type))
  expect(EXPECTED.filter((t) => !seen.has(t))).toEqual([])
}

describe('the official frontend’s schemas', () => {
  it('accept the gateway’s answers and /ws messages over a whole run', async () => {
    const { gw } = await setup(2, { jobMs: 200, cache: true })
    const c = new Checks()
    const messages = await drive(c, gw.url)
    // The gateway's own refusals: a prompt_id used before, one that is not an id.
    const used = Object.keys(await getJson(gw.url, '/history'))[0]
    await post(c, gw.url, { prompt: txt2img(), prompt_id: used }, 400)
    await post(c, gw.url, { prompt: txt2img(), prompt_id: 'not an id' }, 400)
    c.messages('gateway', messages)
    expectAllTypes(messages)
    expect(c.checked.length).toBeGreaterThan(messages.length + 20)
    expect(c.problems).toEqual([])
  })

  it('accept a fake server’s own answers and /ws messages (what the gateway relays)', async () => {
    const [fake] = await servers(1, { jobMs: 200, cache: true })
    const c = new Checks()
    const messages = await drive(c, fake!.url)
    c.messages('fake', messages)
    expectAllTypes(messages)
    expect(c.problems).toEqual([])
  })

  it('accept the end the gateway makes for a prompt no server would take', async () => {
    const { gw, fakes } = await setup(1)
    const c = new Checks()
    const ws = await frontendSocket(gw.url)
    const clientId = new URL(ws.ws.url).searchParams.get('clientId')!
    await fakes[0]!.setFault({ kind: 'status', status: 500, route: '/prompt' })
    const r = await post(c, gw.url, { prompt: txt2img(), client_id: clientId }, 200)
    await ws.finished(r.prompt_id, 20_000)
    expect(ws.of(r.prompt_id)).toEqual(['execution_error', 'executing'])
    const h = await get(c, gw.url, `/history/${r.prompt_id}`, historyAnswer)
    expect(h[r.prompt_id].status.messages.at(-1)[0]).toBe('execution_error')
    c.messages('gateway', ws.messages)
    expect(c.problems).toEqual([])
  })

  it('accept the history entry of a prompt cancelled before any server ran it', async () => {
    const { gw, core } = await setup(1, { jobMs: 5_000 })
    const c = new Checks()
    const first = await post(c, gw.url, { prompt: txt2img() }, 200)
    const second = await post(
      c,
      gw.url,
      { prompt: txt2img((p) => (p['3'].inputs.seed = 2)), prompt_id: 'waiting-one' },
      200
    )
    await running(c, gw.url, first.prompt_id)
    await postJson(gw.url, '/queue', { delete: [second.prompt_id] })
    await until(() => core.jobs!.get('waiting-one')?.state === 'cancelled')
    const h = await get(c, gw.url, '/history/waiting-one', historyAnswer)
    await postJson(gw.url, '/interrupt', {})
    expect(c.problems).toEqual([])
    // ComfyUI lists no history for a deleted pending prompt; the gateway may show its end.
    if (h['waiting-one']) expect(h['waiting-one'].status.status_str).toBe('error')
  })
})
