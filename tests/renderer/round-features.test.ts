// @vitest-environment jsdom
/**
 * The window's UI-workflow card, variations before Submit, the batch card with its gallery, the
 * job states for missing outputs / cancels on a server / waiting for one, and the gateway panel.
 */
import { cleanup, fireEvent, render, screen, within } from '@testing-library/svelte'
import { tick } from 'svelte'
import { afterEach, describe, expect, it } from 'vitest'
import App from '../../src/renderer/src/App.svelte'
import { batchView } from '../../src/renderer/src/lib/batch'
import { parsePort } from '../../src/renderer/src/lib/gateway-state.svelte'
import { setLocale } from '../../src/renderer/src/lib/i18n.svelte'
import { jobBadge, waitingForServer } from '../../src/renderer/src/lib/job-status'
import { parseRuns, promptTexts } from '../../src/renderer/src/lib/submit-state.svelte'
import type { WorkflowInspectResult, WorkflowSummary } from '../../src/shared/ipc'
import type { AppSettings, FleetStatus, JobRecord } from '../../src/shared/types'
import { fleet, server } from '../core/helpers'
import { fakeApi, makeJob, type FakeApi } from './fake-api'

afterEach(() => {
  cleanup()
  window.location.hash = ''
  localStorage.clear()
  setLocale('en')
})

const settings: AppSettings = {
  healthCheckInterval: 30_000,
  timeout: 10_000,
  retryAttempts: 3,
  verboseLogging: false,
  queueWeightEnabled: true,
  failoverEnabled: true,
  notifications: { serverDown: true, serverUp: true, jobDone: true, jobFailed: true },
  startAtLogin: false,
  outputDir: '',
  language: 'system',
  theme: 'system',
  jobHistoryLimit: 500,
  gateway: { enabled: true, host: '127.0.0.1', port: 8288, token: 'a-very-secret-token-123' },
  servers: [
    { id: 'gpu-1', name: 'gpu-1', url: 'http://10.0.0.1:8188', enabled: true },
    { id: 'gpu-2', name: 'gpu-2', url: 'http://10.0.0.2:8188', enabled: true }
  ]
}
const status = (): FleetStatus =>
  fleet(
    [
      server('gpu-1', { url: 'http://10.0.0.1:8188', etaMs: 0 }),
      server('gpu-2', { url: 'http://10.0.0.2:8188', etaMs: 0 })
    ],
    'gpu-1'
  )

const SUMMARY: WorkflowSummary = {
  nodeCount: 7,
  classes: ['CLIPTextEncode', 'CheckpointLoaderSimple', 'KSampler'],
  models: [{ nodeId: '4', folder: 'checkpoints', name: 'v1-5-pruned-emaonly.safetensors' }],
  images: [],
  nodes: {
    '3': { type: 'KSampler', title: null },
    '4': { type: 'CheckpointLoaderSimple', title: null },
    '6': { type: 'CLIPTextEncode', title: 'Positive' },
    '7': { type: 'CLIPTextEncode', title: null },
    '9': { type: 'SaveImage', title: null }
  },
  strings: [
    { nodeId: '3', input: 'sampler_name', value: 'euler' },
    { nodeId: '4', input: 'ckpt_name', value: 'v1-5-pruned-emaonly.safetensors' },
    { nodeId: '6', input: 'text', value: 'a castle' },
    { nodeId: '7', input: 'text', value: 'blurry' },
    { nodeId: '9', input: 'filename_prefix', value: 'ComfyUI' }
  ]
}
const CONVERTED: WorkflowInspectResult = {
  ok: true,
  source: 'mine.json',
  format: 'json',
  converted: true,
  warnings: ['Node 3 (KSampler): "denoise" missing, ComfyUI\'s default 1 used'],
  summary: SUMMARY
}

async function settle(): Promise<void> {
  for (let i = 0; i < 4; i++) await new Promise((r) => setTimeout(r, 0))
  await tick()
}

async function open(hash: string, api: FakeApi): Promise<FakeApi> {
  window.location.hash = hash
  render(App, { props: { api } })
  await settle()
  return api
}

async function pick(name = 'mine.json'): Promise<void> {
  const input = screen.getByTestId('file-input') as HTMLInputElement
  const file = new File(['{"nodes":[]}'], name, { type: 'application/json' })
  await fireEvent.change(input, { target: { files: [file] } })
  await settle()
}

