/**
 * Workflow files are not trusted: whatever the bytes (JSON, Python-style JSON, PNG chunks,
 * compressed text that inflates far beyond its size, very deep nesting), loading either gives
 * a workflow or refuses it with a WorkflowError (PNG reading: a PngError), never another error.
 */
import { deflateSync } from 'node:zlib'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PngError, isPng, readPngText } from '../../src/main/core/jobs/png-text'
import { WorkflowError, loadWorkflowBytes } from '../../src/main/core/jobs/workflow'
import { addPngText, crc32, makePng } from '../../src/fake-comfy'

const RUNS = { numRuns: 200, seed: 20261201 }

function expectOnly(fn: () => unknown, type: abstract new (...a: never[]) => Error): void {
  try {
    fn()
  } catch (err) {
    if (!(err instanceof type)) throw err
  }
}

/** A PNG chunk with a correct length and CRC. */
function chunk(type: string, data: Uint8Array): Buffer {
  const len = Buffer.alloc(4)
  len.writeUInt32BE(data.length)
  const td = Buffer.concat([Buffer.from(type, 'latin1'), Buffer.from(data)])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(td) >>> 0)
  return Buffer.concat([len, td, crc])
}

const SIG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

const keyword = fc.constantFrom('prompt', 'workflow', 'parameters', '')
const textChunk = fc.oneof(
  fc
    .tuple(keyword, fc.uint8Array({ maxLength: 64 }))
    .map(([k, b]) => chunk('tEXt', Buffer.concat([Buffer.from(k, 'latin1'), Buffer.from([0]), b]))),
  fc
    .tuple(keyword, fc.uint8Array({ maxLength: 64 }), fc.boolean())
    .map(([k, b, z]) =>
      chunk(
        'zTXt',
        Buffer.concat([Buffer.from(k, 'latin1'), Buffer.from([0, 0]), z ? deflateSync(b) : b])
      )
    ),
  fc
    .tuple(keyword, fc.uint8Array({ maxLength: 64 }), fc.boolean())
    .map(([k, b, z]) =>
      chunk(
        'iTXt',
        Buffer.concat([
          Buffer.from(k, 'latin1'),
          Buffer.from([0, z ? 1 : 0, 0, 0, 0]),
          z ? deflateSync(b) : b
        ])
      )
    ),
  fc
    .tuple(
      fc.constantFrom('IHDR', 'IDAT', 'IEND', 'tIME', 'abcd'),
      fc.uint8Array({ maxLength: 32 })
    )
    .map(([t, b]) => chunk(t, b)),
  // damaged: a length running past the end, or garbage
  fc.uint8Array({ maxLength: 24 }).map((b) => Buffer.from(b))
)
const pngBytes = fc
  .array(textChunk, { maxLength: 6 })
  .map((chunks) => Buffer.concat([SIG, ...chunks]))

const { json } = fc.letrec((tie) => ({
  json: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.double(),
    fc.string(),
    fc.array(tie('json'), { maxLength: 4 }),
    fc.dictionary(
      fc.oneof(fc.constantFrom('class_type', 'inputs', 'nodes', 'links', '__proto__'), fc.string()),
      tie('json'),
      { maxKeys: 4 }
    )
  )
}))

describe('readPngText', () => {
  it('reads any chunks or refuses with a PngError', () => {
    fc.assert(
      fc.property(pngBytes, (bytes) => {
        expect(isPng(bytes)).toBe(true)
        let out: Map<string, string> | undefined
        expectOnly(() => (out = readPngText(bytes)), PngError)
        for (const k of out?.keys() ?? []) expect(['prompt', 'workflow']).toContain(k)
      }),
      RUNS
    )
  })

  it('refuses bytes that are not a PNG with a PngError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        if (isPng(b)) return
        expect(() => readPngText(b)).toThrow(PngError)
      }),
      RUNS
    )
  })

  it('refuses compressed text that inflates past the cap (a zip bomb) with a PngError', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 16 }), fc.constantFrom('zTXt', 'iTXt'), (mb, type) => {
        const bomb = deflateSync(Buffer.alloc(mb * 1024 * 1024, 0x20), { level: 9 })
        const head =
          type === 'zTXt'
            ? Buffer.from('prompt\0\0', 'latin1')
            : Buffer.from('prompt\0\x01\0\0\0', 'latin1')
        const png = Buffer.concat([
          SIG,
          chunk(type, Buffer.concat([head, bomb])),
          chunk('IEND', new Uint8Array())
        ])
        expect(() => readPngText(png, { maxTotalBytes: 1024 * 1024 })).toThrow(PngError)
      }),
      { numRuns: 10, seed: 20261201 }
    )
  })
})

describe('loadWorkflowBytes', () => {
  it('loads or refuses arbitrary JSON with a WorkflowError', () => {
    fc.assert(
      fc.property(json, (v) => {
        const bytes = Buffer.from(JSON.stringify(v) ?? 'null')
        expectOnly(() => loadWorkflowBytes(bytes, 'x.json'), WorkflowError)
      }),
      RUNS
    )
  })

  it('loads or refuses arbitrary bytes and text (Python NaN included) with a WorkflowError', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc
            .array(
              fc.constantFrom(
                '{',
                '}',
                '[',
                ']',
                '"a"',
                ':',
                ',',
                'NaN',
                '-Infinity',
                'Infinity',
                '1',
                'null',
                '"class_type"',
                '"inputs"',
                ' ',
                '\\'
              ),
              { maxLength: 40 }
            )
            .map((parts) => Buffer.from(parts.join('')))
        ),
        fc.constantFrom('x.json', 'x.png'),
        (bytes, name) => {
          expectOnly(() => loadWorkflowBytes(bytes, name), WorkflowError)
        }
      ),
      RUNS
    )
  })

  it('loads or refuses PNGs with arbitrary prompt and workflow chunks with a WorkflowError', () => {
    const base = makePng({ width: 2, height: 2 })
    fc.assert(
      fc.property(
        fc.oneof(
          json.map((v) => JSON.stringify(v) ?? 'null'),
          fc.string()
        ),
        fc.option(
          fc.oneof(
            json.map((v) => JSON.stringify(v) ?? 'null'),
            fc.string()
          )
        ),
        (prompt, wf) => {
          const texts: Record<string, string> = { prompt }
          if (wf !== null) texts.workflow = wf
          const png = addPngText(base, texts)
          expectOnly(() => loadWorkflowBytes(png, 'x.png'), WorkflowError)
        }
      ),
      RUNS
    )
  })

  it('refuses very deep JSON with a WorkflowError, not a stack overflow', () => {
    fc.assert(
      fc.property(fc.integer({ min: 65, max: 200_000 }), fc.boolean(), (depth, arrays) => {
        const open = arrays ? '[' : '{"a":'
        const close = arrays ? ']' : '}'
        const text = `{"1":{"class_type":"X","inputs":{"v":${open.repeat(depth)}1${close.repeat(depth)}}}}`
        expect(() => loadWorkflowBytes(Buffer.from(text), 'deep.json')).toThrow(WorkflowError)
      }),
      { numRuns: 30, seed: 20261201 }
    )
  })
})
