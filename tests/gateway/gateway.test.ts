/* eslint-disable @typescript-eslint/no-explicit-any -- JSON answers of a ComfyUI API */
import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { fakeFileBytes } from '../../src/fake-comfy'
import { startGateway } from '../../src/main/core/gateway'
import { getJson, postJson, setup, txt2img, until, WsClient } from './helpers'

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47])

describe('a ComfyUI client through the gateway', () => {
  it('runs the websocket example: prompt, events until executing null, history, view', async () => {
    const { gw, fakes } = await setup(2)
    const clientId = randomUUID()
    const ws = new WsClient(gw.url, clientId)
    await ws.opened()
    await until(() => ws.messages.length > 0)
    expect(ws.messages[0]).toEqual({
      type: 'status',
      data: { status: { exec_info: { queue_remaining: 0 } }, sid: clientId }
    })
    const promptId = randomUUID()
    const r = await postJson(gw.url, '/prompt', {
      prompt: txt2img(),
      client_id: clientId,
      prompt_id: promptId
    })
    expect(r.status).toBe(200)
    expect(r.json).toEqual({ prompt_id: promptId, number: 0, node_errors: {} })
    await ws.finished(promptId)
    const mine = ws.of(promptId)
    expect(mine[0]).toBe('execution_start')
    expect(mine).toContain('executed')
    expect(mine.indexOf('execution_success')).toBeLessThan(mine.lastIndexOf('executing'))
    expect(mine.at(-1)).toBe('executing')
    // The client's prompt id is the job's: the server ran it under that id.
    expect(fakes.flatMap((f) => f.historyIds())).toEqual([promptId])

    const hist = await getJson(gw.url, `/history/${promptId}`)
    const entry = hist[promptId]
    expect(entry.status.status_str).toBe('success')
    expect(entry.prompt[1]).toBe(promptId)
    expect(entry.prompt[3].client_id).toBe(clientId)
    const images = entry.outputs['9'].images
    expect(images.length).toBeGreaterThan(0)
    for (const img of images) {
      const q = new URLSearchParams({
        filename: img.filename,
        subfolder: img.subfolder,
        type: img.type
      })
      const res = await fetch(`${gw.url}/view?${q}`)
      expect(res.status).toBe(200)
      const bytes = Buffer.from(await res.arrayBuffer())
      expect(bytes.subarray(0, 4)).toEqual(PNG)
    }
    // Also under /api, as the ComfyUI window calls it.
    expect(Object.keys(await getJson(gw.url, '/api/history?max_items=5'))).toEqual([promptId])
    expect(await getJson(gw.url, '/api/prompt')).toEqual({ exec_info: { queue_remaining: 0 } })
  })

  it('sends a prompt’s events only to the socket that posted it', async () => {
    const { gw } = await setup(2)
    const a = new WsClient(gw.url, 'client-a')
    const b = new WsClient(gw.url, 'client-b')
    await Promise.all([a.opened(), b.opened()])
    const r = await postJson(gw.url, '/prompt', { prompt: txt2img(), client_id: 'client-a' })
    const pid = r.json.prompt_id
    await a.finished(pid)
    expect(b.of(pid)).toEqual([])
    // Both see the gateway's queue rise and fall.
    for (const c of [a, b]) {
      const counts = c.messages
        .filter((m) => m.type === 'status')
        .map((m) => m.data.status.exec_info.queue_remaining)
      expect(counts).toContain(1)
    }
    await until(
      () =>
        b.messages.filter((m) => m.type === 'status').at(-1)?.data.status.exec_info
          .queue_remaining === 0
    )
  })
})