const submitted = (api: FakeApi) => api.calls.filter(([c]) => c === 'jobs.submit').map((c) => c[1])

describe('Submit card', () => {
  it('says a UI workflow was converted, with the same summary and its notes folded away', async () => {
    await open('#submit', fakeApi({ status: status(), settings, inspect: CONVERTED }))
    await pick()
    const card = screen.getByTestId('workflow-summary')
    expect(within(card).getByTestId('workflow-format')).toHaveTextContent('UI workflow, converted')
    expect(within(card).getByTestId('node-count')).toHaveTextContent('7 nodes')
    expect(card).toHaveTextContent('checkpoints v1-5-pruned-emaonly.safetensors')
    const notes = within(card).getByTestId('convert-notes') as HTMLDetailsElement
    expect(notes.open).toBe(false)
    expect(notes.querySelector('summary')).toHaveTextContent('1 note from the conversion')
    expect(notes).toHaveTextContent('"denoise" missing')
  })

  it('shows an API file as before, without conversion notes', async () => {
    await open('#submit', fakeApi({ status: status(), settings }))
    await pick('txt2img.json')
    expect(screen.getByTestId('workflow-format')).toHaveTextContent('API workflow (.json)')
    expect(screen.queryByTestId('convert-notes')).toBeNull()
  })
})

describe('Variations before Submit', () => {
  it('offers the prompt texts only: CLIPTextEncode-like inputs and inputs named text', () => {
    expect(promptTexts(SUMMARY).map((p) => [p.key, p.label, p.value])).toEqual([
      ['6.text', 'Positive', 'a castle'],
      ['7.text', 'CLIPTextEncode', 'blurry']
    ])
    const sdxl: WorkflowSummary = {
      ...SUMMARY,
      nodes: { '5': { type: 'CLIPTextEncodeSDXL', title: null } },
      strings: [
        { nodeId: '5', input: 'text_g', value: 'g' },
        { nodeId: '5', input: 'text_l', value: 'l' }
      ]
    }
    expect(promptTexts(sdxl).map((p) => p.key)).toEqual(['5.text_g', '5.text_l'])
    expect(promptTexts({ ...SUMMARY, strings: undefined })).toEqual([])
  })

  it('reads Runs as a whole number from 1 to 1000', () => {
    expect(parseRuns('9')).toBe(9)
    expect(parseRuns(' 1000 ')).toBe(1000)
    for (const bad of ['0', '1001', '2.5', '-1', '', 'x']) expect(parseRuns(bad)).toBeNull()
  })

  it('sends runs, the seed mode and the edited texts; one plain run stays a plain job', async () => {
    const api = await open('#submit', fakeApi({ status: status(), settings, inspect: CONVERTED }))
    await pick()
    // One run, nothing edited: the request is the same as before.
    await fireEvent.click(screen.getByRole('button', { name: 'Submit' }))
    await settle()
    expect(submitted(api)[0]).toEqual({
      name: 'mine.json',
      bytes: expect.any(Uint8Array),
      serverId: null
    })

    const runs = screen.getByLabelText('Runs')
    await fireEvent.input(runs, { target: { value: '0' } })
    expect(screen.getByText('Enter a whole number from 1 to 1000.')).toBeTruthy()
    expect(screen.getByRole('button', { name: 'Submit' })).toBeDisabled()
    await fireEvent.input(runs, { target: { value: '9' } })
    await fireEvent.change(screen.getByLabelText('Seed'), { target: { value: 'increment' } })
    const positive = screen.getByLabelText(/Positive/) as HTMLTextAreaElement
    expect(positive.value).toBe('a castle')
    await fireEvent.input(positive, { target: { value: 'a castle at night' } })
    expect(screen.getByText('edited')).toBeTruthy()
    await fireEvent.click(screen.getByRole('button', { name: 'Submit 9 runs' }))
    await settle()
    expect(submitted(api)[1]).toEqual({
      name: 'mine.json',
      bytes: expect.any(Uint8Array),
      serverId: null,
      count: 9,
      seed: 'increment',
      sets: [{ node: '6', input: 'text', value: 'a castle at night' }]
    })
    // Typed back to the file's text: no longer an edit.
    await fireEvent.input(positive, { target: { value: 'a castle' } })
    expect(screen.queryByText('edited')).toBeNull()
  })

  it('sends an edit of one run with the seeds as they are', async () => {
    const api = await open('#submit', fakeApi({ status: status(), settings, inspect: CONVERTED }))
    await pick()
    expect(screen.queryByLabelText('Seed')).toBeNull()
    await fireEvent.input(screen.getByLabelText(/CLIPTextEncode/), { target: { value: 'grainy' } })
    await fireEvent.click(screen.getByRole('button', { name: 'Submit' }))
    await settle()
    expect(submitted(api)[0]).toMatchObject({
      count: 1,
      seed: 'fixed',
      sets: [{ node: '7', input: 'text', value: 'grainy' }]
    })
  })
})

