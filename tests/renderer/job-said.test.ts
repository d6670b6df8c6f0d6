import { describe, expect, it } from 'vitest'
import { partsText, type Part } from '../../src/renderer/src/lib/i18n.svelte'
import {
  sayAttempt,
  sayJobError,
  sayJobNote,
  sayWorkflowProblem
} from '../../src/renderer/src/lib/said'
import type {
  AttemptCode,
  AttemptSaid,
  JobErrorCode,
  JobErrorSaid,
  JobNoteCode,
  JobNoteSaid,
  WorkflowCode,
  WorkflowSaid
} from '../../src/shared/job-said'
import type { SaidOf } from '../../src/shared/said'

/** One said of every code (a code left out fails the typecheck). */
const NOTES: { [C in JobNoteCode]: SaidOf<JobNoteSaid, C> } = {
  cancelled: { code: 'cancelled' },
  'cancelled-on': { code: 'cancelled-on', server: 'gpu-1' },
  interrupted: { code: 'interrupted' },
  'held-back': { code: 'held-back' },
  paused: { code: 'paused' },
  waiting: { code: 'waiting', why: { code: 'none-healthy', total: 2 } },
  'retried-as': { code: 'retried-as', id: 'abc' },
  'retry-of': { code: 'retry-of', id: 'abc' },
  moved: {
    code: 'moved',
    why: { code: 'server-down', server: 'gpu-1', why: { code: 'refused' } }
  },
  'missing-outputs': {
    code: 'missing-outputs',
    over: { n: 2, limit: 100 },
    files: [{ file: 'a.png', why: { code: 'http', status: 404, proxyPage: false } }]
  },
  text: { code: 'text', text: 'as it was' }
}

const ATTEMPTS: { [C in AttemptCode]: SaidOf<AttemptSaid, C> } = {
  sending: { code: 'sending' },
  accepted: { code: 'accepted' },
  'not-received': { code: 'not-received' },
  unknown: { code: 'unknown' },
  'cannot-run': { code: 'cannot-run', text: 'missing node Foo' },
  refused: { code: 'refused', text: 'Prompt outputs failed validation' },
  failed: { code: 'failed', why: { code: 'timeout', ms: 900 } },
  'upload-failed': { code: 'upload-failed', why: { code: 'closed' } },
  'input-unreadable': { code: 'input-unreadable', path: '/in/a.png', detail: 'EACCES' },
  text: { code: 'text', text: 'as it was' }
}

const ERRORS: { [C in JobErrorCode]: SaidOf<JobErrorSaid, C> } = {
  comfy: { code: 'comfy', text: 'RuntimeError: out of memory' },
  'server-error': { code: 'server-error' },
  refused: { code: 'refused', text: 'Prompt outputs failed validation' },
  'server-removed': { code: 'server-removed' },
  'no-server-took': {
    code: 'no-server-took',
    tries: [
      { server: 'gpu-1', why: { code: 'failed', why: { code: 'refused' } } },
      { server: 'gpu-2', why: { code: 'cannot-run', text: 'missing node Foo' } }
    ]
  },
  'none-can-run': {
    code: 'none-can-run',
    servers: [{ name: 'gpu-1', nodes: ['Foo'], models: [] }]
  },
  'lost-too-often': { code: 'lost-too-often', n: 3, why: { code: 'forgotten', server: 'gpu-1' } },
  'moved-too-often': {
    code: 'moved-too-often',
    n: 5,
    why: { code: 'server-down', server: 'gpu-1', why: null }
  },
  'no-result': { code: 'no-result', server: 'gpu-1', why: { code: 'not-json', page: true } },
  'input-unreadable': { code: 'input-unreadable', path: '/in/a.png', detail: 'EACCES' },
  internal: { code: 'internal', text: 'boom' },
  text: { code: 'text', text: 'as it was' }
}