describe('several clients at once', () => {
  it('four script clients finish, each with its own events, spread over the servers', async () => {
    const { gw, fakes } = await setup(2, { jobMs: 300 })
    const clients = ['a', 'b', 'c', 'd'].map((id) => ({ id, ws: new WsClient(gw.url, id) }))
    await Promise.all(clients.map((c) => c.ws.opened()))
    const posted = await Promise.all(
      clients.map((c, i) =>
        postJson(gw.url, '/prompt', {
          prompt: txt2img((p) => (p['3'].inputs.seed = i)),
          client_id: c.id
        })
      )
    )
    const pids = posted.map((r) => r.json.prompt_id as string)
    expect(new Set(pids).size).toBe(4)
    await Promise.all(clients.map((c, i) => c.ws.finished(pids[i]!, 20_000)))
    clients.forEach((c, i) => {
      for (const other of pids.filter((_, k) => k !== i)) expect(c.ws.of(other)).toEqual([])
      expect(c.ws.of(pids[i]!).filter((t) => t === 'execution_start')).toHaveLength(1)
    })
    expect(fakes.every((f) => f.historyIds().length > 0)).toBe(true)
    const hist = await getJson(gw.url, '/history')
    expect(Object.keys(hist).sort()).toEqual([...pids].sort())
  })
})

describe('refusals in ComfyUI’s shapes', () => {
  it('an unknown class, a model no server has, no prompt, bad JSON', async () => {
    const { gw } = await setup(2, {}, {}, (i) =>
      i === 1 ? { models: { checkpoints: ['only-on-b.safetensors'] } } : {}
    )
    const unknown = await postJson(gw.url, '/prompt', {
      prompt: txt2img((p) => (p['8'].class_type = 'NoSuchNode'))
    })
    expect(unknown.status).toBe(400)
    expect(unknown.json).toEqual({
      error: {
        type: 'invalid_prompt',
        message: 'Cannot execute because node NoSuchNode does not exist.',
        details: "Node ID '#8'",
        extra_info: {}
      },
      node_errors: {}
    })
    const missing = await postJson(gw.url, '/prompt', {
      prompt: txt2img((p) => (p['4'].inputs.ckpt_name = 'missing.safetensors'))
    })
    expect(missing.status).toBe(400)
    expect(missing.json.error.type).toBe('prompt_outputs_failed_validation')
    const err = missing.json.node_errors['4']
    expect(err.class_type).toBe('CheckpointLoaderSimple')
    expect(err.dependent_outputs).toEqual(['9'])
    expect(err.errors[0].type).toBe('value_not_in_list')
    expect(err.errors[0].extra_info.received_value).toBe('missing.safetensors')
    // The list is the fleet's: a model only server B has is offered.
    expect(err.errors[0].extra_info.input_config[0]).toContain('only-on-b.safetensors')
    const onB = await postJson(gw.url, '/prompt', {
      prompt: txt2img((p) => (p['4'].inputs.ckpt_name = 'only-on-b.safetensors'))
    })
    expect(onB.status).toBe(200)

    const none = await postJson(gw.url, '/prompt', { client_id: 'x' })
    expect(none.status).toBe(400)
    expect(none.json.error.type).toBe('no_prompt')
    const bad = await postJson(gw.url, '/prompt', '{not json')
    expect(bad.status).toBe(500)
    expect(bad.type).toMatch(/^text\/plain/)
    const noOut = await postJson(gw.url, '/prompt', {
      prompt: txt2img((p) => delete p['9'])
    })
    expect(noOut.json.error.type).toBe('prompt_no_outputs')
    // Nothing refused became a job.
    expect((await getJson(gw.url, '/queue')).queue_pending.length).toBeLessThanOrEqual(1)
  })

  it('fleet info is the union of the servers', async () => {
    const { gw } = await setup(2, {}, {}, (i) =>
      i === 1
        ? { models: { loras: ['b-only.safetensors'] }, gpuName: 'GPU B' }
        : { gpuName: 'GPU A' }
    )
    const loras = await getJson(gw.url, '/models/loras')
    expect(loras).toContain('b-only.safetensors')
    expect(loras).toContain('add_detail.safetensors')
    expect((await fetch(`${gw.url}/models/no-such-folder`)).status).toBe(404)
    const stats = await getJson(gw.url, '/system_stats')
    expect(stats.devices).toHaveLength(2)
    expect(stats.devices.map((d: any) => d.name).join(' ')).toMatch(/GPU A.*GPU B|GPU B.*GPU A/)
    const ks = await getJson(gw.url, '/object_info/KSampler')
    expect(Object.keys(ks)).toEqual(['KSampler'])
    expect(await getJson(gw.url, '/object_info/NoSuch')).toEqual({})
    const lora = await getJson(gw.url, '/object_info/LoraLoader')
    expect(lora.LoraLoader.input.required.lora_name[0]).toContain('b-only.safetensors')
  })
})

