import { describe, expect, it } from 'vitest'
import { FleetState } from '../../src/renderer/src/lib/fleet-state.svelte'
import { filterOf, JobsState } from '../../src/renderer/src/lib/jobs-state.svelte'
import { LogView, lineText } from '../../src/renderer/src/lib/log-view.svelte'
import { SettingsForm } from '../../src/renderer/src/lib/settings-form.svelte'
import {
  MAX_WORKFLOW_BYTES,
  SubmitState,
  targetProblem
} from '../../src/renderer/src/lib/submit-state.svelte'
import type { AppSettings } from '../../src/shared/types'
import { fleet, server } from '../core/helpers'
import { fakeApi, makeJob, TXT2IMG_SUMMARY } from './fake-api'

const flush = () => new Promise((r) => setTimeout(r, 0))
const settings = {
  verboseLogging: false,
  healthCheckInterval: 30_000,
  timeout: 10_000,
  servers: []
} as unknown as AppSettings
const id = (n: number) => `00000000-0000-4000-8000-00000000000${n}`

function file(name: string, text = '{}', size?: number) {
  const bytes = new TextEncoder().encode(text)
  return { name, size: size ?? bytes.byteLength, arrayBuffer: async () => bytes.buffer }
}

describe('SubmitState', () => {
  it('reads a picked file, asks main what it is, and submits it to the target', async () => {
    const api = fakeApi({ status: fleet([server('gpu-1')], 'gpu-1'), settings })
    const submit = new SubmitState(api)
    expect(submit.canSubmit).toBe(false)
    await submit.pick(file('txt2img.json', '{"3":{}}'))
    expect(submit.workflow).toMatchObject({ name: 'txt2img.json', path: null })
    expect(submit.inspection).toEqual(TXT2IMG_SUMMARY)
    expect(submit.canSubmit).toBe(true)
    submit.target = 'gpu-1'
    const job = await submit.submit()
    expect(job?.pinnedServerId).toBe('gpu-1')
    const sent = api.calls.find(([c]) => c === 'jobs.submit')![1] as {
      name: string
      bytes: Uint8Array
    }
    expect(sent.name).toBe('txt2img.json')
    expect(new TextDecoder().decode(sent.bytes)).toBe('{"3":{}}')
    expect(submit.submitted?.id).toBe(job?.id)
  })

  it('sends the path in Electron, so the input images next to it go too', async () => {
    const api = fakeApi({ status: fleet([], null), settings })
    api.ui.pathForFile = () => '/home/me/flows/a.json'
    const submit = new SubmitState(api)
    await submit.pick(file('a.json'))
    await submit.submit()
    expect(api.calls.find(([c]) => c === 'jobs.submit')![1]).toEqual({
      path: '/home/me/flows/a.json',
      serverId: null
    })
  })

  it('refuses a huge file before reading it, and says why a submission failed', async () => {
    const api = fakeApi({ status: fleet([], null), settings })
    const submit = new SubmitState(api)
    await submit.pick(file('movie.png', '', MAX_WORKFLOW_BYTES + 1))
    expect(submit.tooLarge).toBe('movie.png')
    expect(api.calls).toEqual([])
    api.jobs.submit = () => Promise.reject(new Error('Unknown server "gpu-9"'))
    await submit.pick(file('a.json'))
    expect(await submit.submit()).toBeNull()
    expect(submit.error).toBe('Unknown server "gpu-9"')
    submit.clear()
    expect([submit.workflow, submit.error]).toEqual([null, null])
  })

  it('keeps only the last of two quick picks', async () => {
    const api = fakeApi({ status: fleet([], null), settings })
    let release: () => void = () => {}
    const slow = new Promise<void>((r) => (release = r))
    api.jobs.inspect = async (req) => {
      if ('name' in req && req.name === 'first.json') await slow
      return { ...TXT2IMG_SUMMARY, source: 'name' in req ? req.name : '' }
    }
    const submit = new SubmitState(api)
    const first = submit.pick(file('first.json'))
    await submit.pick(file('second.json'))
    release()
    await first
    expect(submit.workflow?.name).toBe('second.json')
  })

  it('says when the chosen server cannot take it now', () => {
    const status = fleet(
      [server('a'), server('b', { healthy: false }), server('c', { enabled: false })],
      'a'
    )
    expect(targetProblem(status, 'auto')).toBeNull()
    expect(targetProblem(status, 'a')).toBeNull()
    expect(targetProblem(status, 'b')).toBe('down')
    expect(targetProblem(status, 'c')).toBe('disabled')
    expect(targetProblem(status, 'gone')).toBe('unknown')
  })
})

