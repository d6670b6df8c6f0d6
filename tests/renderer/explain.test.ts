import { afterEach, describe, expect, it } from 'vitest'
import {
  explain,
  explainChoice,
  explainServer,
  explainText
} from '../../src/renderer/src/lib/explain'
import { partsText, setLocale } from '../../src/renderer/src/lib/i18n.svelte'

afterEach(() => setLocale('en'))

const text = (parts: ReturnType<typeof explain>) => partsText(parts)

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

  it('a result without a code yet (a connection test) is read as an attempt result is', () => {
    setLocale('zh-CN')
    expect(text(explainServer(null, 'Connection refused (is ComfyUI running on that port?)'))).toBe(
      '连接被拒绝（ComfyUI 是否在该端口运行？）'
    )
    expect(explainServer(null, 'Something new went wrong')).toEqual([
      { text: 'Something new went wrong', literal: true }
    ])
    expect(explainServer(null, null)).toEqual([])
  })

  it('explains workflow problems and job texts (still sentences)', () => {
    setLocale('zh-CN')
    expect(
      explainText('workflow', 'this is a UI-format workflow (nodes and links), which...')
    ).toMatch(/^这是界面格式的工作流/)
    expect(explainText('workflow', 'not valid JSON (error near character 3); expected...')).toMatch(
      /^这不是工作流文件/
    )
    expect(explainText('job', 'accepted')).toBe('已接受')
    expect(explainText('job', 'Cancelled by the user')).toBe('已由您取消')
    expect(explainText('job', 'Waiting for a healthy server: No healthy server (0/2 up)')).toBe(
      '等待在线的服务器：没有可用的服务器（2 台中 0 台在线）'
    )
    expect(explainText('job', 'Timed out after 900 ms')).toBe('超时（900 毫秒内无响应）')
    expect(explainText('job', 'HTTP 502 Bad Gateway (an error page from a proxy)')).toBe(
      '服务器返回错误 502（来自代理的错误页面）'
    )
    expect(explain('job', 'refused: missing node Foo')).toEqual([
      { text: '被拒绝：', literal: false },
      { text: 'missing node Foo', literal: true }
    ])
  })
})