describe('files', () => {
  it('streams a few MB from the server that made the file, and caps the size', async () => {
    const { gw, core } = await setup(2)
    const size = 5 * 1024 * 1024 + 123
    const r = await postJson(gw.url, '/prompt', {
      prompt: { '1': { class_type: 'FakeSaveFile', inputs: { filename: 'big.bin', bytes: size } } },
      client_id: 'c'
    })
    expect(r.status).toBe(200)
    const pid = r.json.prompt_id
    await until(() => {
      const j = core.jobs!.jobs()[0]
      return j?.state === 'done'
    }, 20_000)
    const entry = (await getJson(gw.url, `/history/${pid}`))[pid]
    const f = entry.outputs['1'].images[0]
    const q = new URLSearchParams({ filename: f.filename, subfolder: f.subfolder, type: f.type })
    const res = await fetch(`${gw.url}/view?${q}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-length')).toBe(String(size))
    const got = Buffer.from(await res.arrayBuffer())
    expect(got.length).toBe(size)
    expect(got.equals(fakeFileBytes(0, 0, size))).toBe(true)

    const small = await startGateway(core, { port: 0, maxViewBytes: 1024 * 1024 })
    try {
      expect((await fetch(`${small.url}/view?${q}`)).status).toBe(413)
    } finally {
      await small.close()
    }
    expect((await fetch(`${gw.url}/view?filename=../etc/passwd`)).status).toBe(400)
    expect((await fetch(`${gw.url}/view?filename=nope.png`)).status).toBe(404)
  })

  it('keeps uploads, answers ComfyUI’s shape, and a LoadImage job gets the image on its server', async () => {
    const { gw, core } = await setup(2)
    const bytes = Buffer.from('\x89PNG\r\n\x1a\nfake image bytes for the gateway test')
    const up = async (data: Buffer, name = 'photo.png') => {
      const form = new FormData()
      form.append('image', new Blob([data]), name)
      const res = await fetch(`${gw.url}/upload/image`, { method: 'POST', body: form })
      return { status: res.status, json: (res.status === 200 ? await res.json() : null) as any }
    }
    expect(await up(bytes)).toEqual({
      status: 200,
      json: { name: 'photo.png', subfolder: '', type: 'input' }
    })
    expect((await up(bytes)).json.name).toBe('photo.png')
    expect((await up(Buffer.concat([bytes, Buffer.from('x')]))).json.name).toBe('photo (1).png')
    const noImage = await fetch(`${gw.url}/upload/image`, { method: 'POST', body: new FormData() })
    expect(noImage.status).toBe(400)
    // The uploaded file is viewable as an input.
    const v = await fetch(`${gw.url}/view?filename=photo.png&type=input`)
    expect(Buffer.from(await v.arrayBuffer()).equals(bytes)).toBe(true)
    // A prompt naming it passes the fleet check (no server lists it) and its server gets it.
    const r = await postJson(gw.url, '/prompt', {
      prompt: {
        '1': { class_type: 'LoadImage', inputs: { image: 'photo.png' } },
        '2': { class_type: 'PreviewImage', inputs: { images: ['1', 0] } }
      },
      client_id: 'c'
    })
    expect(r.status).toBe(200)
    await until(() => {
      const j = core.jobs!.jobs()[0]
      return j !== undefined && ['done', 'failed'].includes(j.state)
    })
    const j = core.jobs!.jobs()[0]!
    expect(j.error).toBeNull()
    expect(j.state).toBe('done')
  })
})
