import { describe, expect, it } from 'vitest'
import type { ChoiceCode, ChoiceSaid, ServerCode, ServerSaid } from '../../src/shared/said'
import type { ServerStatus } from '../../src/shared/types'
import {
  ComfyRequestError,
  classifyError,
  httpError,
  kindOf
} from '../../src/main/core/comfy/errors'
import { sayChoice, sayServer } from '../../src/main/core/log'
import {
  expectedCompletionPolicy,
  leastQueuePolicy,
  roundRobinPolicy
} from '../../src/main/core/fleet/policy'
import { fleetStatus, place } from '../../src/main/core/fleet/placement'
import { afterFailedCheck, initialStatus, reconfigured } from '../../src/main/core/fleet/health'

/** One said of every code, with the English sentence the core wrote before codes existed. */
const SERVER: { [C in ServerCode]: [Extract<ServerSaid, { code: C }>, string] } = {
  timeout: [{ code: 'timeout', ms: 1000 }, 'Timed out after 1000 ms'],
  stalled: [{ code: 'stalled', ms: 500 }, 'The download stalled: nothing arrived for 500 ms'],
  refused: [{ code: 'refused' }, 'Connection refused (is ComfyUI running on that port?)'],
  'host-not-found': [{ code: 'host-not-found', host: 'gpu.lan' }, 'Host not found: gpu.lan'],
  closed: [{ code: 'closed' }, 'The connection was closed by the server'],
  unreachable: [{ code: 'unreachable' }, 'Host unreachable (network down or wrong address)'],
  'broken-http': [{ code: 'broken-http' }, 'The server sent a broken HTTP answer'],
  tls: [{ code: 'tls', detail: 'CERT_HAS_EXPIRED' }, 'TLS certificate problem (CERT_HAS_EXPIRED)'],
  http: [
    { code: 'http', status: 502, proxyPage: true },
    'HTTP 502 Bad Gateway (an error page from a proxy)'
  ],
  'not-json': [
    { code: 'not-json', page: true },
    'Answered with a web page instead of JSON (a proxy or login page?)'
  ],
  'bad-shape': [
    { code: 'bad-shape', what: 'queue answer', detail: 'queue_running: not a list' },
    'Unexpected queue answer: queue_running: not a list'
  ],
  network: [{ code: 'network', detail: 'socket hang up (EX)' }, 'socket hang up (EX)'],
  'bad-url': [{ code: 'bad-url' }, 'The server address is not a valid URL'],
  'not-http': [{ code: 'not-http', protocol: 'ftp:' }, 'Not an http or https address: ftp:'],
  stopped: [{ code: 'stopped' }, 'The download was stopped'],
  redirect: [
    { code: 'redirect', to: 'http://other:8188/' },
    'The server redirected to another address (http://other:8188/); it was not followed'
  ],
  'redirect-invalid': [
    { code: 'redirect-invalid' },
    'The server redirected to an address that is not valid; it was not followed'
  ],
  'redirect-post': [
    { code: 'redirect-post', status: 302 },
    'The server answered with a redirect (HTTP 302) instead of taking the request; it was not sent again'
  ],
  'redirect-loop': [{ code: 'redirect-loop' }, 'The server redirected too many times'],
  'too-large': [
    { code: 'too-large', what: 'answer', limitBytes: 64 * 1024 * 1024 },
    'The answer was larger than 64 MB'
  ],
  disabled: [{ code: 'disabled' }, 'Disabled'],
  text: [{ code: 'text', text: 'something else' }, 'something else']
}

