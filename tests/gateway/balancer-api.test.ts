/* eslint-disable @typescript-eslint/no-explicit-any -- JSON answers of the gateway */
/**
 * The gateway's balancer API (what the CLI uses when the app runs): who it says it is, submit
 * with the core's checks, the jobs list and one job (with a bounded wait for a change), the
 * saved outputs, cancel; JSON errors, bounded bodies, the gateway's access rules.
 */
import fs from 'node:fs'
import { describe, expect, it } from 'vitest'
import { FakeComfy } from '../../src/fake-comfy'
import { MAX_WORKFLOW_BYTES } from '../../src/main/core/app'
import { dataFolderKey } from '../../src/main/core/gateway/balancer-api'
import { FIXTURE } from '../jobs/helpers'
import { onCleanup, raw, setup, until } from './helpers'

const WF = fs.readFileSync(FIXTURE)

async function call(
  base: string,
  route: string,
  init: { method?: string; body?: string | Buffer; headers?: Record<string, string> } = {}
): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(base + route, init)
  const text = await res.text()
  let json: any = null
  try {
    json = JSON.parse(text)
  } catch {
    // not JSON
  }
  return { status: res.status, json, headers: res.headers }
}

const submit = (base: string, query: string, body: string | Buffer = WF) =>
  call(base, `/balancer/v1/jobs?${query}`, { method: 'POST', body })

const cancel = (base: string, body: unknown) =>
  call(base, '/balancer/v1/cancel', {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' }
  })

describe('who the gateway is', () => {
  it('answers info as the app, with its API header; a plain ComfyUI does not', async () => {
    const { gw, dir } = await setup(1)
    const info = await call(gw.url, '/balancer/v1/info')
    expect(info.status).toBe(200)
    expect(info.json).toMatchObject({ app: 'comfy-balancer', api: 1, dataKey: dataFolderKey(dir) })
    expect(info.json.dataKey).not.toBe(dataFolderKey(`${dir}-other`))
    expect(JSON.stringify(info.json)).not.toContain(dir)
    expect(typeof info.json.version).toBe('string')
    expect(info.headers.get('x-comfy-balancer-api')).toBe('1')
    const plain = new FakeComfy({})
    await plain.start()
    onCleanup(() => plain.stop())
    const other = await call(plain.url, '/balancer/v1/info')
    expect(other.json?.app).not.toBe('comfy-balancer')
    expect(other.headers.get('x-comfy-balancer-api')).toBeNull()
  })

  it('unknown routes of the API are JSON 404s, not passed to a server', async () => {
    const { gw } = await setup(1)
    const r = await call(gw.url, '/balancer/v1/nothing')
    expect(r.status).toBe(404)
    expect(r.json.error.code).toBe('not-found')
    const wrong = await call(gw.url, '/balancer/v1/info', { method: 'DELETE' })
    expect(wrong.status).toBe(405)
  })

  it('keeps the gateway rules: the token, the Host header', async () => {
    const token = 'a-token-of-twenty-chars'
    const { gw } = await setup(1, {}, { token })
    expect((await call(gw.url, '/balancer/v1/info')).status).toBe(401)
    const ok = await call(gw.url, '/balancer/v1/info', {
      headers: { Authorization: `Bearer ${token}` }
    })
    expect(ok.json.app).toBe('comfy-balancer')
    const r = await submit(gw.url, 'source=a.json')
    expect(r.status).toBe(401)
    const foreign = await raw(gw.url, {
      path: '/balancer/v1/info',
      headers: { Host: 'evil.example', Authorization: `Bearer ${token}` }
    })
    expect(foreign.status).toBe(403)
  })
})

