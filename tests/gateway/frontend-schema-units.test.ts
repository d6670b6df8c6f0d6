/**
 * The frontend shapes refuse what the official ComfyUI frontend's types refuse (so a passing
 * run means something), and the gateway's own merged answers fit them for any server.
 */
import { describe, expect, it } from 'vitest'
import type { ServerStatus } from '../../src/shared/types'
import type { ComfyClient } from '../../src/main/core/app'
import { FleetInfo } from '../../src/main/core/gateway/fleet'
import {
  historyAnswer,
  nodeDef,
  promptAccepted,
  promptRefused,
  queueAnswer,
  systemStatsAnswer,
  wsMessage
} from './frontend-schemas'

const PID = '3f1c2b9e-8a70-4a5e-9d51-0c2f4b7e6a11'
const item = [0, PID, { '9': { class_type: 'SaveImage', inputs: {} } }, { client_id: 'me' }, ['9']]
const errorData = {
  prompt_id: PID,
  node_id: '3',
  node_type: 'KSampler',
  executed: ['4'],
  exception_message: 'out of memory',
  exception_type: 'torch.OutOfMemoryError',
  traceback: ['line 1'],
  current_inputs: {},
  current_outputs: [],
  timestamp: 1_728_700_000_000
}

describe('the frontend shapes', () => {
  it('take ComfyUI’s own answers and messages', () => {
    expect(queueAnswer.safeParse({ queue_running: [item], queue_pending: [] }).success).toBe(true)
    expect(wsMessage.safeParse({ type: 'execution_error', data: errorData }).success).toBe(true)
    expect(
      wsMessage.safeParse({ type: 'executing', data: { node: null, prompt_id: PID } }).success
    ).toBe(true)
    expect(promptAccepted.safeParse({ prompt_id: PID, number: 0, node_errors: {} }).success).toBe(
      true
    )
  })

  it('refuse what the frontend’s types refuse', () => {
    const bad: Array<[string, { safeParse(v: unknown): { success: boolean } }, unknown]> = [
      [
        'execution_error without a node',
        wsMessage,
        { type: 'execution_error', data: { ...errorData, node_id: null } }
      ],
      [
        'execution_error with a text traceback',
        wsMessage,
        { type: 'execution_error', data: { ...errorData, traceback: 'line 1' } }
      ],
      [
        'a timestamp in seconds with a fraction',
        wsMessage,
        { type: 'execution_start', data: { prompt_id: PID, timestamp: 1.5 } }
      ],
      [
        'status with a text count',
        wsMessage,
        { type: 'status', data: { status: { exec_info: { queue_remaining: '1' } } } }
      ],
      [
        'executing a node without display_node',
        wsMessage,
        { type: 'executing', data: { node: '3', prompt_id: PID } }
      ],
      [
        'progress with a fractional step',
        wsMessage,
        { type: 'progress', data: { value: 0.5, max: 20, prompt_id: PID, node: '3' } }
      ],
      ['a message type nobody knows', wsMessage, { type: 'queue_changed', data: {} }],
      [
        'a six-element queue item',
        queueAnswer,
        { queue_running: [[...item, {}]], queue_pending: [] }
      ],
      ['a queue without pending', queueAnswer, { queue_running: [] }],
      ['a history entry without its prompt', historyAnswer, { [PID]: { outputs: {} } }],
      [
        'a history status of another kind',
        historyAnswer,
        {
          [PID]: {
            prompt: item,
            outputs: {},
            status: { status_str: 'cancelled', completed: false, messages: [] }
          }
        }
      ],
      ['a refusal without error', promptRefused, { node_errors: {} }],
      [
        'a refusal whose error has no details',
        promptRefused,
        { error: { type: 'no_prompt', message: 'No prompt provided' }, node_errors: {} }
      ],
      ['an acceptance without prompt_id', promptAccepted, { number: 0, node_errors: {} }],
      [
        'a node without display_name',
        nodeDef,
        {
          name: 'X',
          description: '',
          category: 'c',
          output_node: false,
          python_module: 'nodes'
        }
      ],
      [
        'an INT input with a text default',
        nodeDef,
        {
          name: 'X',
          display_name: 'X',
          description: '',
          category: 'c',
          output_node: false,
          python_module: 'nodes',
          input: { required: { n: ['INT', { default: 'five' }] } }
        }
      ],
      [
        'a device with no index',
        systemStatsAnswer,
        {
          system: {
            os: 'posix',
            python_version: '3.12',
            embedded_python: false,
            comfyui_version: '0.3.64',
            pytorch_version: '2.8.0',
            argv: ['main.py'],
            ram_total: 1,
            ram_free: 1
          },
          devices: [
            {
              name: 'cpu',
              type: 'cpu',
              index: null,
              vram_total: 1,
              vram_free: 1,
              torch_vram_total: 1,
              torch_vram_free: 1
            }
          ]
        }
      ]
    ]
    const accepted = bad.filter(([, schema, value]) => schema.safeParse(value).success)
    expect(accepted.map(([what]) => what)).toEqual([])
  })
})

describe('the gateway’s merged system_stats', () => {
  it('fits the frontend’s shape when a server runs on CPU (index null)', async () => {
    // A CPU-only ComfyUI 0.3.64's answer, as traced.
    const cpu = {
      system: {
        os: 'posix',
        ram_total: 16e9,
        ram_free: 8e9,
        comfyui_version: '0.3.64',
        required_frontend_version: '1.27.10',
        python_version: '3.12.3',
        pytorch_version: '2.8.0+cpu',
        embedded_python: false,
        argv: ['main.py', '--cpu']
      },
      devices: [
        {
          name: 'cpu',
          type: 'cpu',
          index: null,
          vram_total: 16e9,
          vram_free: 8e9,
          torch_vram_total: 16e9,
          torch_vram_free: 8e9
        }
      ]
    }
    const server = { id: 's1', name: 'Laptop', enabled: true, healthy: true } as ServerStatus
    const client = {
      getJson: async () => ({ value: structuredClone(cpu), latencyMs: 1 })
    } as unknown as ComfyClient
    const fleet = new FleetInfo({
      status: () => ({ servers: [server] }),
      serverClient: () => client
    })
    const stats = await fleet.systemStats()
    const r = systemStatsAnswer.safeParse(stats)
    expect(r.success ? [] : r.error.issues.map((i) => i.path.join('.'))).toEqual([])
    expect(stats?.devices).toMatchObject([{ name: 'Laptop: cpu', type: 'cpu', index: 0 }])
  })
})