describe('server saids in English', () => {
  it.each(Object.entries(SERVER))('%s says the sentence of before', (_code, [said, english]) => {
    expect(sayServer(said)).toBe(english)
  })

  it('a failure made from words only gets a said that says the same words', () => {
    for (const [said, english] of Object.values(SERVER)) {
      const e = new ComfyRequestError(kindOf(said), english, 'status' in said ? said.status : null)
      expect(sayServer(e.said)).toBe(english)
      if (
        !['network', 'tls', 'host-not-found', 'closed', 'unreachable', 'broken-http'].includes(
          said.code
        )
      )
        expect(e.said).toEqual(said)
    }
  })

  it('transport errors carry their said and the same words as before', () => {
    const cases: [unknown, ServerSaid, string][] = [
      [{ code: 'ECONNREFUSED' }, { code: 'refused' }, SERVER.refused[1]],
      [{ code: 'ECONNABORTED' }, { code: 'timeout', ms: 2500 }, 'Timed out after 2500 ms'],
      [
        { code: 'ENOTFOUND', hostname: 'x.lan' },
        { code: 'host-not-found', host: 'x.lan' },
        'Host not found: x.lan'
      ],
      [{ code: 'EAI_AGAIN' }, { code: 'host-not-found', host: null }, 'Host not found'],
      [{ cause: { code: 'ECONNRESET' } }, { code: 'closed' }, SERVER.closed[1]],
      [{ code: 'EHOSTUNREACH' }, { code: 'unreachable' }, SERVER.unreachable[1]],
      [{ code: 'HPE_INVALID_STATUS' }, { code: 'broken-http' }, SERVER['broken-http'][1]],
      [
        { code: 'SELF_SIGNED_CERT_IN_CHAIN' },
        { code: 'tls', detail: 'SELF_SIGNED_CERT_IN_CHAIN' },
        'TLS certificate problem (SELF_SIGNED_CERT_IN_CHAIN)'
      ],
      [
        { message: 'socket hang up', code: 'EWHAT' },
        { code: 'network', detail: 'socket hang up (EWHAT)' },
        'socket hang up (EWHAT)'
      ]
    ]
    for (const [err, said, english] of cases) {
      const e = classifyError(err, 2500)
      expect(e.said).toEqual(said)
      expect(e.message).toBe(english)
    }
  })

  it('HTTP errors: status words, proxy pages and auth hints as before', () => {
    const e = httpError(502, 'text/html; charset=utf-8')
    expect(e.said).toEqual({ code: 'http', status: 502, proxyPage: true })
    expect(e.message).toBe('HTTP 502 Bad Gateway (an error page from a proxy)')
    expect(e.kind).toBe('http')
    expect(e.status).toBe(502)
    expect(httpError(401, undefined).message).toBe(
      'HTTP 401 Unauthorized (check the server address and its auth header)'
    )
    expect(httpError(418, 'text/html').message).toBe('HTTP 418')
    expect(httpError(418, 'text/html').said).toEqual({
      code: 'http',
      status: 418,
      proxyPage: false
    })
  })

  it('a server status carries the said of its failure, passwords hidden', () => {
    const cfg = { id: 'a', name: 'gpu-1', url: 'http://127.0.0.1:1', enabled: true }
    const down = afterFailedCheck(
      initialStatus(cfg),
      classifyError({ message: 'failed at http://u:secret@h:1/x', code: 'EX' }, 10),
      1,
      3
    )
    expect(down.said?.code).toBe('network')
    expect(JSON.stringify(down.said)).not.toContain('secret')
    expect(down.error).toBe(sayServer(down.said!))
    expect(initialStatus({ ...cfg, enabled: false }).said).toEqual({ code: 'disabled' })
    expect(reconfigured(down, { ...cfg, enabled: false }).said).toEqual({ code: 'disabled' })
  })
})

