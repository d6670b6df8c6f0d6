/** The job carries its UI graph and, for gateway clients, their own prompt id and extra_data. */
import fs from 'node:fs'
import { describe } from 'vitest'
import { readPngText } from '../../src/main/core/jobs/png-text'
import { expect, test } from '../harness'
import { workflow } from './helpers'

describe('what travels with a job', () => {
  test("the workflow's UI graph goes as extra_pnginfo, so saved images open it in ComfyUI", async ({
    fleet,
    core
  }) => {
    const [fake] = await fleet(1, { jobMs: 20 })
    const c = await core([fake!.url], { settings: { healthCheckInterval: 60_000 } })
    const graph = { last_node_id: 1, nodes: [{ id: 1, type: 'KSampler' }], links: [], version: 0.4 }
    const end = await c.jobs!.waitFor(c.jobs!.submit({ ...workflow(), graph }).id)
    expect(end.state).toBe('done')
    const png = end.outputs.find((o) => o.path.endsWith('.png'))!
    const text = readPngText(fs.readFileSync(png.path))
    expect(JSON.parse(text.get('workflow')!)).toEqual(graph)
  })

  test("keeps a client's prompt id and extra_data, and refuses the same id twice", async ({
    fleet,
    core
  }) => {
    const [fake] = await fleet(1, { jobMs: 20 })
    const c = await core([fake!.url], { settings: { healthCheckInterval: 60_000 } })
    const id = 'client-chosen-1'
    const job = c.jobs!.submit(workflow(), {
      promptId: id,
      extraData: { extra_pnginfo: { workflow: { nodes: [], links: [] } }, client_note: 'x' }
    })
    expect(job.id).toBe(id)
    const end = await c.jobs!.waitFor(id)
    expect(end.state).toBe('done')
    expect(fake!.historyIds()).toContain(id)
    expect(() => c.jobs!.submit(workflow(), { promptId: id })).toThrow(/already exists/)
    expect(() => c.jobs!.submit(workflow(), { promptId: 'a b' })).toThrow(/visible characters/)
    expect(fake!.executionCount(id)).toBe(1)
  })
})
