/* eslint-disable @typescript-eslint/no-explicit-any -- JSON messages of a ComfyUI API */
import { describe, expect, it } from 'vitest'
import { startGateway } from '../../src/main/core/gateway'
import { makeCore, servers } from '../jobs/helpers'
import { getJson, onCleanup, postJson, setup, tmp, txt2img, until, WsClient } from './helpers'

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47])

/** A client that also keeps the binary frames, with the prompt running when each came. */
class BinaryClient extends WsClient {
  readonly frames: Buffer[] = []
  constructor(base: string, clientId: string) {
    super(base, clientId)
    this.ws.on('message', (d, bin) => {
      if (bin) this.frames.push(Buffer.from(d as Buffer))
    })
  }
  /** As ComfyUI's SaveImageWebsocket example reads them: the image after the 8-byte head. */
  images(): Buffer[] {
    return this.frames.filter((f) => f.readUInt32BE(0) === 1).map((f) => f.subarray(8))
  }
}

function metadataOf(frame: Buffer): { meta: any; image: Buffer } {
  const len = frame.readUInt32BE(4)
  return {
    meta: JSON.parse(frame.toString('utf8', 8, 8 + len)),
    image: frame.subarray(8 + len)
  }
}

describe('binary previews through the gateway', () => {
  it('go to the client whose prompt runs, as type 1, or type 4 after feature_flags', async () => {
    const { gw } = await setup(2, { jobMs: 300, previews: true })
    expect((await getJson(gw.url, '/features')).supports_preview_metadata).toBe(true)
    const plain = new BinaryClient(gw.url, 'plain')
    const meta = new BinaryClient(gw.url, 'meta')
    const idle = new BinaryClient(gw.url, 'idle')
    await Promise.all([plain.opened(), meta.opened(), idle.opened()])
    meta.ws.send(
      JSON.stringify({ type: 'feature_flags', data: { supports_preview_metadata: true } })
    )
    await until(() => meta.messages.some((m) => m.type === 'feature_flags'))
    const flags = meta.messages.find((m) => m.type === 'feature_flags')!
    expect(flags.data.supports_preview_metadata).toBe(true)

    const [a, b] = await Promise.all(
      ['plain', 'meta'].map((client_id, i) =>
        postJson(gw.url, '/prompt', {
          prompt: txt2img((p) => (p['3'].inputs.seed = i + 1)),
          client_id
        })
      )
    )
    await Promise.all([plain.finished(a!.json.prompt_id), meta.finished(b!.json.prompt_id)])

    // Type 1: [1][2 = PNG][PNG bytes], one per sampler step, as the server sent them.
    expect(plain.frames.length).toBeGreaterThan(0)
    for (const f of plain.frames) {
      expect(f.readUInt32BE(0)).toBe(1)
      expect(f.readUInt32BE(4)).toBe(2)
      expect(f.subarray(8, 12)).toEqual(PNG)
    }
    const steps = plain.of(a!.json.prompt_id).filter((t) => t === 'progress').length
    expect(plain.frames).toHaveLength(steps)

    // Type 4 for the client that asked: the metadata names its prompt and the sampler.
    expect(meta.frames.length).toBeGreaterThan(0)
    for (const f of meta.frames) {
      expect(f.readUInt32BE(0)).toBe(4)
      const { meta: m, image } = metadataOf(f)
      expect(m).toMatchObject({
        prompt_id: b!.json.prompt_id,
        node_id: '3',
        display_node_id: '3',
        image_type: 'image/png'
      })
      expect(image.subarray(0, 4)).toEqual(PNG)
    }
    // Nobody else's previews.
    expect(idle.frames).toEqual([])
  })

  it('a SaveImageWebsocket-style client and four script clients at once, over both servers', async () => {
    const { gw, fakes } = await setup(2, { jobMs: 300, previews: true })
    const images = new BinaryClient(gw.url, 'images')
    const scripts = ['a', 'b', 'c', 'd'].map((id) => new WsClient(gw.url, id))
    await Promise.all([images.opened(), ...scripts.map((c) => c.opened())])
    const ids = ['images', 'a', 'b', 'c', 'd']
    const posted = await Promise.all(
      ids.map((client_id, i) =>
        postJson(gw.url, '/prompt', {
          prompt: txt2img((p) => (p['3'].inputs.seed = 10 + i)),
          client_id
        })
      )
    )
    const pids = posted.map((r) => r.json.prompt_id as string)
    await Promise.all([images, ...scripts].map((c, i) => c.finished(pids[i]!, 20_000)))
    // Real PNGs for the image client, none of them for the script clients' sockets.
    expect(images.images().length).toBeGreaterThan(0)
    for (const png of images.images()) expect(png.subarray(0, 4)).toEqual(PNG)
    ;[images, ...scripts].forEach((c, i) => {
      for (const other of pids.filter((_, k) => k !== i)) expect(c.of(other)).toEqual([])
      expect(c.of(pids[i]!).filter((t) => t === 'execution_start')).toHaveLength(1)
    })
    // Spread over both servers, each prompt run once.
    expect(fakes.every((f) => f.historyIds().length > 0)).toBe(true)
    expect(fakes.flatMap((f) => f.historyIds()).sort()).toEqual([...pids].sort())
  })

  it('a server killed under a job: a new execution_start from the other, finished once', async () => {
    const { gw, fakes, core } = await setup(2, { jobMs: 1500 })
    const ws = new WsClient(gw.url, 'killed')
    await ws.opened()
    const r = await postJson(gw.url, '/prompt', { prompt: txt2img(), client_id: 'killed' })
    const pid = r.json.prompt_id as string
    await until(() => ws.of(pid).includes('execution_start'))
    const first = core.jobs!.get(pid)!.serverId
    const victim = fakes.find(
      (f) => f.url === core.status().servers.find((s) => s.id === first)!.url
    )!
    await victim.die()
    await ws.finished(pid, 30_000)
    const mine = ws.of(pid)
    expect(mine.filter((t) => t === 'execution_start')).toHaveLength(2)
    expect(mine.filter((t) => t === 'execution_success')).toHaveLength(1)
    expect(
      ws.messages.filter(
        (m) => m.type === 'executing' && m.data.node === null && m.data.prompt_id === pid
      )
    ).toHaveLength(1)
    const other = fakes.find((f) => f !== victim)!
    expect(other.executionCount(pid)).toBe(1)
    await until(() => core.jobs!.get(pid)!.state === 'done')
    expect(core.jobs!.get(pid)!.serverId).not.toBe(first)
  })
})

describe('a prompt whose end the gateway did not hear', () => {
  it('ends for its client when the job is done from the server’s history', async () => {
    // Without live sockets the server's events never come: the job ends from its history.
    const fakes = await servers(1, { jobMs: 100 })
    const dir = tmp()
    const core = makeCore([fakes[0]!.url], dir, {}, { live: false })
    core.start()
    await until(() => core.status().healthy === 1)
    const gw = await startGateway(core, { port: 0, dataDir: dir })
    onCleanup(() => gw.close())
    const ws = new WsClient(gw.url, 'unheard')
    await ws.opened()
    const r = await postJson(gw.url, '/prompt', { prompt: txt2img(), client_id: 'unheard' })
    const pid = r.json.prompt_id as string
    await until(() => core.jobs!.get(pid)?.state === 'done', 15_000)
    await ws.finished(pid, 5_000)
    expect(ws.of(pid)).toEqual(['execution_success', 'executing'])
    expect(fakes[0]!.executionCount(pid)).toBe(1)
    expect((await getJson(gw.url, `/history/${pid}`))[pid].status.status_str).toBe('success')
  })
})
