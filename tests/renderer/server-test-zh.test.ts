// @vitest-environment jsdom
/**
 * "Test connection" in Chinese: each way a test fails (timeout, a proxy's 502 page, a web page
 * instead of JSON, refused, a host that does not exist) is said from the answer's code, with no
 * English sentence; the values inside (the host) stay as they are. The answers are those main
 * sends (tests/shell/ipc.test.ts checks main's side): the English `error` is there too, for the
 * log, and must not reach the screen.
 */
import { cleanup, fireEvent, render, screen } from '@testing-library/svelte'
import { tick } from 'svelte'
import { afterEach, describe, expect, it } from 'vitest'
import App from '../../src/renderer/src/App.svelte'
import { setLocale } from '../../src/renderer/src/lib/i18n.svelte'
import type { ServerTestResult } from '../../src/shared/ipc'
import type { ServerSaid } from '../../src/shared/said'
import type { AppSettings, FailureKind } from '../../src/shared/types'
import { fleet, server } from '../core/helpers'
import { fakeApi } from './fake-api'

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
  language: 'zh-CN',
  theme: 'system',
  jobHistoryLimit: 500,
  servers: [{ id: 'gpu-1', name: 'gpu-1', url: 'http://10.0.0.1:8188', enabled: true }]
}

/** Each failure: main's answer (English words, kind, code) and the Chinese the form shows. */
const FAILURES: Array<[string, string, FailureKind, ServerSaid, string]> = [
  [
    'timeout',
    'Timed out after 300 ms',
    'timeout',
    { code: 'timeout', ms: 300 },
    '超时（300 毫秒内无响应）'
  ],
  [
    'proxy 502',
    'HTTP 502 Bad Gateway (an error page from a proxy)',
    'http',
    { code: 'http', status: 502, proxyPage: true },
    '服务器返回错误 502（来自代理的错误页面）'
  ],
  [
    'not JSON',
    'The server answered with a web page, not ComfyUI (a proxy or login page?)',
    'not-json',
    { code: 'not-json', page: true },
    '返回的是网页而不是 ComfyUI（代理或登录页面？）'
  ],
  [
    'refused',
    'Connection refused (is ComfyUI running on that port?)',
    'refused',
    { code: 'refused' },
    '连接被拒绝（ComfyUI 是否在该端口运行？）'
  ],
  [
    'host not found',
    'Host not found: gpu-9.invalid',
    'network',
    { code: 'host-not-found', host: 'gpu-9.invalid' },
    '找不到主机：gpu-9.invalid'
  ]
]

async function settle(): Promise<void> {
  for (let i = 0; i < 4; i++) await new Promise((r) => setTimeout(r, 0))
  await tick()
}

/** The text of an element without its quoted values (`translate="no"`), names left out. */
function translated(el: HTMLElement): string {
  const copy = el.cloneNode(true) as HTMLElement
  for (const lit of copy.querySelectorAll('[translate="no"]')) lit.remove()
  return (copy.textContent ?? '').replace(/ComfyUI/g, '')
}

describe('a failed connection test, in Chinese', () => {
  it.each(FAILURES)('%s: said from its code, no English', async (_n, error, kind, said, zh) => {
    const api = fakeApi({ status: fleet([server('gpu-1')], 'gpu-1'), settings })
    api.servers.test = async (s): Promise<ServerTestResult> => ({
      ok: false,
      url: s.url,
      error,
      errorKind: kind,
      said
    })
    window.location.hash = '#servers'
    render(App, { props: { api } })
    await settle()
    expect(document.documentElement.lang).toBe('zh-CN')
    await fireEvent.click(screen.getByRole('button', { name: '编辑' }))
    await fireEvent.click(screen.getByRole('button', { name: '测试连接' }))
    await settle()
    const result = screen.getByTestId('test-result')
    expect(result).toHaveTextContent(`无响应： ${zh}`)
    expect(result.textContent).not.toContain(error)
    expect(translated(result)).not.toMatch(/[A-Za-z]{2,}/)
  })
})
