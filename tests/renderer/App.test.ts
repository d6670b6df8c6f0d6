// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, within } from '@testing-library/svelte'
import { tick } from 'svelte'
import { afterEach, describe, expect, it } from 'vitest'
import App from '../../src/renderer/src/App.svelte'
import { setLocale } from '../../src/renderer/src/lib/i18n.svelte'
import type { AppSettings, FleetStatus } from '../../src/shared/types'
import { fleet, q, server } from '../core/helpers'
import { fakeApi, makeJob } from './fake-api'

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
  servers: []
}

const GB = 1024 ** 3

function twoServers(): FleetStatus {
  return fleet(
    [
      server('gpu-1', {
        name: 'gpu-1',
        url: 'http://10.0.0.5:8188',
        queue: q(1, 2),
        latencyMs: 12.4,
        checks: 4,
        successes: 4,
        system: {
          comfyuiVersion: '0.3.10',
          pythonVersion: '3.12.3',
          pytorchVersion: '2.5.1',
          os: 'posix',
          ramTotal: 64 * GB,
          ramFree: 32 * GB,
          devices: [
            {
              name: 'cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync',
              type: 'cuda',
              vramTotal: 24 * GB,
              vramFree: 18.5 * GB
            }
          ]
        }
      }),
      server('gpu-2', {
        name: 'gpu-2',
        url: 'http://10.0.0.6:8188',
        healthy: false,
        error: 'Connection refused (is ComfyUI running on that port?)',
        errorKind: 'refused',
        latencyMs: null,
        checks: 4,
        successes: 0
      })
    ],
    'gpu-1',
    { reason: 'the only healthy server' }
  )
}

async function settle(): Promise<void> {
  // Let the initial get() promises resolve and Svelte flush.
  for (let i = 0; i < 3; i++) await tick()
}

function card(name: string): HTMLElement {
  return screen.getByRole('article', { name })
}

