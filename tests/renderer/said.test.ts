// @vitest-environment jsdom
import { cleanup, render, screen } from '@testing-library/svelte'
import { afterEach, describe, expect, it } from 'vitest'
import ServerCard from '../../src/renderer/src/components/ServerCard.svelte'
import { partsText, setLocale } from '../../src/renderer/src/lib/i18n.svelte'
import { sayChoice, sayServer } from '../../src/renderer/src/lib/said'
import type { ChoiceCode, ChoiceSaid, SaidOf, ServerCode, ServerSaid } from '../../src/shared/said'
import { server } from '../core/helpers'

afterEach(() => {
  cleanup()
  setLocale('en')
})

/** One said of every code, with the English the window showed for it before codes. */
const SERVER: { [C in ServerCode]: [SaidOf<ServerSaid, C>, string] } = {
  timeout: [{ code: 'timeout', ms: 1000 }, 'Timed out after 1000 ms'],
  stalled: [{ code: 'stalled', ms: 500 }, 'The download stalled: nothing arrived for 500 ms'],
  refused: [{ code: 'refused' }, 'Connection refused (is ComfyUI running on that port?)'],
  'host-not-found': [{ code: 'host-not-found', host: 'gpu.lan' }, 'Host not found: gpu.lan'],
  closed: [{ code: 'closed' }, 'The server closed the connection'],
  unreachable: [{ code: 'unreachable' }, 'Host unreachable (network down or wrong address)'],
  'broken-http': [{ code: 'broken-http' }, 'The server sent a broken answer'],
  tls: [
    { code: 'tls', detail: 'CERT_HAS_EXPIRED' },
    'Problem with the HTTPS certificate (CERT_HAS_EXPIRED)'
  ],
  http: [
    { code: 'http', status: 401, proxyPage: false },
    'The server answered with error 401 (check the address and the auth header)'
  ],
  'not-json': [
    { code: 'not-json', page: true },
    'Answered with a web page instead of ComfyUI (a proxy or login page?)'
  ],
  'bad-shape': [{ code: 'bad-shape', what: 'queue answer' }, 'Answered in a way ComfyUI does not'],
  network: [{ code: 'network', detail: 'socket hang up' }, 'socket hang up'],
  'bad-url': [{ code: 'bad-url' }, 'The server address is not a valid URL'],
  'not-http': [{ code: 'not-http', protocol: 'ftp:' }, 'Not an http or https address: ftp:'],
  stopped: [{ code: 'stopped' }, 'The download was stopped'],
  redirect: [
    { code: 'redirect', to: 'http://x:1/' },
    'The server sent us to another address (http://x:1/); it was not followed'
  ],
  'redirect-invalid': [
    { code: 'redirect-invalid' },
    'The server sent us to an address that is not valid'
  ],
  'redirect-post': [
    { code: 'redirect-post', status: 302 },
    'The server answered with a redirect (302) instead of taking the request'
  ],
  'redirect-loop': [{ code: 'redirect-loop' }, 'The server redirected too many times'],
  'too-large': [
    { code: 'too-large', what: 'file', limitBytes: 2048 },
    'The file was larger than 2 KB'
  ],
  disabled: [{ code: 'disabled' }, 'Disabled'],
  text: [{ code: 'text', text: 'anything' }, 'anything']
}

