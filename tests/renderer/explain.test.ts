import { afterEach, describe, expect, it } from 'vitest'
import { explain, explainText } from '../../src/renderer/src/lib/explain'
import { setLocale } from '../../src/renderer/src/lib/i18n.svelte'

afterEach(() => setLocale('en'))

describe("the engine's words, in the window's language", () => {
  it('says every reason of the policies in Chinese', () => {
    setLocale('zh-CN')
    const cases: Array<[string, string]> = [
      ['shortest queue (0)', '队列最短（0）'],
      [
        'shortest queue (2), first in the list among 3 equal',
        '队列最短（2），3 台相同，取列表中靠前的一台'
      ],
      ['expected start in 0.0 s, done in 20 s', '预计 0.0 秒后开始，20 秒后完成'],
      [
        'expected start in 1.5 s, done in 12 s, one of 2 about equal, just came back; 1 server(s) lack what it needs',
        '预计 1.5 秒后开始，12 秒后完成，2 台相差无几之一，刚刚恢复；1 台服务器缺少所需的节点或模型'
      ],
      ['the only healthy server', '唯一在线的服务器'],
      ['next in turn (queue weighting is off)', '轮流分配（未按队列加权）'],
      ['No healthy server (0/3 up)', '没有可用的服务器（3 台中 0 台在线）'],
      ['No servers are configured', '尚未配置服务器'],
      ['All servers are disabled', '所有服务器都已关闭'],
      ['No server has been checked yet', '还没有检查过任何服务器']
    ]
    for (const [en, zh] of cases) expect(explainText('reason', en), en).toBe(zh)
  })

  it('keeps what a reason quotes as it is', () => {
    setLocale('zh-CN')
    expect(
      explain('reason', 'No healthy server can run this workflow (gpu-1: missing node Foo)')
    ).toEqual([
      { text: '没有可以运行此工作流的在线服务器（', literal: false },
      { text: 'gpu-1: missing node Foo', literal: true },
      { text: '）', literal: false }
    ])
  })

  it('says why a server is down, in both languages', () => {
    expect(explainText('error', 'Timed out after 800 ms')).toBe('Timed out after 800 ms')
    setLocale('zh-CN')
    expect(explainText('error', 'Timed out after 800 ms')).toBe('超时（800 毫秒内无响应）')
    expect(explainText('error', 'Connection refused (is ComfyUI running on that port?)')).toBe(
      '连接被拒绝（ComfyUI 是否在该端口运行？）'
    )
    expect(explainText('error', 'HTTP 502 Bad Gateway (an error page from a proxy)')).toBe(
      '服务器返回错误 502（来自代理的错误页面）'
    )
    expect(
      explainText('error', 'HTTP 401 Unauthorized (check the server address and its auth header)')
    ).toBe('服务器返回错误 401（请检查地址和登录请求头）')
    expect(explain('error', 'Host not found: gpu-9.local')).toEqual([
      { text: '找不到主机：', literal: false },
      { text: 'gpu-9.local', literal: true }
    ])
    expect(explainText('error', 'Unexpected queue answer: queue_running is not a list')).toBe(
      '应答格式与 ComfyUI 不符'
    )
  })

  it('quotes what it does not know, rather than hide it', () => {
    setLocale('zh-CN')
    expect(explain('error', 'Something new went wrong')).toEqual([
      { text: 'Something new went wrong', literal: true }
    ])
    expect(explain('reason', 'shortest queue (1), something new')).toEqual([
      { text: 'shortest queue (1), something new', literal: true }
    ])
  })

  it('explains workflow problems and job texts', () => {
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
    expect(explain('job', 'refused: missing node Foo')).toEqual([
      { text: '被拒绝：', literal: false },
      { text: 'missing node Foo', literal: true }
    ])
  })
})
