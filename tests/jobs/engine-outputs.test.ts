/**
 * Saving outputs: a failed download leaves the job "done with missing outputs", a large output
 * on a slow link still arrives (no total deadline), many outputs with one name are all kept,
 * and input images are only read from inside the workflow's folder (links followed).
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadWorkflowBytes } from '../../src/main/core/jobs/workflow'
import { makeCore, servers, tmp } from './helpers'

function saveFileWorkflow(inputs: Record<string, unknown>) {
  const prompt = { '1': { class_type: 'FakeSaveFile', inputs } }
  return loadWorkflowBytes(Buffer.from(JSON.stringify(prompt)), 'files.json')
}

describe('saving outputs', () => {
  it('a /view that fails for the only output makes the job done with a missing output', async () => {
    const [fake] = await servers(1, { jobMs: 20 })
    await fake!.setFault({ kind: 'view-status', status: 500 })
    const core = makeCore([fake!.url], tmp(), { healthCheckInterval: 60_000 })
    core.start()
    await core.checkNow()
    const job = core.jobs!.submit(saveFileWorkflow({ filename: 'only.png', bytes: 2048 }))
    const end = await core.jobs!.waitFor(job.id)
    expect(end.state).toBe('done')
    expect(end.outputs).toHaveLength(0)
    expect(end.missingOutputs).toBe(1)
    expect(end.notes.at(-1)).toMatchObject({
      code: 'missing-outputs',
      over: null,
      files: [{ file: 'only.png', why: { code: 'http', status: 500 } }]
    })
  })

  it('a 6 MB output at 2 MB/s arrives although it takes longer than the request timeout', async () => {
    const [fake] = await servers(1, { jobMs: 20 })
    await fake!.setFault({ kind: 'view-slow', bytesPerSec: 2 * 1024 * 1024 })
    const core = makeCore([fake!.url], tmp(), { healthCheckInterval: 60_000, timeout: 1000 })
    core.start()
    await core.checkNow()
    const size = 6 * 1024 * 1024
    const job = core.jobs!.submit(saveFileWorkflow({ filename: 'big.png', bytes: size }))
    const end = await core.jobs!.waitFor(job.id)
    expect(end.state).toBe('done')
    expect(end.missingOutputs ?? 0).toBe(0)
    expect(end.outputs).toHaveLength(1)
    expect(fs.statSync(end.outputs[0]!.path).size).toBe(size)
    // No temporary file is left behind.
    expect(fs.readdirSync(path.dirname(end.outputs[0]!.path))).toEqual(['big.png'])
  }, 30_000)

  it('keeps 300 outputs that share one name, each under its own name', async () => {
    const [fake] = await servers(1, { jobMs: 20 })
    const core = makeCore([fake!.url], tmp(), { healthCheckInterval: 60_000 })
    core.start()
    await core.checkNow()
    const job = core.jobs!.submit(
      saveFileWorkflow({ filename: 'same.png', bytes: 16, count: 300, subfolders: 'different' })
    )
    const end = await core.jobs!.waitFor(job.id)
    expect(end.state).toBe('done')
    expect(end.outputs).toHaveLength(300)
    expect(new Set(end.outputs.map((o) => o.path)).size).toBe(300)
  }, 30_000)

  it('never saves a server-named program under its runnable extension', async () => {
    const [fake] = await servers(1, { jobMs: 20 })
    const core = makeCore([fake!.url], tmp(), { healthCheckInterval: 60_000 })
    core.start()
    await core.checkNow()
    const job = core.jobs!.submit(saveFileWorkflow({ filename: 'evil.bat', bytes: 16 }))
    const end = await core.jobs!.waitFor(job.id)
    expect(end.outputs).toHaveLength(1)
    expect(end.outputs[0]!.path).not.toMatch(/\.bat$/)
  })
})

describe('input images next to the workflow', () => {
  it('a link in the workflow folder pointing outside it is not uploaded', async () => {
    const [fake] = await servers(1, { jobMs: 20 })
    const dir = tmp()
    const outside = tmp()
    fs.writeFileSync(path.join(outside, 'secret.png'), 'not for the server')
    fs.symlinkSync(path.join(outside, 'secret.png'), path.join(dir, 'photo.png'))
    const core = makeCore([fake!.url], tmp(), { healthCheckInterval: 60_000 })
    core.start()
    await core.checkNow()
    const prompt = {
      '1': { class_type: 'LoadImage', inputs: { image: 'photo.png' } },
      '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'x' } }
    }
    const wf = loadWorkflowBytes(Buffer.from(JSON.stringify(prompt)), 'wf.json')
    const job = core.jobs!.submit(wf, { baseDir: dir })
    const end = await core.jobs!.waitFor(job.id)
    // Not uploaded: the server's own check refuses the missing image.
    expect(end.state).toBe('failed')
    // The server's input folder, as LoadImage's option list shows it.
    const info = (await (await fetch(`${fake!.url}/api/object_info/LoadImage`)).json()) as {
      LoadImage: { input: { required: { image: [string[]] } } }
    }
    const files = info.LoadImage.input.required.image[0]
    expect(files).not.toContain('photo.png')
    // The same name as a plain file in the folder is uploaded.
    fs.rmSync(path.join(dir, 'photo.png'))
    fs.copyFileSync(path.join(outside, 'secret.png'), path.join(dir, 'photo.png'))
    const again = await core.jobs!.waitFor(core.jobs!.submit(wf, { baseDir: dir }).id)
    expect(again.state).toBe('done')
  })
})
