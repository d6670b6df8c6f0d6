// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, within } from '@testing-library/svelte'
import { tick } from 'svelte'
import { afterEach, describe, expect, it } from 'vitest'
import App from '../../src/renderer/src/App.svelte'
import { setLocale } from '../../src/renderer/src/lib/i18n.svelte'
import type { WorkflowInspectResult } from '../../src/shared/ipc'
import type { AppSettings, FleetStatus, ServerConfig } from '../../src/shared/types'
import { fleet, q, server } from '../core/helpers'
import { fakeApi, makeJob, type FakeApi } from './fake-api'

afterEach(() => {
  cleanup()
  window.location.hash = ''
  localStorage.clear()
  setLocale('en')
})

const servers: ServerConfig[] = [
  { id: 'gpu-1', name: 'gpu-1', url: 'http://10.0.0.1:8188', enabled: true },
  { id: 'gpu-2', name: 'gpu-2', url: 'http://10.0.0.2:8188', enabled: true }
]
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
  servers
}
const status = (): FleetStatus =>
  fleet(
    [
      server('gpu-1', { url: 'http://10.0.0.1:8188', queue: q(1, 2), etaMs: 40_000 }),
      server('gpu-2', { url: 'http://10.0.0.2:8188', etaMs: 0 })
    ],
    'gpu-2',
    { reason: 'shortest queue (0)' }
  )

async function settle(): Promise<void> {
  for (let i = 0; i < 4; i++) await new Promise((r) => setTimeout(r, 0))
  await tick()
}

async function open(hash: string, api: FakeApi = fakeApi({ status: status(), settings })) {
  window.location.hash = hash
  render(App, { props: { api } })
  await settle()
  return api
}

describe('Servers view', () => {
  it('points out a bad URL next to the field and keeps the form until it is right', async () => {
    const api = await open('#servers')
    expect(screen.getAllByTestId('server-row')).toHaveLength(2)
    await fireEvent.click(screen.getByRole('button', { name: 'Add a server' }))
    const url = screen.getByLabelText('Address (URL)')
    await fireEvent.input(url, { target: { value: 'http://10.0.0.1:8188' } })
    await fireEvent.blur(url)
    expect(screen.getByTestId('url-problem')).toHaveTextContent(
      'This server is already in the list.'
    )
    expect(url).toHaveAttribute('aria-invalid', 'true')
    await fireEvent.click(screen.getByRole('button', { name: 'Add server' }))
    expect(api.calls.filter(([c]) => c === 'settings.update')).toEqual([])
    await fireEvent.input(url, { target: { value: '10.0.0.3:8188' } })
    expect(screen.getByText('Will be saved as', { exact: false })).toHaveTextContent(
      'Will be saved as http://10.0.0.3:8188.'
    )
    await fireEvent.click(screen.getByRole('button', { name: 'Add server' }))
    await settle()
    expect(api.calls).toContainEqual([
      'settings.update',
      { servers: [...servers, { name: '', url: 'http://10.0.0.3:8188', enabled: true }] }
    ])
    expect(screen.queryByTestId('server-form')).toBeNull()
  })

  it('shows what "Test connection" found out, in words', async () => {
    const api = await open('#servers')
    await fireEvent.click(screen.getAllByRole('button', { name: 'Edit' })[0]!)
    await fireEvent.click(screen.getByRole('button', { name: 'Test connection' }))
    await settle()
    expect(screen.getByTestId('test-result')).toHaveTextContent(
      'No answer: Connection refused (is ComfyUI running on that port?)'
    )
    api.servers.test = async (s) => ({
      ok: true,
      url: s.url,
      latencyMs: 4.2,
      queue: q(1, 3),
      legacyRoutes: false,
      system: {
        comfyuiVersion: '0.3.64',
        pythonVersion: null,
        pytorchVersion: null,
        os: null,
        ramTotal: null,
        ramFree: null,
        devices: [
          {
            name: 'cuda:0 NVIDIA RTX A6000 : native',
            type: 'cuda',
            vramTotal: 48 * 1024 ** 3,
            vramFree: 1
          }
        ]
      }
    })
    await fireEvent.click(screen.getByRole('button', { name: 'Test connection' }))
    await settle()
    const result = screen.getByTestId('test-result')
    expect(result).toHaveTextContent('Connected: answered in 4.2 ms.')
    expect(result).toHaveTextContent('NVIDIA RTX A6000 (48.0 GB)')
    expect(result).toHaveTextContent('1 running, 3 waiting')
  })

  it('asks before removing, and reorders with the arrows', async () => {
    const api = await open('#servers')
    await fireEvent.click(screen.getAllByRole('button', { name: 'Remove' })[0]!)
    const dialog = screen.getByRole('alertdialog')
    expect(dialog).toHaveTextContent('Remove this server from the list? gpu-1')
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }))
    expect(screen.queryByRole('alertdialog')).toBeNull()
    expect(screen.getByRole('button', { name: 'Move gpu-1 up' })).toBeDisabled()
    await fireEvent.click(screen.getByRole('button', { name: 'Move gpu-1 down' }))
    await settle()
    expect(api.calls.at(-1)).toEqual(['settings.update', { servers: [servers[1], servers[0]] }])
  })
})