const WORKFLOW: { [C in WorkflowCode]: SaidOf<WorkflowSaid, C> } = {
  'ui-format': { code: 'ui-format' },
  'needs-object-info': { code: 'needs-object-info' },
  'not-converted': {
    code: 'not-converted',
    node: { id: '5', title: 'My sampler', classType: 'KSampler' },
    detail: 'its links go round in a circle'
  },
  'not-workflow': { code: 'not-workflow' },
  'no-nodes': { code: 'no-nodes' },
  'too-many-nodes': { code: 'too-many-nodes', nodes: 20_000, limit: 10_000 },
  'too-deep': { code: 'too-deep', limit: 64 },
  'bad-node': { code: 'bad-node', id: '3', what: 'bad-inputs', classType: 'KSampler' },
  'too-large': { code: 'too-large', bytes: null, limitBytes: 50 * 1024 * 1024 },
  'bad-png': { code: 'bad-png', detail: 'not a PNG file' },
  'png-none': { code: 'png-none' },
  'png-bad-json': { code: 'png-bad-json' },
  'bad-json': { code: 'bad-json', at: 3 },
  'wrong-type': { code: 'wrong-type' },
  'not-absolute': { code: 'not-absolute' },
  missing: { code: 'missing' },
  'not-a-file': { code: 'not-a-file', folder: true },
  unreadable: { code: 'unreadable', detail: 'EACCES' },
  text: { code: 'text', text: 'as it was' }
}

/** Words that are the same in Chinese (names of things and formats). */
const NAMES = /ComfyUI|HTTPS?|https?|API|PNG|MB|KB|\.json|\.png/g

/** The translated words only (quoted values left out), without names. */
function words(parts: Part[]): string {
  return parts
    .filter((p) => !p.literal)
    .map((p) => p.text)
    .join('')
    .replace(NAMES, '')
}

/** Every table of the window, with its samples. */
const TABLES: Array<[string, Array<{ code: string }>, (s: never, l: 'en' | 'zh-CN') => Part[]]> = [
  ['note', Object.values(NOTES), sayJobNote as never],
  ['attempt', Object.values(ATTEMPTS), sayAttempt as never],
  ['error', Object.values(ERRORS), sayJobError as never],
  ['workflow', Object.values(WORKFLOW), sayWorkflowProblem as never]
]

describe("the window's tables for job and workflow reasons", () => {
  it.each(TABLES)(
    'says every %s code in Chinese with no English outside quoted values',
    (_k, samples, say) => {
      for (const said of samples) {
        const zh = say(said as never, 'zh-CN')
        expect(partsText(zh).length, said.code).toBeGreaterThan(0)
        expect(words(zh), said.code).not.toMatch(/[A-Za-z]{2,}/)
      }
    }
  )

  it.each(TABLES)('says every %s code in English too', (_k, samples, say) => {
    for (const said of samples) {
      expect(partsText(say(said as never, 'en')).length, said.code).toBeGreaterThan(0)
    }
  })

  it('keeps the values quoted: server names, ids, paths, ComfyUI words', () => {
    const literal = (p: Part[]) => p.filter((x) => x.literal).map((x) => x.text)
    expect(literal(sayJobError(ERRORS['no-server-took'], 'zh-CN'))).toEqual([
      'gpu-1',
      'gpu-2',
      'missing node Foo'
    ])
    expect(partsText(sayJobError(ERRORS['no-server-took'], 'zh-CN'))).toBe(
      '没有服务器接收此任务（gpu-1：连接被拒绝（ComfyUI 是否在该端口运行？）；gpu-2：无法运行：missing node Foo）'
    )
    expect(literal(sayJobNote(NOTES['retried-as'], 'zh-CN'))).toEqual(['abc'])
    expect(literal(sayAttempt(ATTEMPTS['input-unreadable'], 'zh-CN'))).toEqual([
      '/in/a.png',
      'EACCES'
    ])
    expect(literal(sayJobError(ERRORS.comfy, 'zh-CN'))).toEqual(['RuntimeError: out of memory'])
  })
})
