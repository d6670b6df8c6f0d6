/** A UI-format workflow (ComfyUI's plain "Save") runs as it is: converted with the fleet's nodes. */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { readPngText } from '../../src/main/core/jobs/png-text'
import { NeedsObjectInfoError } from '../../src/main/core/jobs/workflow'
import { makeCore, servers, tmp } from './helpers'

const UI = path.join(import.meta.dirname, '..', 'fixtures', 'ui', 'txt2img.json')

describe('UI-format workflows through the core', () => {
  it('converts with the servers object_info, runs, and the image keeps the graph', async () => {
    const [fake] = await servers(1, { jobMs: 20 })
    const dir = tmp()
    const core = makeCore([fake!.url], dir, { healthCheckInterval: 60_000 })
    core.start()
    await core.checkNow()
    const file = path.join(dir, 'txt2img.json')
    fs.copyFileSync(UI, file)
    const wf = await core.readWorkflow(file)
    expect(wf.converted).toBe(true)
    expect(wf.summary.classes).toContain('KSampler')
    const end = await core.jobs!.waitFor(core.jobs!.submit(wf).id)
    expect(end.state).toBe('done')
    const png = end.outputs.find((o) => o.path.endsWith('.png'))!
    const graph = JSON.parse(readPngText(fs.readFileSync(png.path)).get('workflow')!)
    expect(graph).toEqual(JSON.parse(fs.readFileSync(UI, 'utf8')))
  })

  it('says a server is needed when none is up', async () => {
    const [fake] = await servers(1)
    await fake!.setFault({ kind: 'refuse' })
    const core = makeCore([fake!.url], tmp(), { healthCheckInterval: 60_000 })
    core.start()
    await core.checkNow()
    await expect(core.loadWorkflow(fs.readFileSync(UI), 'txt2img.json')).rejects.toBeInstanceOf(
      NeedsObjectInfoError
    )
  })
})
