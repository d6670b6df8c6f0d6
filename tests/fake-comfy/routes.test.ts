/* eslint-disable @typescript-eslint/no-explicit-any -- these tests read deeply nested JSON */
import { afterEach, describe, expect, it } from 'vitest'
import {
  FakeComfy,
  SAMPLERS,
  decodePng,
  makePng,
  makeTxt2ImgPrompt,
  readPngText
} from '../../src/fake-comfy'
import { WsClient, multipart, postJson, request, until } from './helpers'

let fake: FakeComfy | null = null

async function boot(opts: ConstructorParameters<typeof FakeComfy>[0] = {}): Promise<FakeComfy> {
  fake = new FakeComfy({ jobMs: 30, ...opts })
  await fake.start()
  return fake
}

afterEach(async () => {
  await fake?.stop()
  fake = null
})

const TROUBLE = '500 Internal Server Error\n\nServer got itself in trouble'

describe('routing', () => {
  it('serves every route under /x and /api/x', async () => {
    const f = await boot()
    for (const p of ['/queue', '/prompt', '/system_stats', '/features', '/history', '/models']) {
      const plain = await request(f.url + p)
      const api = await request(f.url + '/api' + p)
      expect(plain.status, p).toBe(200)
      expect(api.status, p).toBe(200)
      expect(api.headers['content-type']).toBe('application/json; charset=utf-8')
      expect(api.headers.server).toMatch(/aiohttp/)
    }
    // Python json.dumps spacing
    expect((await request(f.url + '/api/prompt')).text).toBe(
      '{"exec_info": {"queue_remaining": 0}}'
    )
    const nf = await request(f.url + '/api/nope')
    expect(nf.status).toBe(404)
    expect(nf.text).toBe('404: Not Found')
    expect((await request(f.url + '/queue', { method: 'PUT' })).status).toBe(405)
  })

  it('legacy mode answers only the plain routes', async () => {
    const f = await boot({ legacy: true })
    expect((await request(f.url + '/queue')).status).toBe(200)
    const api = await request(f.url + '/api/queue')
    expect(api.status).toBe(404)
    expect(api.text).toBe('404: Not Found')
    expect(api.headers['content-type']).toBe('text/plain; charset=utf-8')
    expect((await request(f.url + '/api/system_stats')).status).toBe(404)
    expect((await request(f.url + '/features')).status).toBe(404)
    // like aiohttp's static fallback, other methods on unknown paths are 405
    expect((await postJson(f.url + '/api/prompt', { prompt: {} })).status).toBe(405)
    const stats = (await request(f.url + '/system_stats')).json() as { system: object }
    expect(stats.system).not.toHaveProperty('comfyui_version')
    await expect(WsClient.open(f.url, 'x', '/api/ws')).rejects.toMatchObject({ status: 404 })
    const c = await WsClient.open(f.url, 'x')
    expect((await c.waitFor(() => true)).type).toBe('status')
    await c.close()
  })

  it('answers 403 to a loopback Host with a foreign Origin', async () => {
    const f = await boot()
    const r = await request(f.url + '/queue', { headers: { Origin: 'http://evil.example' } })
    expect(r.status).toBe(403)
    expect(r.body.length).toBe(0)
    const same = await request(f.url + '/queue', { headers: { Origin: f.url } })
    expect(same.status).toBe(200)
    await f.stop()
    const cors = await boot({ corsOrigin: '*' })
    const ok = await request(cors.url + '/queue', { headers: { Origin: 'http://evil.example' } })
    expect(ok.status).toBe(200)
    expect(ok.headers['access-control-allow-origin']).toBe('*')
    const pre = await request(cors.url + '/api/prompt', { method: 'OPTIONS' })
    expect(pre.status).toBe(200)
  })
})

