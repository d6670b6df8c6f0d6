import { describe, expect, it } from 'vitest'
import { translator, workflowProblemText } from '../../src/main/messages'
import type { WorkflowSaid } from '../../src/shared/job-said'

/** One of every code, with values that are plainly values (digits, quoted ids, an error code). */
const SAMPLES: WorkflowSaid[] = [
  { code: 'ui-format' },
  { code: 'needs-object-info' },
  { code: 'not-converted', node: null, detail: 'E1' },
  { code: 'not-workflow' },
  { code: 'no-nodes' },
  { code: 'too-many-nodes', nodes: 20001, limit: 20000 },
  { code: 'too-deep', limit: 64 },
  { code: 'bad-node', id: '7', what: 'no-class' },
  { code: 'too-large', bytes: null, limitBytes: 64 * 1024 * 1024 },
  { code: 'bad-png', detail: 'E2' },
  { code: 'png-none' },
  { code: 'png-bad-json' },
  { code: 'bad-json', at: 3 },
  { code: 'wrong-type' },
  { code: 'not-absolute' },
  { code: 'missing' },
  { code: 'not-a-file', folder: true },
  { code: 'not-a-file', folder: false },
  { code: 'unreadable', detail: 'EACCES' }
]

describe('why a file is not a workflow, in the tray and dialogs', () => {
  it('says every code in Chinese with no English words', () => {
    const t = translator('zh-CN')
    for (const said of SAMPLES) {
      const text = workflowProblemText(said, t)
      const rest = text.replace(/ComfyUI|API|UI|PNG|JSON|MB|EACCES|E\d|\.json|\.png/g, '')
      expect(rest, `${said.code}: ${text}`).not.toMatch(/[A-Za-z]{2,}/)
      expect(text.length).toBeGreaterThan(3)
    }
  })

  it('says every code in English, values kept as they are', () => {
    const t = translator('en')
    expect(workflowProblemText({ code: 'unreadable', detail: 'EACCES' }, t)).toContain('EACCES')
    expect(
      workflowProblemText({ code: 'too-large', bytes: null, limitBytes: 64 * 1024 * 1024 }, t)
    ).toContain('64 MB')
    for (const said of SAMPLES) expect(workflowProblemText(said, t)).toMatch(/[a-z]{3,}/)
  })

  it('calls a folder a folder, and only a folder', () => {
    for (const lang of ['en', 'zh-CN'] as const) {
      const t = translator(lang)
      const folder = workflowProblemText({ code: 'not-a-file', folder: true }, t)
      const other = workflowProblemText({ code: 'not-a-file', folder: false }, t)
      expect(other).not.toBe(folder)
      expect(other).not.toMatch(/folder|文件夹/)
    }
  })
})