const CHOICE: { [C in ChoiceCode]: [SaidOf<ChoiceSaid, C>, string] } = {
  'no-servers': [{ code: 'no-servers' }, 'No servers are configured'],
  'all-disabled': [{ code: 'all-disabled' }, 'All servers are turned off'],
  'not-checked': [{ code: 'not-checked' }, 'No server has been checked yet'],
  'none-healthy': [{ code: 'none-healthy', total: 3 }, 'No healthy server (0 of 3 up)'],
  'none-capable': [
    {
      code: 'none-capable',
      servers: [
        { name: 'gpu-1', nodes: ['Foo'], models: ['x.safetensors', 'y.pt'] },
        { name: 'gpu-2', nodes: [], models: [], text: 'as it came' }
      ]
    },
    'No healthy server can run this workflow (gpu-1: missing node Foo; missing models x.safetensors, y.pt; gpu-2: as it came)'
  ],
  'only-healthy': [{ code: 'only-healthy' }, 'the only healthy server'],
  'round-robin': [{ code: 'round-robin' }, 'next in turn (queue weighting is off)'],
  'shortest-queue': [
    { code: 'shortest-queue', n: 2, tie: 3 },
    'shortest queue (2), first in your list among 3 equal'
  ],
  expected: [
    {
      code: 'expected',
      queue: null,
      startMs: 1500,
      doneMs: 12_400,
      about: 2,
      justBack: true,
      lacking: 1
    },
    'expected to start in 1.5 s and finish in 12 s, one of 2 about equal, just came back; 1 server(s) lack what it needs'
  ],
  tried: [
    { code: 'tried', n: 1, then: { code: 'none-healthy', total: 2 } },
    'No healthy server (0 of 2 up); 1 server(s) already tried'
  ],
  'all-tried': [{ code: 'all-tried', n: 2 }, 'every server was tried (2)'],
  'held-back': [{ code: 'held-back' }, 'Waiting here until a server is about to be free'],
  'held-for': [
    { code: 'held-for', then: { code: 'shortest-queue', n: 1 } },
    'shortest queue (1); the next job waits here until it is about to be free'
  ],
  text: [{ code: 'text', text: 'as it was' }, 'as it was']
}

/** Words that are the same in Chinese (names of things). */
const NAMES = /ComfyUI|HTTPS?|https?|KB/g

/** The translated words only (quoted values left out), without names. */
function words(parts: { text: string; literal: boolean }[]): string {
  return parts
    .filter((p) => !p.literal)
    .map((p) => p.text)
    .join('')
    .replace(NAMES, '')
}

describe("the window's tables for the reason codes", () => {
  it.each(Object.entries(SERVER))('server %s: the English of before', (_c, [said, english]) => {
    expect(partsText(sayServer(said, 'en'))).toBe(english)
  })

  it.each(Object.entries(CHOICE))('choice %s: the English of before', (_c, [said, english]) => {
    expect(partsText(sayChoice(said, 'en'))).toBe(english)
  })

  it('says every code in Chinese with no English word outside the quoted values', () => {
    for (const [said] of Object.values(SERVER)) {
      expect(words(sayServer(said, 'zh-CN')), said.code).not.toMatch(/[A-Za-z]{2,}/)
    }
    for (const [said] of Object.values(CHOICE)) {
      expect(words(sayChoice(said, 'zh-CN')), said.code).not.toMatch(/[A-Za-z]{2,}/)
    }
  })

  it('keeps the values quoted: names, nodes and models, the host', () => {
    const parts = sayChoice(CHOICE['none-capable'][0], 'zh-CN')
    expect(parts.filter((p) => p.literal).map((p) => p.text)).toEqual([
      'gpu-1',
      'Foo',
      'x.safetensors, y.pt',
      'gpu-2',
      'as it came'
    ])
    expect(partsText(parts)).toBe(
      '没有可以运行此工作流的在线服务器（gpu-1：缺少节点 Foo，缺少模型 x.safetensors, y.pt；gpu-2：as it came）'
    )
  })
})

describe('the Chinese server card', () => {
  it('says why a server is down and why the best is best in Chinese', () => {
    setLocale('zh-CN')
    const down = server('gpu-1', {
      healthy: false,
      down: true,
      consecutiveFailures: 3,
      error: 'HTTP 502 Bad Gateway (an error page from a proxy)',
      errorKind: 'http',
      said: { code: 'http', status: 502, proxyPage: true }
    })
    render(ServerCard, { props: { server: down, now: 10 } })
    const reason = screen.getByTestId('down-reason').textContent ?? ''
    expect(reason).toContain('服务器返回错误 502（来自代理的错误页面）')
    expect(reason).not.toMatch(/Bad Gateway|proxy|HTTP/)
    cleanup()
    render(ServerCard, {
      props: {
        server: server('gpu-2'),
        best: true,
        reason: { code: 'held-for', then: { code: 'only-healthy' } },
        now: 10
      }
    })
    const why = screen.getByTestId('best-reason').textContent ?? ''
    expect(why).toContain('唯一在线的服务器；下一个任务在本机等待它即将空闲')
    expect(why).not.toMatch(/[A-Za-z]{3,}/)
  })
})
