// @vitest-environment node
/**
 * What the window's new requests meet in main: the argument checks of `jobs:submit` with
 * variations, the batch handed to the core's `submitBatch`, the text values `jobs:inspect`
 * reports, and `gateway:status`.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import type { GatewayState } from '../../src/main/core/gateway/service'
import {
  createIpcHandlers,
  gatewayStatusOf,
  IpcArgumentError,
  parseArgs,
  stringInputs,
  type IpcCore
} from '../../src/main/ipc-handlers'
import { makeJob } from './fake-api'

const WORKFLOW = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'txt2img.json'))
const bytes = new Uint8Array(WORKFLOW)

describe('jobs:submit with variations', () => {
  const args = (extra: Record<string, unknown>) => [{ name: 'a.json', bytes, ...extra }]

  it('takes 1 to 1000 runs, the three seed modes and short edits', () => {
    expect(
      parseArgs('jobs:submit', args({ count: 1000, seed: 'increment', sets: [] }))[0]
    ).toMatchObject({ count: 1000, seed: 'increment' })
    parseArgs('jobs:submit', args({ count: 1, sets: [{ node: '6', input: 'text', value: 'x' }] }))
    parseArgs('jobs:submit', [{ path: '/w/a.json', count: 3, seed: 'fixed' }])
  })

  it.each([
    ['no runs', { count: 0 }],
    ['too many runs', { count: 1001 }],
    ['part of a run', { count: 2.5 }],
    ['a count as text', { count: '3' }],
    ['an unknown seed mode', { seed: 'wild' }],
    ['an edit without its node', { sets: [{ input: 'text', value: 'x' }] }],
    ['a very long text', { sets: [{ node: '6', input: 'text', value: 'x'.repeat(20_001) }] }],
    [
      'too many edits',
      { sets: Array.from({ length: 101 }, () => ({ node: '6', input: 'text', value: '' })) }
    ],
    ['an unknown field', { runs: 3 }]
  ])('refuses %s', (_what, extra) => {
    expect(() => parseArgs('jobs:submit', args(extra))).toThrow(IpcArgumentError)
  })

  it('hands a batch to the core with the variations, and answers with its first run', async () => {
    const first = makeJob({ id: '00000000-0000-4000-8000-000000000001' })
    const submitBatch = vi.fn((..._args: unknown[]) => ({
      batchId: 'b',
      jobs: [first, makeJob({ id: '00000000-0000-4000-8000-000000000002' })]
    }))
    const submit = vi.fn()
    const fleetObjectInfo = vi.fn(async () => ({}))
    const core = { jobs: { submitBatch, submit }, fleetObjectInfo } as unknown as IpcCore
    const h = createIpcHandlers(core)
    const sets = [{ node: '6', input: 'text', value: 'a lighthouse' }]
    const job = await h['jobs:submit']({ name: 'a.json', bytes, count: 2, seed: 'random', sets })
    expect(job).toBe(first)
    expect(submit).not.toHaveBeenCalled()
    const [wf, runs, opts] = submitBatch.mock.calls[0] as unknown as [
      { prompt: Record<string, unknown> },
      unknown,
      Record<string, unknown>
    ]
    expect(Object.keys(wf.prompt)).toContain('6')
    expect(runs).toEqual({ count: 2, seed: 'random', sets })
    // Edits are typed with the fleet's node definitions.
    expect(fleetObjectInfo).toHaveBeenCalledOnce()
    expect(opts).toMatchObject({ serverId: null, objectInfo: {} })

    // Runs without edits do not wait for the node definitions.
    await h['jobs:submit']({ name: 'a.json', bytes, count: 3 })
    expect(submitBatch.mock.calls[1]![1]).toEqual({ count: 3, seed: 'random', sets: [] })
    expect(fleetObjectInfo).toHaveBeenCalledOnce()
  })

  it('sends a request without variation fields as one plain job', async () => {
    const submitBatch = vi.fn()
    const submit = vi.fn(() => makeJob({ id: '00000000-0000-4000-8000-000000000003' }))
    const h = createIpcHandlers({ jobs: { submitBatch, submit } } as unknown as IpcCore)
    await h['jobs:submit']({ name: 'a.json', bytes })
    expect(submit).toHaveBeenCalledOnce()
    expect(submitBatch).not.toHaveBeenCalled()
  })
})

describe('jobs:inspect', () => {
  it('lists the text values of the nodes, links left out', async () => {
    const h = createIpcHandlers({} as IpcCore)
    const r = await h['jobs:inspect']({ name: 'txt2img.json', bytes })
    if (!r.ok) throw new Error(r.problem)
    expect(r.summary.strings).toContainEqual({
      nodeId: '7',
      input: 'text',
      value: 'text, watermark'
    })
    expect(r.summary.strings?.every((s) => typeof s.value === 'string')).toBe(true)
    expect(
      stringInputs({
        '1': { class_type: 'CLIPTextEncode', inputs: { text: 'hi', clip: ['4', 1] } },
        '2': { class_type: 'Long', inputs: { text: 'x'.repeat(20_001) } }
      })
    ).toEqual([{ nodeId: '1', input: 'text', value: 'hi' }])
  })
})

describe('gateway:status', () => {
  it('says where the gateway is, or why it is not running', () => {
    const cases: Array<[GatewayState, object]> = [
      [
        { state: 'on', url: 'http://127.0.0.1:8288' },
        { enabled: true, url: 'http://127.0.0.1:8288', error: null }
      ],
      [
        { state: 'failed', code: 'port-taken', message: 'Port 8288 is taken' },
        { enabled: true, url: null, error: 'Port 8288 is taken' }
      ],
      [{ state: 'starting' }, { enabled: true, url: null, error: null }],
      [{ state: 'off' }, { enabled: false, url: null, error: null }]
    ]
    for (const [state, status] of cases) expect(gatewayStatusOf(state)).toEqual(status)
  })

  it('answers from the injected getter, else from the settings without an address', async () => {
    const core = {
      settings: { gateway: { enabled: true, host: '127.0.0.1', port: 8288, token: null } }
    } as unknown as IpcCore
    expect(await createIpcHandlers(core)['gateway:status']()).toEqual({
      enabled: true,
      url: null,
      error: null
    })
    const url = 'http://127.0.0.1:8288'
    const h = createIpcHandlers(core, {
      gatewayStatus: () => gatewayStatusOf({ state: 'on', url })
    })
    expect(await h['gateway:status']()).toEqual({ enabled: true, url, error: null })
    expect(() => parseArgs('gateway:status', [1])).toThrow(IpcArgumentError)
  })
})