const BATCH = 'b0000000-0000-4000-8000-000000000000'
function run(i: number, patch: Partial<JobRecord>): JobRecord {
  return makeJob({
    id: `00000000-0000-4000-8000-00000000000${i}`,
    source: 'mine.json',
    batch: { id: BATCH, index: i, size: 4 },
    createdAt: 1_000,
    updatedAt: 1_000,
    ...patch
  })
}
const out = (name: string) => ({
  nodeId: '9',
  filename: name,
  path: `/out/${name}`,
  type: 'output'
})

describe('Batch card', () => {
  it('counts runs, estimates the time left from the finished ones, and knows when it ended', () => {
    const runs = [
      run(0, { state: 'done', startedAt: 1_000, finishedAt: 11_000 }),
      run(1, { state: 'done', startedAt: 1_000, finishedAt: 31_000 }),
      run(2, { state: 'failed', finishedAt: 5_000 }),
      run(3, { state: 'pending' })
    ]
    const v = batchView(runs, 40_000, 2)
    expect([v.total, v.done, v.failed, v.open, v.finished]).toEqual([4, 2, 1, 1, false])
    // One run left, average 20 s per run.
    expect(v.etaMs).toBe(20_000)
    const ended = batchView(
      [...runs.slice(0, 3), run(3, { state: 'done', startedAt: 30_000, finishedAt: 50_000 })],
      90_000,
      2
    )
    expect(ended.finished).toBe(true)
    expect(ended.etaMs).toBe(0)
    expect(ended.elapsedMs).toBe(49_000)
  })

  it('estimates from the running runs when none has finished, and not at all before', () => {
    const running = (i: number) =>
      run(i, {
        state: 'running',
        startedAt: 10_000,
        progress: { node: '3', value: 5, max: 10, nodesDone: 3, nodesTotal: 7 }
      })
    const p = (3 + 0.5) / 7
    const v = batchView([running(0), running(1), run(2, {}), run(3, {})], 20_000, 2)
    // Each run about 10 s / p; 2 waiting + 2 half-done on 2 servers: 2 rounds.
    expect(v.etaMs).toBe(Math.round(2 * (10_000 / p)))
    expect(batchView([run(0, {}), run(1, {})], 20_000, 2).etaMs).toBeNull()
    // Just started (or started after the page's last tick): no estimate of 0 s.
    expect(batchView([running(0), running(1)], 10_500, 2).etaMs).toBeNull()
    expect(batchView([running(0), running(1)], 9_000, 2).etaMs).toBeNull()
  })

  it('shows n/N done and the outputs as they arrive; a click opens one, and the folder', async () => {
    const api = fakeApi({
      status: status(),
      settings,
      jobs: [
        run(0, { state: 'done', startedAt: 1_000, finishedAt: 11_000, outputs: [out('a.png')] }),
        run(1, { state: 'running', startedAt: 2_000 }),
        run(2, { state: 'pending' }),
        run(3, { state: 'pending' })
      ]
    })
    await open('#submit', api)
    const card = screen.getByTestId('batch-card')
    expect(card).toHaveTextContent('Batch of 4 runs')
    expect(within(card).getByTestId('batch-done')).toHaveTextContent('1/4 done')
    expect(within(card).getByTestId('batch-eta')).toHaveTextContent(/^about .* left$/)
    expect(within(card).getAllByTestId('gallery-image')).toHaveLength(1)
    api.pushJob(
      run(1, {
        state: 'done',
        startedAt: 2_000,
        finishedAt: 12_000,
        updatedAt: 12_000,
        outputs: [out('b.png')]
      })
    )
    await settle()
    expect(within(card).getByTestId('batch-done')).toHaveTextContent('2/4 done')
    const images = within(card).getAllByTestId('gallery-image')
    expect(images.map((b) => b.getAttribute('title'))).toEqual(['a.png', 'b.png'])
    expect(images[0]!.querySelector('img')).toHaveAttribute('src', expect.stringMatching(/^data:/))
    await fireEvent.click(images[1]!)
    await fireEvent.click(within(card).getByRole('button', { name: 'Open folder' }))
    await settle()
    expect(api.calls).toContainEqual(['jobs.openOutput', '/out/b.png'])
    expect(api.calls).toContainEqual(['jobs.openFolder', run(0, {}).id])
    // Each run's card says which run it is.
    expect(screen.getAllByTestId('job-run')[0]).toHaveTextContent(/run \d of 4/)
  })
})

