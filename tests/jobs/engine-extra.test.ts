/** The job carries its UI graph and, for gateway clients, their own prompt id and extra_data. */
import fs from 'node:fs'
import { describe, expect, it } from 'vitest'
import { readPngText } from '../../src/main/core/jobs/png-text'
import { makeCore, servers, tmp, workflow } from './helpers'

describe('what travels with a job', () => {
  it("the workflow's UI graph goes as extra_pnginfo, so saved images open it in ComfyUI", async () => {
    const [fake] = await servers(1, { jobMs: 20 })
    const core = makeCore([fake!.url], tmp(), { healthCheckInterval: 60_000 })
    core.start()
    await core.checkNow()
    const graph = { last_node_id: 1, nodes: [{ id: 1, type: 'KSampler' }], links: [], version: 0.4 }
    const wf = { ...workflow(), graph }
    const end = await core.jobs!.waitFor(core.jobs!.submit(wf).id)
    expect(end.state).toBe('done')
    const png = end.outputs.find((o) => o.path.endsWith('.png'))!
    const text = readPngText(fs.readFileSync(png.path))
    expect(JSON.parse(text.get('workflow')!)).toEqual(graph)
    // Kept in the journal: a re-send after a restart carries it too.
    expect(core.jobs!.get(end.id)).toBeDefined()
  })

  it("keeps a client's prompt id and extra_data, and refuses the same id twice", async () => {
    const [fake] = await servers(1, { jobMs: 20 })
    const core = makeCore([fake!.url], tmp(), { healthCheckInterval: 60_000 })
    core.start()
    await core.checkNow()
    const id = 'client-chosen-1'
    const job = core.jobs!.submit(workflow(), {
      promptId: id,
      extraData: { extra_pnginfo: { workflow: { nodes: [], links: [] } }, client_note: 'x' }
    })
    expect(job.id).toBe(id)
    const end = await core.jobs!.waitFor(id)
    expect(end.state).toBe('done')
    expect(fake!.historyIds()).toContain(id)
    expect(() => core.jobs!.submit(workflow(), { promptId: id })).toThrow(/already exists/)
    expect(() => core.jobs!.submit(workflow(), { promptId: 'a b' })).toThrow(/visible characters/)
    expect(fake!.executionCount(id)).toBe(1)
  })
})
