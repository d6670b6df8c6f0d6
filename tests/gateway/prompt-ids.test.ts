/* eslint-disable @typescript-eslint/no-explicit-any -- JSON answers of a ComfyUI API */
import { describe, expect, it } from 'vitest'
import { readPngText } from '../../src/fake-comfy'
import { getJson, postJson, setup, txt2img, until, WsClient } from './helpers'

describe('the client’s prompt id and extra_data through the gateway', () => {
  it('the client’s extra_pnginfo.workflow ends up in the PNG the server saved', async () => {
    const { gw, core } = await setup(2)
    const ws = new WsClient(gw.url, 'krita')
    await ws.opened()
    const graph = { last_node_id: 9, nodes: [{ id: 3, type: 'KSampler' }], version: 0.4 }
    const r = await postJson(gw.url, '/prompt', {
      prompt: txt2img(),
      client_id: 'krita',
      prompt_id: 'with-graph',
      extra_data: { extra_pnginfo: { workflow: graph } }
    })
    expect(r.status).toBe(200)
    await ws.finished('with-graph')
    // The engine's job is the client's prompt id.
    expect(core.jobs!.get('with-graph')?.source).toBe('gateway with-graph')
    const entry = (await getJson(gw.url, '/history/with-graph'))['with-graph']
    const img = entry.outputs['9'].images[0]
    const q = new URLSearchParams({
      filename: img.filename,
      subfolder: img.subfolder,
      type: img.type
    })
    const res = await fetch(`${gw.url}/view?${q}`)
    expect(res.status).toBe(200)
    const text = readPngText(Buffer.from(await res.arrayBuffer()))
    expect(JSON.parse(text.workflow!)).toEqual(graph)
    expect(JSON.parse(text.prompt!)['3'].class_type).toBe('KSampler')
  })

  it('refuses a prompt id used before, with ComfyUI’s error shape, and runs it once', async () => {
    const { gw, fakes, core } = await setup(2, { jobMs: 50 })
    const first = await postJson(gw.url, '/prompt', { prompt: txt2img(), prompt_id: 'once' })
    expect(first.status).toBe(200)
    const again = await postJson(gw.url, '/prompt', { prompt: txt2img(), prompt_id: 'once' })
    expect(again.status).toBe(400)
    expect(again.json.node_errors).toEqual({})
    expect(again.json.error.type).toBe('invalid_prompt_id')
    expect(typeof again.json.error.message).toBe('string')
    expect(again.json.error.details).toContain('once')
    expect(again.json.error.extra_info).toEqual({})
    const bad = await postJson(gw.url, '/prompt', { prompt: txt2img(), prompt_id: 'has space' })
    expect(bad.status).toBe(400)
    expect(bad.json.error.type).toBe('invalid_prompt_id')
    await until(() => core.jobs!.get('once')?.state === 'done')
    const q = await getJson(gw.url, '/queue')
    const h = await getJson(gw.url, '/history')
    const listed = [...q.queue_running, ...q.queue_pending].map((x: any) => x[1])
    expect([...listed, ...Object.keys(h)]).toEqual(['once'])
    const sent = fakes.flatMap((f) => [
      ...f.historyIds(),
      ...f.queueSnapshot().running,
      ...f.queueSnapshot().pending
    ])
    expect(sent).toEqual(['once'])
  })
})
