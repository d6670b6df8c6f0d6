/**
 * What servers answer is never trusted: the parsers of queue, queue count, system stats,
 * history and refusals take any JSON value and either return a well-formed result or throw
 * their own error type (ShapeError, ComfyRequestError), never a TypeError or a stack overflow.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { ComfyClient } from '../../src/main/core/comfy/client'
import { parseJsonBody } from '../../src/main/core/comfy/client'
import { ComfyRequestError } from '../../src/main/core/comfy/errors'
import {
  getHistory,
  getQueueIds,
  parseHistoryEntry,
  parseRejection
} from '../../src/main/core/comfy/prompt-api'
import {
  ShapeError,
  parsePromptInfo,
  parseQueue,
  parseSystemStats
} from '../../src/main/core/comfy/schemas'

const RUNS = { numRuns: 200, seed: 20261201 }

/** Any JSON value, with ComfyUI's own keys often present so the deeper paths are reached. */
const comfyKey = fc.constantFrom(
  'queue_running',
  'queue_pending',
  'exec_info',
  'queue_remaining',
  'system',
  'devices',
  'status',
  'status_str',
  'messages',
  'outputs',
  'images',
  'filename',
  'subfolder',
  'type',
  'error',
  'node_errors',
  'errors',
  'extra_info',
  'input_name',
  'timestamp',
  '__proto__',
  'constructor'
)
const { json } = fc.letrec((tie) => ({
  json: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.double(),
    fc.integer(),
    fc.string(),
    fc.array(tie('json'), { maxLength: 5 }),
    fc.dictionary(fc.oneof(comfyKey, fc.string()), tie('json'), { maxKeys: 5 })
  )
}))
/** Values as a JSON text would give them (own `__proto__` keys included). */
const anyJson = json.map((v) => JSON.parse(JSON.stringify(v) ?? 'null') as unknown)

function deep(depth: number): unknown {
  let v: unknown = { queue_running: [] }
  for (let i = 0; i < depth; i++) v = { status: { messages: [[v]] }, outputs: { a: v } }
  return v
}

function throwsOnly(fn: () => unknown, ...types: Array<abstract new (...a: never[]) => Error>) {
  try {
    fn()
  } catch (err) {
    if (!types.some((t) => err instanceof t)) throw err
  }
}

const clientAnswering = (value: unknown) =>
  ({ getJson: async () => ({ value, latencyMs: 1 }) }) as unknown as ComfyClient

describe('queue and system answers', () => {
  it('parseQueue counts the two lists or throws a ShapeError', () => {
    fc.assert(
      fc.property(anyJson, (v) => {
        let q
        try {
          q = parseQueue(v)
        } catch (err) {
          expect(err).toBeInstanceOf(ShapeError)
          return
        }
        const o = v as Record<string, unknown>
        const len = (x: unknown) => (Array.isArray(x) ? x.length : 0)
        expect(q).toEqual({
          running: len(o.queue_running),
          pending: len(o.queue_pending),
          total: len(o.queue_running) + len(o.queue_pending)
        })
      }),
      RUNS
    )
  })

  it('parsePromptInfo gives a whole count >= 0 or throws a ShapeError', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          anyJson,
          anyJson.map((n) => ({ exec_info: { queue_remaining: n } }))
        ),
        (v) => {
          try {
            const n = parsePromptInfo(v)
            expect(Number.isInteger(n) && n >= 0).toBe(true)
          } catch (err) {
            expect(err).toBeInstanceOf(ShapeError)
          }
        }
      ),
      RUNS
    )
  })

  it('parseSystemStats gives strings, finite numbers or nulls, or throws a ShapeError', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          anyJson,
          fc.record({ system: anyJson, devices: fc.array(anyJson, { maxLength: 3 }) })
        ),
        (v) => {
          let s
          try {
            s = parseSystemStats(v)
          } catch (err) {
            expect(err).toBeInstanceOf(ShapeError)
            return
          }
          for (const x of [s.comfyuiVersion, s.pythonVersion, s.pytorchVersion, s.os]) {
            expect(x === null || typeof x === 'string').toBe(true)
          }
          for (const x of [s.ramTotal, s.ramFree]) {
            expect(x === null || Number.isFinite(x)).toBe(true)
          }
          for (const d of s.devices) {
            expect(typeof d.name).toBe('string')
            expect(d.vramTotal === null || Number.isFinite(d.vramTotal)).toBe(true)
          }
        }
      ),
      RUNS
    )
  })

  it('getQueueIds lists only string ids, or throws a ComfyRequestError', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          anyJson,
          fc.record({
            queue_running: fc.array(fc.tuple(anyJson, anyJson), { maxLength: 4 }),
            queue_pending: fc.oneof(anyJson, fc.array(fc.tuple(anyJson, anyJson, anyJson)))
          })
        ),
        async (v) => {
          try {
            const q = await getQueueIds(clientAnswering(v))
            for (const id of [...q.running, ...q.pending]) expect(typeof id).toBe('string')
          } catch (err) {
            expect(err).toBeInstanceOf(ComfyRequestError)
          }
        }
      ),
      RUNS
    )
  })
})

