/**
 * The engine against what real and hostile servers do: a prompt removed by another user, a
 * workflow no server can run, a proxy that answers 504 while the server behind it queues the
 * prompt, a server that keeps no history, a server that takes prompts and never has them.
 */
import { describe, expect, it } from 'vitest'
import { makeCore, onCleanup, post, servers, sleep, tmp, until, workflow } from './helpers'
import { startProxy } from './proxy'

describe('a prompt removed on its server by someone else', () => {
  it('ends as cancelled on that server and is never sent again', async () => {
    const [fake] = await servers(1, { jobMs: 300 })
    fake!.enqueueDummy(2, 3) // our job waits behind two long ones
    const core = makeCore([fake!.url], tmp(), { healthCheckInterval: 60_000 })
    core.start()
    await core.checkNow()
    const job = core.jobs!.submit(workflow())
    await until(() => core.jobs!.get(job.id)!.state === 'queued')
    // Let the socket prove it is alive after the acceptance (a status broadcast).
    await until(() => fake!.queueSnapshot().pending.includes(job.id))
    await sleep(200)
    // The ComfyUI window's cancel: a delete from another client, no event of its own.
    expect(await post(fake!.url, '/api/queue', { delete: [job.id] })).toBe(200)
    const end = await core.jobs!.waitFor(job.id)
    expect(end.state).toBe('cancelled')
    expect(end.cancelledOn).toBeTruthy()
    expect(end.notes.at(-1)).toEqual({ code: 'cancelled-on', server: end.cancelledOn })
    await sleep(600)
    const q = fake!.queueSnapshot()
    expect(q.pending).not.toContain(job.id)
    expect(q.running).not.toContain(job.id)
    expect(fake!.executionCount(job.id)).toBe(0)
    expect(core.jobs!.get(job.id)!.reroutes).toBe(0)
  })
})

describe('a workflow that no server can run', () => {
  it('fails at once, naming what each server lacks, and posts nothing', async () => {
    const fleet = await servers(2, { models: { checkpoints: ['other-model.safetensors'] } })
    const core = makeCore(
      fleet.map((s) => s.url),
      tmp(),
      { healthCheckInterval: 60_000 }
    )
    core.start()
    await core.checkNow()
    const job = core.jobs!.submit(workflow())
    const end = await core.jobs!.waitFor(job.id)
    expect(end.state).toBe('failed')
    expect(end.attempts).toHaveLength(0)
    const said = end.error?.said
    expect(said?.code).toBe('none-can-run')
    const lacks = said?.code === 'none-can-run' ? said.servers : []
    expect(lacks).toHaveLength(2)
    expect(lacks.map((l) => l.text).join('\n')).toMatch(/v1-5-pruned-emaonly\.safetensors/)
    for (const s of fleet) expect(s.executionCount(job.id)).toBe(0)
  })

  it('waits (visibly) while a server that might run it is down', async () => {
    const [ok, down] = await servers(2, {}, (i) =>
      i === 0 ? { models: { checkpoints: ['other-model.safetensors'] } } : {}
    )
    await down!.setFault({ kind: 'refuse' })
    const core = makeCore([ok!.url, down!.url], tmp(), { healthCheckInterval: 60_000 })
    core.start()
    await core.checkNow()
    const job = core.jobs!.submit(workflow())
    await sleep(500)
    const j = core.jobs!.get(job.id)!
    expect(j.state).toBe('pending')
    expect(j.notes.map((n) => n.code)).toContain('waiting')
    await down!.setFault(null)
    await core.checkNow()
    const end = await core.jobs!.waitFor(job.id)
    expect(end.state).toBe('done')
    expect(end.serverUrl).toBe(down!.url)
  })
})

describe('the ambiguous submit', () => {
  it('a proxy answers 504 while the server behind it queues the prompt: it runs once', async () => {
    const [behind, other] = await servers(2, { jobMs: 100 })
    const proxy = await startProxy(behind!.url)
    onCleanup(() => proxy.close())
    proxy.hook = (req, res, forward) => {
      if (req.method !== 'POST' || !/^\/(api\/)?prompt$/.test(req.path)) return false
      res.writeHead(504, { 'Content-Type': 'text/html' })
      res.end('<html><body><h1>504 Gateway Time-out</h1></body></html>')
      // The server behind the proxy gets the prompt a moment later.
      setTimeout(() => void forward().catch(() => undefined), 1200)
      return true
    }
    const core = makeCore([proxy.url, other!.url], tmp(), { healthCheckInterval: 60_000 })
    core.start()
    await core.checkNow()
    const job = core.jobs!.submit(workflow())
    const end = await core.jobs!.waitFor(job.id)
    expect(end.state).toBe('done')
    await sleep(300)
    expect(behind!.executionCount(job.id) + other!.executionCount(job.id)).toBe(1)
    expect(behind!.executionCount(job.id)).toBe(1)
  })
})

describe('a server that keeps no history', () => {
  it('a job we saw run to its end is finished from its events, never queued again', async () => {
    const [fake] = await servers(1, { jobMs: 100 })
    const proxy = await startProxy(fake!.url)
    onCleanup(() => proxy.close())
    proxy.hook = (req, res) => {
      if (req.method !== 'GET' || !/^\/(api\/)?history/.test(req.path)) return false
      res.writeHead(200, { 'Content-Type': 'application/json' })
      res.end('{}')
      return true
    }
    const core = makeCore([proxy.url], tmp(), { healthCheckInterval: 60_000 })
    core.start()
    await core.checkNow()
    const job = core.jobs!.submit(workflow())
    const end = await core.jobs!.waitFor(job.id)
    expect(end.state).toBe('done')
    expect(end.reroutes).toBe(0)
    expect(end.outputs.length).toBeGreaterThan(0)
    await sleep(500)
    expect(fake!.executionCount(job.id)).toBe(1)
  })
})

describe('a server that accepts prompts and never has them', () => {
  it('fails the job after a few losses instead of sending it again and again', async () => {
    const [fake] = await servers(1)
    const proxy = await startProxy(fake!.url)
    onCleanup(() => proxy.close())
    let posts = 0
    proxy.hook = (req, res) => {
      if (req.method !== 'POST' || !/^\/(api\/)?prompt$/.test(req.path)) return false
      posts++
      const id = (JSON.parse(req.body.toString()) as { prompt_id: string }).prompt_id
      res.writeHead(200, { 'Content-Type': 'application/json' })
      res.end(JSON.stringify({ prompt_id: id, number: posts, node_errors: {} }))
      return true
    }
    const core = makeCore([proxy.url], tmp(), { healthCheckInterval: 60_000 })
    core.start()
    await core.checkNow()
    const job = core.jobs!.submit(workflow())
    const end = await core.jobs!.waitFor(job.id)
    expect(end.state).toBe('failed')
    expect(end.error?.said).toMatchObject({ code: 'lost-too-often', n: 3 })
    await sleep(600)
    expect(posts).toBe(3)
  })
})