describe('Runs of a batch', () => {
  it('name the node they are at, though only the first came back from Submit', async () => {
    const api = await open('#submit', fakeApi({ status: status(), settings, inspect: CONVERTED }))
    await pick()
    await fireEvent.input(screen.getByLabelText('Runs'), { target: { value: '2' } })
    await fireEvent.click(screen.getByRole('button', { name: 'Submit 2 runs' }))
    await settle()
    api.pushJob(
      makeJob({
        id: '00000000-0000-4000-8000-0000000000b2',
        source: 'mine.json',
        state: 'running',
        startedAt: 5_000,
        createdAt: 5_000,
        updatedAt: 6_000,
        batch: { id: 'batch-1', index: 1, size: 2 },
        progress: { node: '6', value: 0, max: 0, nodesDone: 1, nodesTotal: 7 }
      })
    )
    await settle()
    const second = screen
      .getAllByTestId('job')
      .find((j) => j.dataset.jobId === '00000000-0000-4000-8000-0000000000b2')!
    expect(second).toHaveTextContent('now: Positive')
  })
})

describe('Job states', () => {
  const missing = makeJob({
    id: '00000000-0000-4000-8000-0000000000a1',
    state: 'done',
    missingOutputs: 2,
    finishedAt: 2_000,
    notes: [
      {
        code: 'missing-outputs',
        over: null,
        files: [
          { file: 'a.png', why: { code: 'http', status: 404, proxyPage: false } },
          { file: 'b.png', why: { code: 'http', status: 404, proxyPage: false } }
        ]
      }
    ]
  })
  const cancelledOn = makeJob({
    id: '00000000-0000-4000-8000-0000000000a2',
    state: 'cancelled',
    cancelledOn: 'gpu-2',
    finishedAt: 2_000,
    notes: [{ code: 'cancelled-on', server: 'gpu-2' }]
  })
  const waiting = makeJob({
    id: '00000000-0000-4000-8000-0000000000a3',
    state: 'pending',
    notes: [{ code: 'waiting', why: { code: 'none-healthy', total: 2 } }]
  })
  const held = makeJob({
    id: '00000000-0000-4000-8000-0000000000a4',
    state: 'pending',
    notes: [{ code: 'held-back' }]
  })

  it('tells done-with-missing, cancelled-on and waiting apart from the plain states', () => {
    expect(jobBadge(missing)).toEqual({ kind: 'missing', n: 2, tone: 'warn' })
    expect(jobBadge({ ...missing, missingOutputs: 0 })).toMatchObject({ key: 'jobDone' })
    expect(jobBadge(cancelledOn)).toEqual({
      kind: 'cancelledOn',
      server: 'gpu-2',
      tone: 'cancelled'
    })
    expect(jobBadge(waiting)).toMatchObject({ key: 'jobWaitingServer', tone: 'active' })
    expect(waitingForServer(held)).toBe(true)
    // Only the last note counts, and only while not yet sent.
    expect(
      waitingForServer({ ...waiting, notes: [...waiting.notes, { code: 'retried-as', id: 'x' }] })
    ).toBe(false)
    expect(waitingForServer({ ...waiting, state: 'queued' })).toBe(false)
  })

  it('shows them in the jobs list, in English and in Chinese', async () => {
    const api = fakeApi({ status: status(), settings, jobs: [missing, cancelledOn, waiting] })
    await open('#jobs', api)
    const card = (id: string) => screen.getAllByTestId('job').find((j) => j.dataset.jobId === id)!
    const m = card(missing.id)
    expect(within(m).getByTestId('job-state')).toHaveTextContent('Done, 2 outputs missing')
    expect(within(m).getByTestId('job-state')).toHaveClass('warn')
    expect(within(m).getByTestId('job-note')).toHaveTextContent(
      'Some outputs could not be saved: a.png: The server answered with error 404'
    )
    expect(within(card(cancelledOn.id)).getByTestId('job-state')).toHaveTextContent(
      'Cancelled on gpu-2'
    )
    const w = card(waiting.id)
    expect(within(w).getByTestId('job-state')).toHaveTextContent('Waiting for a server')
    await fireEvent.click(within(w).getByRole('button', { name: 'Cancel' }))
    await settle()
    expect(api.calls).toContainEqual(['jobs.cancel', waiting.id])

    api.pushSettings({ ...settings, language: 'zh-CN' })
    await settle()
    expect(within(m).getByTestId('job-state')).toHaveTextContent('已完成，缺少 2 个输出')
    expect(within(m).getByTestId('job-note')).toHaveTextContent(
      '部分输出无法保存：a.png：服务器返回错误 404'
    )
    expect(within(card(cancelledOn.id)).getByTestId('job-state')).toHaveTextContent(
      '已在 gpu-2 上取消'
    )
  })
})