const CHOICE: { [C in ChoiceCode]: [Extract<ChoiceSaid, { code: C }>, string] } = {
  'no-servers': [{ code: 'no-servers' }, 'No servers are configured'],
  'all-disabled': [{ code: 'all-disabled' }, 'All servers are disabled'],
  'not-checked': [{ code: 'not-checked' }, 'No server has been checked yet'],
  'none-healthy': [{ code: 'none-healthy', total: 3 }, 'No healthy server (0/3 up)'],
  'none-capable': [
    {
      code: 'none-capable',
      servers: [
        { name: 'gpu-1', nodes: ['Foo', 'Bar'], models: ['x.safetensors'] },
        { name: 'gpu-2', nodes: ['Foo'], models: [] }
      ]
    },
    'No healthy server can run this workflow (gpu-1: missing nodes Foo, Bar; missing model x.safetensors; gpu-2: missing node Foo)'
  ],
  'only-healthy': [{ code: 'only-healthy' }, 'the only healthy server'],
  'round-robin': [{ code: 'round-robin' }, 'next in turn (queue weighting is off)'],
  'shortest-queue': [
    { code: 'shortest-queue', n: 2, tie: 3 },
    'shortest queue (2), first in the list among 3 equal'
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
    'expected start in 1.5 s, done in 12 s, one of 2 about equal, just came back; 1 server(s) lack what it needs'
  ],
  tried: [
    { code: 'tried', n: 1, then: { code: 'none-healthy', total: 2 } },
    'No healthy server (0/2 up); 1 server(s) already tried'
  ],
  'all-tried': [{ code: 'all-tried', n: 2 }, 'every server was tried (2)'],
  'held-back': [
    { code: 'held-back' },
    'Waiting in Comfy Balancer until a server is about to be free'
  ],
  'held-for': [
    { code: 'held-for', then: { code: 'shortest-queue', n: 1 } },
    'shortest queue (1); the next job waits here until it is about to be free'
  ],
  text: [{ code: 'text', text: 'as it was' }, 'as it was']
}

function server(id: string, over: Partial<ServerStatus> = {}): ServerStatus {
  return {
    ...initialStatus({ id, name: id, url: `http://127.0.0.1:1/${id}`, enabled: true }),
    healthy: true,
    lastCheck: 1,
    ...over
  }
}

describe('choice saids in English', () => {
  it.each(Object.entries(CHOICE))('%s says the sentence of before', (_code, [said, english]) => {
    expect(sayChoice(said)).toBe(english)
  })

  it('the policies give the said with the reason as its English', () => {
    const a = server('a', { queue: { running: 1, pending: 0, total: 1 } })
    const b = server('b')
    const choices = [
      leastQueuePolicy([]),
      leastQueuePolicy([{ ...a, enabled: false }]),
      leastQueuePolicy([{ ...a, healthy: false, lastCheck: null }]),
      leastQueuePolicy([{ ...a, healthy: false }]),
      leastQueuePolicy([a]),
      leastQueuePolicy([a, b, { ...b, id: 'c' }]),
      roundRobinPolicy([a, b]),
      expectedCompletionPolicy([a, b], { rng: () => 0 }),
      expectedCompletionPolicy([a], { job: { unable: new Map([['a', 'missing node X']]) } })
    ]
    expect(choices.map((c) => c.said?.code)).toEqual([
      'no-servers',
      'all-disabled',
      'not-checked',
      'none-healthy',
      'only-healthy',
      'shortest-queue',
      'round-robin',
      'expected',
      'none-capable'
    ])
    for (const c of choices) expect(c.reason).toBe(sayChoice(c.said!))
    expect(choices[5]!.said).toEqual({ code: 'shortest-queue', n: 0, tie: 2 })
    expect(choices[8]!.reason).toBe('No healthy server can run this workflow (a: missing node X)')
  })

  it('placement says held back, tried and the best server it waits for', () => {
    const a = server('a')
    const b = server('b', { healthy: false })
    const held = place([a], undefined, () => 1, { policy: leastQueuePolicy, holdBack: 1 })
    expect(held.said).toEqual({ code: 'held-back' })
    expect(held.reason).toBe(CHOICE['held-back'][1])
    const st = fleetStatus([a], held, 1, false)
    expect(st.reasonSaid).toEqual({ code: 'held-for', then: { code: 'only-healthy' } })
    expect(st.reason).toBe(sayChoice(st.reasonSaid!))
    const tried = place([a, b], undefined, () => 0, {
      policy: leastQueuePolicy,
      exclude: new Set(['a'])
    })
    expect(tried.said).toEqual({ code: 'tried', n: 1, then: { code: 'none-healthy', total: 1 } })
    expect(tried.reason).toBe('No healthy server (0/1 up); 1 server(s) already tried')
  })
})