describe('Submit view', () => {
  it('shows what a picked workflow needs, the choices with their waits, and submits it', async () => {
    const api = await open('#submit')
    const input = screen.getByTestId('file-input') as HTMLInputElement
    const file = new File(['{"3":{}}'], 'txt2img.json', { type: 'application/json' })
    await fireEvent.change(input, { target: { files: [file] } })
    await settle()
    expect(screen.getByTestId('node-count')).toHaveTextContent('7 nodes')
    expect(screen.getByTestId('workflow-summary')).toHaveTextContent(
      'checkpoints v1-5-pruned-emaonly.safetensors'
    )
    expect(screen.getByTestId('auto-detail')).toHaveTextContent(
      'Best now: gpu-2 · starts at once · shortest queue (0)'
    )
    const gpu1 = screen.getByRole('radio', { name: /gpu-1/ })
    expect(gpu1.closest('label')).toHaveTextContent('starts in about 40 s · 3 in queue')
    await fireEvent.click(gpu1)
    await fireEvent.click(screen.getByRole('button', { name: 'Submit' }))
    await settle()
    expect(api.calls.find(([c]) => c === 'jobs.submit')?.[1]).toMatchObject({
      name: 'txt2img.json',
      serverId: 'gpu-1'
    })
    const job = screen.getByTestId('job')
    expect(job).toHaveAttribute('data-state', 'pending')
    expect(within(job).getByText('only on', { exact: false })).toHaveTextContent('only on gpu-1')
  })

  it('says why a file cannot be submitted', async () => {
    const api = fakeApi({ status: status(), settings })
    api.jobs.inspect = async (): Promise<WorkflowInspectResult> => ({
      ok: false,
      source: 'notes.json',
      problem: 'the workflow has no nodes',
      said: { code: 'no-nodes' }
    })
    await open('#submit', api)
    const input = screen.getByTestId('file-input') as HTMLInputElement
    await fireEvent.change(input, { target: { files: [new File(['{}'], 'notes.json')] } })
    await settle()
    expect(screen.getByTestId('workflow-problem')).toHaveTextContent(
      'This file cannot be submitted: the workflow has no nodes.'
    )
    expect(screen.getByRole('button', { name: 'Submit' })).toBeDisabled()
  })
})

describe('Jobs view', () => {
  const done = makeJob({
    id: '00000000-0000-4000-8000-000000000001',
    state: 'done',
    serverId: 'gpu-1',
    createdAt: Date.now() - 10_000,
    startedAt: Date.now() - 9_000,
    finishedAt: Date.now() - 2_000,
    attempts: [
      {
        serverId: 'gpu-2',
        serverUrl: 'http://10.0.0.2:8188',
        at: 1,
        result: { code: 'failed', why: { code: 'refused' } }
      },
      {
        serverId: 'gpu-1',
        serverUrl: 'http://10.0.0.1:8188',
        at: 2,
        result: { code: 'accepted' }
      }
    ],
    reroutes: 1,
    outputs: [{ nodeId: '9', path: '/out/j1/a.png', filename: 'a.png', type: 'output' }]
  })
  const running = makeJob({
    id: '00000000-0000-4000-8000-000000000002',
    state: 'running',
    serverId: 'gpu-2',
    createdAt: Date.now() - 1_000,
    startedAt: Date.now() - 500,
    progress: { node: '3', value: 5, max: 20, nodesDone: 3, nodesTotal: 7 }
  })

  it('lists times, attempts and re-routes; filters; previews open the image', async () => {
    const api = await open('#jobs', fakeApi({ status: status(), settings, jobs: [done, running] }))
    const cards = screen.getAllByTestId('job')
    expect(cards.map((c) => c.dataset.state)).toEqual(['running', 'done'])
    expect(cards[0]).toHaveTextContent('step 5/20')
    expect(cards[1]).toHaveTextContent(/waited 1\.0 s\s+ran 7\.0 s\s+2 attempts\s+moved 1 time/)
    await fireEvent.click(within(cards[1]!).getByRole('button', { name: 'Details' }))
    expect(cards[1]).toHaveTextContent('http://10.0.0.2:8188 Connection refused')
    await fireEvent.click(within(cards[1]!).getByRole('button', { name: 'Open a.png' }))
    await settle()
    expect(
      within(cards[1]!).getByRole('button', { name: 'Open a.png' }).querySelector('img')
    ).toHaveAttribute('src', 'data:image/png;base64,iVBORw0KGgo=')
    expect(api.calls).toContainEqual(['jobs.openOutput', '/out/j1/a.png'])
    await fireEvent.click(screen.getByRole('radio', { name: /^Active/ }))
    expect(screen.getAllByTestId('job')).toHaveLength(1)
    await fireEvent.click(screen.getByRole('button', { name: 'Cancel' }))
    await settle()
    expect(api.calls).toContainEqual(['jobs.cancel', running.id])
    expect(screen.getByText('No jobs here.')).toBeTruthy()
  })
})

describe('Settings view', () => {
  it('switches the language at once and shows a bad number next to its field', async () => {
    const api = await open('#settings')
    const interval = screen.getByLabelText('Check every') as HTMLInputElement
    expect(interval.value).toBe('30')
    await fireEvent.change(interval, { target: { value: '9999' } })
    await settle()
    expect(screen.getByText('Enter a value from 0.5 to 3600.')).toBeTruthy()
    expect(api.calls).toEqual([])
    await fireEvent.change(screen.getByLabelText('Language'), { target: { value: 'zh-CN' } })
    await settle()
    expect(api.calls).toContainEqual(['settings.update', { language: 'zh-CN' }])
    expect(screen.getByRole('heading', { name: '设置' })).toBeTruthy()
    expect(screen.getByLabelText('检查间隔')).toBeTruthy()
    await fireEvent.click(screen.getByLabelText('任务完成'))
    await settle()
    expect(api.calls).toContainEqual([
      'settings.update',
      { notifications: { ...settings.notifications, jobDone: false } }
    ])
    await fireEvent.click(screen.getByRole('button', { name: '选择文件夹...' }))
    await settle()
    expect(screen.getByTestId('output-dir')).toHaveTextContent('/home/me/Renders')
  })
})
