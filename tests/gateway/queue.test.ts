/* eslint-disable @typescript-eslint/no-explicit-any -- JSON answers of a ComfyUI API */
import { describe, expect, it } from 'vitest'
import { startGateway } from '../../src/main/core/gateway'
import { getJson, postJson, setup, txt2img, until, WsClient } from './helpers'

describe('queue, interrupt and delete through the gateway', () => {
  it('lists the gateway’s jobs as ComfyUI queue items and acts on the server that holds each', async () => {
    const { gw, core, fakes } = await setup(2, { jobMs: 4_000 })
    const ws = new WsClient(gw.url, 'me')
    await ws.opened()
    const ids: string[] = []
    for (let i = 0; i < 3; i++) {
      const r = await postJson(gw.url, '/prompt', {
        prompt: txt2img((p) => (p['3'].inputs.seed = i)),
        client_id: 'me',
        prompt_id: `mine-${i}`,
        extra_data: { extra_pnginfo: { workflow: { n: i } } }
      })
      expect(r.json.prompt_id).toBe(`mine-${i}`)
      ids.push(r.json.prompt_id)
    }
    await until(() => fakes.every((f) => f.queueSnapshot().running.length === 1))
    await until(() => core.jobs!.jobs().filter((j) => j.state === 'running').length === 2)
    const q = await getJson(gw.url, '/queue')
    expect(q.queue_running).toHaveLength(2)
    expect(q.queue_pending).toHaveLength(1)
    const item = q.queue_running.find((x: any) => x[1] === 'mine-0')
    expect(item).toHaveLength(5)
    expect(item[0]).toBe(0)
    expect(item[2]['3'].inputs.seed).toBe(0)
    expect(item[3]).toEqual({ extra_pnginfo: { workflow: { n: 0 } }, client_id: 'me' })
    expect(item[4]).toEqual(['9'])
    expect(await getJson(gw.url, '/prompt')).toEqual({ exec_info: { queue_remaining: 3 } })

    // Delete the waiting one: it never runs anywhere.
    const waiting = q.queue_pending[0][1]
    expect((await postJson(gw.url, '/queue', { delete: [waiting] })).status).toBe(200)
    const job = (pid: string) =>
      core.jobs!.get(core.jobs!.jobs().find((j) => j.source === `gateway ${pid}`)!.id)!
    expect(job(waiting).state).toBe('cancelled')
    // A running one is not deleted by /queue delete (ComfyUI deletes only pending).
    await postJson(gw.url, '/queue', { delete: ['mine-1'] })
    expect(job('mine-1').state).toBe('running')

    // Interrupt one running prompt: only its server stops.
    const j0 = job('mine-0')
    const holder = fakes.find((f) => f.queueSnapshot().running.includes(j0.id))!
    const other = fakes.find((f) => f !== holder)!
    expect((await postJson(gw.url, '/interrupt', { prompt_id: 'mine-0' })).status).toBe(200)
    await until(() => holder.queueSnapshot().running.length === 0)
    expect(other.queueSnapshot().running).toHaveLength(1)
    await ws.finished('mine-0')
    expect(ws.of('mine-0')).toContain('execution_interrupted')
    const h = (await getJson(gw.url, '/history/mine-0'))['mine-0']
    expect(h.status.status_str).toBe('error')
    expect(h.status.messages.at(-1)[0]).toBe('execution_interrupted')

    // Gateway history view: delete hides it.
    await postJson(gw.url, '/history', { delete: ['mine-0'] })
    expect(await getJson(gw.url, '/history/mine-0')).toEqual({})
    await postJson(gw.url, '/interrupt', {})
    await until(() => other.queueSnapshot().running.length === 0)
  })

  it('a restarted gateway still knows the client’s prompt ids', async () => {
    const { gw, core, dir } = await setup(1, { jobMs: 50 })
    const r = await postJson(gw.url, '/prompt', { prompt: txt2img(), prompt_id: 'keep-me' })
    expect(r.status).toBe(200)
    await until(() => core.jobs!.jobs()[0]?.state === 'done')
    await gw.close()
    const again = await startGateway(core, { port: 0, dataDir: dir })
    try {
      const h = await getJson(again.url, '/history/keep-me')
      expect(h['keep-me'].status.status_str).toBe('success')
      const next = await postJson(again.url, '/prompt', { prompt: txt2img() })
      expect(next.json.number).toBe(1)
    } finally {
      await again.close()
    }
  })

  it('a prompt no server can take ends for its client with an error', async () => {
    const { gw, fakes } = await setup(1)
    const ws = new WsClient(gw.url, 'me')
    await ws.opened()
    await fakes[0]!.setFault({ kind: 'status', status: 500, route: '/prompt' })
    const r = await postJson(gw.url, '/prompt', { prompt: txt2img(), client_id: 'me' })
    expect(r.status).toBe(200)
    await ws.finished(r.json.prompt_id, 20_000)
    expect(ws.of(r.json.prompt_id)).toEqual(['execution_error', 'executing'])
  })
})