describe('App', () => {
  it('shows the fleet summary and one card per server, the down one with its reason', async () => {
    const api = fakeApi({ status: twoServers(), settings })
    render(App, { props: { api } })
    await settle()

    expect(screen.getByTestId('fleet-summary').textContent).toContain(
      '1/2 up, best gpu-1, 3 jobs queued'
    )
    expect(screen.getAllByTestId('server-card')).toHaveLength(2)

    const best = card('gpu-1')
    expect(best.dataset.health).toBe('healthy')
    expect(best.className).toContain('best')
    expect(within(best).getByText('Best')).toBeTruthy()
    expect(within(best).getByTestId('queue-running').textContent).toBe('1')
    expect(within(best).getByTestId('queue-pending').textContent).toBe('2')
    expect(within(best).getByTestId('queue-total').textContent).toBe('3')
    expect(within(best).getByTestId('best-reason')).toHaveTextContent(
      'Best now: the only healthy server'
    )
    expect(best.textContent).toContain('http://10.0.0.5:8188')
    expect(best.textContent).toContain('12 ms')
    expect(best.textContent).toContain('NVIDIA GeForce RTX 4090')
    expect(best.textContent).toContain('5.5 GB of 24.0 GB VRAM in use')
    expect(within(best).getByRole('meter').getAttribute('aria-valuenow')).toBe('23')
    expect(best.textContent).toContain('0.3.10')

    const down = card('gpu-2')
    expect(down.dataset.health).toBe('down')
    expect(down.className).not.toContain('best')
    expect(within(down).getByTestId('down-reason').textContent).toBe(
      'Connection refused (is ComfyUI running on that port?)'
    )
    expect(within(down).queryByTestId('queue-total')).toBeNull()
  })

  it('updates on a pushed status', async () => {
    const api = fakeApi({ status: twoServers(), settings })
    render(App, { props: { api } })
    await settle()

    const next = twoServers()
    api.pushStatus({
      ...next,
      healthy: 0,
      bestServer: null,
      bestServerId: null,
      reason: 'No healthy server (0/2 up)',
      reasonSaid: { code: 'none-healthy', total: 2 },
      servers: next.servers.map((s) =>
        s.id === 'gpu-1'
          ? {
              ...s,
              healthy: false,
              error: 'Timed out after 1000 ms',
              errorKind: 'timeout',
              said: { code: 'timeout', ms: 1000 }
            }
          : s
      )
    })
    await tick()

    expect(screen.getByTestId('fleet-summary').textContent).toContain('0/2 up, no healthy server')
    expect(card('gpu-1').dataset.health).toBe('down')
    expect(within(card('gpu-1')).getByTestId('down-reason').textContent).toBe(
      'Timed out after 1000 ms'
    )
    expect(screen.queryByText('Best')).toBeNull()
    expect(screen.getByText('No healthy server (0 of 2 up)')).toBeTruthy()
  })

  it('shows the log tail with pushed lines', async () => {
    const api = fakeApi({
      status: twoServers(),
      settings,
      logs: [{ time: 0, level: 'info', message: '[LoadBalancer] Available servers: 1/2' }]
    })
    render(App, { props: { api } })
    await settle()
    await fireEvent.click(screen.getByRole('link', { name: 'Log' }))
    api.pushLog({ time: 1, level: 'warn', message: '[LoadBalancer] Server down: gpu-2' })
    await tick()
    const tail = screen.getByTestId('log-tail')
    expect(tail.textContent).toContain('Available servers: 1/2')
    expect(tail.textContent).toContain('Server down: gpu-2')
  })

  it('toggles verbose logs and pause through the API', async () => {
    const api = fakeApi({ status: twoServers(), settings })
    render(App, { props: { api } })
    await settle()

    await fireEvent.click(screen.getByRole('link', { name: 'Log' }))
    const verbose = screen.getByRole('checkbox', { name: 'Verbose log' }) as HTMLInputElement
    expect(verbose.checked).toBe(false)
    await fireEvent.click(verbose)
    await settle()
    expect(api.calls).toContainEqual(['settings.update', { verboseLogging: true }])
    expect(verbose.checked).toBe(true)
    await fireEvent.click(screen.getByRole('link', { name: 'Dashboard' }))

    await fireEvent.click(screen.getByRole('button', { name: 'Pause checks' }))
    await settle()
    expect(api.calls).toContainEqual(['checks.pause', true])
    expect(screen.getByText('Checks paused')).toBeTruthy()
    expect(screen.getByRole('button', { name: 'Resume checks' })).toBeTruthy()
  })

  it('unsubscribes when it goes away', async () => {
    const api = fakeApi({ status: twoServers(), settings })
    const { unmount } = render(App, { props: { api } })
    await settle()
    // Status, settings, log, jobs and navigation.
    expect(api.listenerCount()).toBe(5)
    unmount()
    expect(api.listenerCount()).toBe(0)
  })

  it('follows the language and theme settings at once, and remembers them', async () => {
    const api = fakeApi({ status: twoServers(), settings })
    render(App, { props: { api } })
    await settle()
    expect(screen.getByRole('link', { name: 'Dashboard' })).toBeTruthy()
    api.pushSettings({ ...settings, language: 'zh-CN', theme: 'dark' })
    await settle()
    expect(screen.getByRole('link', { name: '总览' })).toBeTruthy()
    expect(screen.getByTestId('fleet-summary').textContent).toContain('1/2 台在线，最佳 gpu-1')
    expect(document.documentElement.lang).toBe('zh-CN')
    expect(document.documentElement.dataset.theme).toBe('dark')
    expect(JSON.parse(localStorage.getItem('comfy-balancer.appearance')!)).toEqual({
      language: 'zh-CN',
      theme: 'dark'
    })
    api.pushSettings({ ...settings, language: 'en', theme: 'system' })
    await settle()
    expect(document.documentElement.dataset.theme).toBeUndefined()
  })

  it('goes where main says (a notification click) and keeps it in the hash', async () => {
    const job = makeJob({ id: '6f1c4a3e-0000-4000-8000-000000000001', state: 'done' })
    const api = fakeApi({ status: twoServers(), settings, jobs: [job] })
    render(App, { props: { api } })
    await settle()
    api.navigate({ view: 'jobs', jobId: job.id })
    await settle()
    expect(window.location.hash).toBe(`#jobs/${job.id}`)
    expect(screen.getByRole('heading', { name: 'Jobs' })).toBeTruthy()
    expect(screen.getByTestId('job').className).toContain('highlight')
  })

  it('opens Submit with a workflow dropped anywhere on the window', async () => {
    const api = fakeApi({ status: twoServers(), settings })
    render(App, { props: { api } })
    await settle()
    const file = new File(['{}'], 'dropped.json', { type: 'application/json' })
    const dataTransfer = { types: ['Files'], files: [file], dropEffect: 'none' }
    await fireEvent.dragEnter(window, { dataTransfer })
    expect(screen.getByTestId('drop-overlay')).toBeTruthy()
    await fireEvent.drop(window, { dataTransfer })
    await settle()
    await settle()
    expect(screen.queryByTestId('drop-overlay')).toBeNull()
    expect(window.location.hash).toBe('#submit')
    expect(api.calls.find(([c]) => c === 'jobs.inspect')?.[1]).toMatchObject({
      name: 'dropped.json'
    })
    expect(await screen.findByTestId('node-count')).toHaveTextContent('7 nodes')
  })

  it('says clearly when the page has no API', () => {
    render(App, { props: { api: undefined } })
    expect(screen.getByRole('alert').textContent).toContain(
      'This page is not connected to Comfy Balancer'
    )
  })
})