describe('submit', () => {
  it('journals the job in the engine, runs it, lists it and serves its saved output', async () => {
    const { gw, core, dir } = await setup(2)
    const r = await submit(gw.url, 'source=txt2img.json')
    expect(r.status).toBe(200)
    expect(r.json.batchId).toBeNull()
    expect(r.json.workflow).toMatchObject({ source: 'txt2img.json', nodes: 7 })
    const id = r.json.jobs[0].id
    expect(core.jobs!.get(id)?.source).toBe('txt2img.json')
    expect(fs.readFileSync(`${dir}/jobs.jsonl`, 'utf8')).toContain(id)
    // One job with a wait: answers when it changed after `since`.
    let seen = r.json.jobs[0]
    while (!['done', 'failed'].includes(seen.state)) {
      const one = await call(gw.url, `/balancer/v1/jobs/${id}?since=${seen.updatedAt}&wait=5000`)
      expect(one.status).toBe(200)
      seen = one.json.job
    }
    expect(seen.state).toBe('done')
    const list = await call(gw.url, '/balancer/v1/jobs')
    expect(list.json.jobs.map((j: any) => j.id)).toContain(id)
    expect(list.json).toMatchObject({ paused: false, truncated: false })
    const saved = core.jobs!.get(id)!.outputs[0]!
    const file = await fetch(`${gw.url}/balancer/v1/jobs/${id}/outputs/0`)
    expect(file.status).toBe(200)
    expect(Buffer.from(await file.arrayBuffer())).toEqual(fs.readFileSync(saved.path))
    expect((await call(gw.url, `/balancer/v1/jobs/${id}/outputs/9`)).json.error.code).toBe(
      'unknown-output'
    )
  })

  it('pins a server of the app, makes a batch, sets the priority', async () => {
    const { gw, core, fakes } = await setup(2, { jobMs: 3000 })
    const sid = core.settings.servers[1]!.id
    const r = await submit(
      gw.url,
      `source=txt2img.json&server=${encodeURIComponent(fakes[1]!.url)}&count=3&seed=increment&priority=high`
    )
    expect(r.status).toBe(200)
    expect(r.json.jobs).toHaveLength(3)
    const batchId = r.json.batchId
    expect(core.jobs!.batchJobs(batchId).map((j) => j.pinnedServerId)).toEqual([sid, sid, sid])
    expect(
      core.jobs!.batchJobs(batchId).every((j) => j.priority === 'high' || j.state !== 'pending')
    ).toBe(true)
    const batch = await call(gw.url, `/balancer/v1/jobs?batch=${batchId}`)
    expect(batch.json.jobs).toHaveLength(3)
  })

  it('refuses what the core refuses, as JSON', async () => {
    const { gw } = await setup(1)
    const bad = await submit(gw.url, 'source=x.json', '{"not": "a workflow"')
    expect(bad.status).toBe(400)
    expect(bad.json.error.code).toBe('bad-workflow')
    expect(bad.json.error.message).toContain('x.json')
    const server = await submit(gw.url, 'source=a.json&server=http://127.0.0.1:1')
    expect(server.status).toBe(400)
    expect(server.json.error.code).toBe('unknown-server')
    expect((await submit(gw.url, 'source=a.json&count=0')).json.error.code).toBe('bad-option')
    expect((await submit(gw.url, 'source=a.json&seed=odd')).json.error.code).toBe('bad-option')
    expect((await submit(gw.url, 'source=a.json&priority=urgent')).json.error.code).toBe(
      'bad-option'
    )
    expect((await submit(gw.url, 'source=')).json.error.code).toBe('bad-option')
    expect((await submit(gw.url, 'source=a.json&baseDir=relative')).json.error.code).toBe(
      'bad-option'
    )
    const big = await submit(gw.url, 'source=big.json', Buffer.alloc(MAX_WORKFLOW_BYTES + 1, 32))
    expect(big.status).toBe(413)
    expect(big.json.error.code).toBe('too-large')
  })
})

describe('cancel', () => {
  it('cancels one job (by the start of its id), a batch, and all', async () => {
    const { gw, core } = await setup(1, { jobMs: 10_000 })
    const one = (await submit(gw.url, 'source=a.json')).json.jobs[0].id
    const r = await cancel(gw.url, { id: one.slice(0, 8) })
    expect(r.status).toBe(200)
    expect(r.json.cancelled.map((j: any) => j.id)).toEqual([one])
    expect(core.jobs!.get(one)!.state).toBe('cancelled')
    // Already ended: nothing cancelled, the job named.
    const again = await cancel(gw.url, { id: one })
    expect(again.json).toMatchObject({ cancelled: [], matched: [{ id: one, state: 'cancelled' }] })

    const b = (await submit(gw.url, 'source=b.json&count=2')).json.batchId
    const rb = await cancel(gw.url, { batch: b })
    expect(rb.json.cancelled).toHaveLength(2)
    expect(core.jobs!.batchJobs(b).every((j) => j.state === 'cancelled')).toBe(true)

    const c1 = (await submit(gw.url, 'source=c.json')).json.jobs[0].id
    const c2 = (await submit(gw.url, 'source=d.json')).json.jobs[0].id
    const all = await cancel(gw.url, { all: true })
    expect(all.json.cancelled.map((j: any) => j.id).sort()).toEqual([c1, c2].sort())
    await until(() => core.jobs!.jobs().every((j) => j.state === 'cancelled'))

    expect((await cancel(gw.url, { id: 'nothing-like-it' })).status).toBe(404)
    expect((await cancel(gw.url, { batch: 'nothing-like-it' })).status).toBe(404)
    expect((await cancel(gw.url, { id: 'a', all: true })).json.error.code).toBe('bad-option')
    expect((await cancel(gw.url, 'not json')).json.error.code).toBe('bad-json')
  })
})