describe('history answers', () => {
  it('parseHistoryEntry never throws and lists only well-formed files', () => {
    const entry = fc.oneof(
      anyJson,
      fc.record({
        status: fc.record({
          status_str: fc.oneof(fc.constantFrom('success', 'error'), anyJson),
          completed: anyJson,
          messages: fc.array(
            fc.tuple(
              fc.constantFrom(
                'execution_error',
                'execution_start',
                'execution_success',
                'execution_interrupted'
              ),
              anyJson
            ),
            { maxLength: 4 }
          )
        }),
        outputs: fc.dictionary(
          fc.string(),
          fc.record({
            images: fc.array(
              fc.oneof(
                anyJson,
                fc.record({ filename: anyJson, subfolder: anyJson, type: anyJson })
              ),
              { maxLength: 3 }
            )
          }),
          { maxKeys: 3 }
        )
      })
    )
    fc.assert(
      fc.property(entry, (v) => {
        const h = parseHistoryEntry(v)
        expect(['success', 'error', 'unknown']).toContain(h.status)
        expect(typeof h.completed).toBe('boolean')
        for (const f of h.outputs) {
          expect(typeof f.filename).toBe('string')
          expect(typeof f.subfolder).toBe('string')
          expect(typeof f.type).toBe('string')
        }
        expect(h.runMs === null || h.runMs >= 0).toBe(true)
        if (h.error) expect(typeof h.error.message).toBe('string')
      }),
      RUNS
    )
  })

  it('parseHistoryEntry survives very deep values', () => {
    expect(() => parseHistoryEntry(deep(5_000))).not.toThrow()
  })

  it('getHistory returns null, an entry, or throws a ComfyRequestError', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          anyJson,
          anyJson.map((e) => ({ 'the-id': e }))
        ),
        async (v) => {
          try {
            const h = await getHistory(clientAnswering(v), 'the-id')
            expect(h === null || Array.isArray(h.outputs)).toBe(true)
          } catch (err) {
            expect(err).toBeInstanceOf(ComfyRequestError)
          }
        }
      ),
      RUNS
    )
  })
})

describe('refusals and bodies', () => {
  it('parseRejection never throws and always has words for people', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          anyJson,
          fc.record({
            error: fc.oneof(
              anyJson,
              fc.record({ type: anyJson, message: anyJson, details: anyJson })
            ),
            node_errors: fc.dictionary(
              fc.string(),
              fc.oneof(
                anyJson,
                fc.record({ errors: fc.array(anyJson, { maxLength: 3 }), class_type: anyJson })
              ),
              { maxKeys: 3 }
            )
          })
        ),
        (v) => {
          const r = parseRejection(400, v)
          expect(r.ok).toBe(false)
          expect(r.message.length).toBeGreaterThan(0)
          expect(r.details.every((d) => typeof d === 'string')).toBe(true)
          expect(typeof r.missingCapability).toBe('boolean')
        }
      ),
      RUNS
    )
  })

  it('parseJsonBody parses JSON or throws a not-json ComfyRequestError', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string({ unit: 'binary' }),
          anyJson.map((v) => JSON.stringify(v))
        ),
        fc.option(fc.constantFrom('application/json', 'text/html', 'text/plain')),
        (text, contentType) => {
          throwsOnly(
            () =>
              parseJsonBody({ text, contentType: contentType ?? undefined } as Parameters<
                typeof parseJsonBody
              >[0]),
            ComfyRequestError
          )
        }
      ),
      RUNS
    )
  })
})
