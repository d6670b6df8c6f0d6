import { afterEach, describe, expect, it } from 'vitest'
import {
  explainChoice,
  explainServer,
  explainWorkflowProblem
} from '../../src/renderer/src/lib/explain'
import { partsText, setLocale, type Part } from '../../src/renderer/src/lib/i18n.svelte'
import { sayAttempt, sayJobError, sayJobNote } from '../../src/renderer/src/lib/said'

afterEach(() => setLocale('en'))

const text = (parts: Part[]) => partsText(parts)

describe("the engine's reasons, in the window's language", () => {
  it('says why a server is down from its code, in both languages', () => {
    expect(text(explainServer({ code: 'timeout', ms: 800 }, 'ignored'))).toBe(
      'Timed out after 800 ms'
    )
    setLocale('zh-CN')
    expect(text(explainServer({ code: 'timeout', ms: 800 }, 'Timed out after 800 ms'))).toBe(
      '超时（800 毫秒内无响应）'
    )
    expect(explainServer({ code: 'host-not-found', host: 'gpu-9.local' })).toEqual([
      { text: '找不到主机：', literal: false },
      { text: 'gpu-9.local', literal: true }
    ])
  })

  it('says why a server was chosen from its code; plain words are shown as they are', () => {
    setLocale('zh-CN')
    expect(
      text(explainChoice({ code: 'none-healthy', total: 2 }, 'No healthy server (0/2 up)'))
    ).toBe('没有可用的服务器（2 台中 0 台在线）')
    expect(explainChoice('shortest queue (1)')).toEqual([
      { text: 'shortest queue (1)', literal: true }
    ])
    expect(explainChoice(undefined, 'as the engine said')).toEqual([
      { text: 'as the engine said', literal: true }
    ])
    expect(explainChoice(null)).toEqual([])
  })

  it('words without a code (from an older core) are shown as they are', () => {
    setLocale('zh-CN')
    expect(explainServer(null, 'Something new went wrong')).toEqual([
      { text: 'Something new went wrong', literal: true }
    ])
    expect(explainServer(null, null)).toEqual([])
  })

  it('says workflow problems, attempt results, job notes and errors from their codes', () => {
    setLocale('zh-CN')
    expect(text(explainWorkflowProblem({ said: { code: 'ui-format' } }))).toMatch(
      /^这是界面格式的工作流/
    )
    expect(text(explainWorkflowProblem({ said: { code: 'bad-json', at: 3 } }))).toMatch(
      /^这不是工作流文件/
    )
    expect(text(explainWorkflowProblem({ said: { code: 'not-absolute' } }))).toBe(
      '路径必须是绝对路径。'
    )
    expect(text(sayAttempt({ code: 'accepted' }))).toBe('已接受')
    expect(text(sayJobNote({ code: 'cancelled' }))).toBe('已由您取消')
    expect(text(sayJobNote({ code: 'waiting', why: { code: 'none-healthy', total: 2 } }))).toBe(
      '等待在线的服务器：没有可用的服务器（2 台中 0 台在线）'
    )
    expect(text(sayAttempt({ code: 'failed', why: { code: 'timeout', ms: 900 } }))).toBe(
      '超时（900 毫秒内无响应）'
    )
    expect(
      text(sayAttempt({ code: 'failed', why: { code: 'http', status: 502, proxyPage: true } }))
    ).toBe('服务器返回错误 502（来自代理的错误页面）')
    expect(sayAttempt({ code: 'refused', text: 'missing node Foo' })).toEqual([
      { text: '被拒绝：', literal: false },
      { text: 'missing node Foo', literal: true }
    ])
    expect(text(sayJobError({ code: 'server-error' }))).toBe('服务器报告了错误')
    expect(text(sayJobNote({ code: 'text', text: 'Cancelled by the user' }))).toBe(
      'Cancelled by the user'
    )
  })
})