describe('Gateway panel', () => {
  it('reads a port as a whole number from 1 to 65535', () => {
    expect(parsePort('8288')).toBe(8288)
    for (const bad of ['0', '65536', '80.5', '', 'abc']) expect(parsePort(bad)).toBeNull()
  })

  it('shows the address with a copy button and the how-tos, never the token', async () => {
    const api = fakeApi({
      status: status(),
      settings,
      gateway: { enabled: true, url: 'http://127.0.0.1:8288', error: null }
    })
    await open('#settings', api)
    const panel = screen.getByTestId('gateway-panel')
    expect(panel).toHaveTextContent('Use it from ComfyUI / Krita / a script')
    expect(within(panel).getByTestId('gateway-address')).toHaveTextContent('http://127.0.0.1:8288')
    expect(panel).toHaveTextContent('Krita AI Diffusion')
    expect(panel).toHaveTextContent('Not yet')
    expect(panel).toHaveTextContent('A token is set')
    expect(document.body.textContent).not.toContain('a-very-secret-token-123')
    const written: string[] = []
    Object.defineProperty(navigator, 'clipboard', {
      configurable: true,
      value: { writeText: async (t: string) => void written.push(t) }
    })
    await fireEvent.click(within(panel).getByRole('button', { name: 'Copy' }))
    await settle()
    expect(written).toEqual(['http://127.0.0.1:8288'])
    expect(panel).toHaveTextContent('Copied')
  })

  it('says why the gateway is not running, or that it is off', async () => {
    await open(
      '#settings',
      fakeApi({
        status: status(),
        settings,
        gateway: { enabled: true, url: null, error: 'Port 8288 is taken by another program' }
      })
    )
    expect(screen.getByTestId('gateway-address')).toHaveTextContent(
      'Not running: Port 8288 is taken by another program'
    )
    cleanup()
    await open('#settings', fakeApi({ status: status(), settings }))
    expect(screen.getByTestId('gateway-address')).toHaveTextContent('Turned off')
  })

  it('turns the gateway off and changes its port through the settings, keeping the rest', async () => {
    const api = await open('#settings', fakeApi({ status: status(), settings }))
    await fireEvent.click(screen.getByLabelText('One address for all servers'))
    await settle()
    expect(api.calls).toContainEqual([
      'settings.update',
      { gateway: { ...settings.gateway, enabled: false } }
    ])
    const port = screen.getByLabelText('Port')
    await fireEvent.change(port, { target: { value: '70000' } })
    await settle()
    expect(screen.getByText('Enter a whole number from 1 to 65535.')).toBeTruthy()
    expect(api.calls.filter(([c]) => c === 'settings.update')).toHaveLength(1)
    await fireEvent.change(port, { target: { value: '8300' } })
    await settle()
    expect(api.calls.at(-1)).toEqual([
      'settings.update',
      { gateway: { ...settings.gateway, enabled: false, port: 8300 } }
    ])
  })
})