describe('queue and prompt', () => {
  it('shows five-element items while jobs run, pending in heap order', async () => {
    const f = await boot({ jobMs: 300 })
    const ids: string[] = []
    for (let i = 0; i < 4; i++) {
      const r = await postJson(f.url + '/prompt', { prompt: makeTxt2ImgPrompt({ seed: i }) })
      expect(r.status).toBe(200)
      const body = r.json() as { prompt_id: string; number: number; node_errors: object }
      expect(body.number).toBe(i)
      expect(body.node_errors).toEqual({})
      ids.push(body.prompt_id)
    }
    await until(() => f.queueSnapshot().running.length === 1)
    const q = (await request(f.url + '/api/queue')).json() as {
      queue_running: unknown[][]
      queue_pending: unknown[][]
    }
    expect(q.queue_running).toHaveLength(1)
    expect(q.queue_pending).toHaveLength(3)
    const item = q.queue_running[0] as unknown[]
    expect(item).toHaveLength(5)
    expect(item[0]).toBe(0)
    expect(item[1]).toBe(ids[0])
    expect(item[4]).toEqual(['9'])
    expect(q.queue_pending.map((x) => x[0]).sort()).toEqual([1, 2, 3])
    expect((await request(f.url + '/prompt')).json()).toEqual({
      exec_info: { queue_remaining: 4 }
    })

    // front: true jumps ahead; an explicit number is used as given
    const front = (
      await postJson(f.url + '/prompt', {
        prompt: makeTxt2ImgPrompt(),
        front: true
      })
    ).json() as { number: number; prompt_id: string }
    expect(front.number).toBe(-4)
    const explicit = (
      await postJson(f.url + '/prompt', {
        prompt: makeTxt2ImgPrompt(),
        number: 2.5
      })
    ).json() as { number: number; prompt_id: string }
    expect(explicit.number).toBe(2.5)
    expect(f.queueSnapshot().pending).toEqual([
      front.prompt_id,
      ids[1],
      ids[2],
      explicit.prompt_id,
      ids[3]
    ])

    // delete one pending, then clear: 200 with an empty body
    const del = await postJson(f.url + '/api/queue', { delete: [ids[2], 'unknown'] })
    expect(del.status).toBe(200)
    expect(del.body.length).toBe(0)
    expect(f.queueSnapshot().pending).not.toContain(ids[2])
    const clr = await postJson(f.url + '/queue', { clear: true })
    expect(clr.status).toBe(200)
    expect(f.queueSnapshot()).toEqual({ running: [ids[0]], pending: [] })
  })

  it('returns every documented 400 shape', async () => {
    const f = await boot()
    const post = async (body: unknown): Promise<{ status: number; json: any }> => {
      const r = await postJson(f.url + '/prompt', body)
      return { status: r.status, json: r.json() }
    }
    let r = await post({ client_id: 'x' })
    expect(r.status).toBe(400)
    expect(r.json).toEqual({
      error: {
        type: 'no_prompt',
        message: 'No prompt provided',
        details: 'No prompt provided',
        extra_info: {}
      },
      node_errors: {}
    })

    r = await post({ prompt: { '1': { inputs: {} } } })
    expect(r.json.error).toEqual({
      type: 'invalid_prompt',
      message: 'Cannot execute because a node is missing the class_type property.',
      details: "Node ID '#1'",
      extra_info: {}
    })

    r = await post({ prompt: { '7': { class_type: 'IPAdapterApply', inputs: {} } } })
    expect(r.json).toEqual({
      error: {
        type: 'invalid_prompt',
        message: 'Cannot execute because node IPAdapterApply does not exist.',
        details: "Node ID '#7'",
        extra_info: {}
      },
      node_errors: {}
    })

    r = await post({ prompt: { '1': { class_type: 'EmptyLatentImage', inputs: {} } } })
    expect(r.json.error).toEqual({
      type: 'prompt_no_outputs',
      message: 'Prompt has no outputs',
      details: '',
      extra_info: {}
    })

    // a missing model is a COMBO value not in the list
    r = await post({ prompt: makeTxt2ImgPrompt({ ckpt: 'missing.safetensors' }) })
    expect(r.status).toBe(400)
    expect(r.json.error).toEqual({
      type: 'prompt_outputs_failed_validation',
      message: 'Prompt outputs failed validation',
      details: '',
      extra_info: {}
    })
    expect(r.json.node_errors).toEqual({
      '4': {
        errors: [
          {
            type: 'value_not_in_list',
            message: 'Value not in list',
            details:
              "ckpt_name: 'missing.safetensors' not in ['sd_xl_base_1.0.safetensors', 'v1-5-pruned-emaonly.safetensors']",
            extra_info: {
              input_name: 'ckpt_name',
              input_config: [
                ['sd_xl_base_1.0.safetensors', 'v1-5-pruned-emaonly.safetensors'],
                { tooltip: 'The name of the checkpoint (model) to load.' }
              ],
              received_value: 'missing.safetensors'
            }
          }
        ],
        dependent_outputs: ['9'],
        class_type: 'CheckpointLoaderSimple'
      }
    })

    // lists longer than 20 are summarised, input_config null
    r = await post({ prompt: makeTxt2ImgPrompt({ sampler: 'warp_drive' }) })
    const e = r.json.node_errors['3'].errors[0]
    expect(e.details).toBe(`sampler_name: 'warp_drive' not in (list of length ${SAMPLERS.length})`)
    expect(e.extra_info.input_config).toBeNull()

    // errors on the output node itself reach `details`
    const p = makeTxt2ImgPrompt() as Record<string, { inputs: Record<string, unknown> }>
    delete p['9']?.inputs.images
    r = await post({ prompt: p })
    expect(r.json.error.details).toBe('Required input is missing: images')
    expect(r.json.node_errors['9'].errors[0]).toEqual({
      type: 'required_input_missing',
      message: 'Required input is missing',
      details: 'images',
      extra_info: { input_name: 'images' }
    })

    r = await post({ prompt: makeTxt2ImgPrompt({ steps: 0 }) })
    expect(r.json.node_errors['3'].errors[0]).toMatchObject({
      type: 'value_smaller_than_min',
      message: 'Value 0 smaller than min of 1',
      details: 'steps'
    })

    // numbers were consumed by every POST, even the invalid ones
    const ok = await post({ prompt: makeTxt2ImgPrompt() })
    expect(ok.status).toBe(200)
    expect(ok.json.number).toBe(8)
  })

  it('queues with node_errors when only some outputs fail', async () => {
    const f = await boot()
    const p = makeTxt2ImgPrompt() as Record<string, unknown>
    p['10'] = { class_type: 'PreviewImage', inputs: {} }
    const r = await postJson(f.url + '/prompt', { prompt: p, prompt_id: 'partly' })
    expect(r.status).toBe(200)
    const body = r.json() as { node_errors: Record<string, { dependent_outputs: string[] }> }
    expect(body.node_errors['10']?.dependent_outputs).toEqual(['10'])
    await f.waitForIdle()
    const entry = f.historyEntry('partly')
    expect(entry?.prompt[4]).toEqual(['9'])
  })

  it("reports 'newer' (0.38) unknown nodes and prompt ids", async () => {
    const f = await boot({ version: 'newer' })
    let r = await postJson(f.url + '/prompt', {
      prompt: { '7': { class_type: 'IPAdapterApply', inputs: {}, _meta: { title: 'IPAdapter' } } }
    })
    expect(r.json()).toEqual({
      error: {
        type: 'missing_node_type',
        message: "Node 'IPAdapter' not found. The custom node may not be installed.",
        details: "Node ID '#7'",
        extra_info: { node_id: '7', class_type: 'IPAdapterApply', node_title: 'IPAdapter' }
      },
      node_errors: {}
    })
    r = await postJson(f.url + '/prompt', { prompt: makeTxt2ImgPrompt(), prompt_id: 'job-1' })
    expect(r.status).toBe(400)
    expect((r.json() as { error: { type: string } }).error.type).toBe('invalid_prompt_id')
    const id = '0b4c1b8a-3f1e-4c65-9d43-5a2b8f3e9c01'
    r = await postJson(f.url + '/prompt', { prompt: makeTxt2ImgPrompt(), prompt_id: id })
    expect(r.status).toBe(200)
    const stats = (await request(f.url + '/api/system_stats')).json() as {
      system: { os: string }
    }
    expect(stats.system.os).toBe('linux')
  })

  it('answers 500 text/plain to malformed JSON bodies', async () => {
    const f = await boot()
    for (const route of ['/prompt', '/queue', '/history', '/free']) {
      for (const body of ['{"prompt": ', '', 'null']) {
        const r = await request(f.url + route, { method: 'POST', body })
        expect(r.status, `${route} ${body}`).toBe(500)
        expect(r.headers['content-type']).toBe('text/plain; charset=utf-8')
        expect(r.text).toBe(TROUBLE)
      }
    }
    // text/plain JSON is accepted
    const r = await request(f.url + '/prompt', {
      method: 'POST',
      body: JSON.stringify({ prompt: makeTxt2ImgPrompt() }),
      headers: { 'Content-Type': 'text/plain' }
    })
    expect(r.status).toBe(200)
    // empty interrupt body is a global interrupt, not an error
    expect((await request(f.url + '/interrupt', { method: 'POST' })).status).toBe(200)
    const free = await postJson(f.url + '/free', { unload_models: true })
    expect(free.status).toBe(200)
    expect(free.body.length).toBe(0)
  })
})