describe('JobsState', () => {
  it('lists the journal newest first, follows pushes, and filters by state', async () => {
    const api = fakeApi({
      status: fleet([], null),
      settings,
      jobs: [
        makeJob({ id: id(1), createdAt: 1, state: 'done' }),
        makeJob({ id: id(2), createdAt: 2, state: 'failed' })
      ]
    })
    const jobs = new JobsState(api)
    const stop = jobs.start()
    // A push before the list arrives is kept.
    api.pushJob(makeJob({ id: id(3), createdAt: 3, state: 'running', updatedAt: 5 }))
    await flush()
    expect(jobs.loaded).toBe(true)
    expect(jobs.all.map((j) => j.id)).toEqual([id(3), id(2), id(1)])
    expect(jobs.counts).toEqual({ all: 3, active: 1, done: 1, failed: 1, cancelled: 0 })
    jobs.filter = 'failed'
    expect(jobs.visible.map((j) => j.id)).toEqual([id(2)])
    // An older record of a job never replaces a newer one.
    api.pushJob(makeJob({ id: id(3), createdAt: 3, state: 'queued', updatedAt: 4 }))
    expect(jobs.get(id(3))?.state).toBe('running')
    stop()
    expect(api.listenerCount()).toBe(0)
    expect(['pending', 'queued', 'running'].map((s) => filterOf(s as never))).toEqual([
      'active',
      'active',
      'active'
    ])
    expect(filterOf('interrupted')).toBe('failed')
  })

  it('keeps a push that overtook the answer of the same millisecond, and takes pushes in order', async () => {
    const api = fakeApi({ status: fleet([], null), settings, jobs: [] })
    const jobs = new JobsState(api)
    const stop = jobs.start()
    await flush()
    // The engine noted "waiting" in the millisecond the job was made; its push came first.
    const made = makeJob({ id: id(4), createdAt: 7, updatedAt: 7 })
    const noted = { ...made, notes: [{ at: 7, code: 'waiting', why: { code: 'no-healthy' } }] }
    api.pushJob(noted as never)
    jobs.add(made)
    expect(jobs.get(id(4))?.notes).toHaveLength(1)
    // Two pushes of one millisecond: the later one is the newer.
    api.pushJob({ ...noted, state: 'cancelled' } as never)
    expect(jobs.get(id(4))?.state).toBe('cancelled')
    stop()
  })

  it('acts on jobs through the API and keeps the error next to the job', async () => {
    const job = makeJob({
      id: id(1),
      state: 'done',
      outputs: [{ nodeId: '9', path: '/out/a.png', filename: 'a.png', type: 'output' }]
    })
    const api = fakeApi({ status: fleet([], null), settings, jobs: [job] })
    const jobs = new JobsState(api)
    jobs.start()
    await flush()
    await jobs.openOutput(job.id, '/out/a.png')
    await jobs.openFolder(job.id)
    await jobs.resubmit(job.id)
    expect(jobs.all).toHaveLength(2)
    expect(api.calls.map(([c]) => c)).toEqual([
      'jobs.openOutput',
      'jobs.openFolder',
      'jobs.resubmit'
    ])
    api.jobs.openFolder = () => Promise.reject(new Error('The output folder is no longer there'))
    await jobs.openFolder(job.id)
    expect(jobs.error).toEqual({ jobId: job.id, message: 'The output folder is no longer there' })
  })

  it('asks for each preview once, and names the node a job is at', async () => {
    const api = fakeApi({ status: fleet([], null), settings })
    const jobs = new JobsState(api)
    expect(jobs.thumbnail('/out/a.png')).toBeUndefined()
    expect(jobs.thumbnail('/out/a.png')).toBeUndefined()
    await flush()
    expect(jobs.thumbnail('/out/a.png')).toMatch(/^data:image\/png/)
    expect(api.calls.filter(([c]) => c === 'jobs.thumbnail')).toHaveLength(1)
    const job = makeJob({
      id: id(4),
      state: 'running',
      progress: { node: '3', value: 1, max: 20, nodesDone: 2, nodesTotal: 7 }
    })
    expect(jobs.nodeName(job)).toBeNull()
    jobs.add(job, TXT2IMG_SUMMARY.ok ? TXT2IMG_SUMMARY.summary.nodes : undefined)
    expect(jobs.nodeName(job)).toBe('KSampler')
  })
})