describe('history and outputs', () => {
  it('keeps ComfyUI history entries, pages them oldest first, serves the PNGs', async () => {
    const f = await boot()
    for (const id of ['a', 'b', 'c']) {
      const r = await postJson(f.url + '/prompt', {
        prompt: makeTxt2ImgPrompt({ seed: id.charCodeAt(0) }),
        prompt_id: id,
        client_id: 'cli',
        extra_data: { extra_pnginfo: { workflow: { nodes: [] } }, api_key_comfy_org: 'secret' }
      })
      expect(r.status).toBe(200)
    }
    await f.waitForIdle()
    const all = (await request(f.url + '/history')).json() as Record<string, any>
    expect(Object.keys(all)).toEqual(['a', 'b', 'c'])
    const a = all.a
    expect(Object.keys(a)).toEqual(['prompt', 'outputs', 'status', 'meta'])
    expect(a.prompt).toHaveLength(5)
    expect(a.prompt[3]).toEqual({ extra_pnginfo: { workflow: { nodes: [] } }, client_id: 'cli' })
    expect(a.outputs).toEqual({
      '9': { images: [{ filename: 'ComfyUI_00001_.png', subfolder: '', type: 'output' }] }
    })
    expect(a.meta).toEqual({
      '9': { node_id: '9', display_node: '9', parent_node: null, real_node_id: '9' }
    })
    expect(a.status.status_str).toBe('success')
    expect(a.status.completed).toBe(true)
    expect(a.status.messages.map((m: unknown[]) => m[0])).toEqual([
      'execution_start',
      'execution_cached',
      'execution_success'
    ])
    expect(all.c.outputs['9'].images[0].filename).toBe('ComfyUI_00003_.png')

    const page = async (q: string): Promise<string[]> =>
      Object.keys((await request(`${f.url}/api/history${q}`)).json() as object)
    expect(await page('?max_items=2')).toEqual(['b', 'c'])
    expect(await page('?offset=1')).toEqual(['b', 'c'])
    expect(await page('?offset=1&max_items=1')).toEqual(['b'])
    expect(await page('?offset=5')).toEqual([])
    expect((await request(f.url + '/history?max_items=two')).status).toBe(500)
    expect((await request(f.url + '/history/nope')).json()).toEqual({})
    expect(Object.keys((await request(f.url + '/history/b')).json() as object)).toEqual(['b'])

    // /view serves a real PNG carrying the prompt and workflow
    const img = await request(
      `${f.url}/api/view?filename=ComfyUI_00001_.png&type=output&subfolder=`
    )
    expect(img.status).toBe(200)
    expect(img.headers['content-type']).toBe('image/png')
    expect(img.headers['content-disposition']).toBe('filename="ComfyUI_00001_.png"')
    const decoded = decodePng(img.body)
    expect(decoded.width).toBeGreaterThan(0)
    const text = readPngText(img.body)
    expect(JSON.parse(text.prompt ?? '{}')['3'].class_type).toBe('KSampler')
    expect(JSON.parse(text.workflow ?? '{}')).toEqual({ nodes: [] })
    const annotated = await request(
      `${f.url}/view?filename=${encodeURIComponent('ComfyUI_00002_.png [output]')}&type=temp`
    )
    expect(annotated.status).toBe(200)

    const bad = async (q: string): Promise<number> => (await request(`${f.url}/view?${q}`)).status
    expect(await bad('filename=../secret.png')).toBe(400)
    expect(await bad('filename=%2Fetc%2Fpasswd')).toBe(400)
    expect(await bad('filename=')).toBe(400)
    expect(await bad('filename=ComfyUI_00001_.png&type=models')).toBe(400)
    expect(await bad('filename=ComfyUI_00001_.png&subfolder=../..')).toBe(403)
    const missing = await request(`${f.url}/view?filename=nope.png`)
    expect(missing.status).toBe(404)
    expect(missing.body.length).toBe(0)
    expect(await bad('type=output')).toBe(404)

    // POST /history delete and clear
    expect((await postJson(f.url + '/history', { delete: ['a'] })).status).toBe(200)
    expect(f.historyIds()).toEqual(['b', 'c'])
    const cleared = await postJson(f.url + '/api/history', { clear: true })
    expect(cleared.body.length).toBe(0)
    expect((await request(f.url + '/history')).json()).toEqual({})
  })

  it('uploads like ComfyUI: reuse identical, rename different, overwrite on request', async () => {
    const f = await boot()
    const upload = async (
      bytes: Buffer,
      extra: Array<{ name: string; value: string }> = [],
      route = '/upload/image'
    ): Promise<{ status: number; json: () => unknown }> => {
      const form = multipart([
        { name: 'image', value: bytes, filename: 'cat.png', type: 'image/png' },
        ...extra
      ])
      return request(f.url + '/api' + route, {
        method: 'POST',
        body: form.body,
        headers: { 'Content-Type': form.contentType }
      })
    }
    const one = makePng({ seed: 1 })
    const two = makePng({ seed: 2 })
    expect((await upload(one)).json()).toEqual({ name: 'cat.png', subfolder: '', type: 'input' })
    expect((await upload(one)).json()).toEqual({ name: 'cat.png', subfolder: '', type: 'input' })
    expect((await upload(two)).json()).toEqual({
      name: 'cat (1).png',
      subfolder: '',
      type: 'input'
    })
    expect((await upload(two)).json()).toEqual({
      name: 'cat (1).png',
      subfolder: '',
      type: 'input'
    })
    const three = makePng({ seed: 3 })
    expect((await upload(three)).json()).toMatchObject({ name: 'cat (2).png' })
    expect((await upload(three, [{ name: 'overwrite', value: 'true' }])).json()).toMatchObject({
      name: 'cat.png'
    })
    const sub = await upload(one, [
      { name: 'subfolder', value: 'pets' },
      { name: 'type', value: 'temp' }
    ])
    expect(sub.json()).toEqual({ name: 'cat.png', subfolder: 'pets', type: 'temp' })
    expect((await upload(one, [{ name: 'type', value: 'models' }])).status).toBe(500)
    expect((await upload(one, [{ name: 'subfolder', value: '../..' }])).status).toBe(400)

    const noImage = multipart([{ name: 'type', value: 'input' }])
    const r = await request(f.url + '/upload/image', {
      method: 'POST',
      body: noImage.body,
      headers: { 'Content-Type': noImage.contentType }
    })
    expect(r.status).toBe(400)

    // the upload now satisfies LoadImage, and /object_info lists it
    const info = (await request(f.url + '/object_info/LoadImage')).json() as any
    expect(info.LoadImage.input.required.image[0]).toEqual([
      'cat (1).png',
      'cat (2).png',
      'cat.png'
    ])
    const prompt = {
      '1': { class_type: 'LoadImage', inputs: { image: 'cat.png' } },
      '2': { class_type: 'PreviewImage', inputs: { images: ['1', 0] } }
    }
    const queued = await postJson(f.url + '/prompt', { prompt, prompt_id: 'preview' })
    expect(queued.status).toBe(200)
    await f.waitForIdle()
    const images = (f.historyEntry('preview')?.outputs['2'] as any).images
    expect(images[0].type).toBe('temp')
    expect(images[0].filename).toMatch(/^ComfyUI_temp_[a-z]{5}_00001_\.png$/)
    const temp = await request(`${f.url}/view?filename=${images[0].filename}&type=temp`)
    expect(temp.status).toBe(200)
    prompt['1'].inputs.image = 'dog.png'
    const bad = await postJson(f.url + '/prompt', { prompt })
    expect((bad.json() as any).node_errors['1'].errors[0]).toEqual({
      type: 'custom_validation_failed',
      message: 'Custom validation failed for node',
      details: 'image - Invalid image file: dog.png',
      extra_info: { input_name: 'image' }
    })

    // a mask upload copies its alpha onto the original
    const mask = await upload(
      makePng({ seed: 9 }),
      [{ name: 'original_ref', value: JSON.stringify({ filename: 'cat.png', type: 'input' }) }],
      '/upload/mask'
    )
    expect(mask.json()).toMatchObject({ name: 'cat (3).png' })
  })
})