describe('SettingsForm', () => {
  it('checks numbers in the window first, saves good ones in engine units', async () => {
    const api = fakeApi({ status: fleet([], null), settings })
    const fleetState = new FleetState(api)
    fleetState.start()
    await flush()
    const form = new SettingsForm(fleetState)
    expect(await form.applyNumber('healthCheckInterval', '0.2')).toBe(false)
    expect(form.problem('healthCheckInterval')).toEqual({
      kind: 'check',
      problem: 'range',
      min: '0.5',
      max: '3600'
    })
    expect(api.calls).toEqual([])
    expect(await form.applyNumber('healthCheckInterval', '5')).toBe(true)
    expect(api.calls).toEqual([['settings.update', { healthCheckInterval: 5000 }]])
    expect(form.problem('healthCheckInterval')).toBeUndefined()
    expect(form.savedAt).not.toBeNull()
    // Unchanged: nothing sent.
    await form.applyNumber('healthCheckInterval', '5')
    expect(api.calls).toHaveLength(1)
  })

  it("shows main's refusal at the field, and picks the output folder", async () => {
    const api = fakeApi({ status: fleet([], null), settings })
    api.settings.update = async (patch) => ({
      settings: { ...settings, ...patch },
      problems: [{ path: 'outputDir', message: 'outputDir must be a folder path, got 1' }]
    })
    const fleetState = new FleetState(api)
    const form = new SettingsForm(fleetState)
    await form.chooseOutputDir()
    expect(form.problem('outputDir')).toEqual({
      kind: 'said',
      message: 'outputDir must be a folder path, got 1'
    })
    expect(api.calls).toEqual([['settings.chooseOutputDir']])
  })
})

describe('LogView', () => {
  it('clears the view (not the log) and copies what it shows', async () => {
    const line = (n: number) => ({ time: n * 1000, level: 'info' as const, message: `line ${n}` })
    const api = fakeApi({ status: fleet([], null), settings, logs: [line(1), line(2)] })
    const fleetState = new FleetState(api)
    fleetState.start()
    await flush()
    const view = new LogView(fleetState)
    expect(view.lines).toHaveLength(2)
    view.clear()
    expect(view.lines).toEqual([])
    api.pushLog(line(3))
    expect(view.lines.map((l) => l.message)).toEqual(['line 3'])
    expect(fleetState.logs).toHaveLength(3)
    expect(lineText({ time: 0, level: 'warn', message: 'Server down' }, () => '10:00:00')).toBe(
      '10:00:00 WARN    Server down'
    )
    let copied = ''
    Object.defineProperty(navigator, 'clipboard', {
      value: { writeText: async (t: string) => void (copied = t) },
      configurable: true
    })
    await view.copy(() => 'T')
    expect(copied).toBe('T INFO    line 3')
    expect(view.copied).toBe('ok')
  })
})