describe('info routes', () => {
  it('describes the system, features, nodes and models', async () => {
    const f = await boot({ name: 'box-1', models: { checkpoints: ['a.safetensors'] } })
    const stats = (await request(f.url + '/system_stats')).json() as any
    expect(stats.system).toMatchObject({
      os: 'posix',
      comfyui_version: '0.3.64',
      embedded_python: false
    })
    for (const k of ['ram_total', 'ram_free', 'python_version', 'pytorch_version', 'argv']) {
      expect(stats.system).toHaveProperty(k)
    }
    expect(stats.devices).toHaveLength(1)
    expect(stats.devices[0]).toMatchObject({ type: 'cuda', index: 0, vram_total: 25386352640 })
    expect(stats.devices[0].name).toMatch(/^cuda:0 NVIDIA GeForce RTX 4090 .*: cudaMallocAsync$/)
    expect(stats.devices[0].name).toContain('box-1')
    expect((await request(f.url + '/features')).json()).toEqual({
      supports_preview_metadata: true,
      max_upload_size: 104857600
    })
    const all = (await request(f.url + '/object_info')).json() as Record<string, any>
    expect(all.KSampler).toMatchObject({
      name: 'KSampler',
      output: ['LATENT'],
      output_node: false,
      category: 'sampling',
      python_module: 'nodes'
    })
    expect(all.KSampler.input_order.required[0]).toBe('model')
    expect(all.SaveImage.output_node).toBe(true)
    expect(all.CheckpointLoaderSimple.input.required.ckpt_name[0]).toEqual(['a.safetensors'])
    expect((await request(f.url + '/object_info/Nope')).json()).toEqual({})
    const folders = (await request(f.url + '/models')).json() as string[]
    expect(folders).toContain('checkpoints')
    expect(folders).toContain('loras')
    expect((await request(f.url + '/api/models/checkpoints')).json()).toEqual(['a.safetensors'])
    const nf = await request(f.url + '/models/nope')
    expect(nf.status).toBe(404)
    expect(nf.body.length).toBe(0)
    expect((await request(f.url + '/embeddings')).json()).toEqual(['easynegative'])
  })

  it('limits node classes and adds custom ones', async () => {
    const f = await boot({ nodeClasses: ['CheckpointLoaderSimple', 'SaveImage', 'IPAdapterApply'] })
    const all = (await request(f.url + '/object_info')).json() as Record<string, unknown>
    expect(Object.keys(all)).toEqual(['CheckpointLoaderSimple', 'SaveImage', 'IPAdapterApply'])
    const r = await postJson(f.url + '/prompt', { prompt: makeTxt2ImgPrompt() })
    expect((r.json() as any).error.message).toBe(
      'Cannot execute because node KSampler does not exist.'
    )
  })
})
