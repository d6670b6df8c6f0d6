/**
 * The window's words for the core's reason codes (`src/shared/said.ts`): why a server is down
 * and why a server was chosen or none was, one table per locale. A table without a code fails
 * the typecheck. Values the core quotes (a host, Node's own text, a missing node's name) stay
 * literal parts, shown as they are.
 */
import {
  isAuthStatus,
  render,
  seconds,
  sizeText,
  type ChoiceSaid,
  type Lacks,
  type SaidTable,
  type ServerSaid
} from '../../../shared/said'
import { getLocale, type Locale, type Part } from './i18n.svelte'

const w = (text: string): Part => ({ text, literal: false })
const lit = (text: string): Part => ({ text, literal: true })

type ServerTable = SaidTable<ServerSaid, Part[]>
type ChoiceTable = SaidTable<ChoiceSaid, Part[]>

const SERVER_EN = {
  timeout: (s) => [w(`Timed out after ${s.ms} ms`)],
  stalled: (s) => [w(`The download stalled: nothing arrived for ${s.ms} ms`)],
  refused: () => [w('Connection refused (is ComfyUI running on that port?)')],
  'host-not-found': (s) => (s.host ? [w('Host not found: '), lit(s.host)] : [w('Host not found')]),
  closed: () => [w('The server closed the connection')],
  unreachable: () => [w('Host unreachable (network down or wrong address)')],
  'broken-http': () => [w('The server sent a broken answer')],
  tls: (s) => [w('Problem with the HTTPS certificate ('), lit(s.detail), w(')')],
  http: (s) => [
    w(`The server answered with error ${s.status}`),
    ...(s.proxyPage ? [w(' (an error page from a proxy)')] : []),
    ...(isAuthStatus(s.status) ? [w(' (check the address and the auth header)')] : [])
  ],
  'not-json': (s) => [
    w(
      s.page
        ? 'Answered with a web page instead of ComfyUI (a proxy or login page?)'
        : 'Answered with something that is not ComfyUI'
    )
  ],
  'bad-shape': () => [w('Answered in a way ComfyUI does not')],
  network: (s) => [lit(s.detail)],
  'bad-url': () => [w('The server address is not a valid URL')],
  'not-http': (s) => [w('Not an http or https address: '), lit(s.protocol)],
  stopped: () => [w('The download was stopped')],
  redirect: (s) => [
    w('The server sent us to another address ('),
    lit(s.to),
    w('); it was not followed')
  ],
  'redirect-invalid': () => [w('The server sent us to an address that is not valid')],
  'redirect-post': (s) => [
    w(`The server answered with a redirect (${s.status}) instead of taking the request`)
  ],
  'redirect-loop': () => [w('The server redirected too many times')],
  'too-large': (s) => [
    w(
      `The ${s.what === 'file' ? 'file' : s.what === 'request' ? 'request' : 'answer'} was larger than ${sizeText(s.limitBytes)}`
    )
  ],
  disabled: () => [w('Disabled')],
  text: (s) => [lit(s.text)]
} satisfies ServerTable

const SERVER_ZH = {
  timeout: (s) => [w(`超时（${s.ms} 毫秒内无响应）`)],
  stalled: (s) => [w(`下载停滞：${s.ms} 毫秒内没有收到数据`)],
  refused: () => [w('连接被拒绝（ComfyUI 是否在该端口运行？）')],
  'host-not-found': (s) => (s.host ? [w('找不到主机：'), lit(s.host)] : [w('找不到主机')]),
  closed: () => [w('服务器关闭了连接')],
  unreachable: () => [w('无法访问主机（网络断开或地址错误）')],
  'broken-http': () => [w('服务器返回了损坏的应答')],
  tls: (s) => [w('HTTPS 证书有问题（'), lit(s.detail), w('）')],
  http: (s) => [
    w(`服务器返回错误 ${s.status}`),
    ...(s.proxyPage ? [w('（来自代理的错误页面）')] : []),
    ...(isAuthStatus(s.status) ? [w('（请检查地址和登录请求头）')] : [])
  ],
  'not-json': (s) => [
    w(s.page ? '返回的是网页而不是 ComfyUI（代理或登录页面？）' : '返回的内容不是 ComfyUI 的应答')
  ],
  'bad-shape': () => [w('应答格式与 ComfyUI 不符')],
  network: (s) => [lit(s.detail)],
  'bad-url': () => [w('服务器地址无效')],
  'not-http': (s) => [w('不是 http 或 https 地址：'), lit(s.protocol)],
  stopped: () => [w('下载已停止')],
  redirect: (s) => [w('服务器重定向到了其他地址（'), lit(s.to), w('），未跟随')],
  'redirect-invalid': () => [w('服务器重定向到了无效的地址')],
  'redirect-post': (s) => [w(`服务器以重定向（${s.status}）代替接收请求`)],
  'redirect-loop': () => [w('服务器重定向次数过多')],
  'too-large': (s) => [
    w(
      `${s.what === 'file' ? '文件' : s.what === 'request' ? '请求' : '应答'}超过了 ${sizeText(s.limitBytes)}`
    )
  ],
  disabled: () => [w('已停用')],
  text: (s) => [lit(s.text)]
} satisfies ServerTable

/** What each server lacks, one after the other: names literal, the words translated. */
function lacksParts(servers: readonly Lacks[], zh: boolean): Part[] {
  const out: Part[] = []
  servers.forEach((l, i) => {
    if (i) out.push(w(zh ? '；' : '; '))
    out.push(lit(l.name), w(zh ? '：' : ': '))
    if (l.text !== undefined) {
      out.push(lit(l.text))
      return
    }
    const said: Part[][] = []
    if (l.nodes.length)
      said.push([
        w(zh ? '缺少节点 ' : `missing node${l.nodes.length > 1 ? 's' : ''} `),
        lit(l.nodes.join(', '))
      ])
    if (l.models.length)
      said.push([
        w(zh ? '缺少模型 ' : `missing model${l.models.length > 1 ? 's' : ''} `),
        lit(l.models.join(', '))
      ])
    said.forEach((p, j) => out.push(...(j ? [w(zh ? '，' : '; ')] : []), ...p))
  })
  return out
}

/** Clauses joined the way the language does. */
function joined(clauses: readonly Part[][], sep: string): Part[] {
  return clauses.flatMap((c, i) => (i ? [w(sep), ...c] : c))
}

const CHOICE_EN: ChoiceTable = {
  'no-servers': () => [w('No servers are configured')],
  'all-disabled': () => [w('All servers are turned off')],
  'not-checked': () => [w('No server has been checked yet')],
  'none-healthy': (c) => [w(`No healthy server (0 of ${c.total} up)`)],
  'none-capable': (c) => [
    w('No healthy server can run this workflow ('),
    ...lacksParts(c.servers, false),
    w(')')
  ],
  'only-healthy': () => [w('the only healthy server')],
  'round-robin': () => [w('next in turn (queue weighting is off)')],
  'shortest-queue': (c) =>
    joined(
      [
        [w(`shortest queue (${c.n})`)],
        ...(c.tie ? [[w(`first in your list among ${c.tie} equal`)]] : [])
      ],
      ', '
    ),
  expected: (c) => {
    const main = joined(
      [
        [
          w(
            c.queue !== null
              ? `shortest queue (${c.queue})`
              : `expected to start in ${seconds(c.startMs)} s and finish in ${seconds(c.doneMs)} s`
          )
        ],
        ...(c.about ? [[w(`one of ${c.about} about equal`)]] : []),
        ...(c.justBack ? [[w('just came back')]] : [])
      ],
      ', '
    )
    return c.lacking ? joined([main, [w(`${c.lacking} server(s) lack what it needs`)]], '; ') : main
  },
  tried: (c) => joined([sayChoice(c.then, 'en'), [w(`${c.n} server(s) already tried`)]], '; '),
  'all-tried': (c) => [w(`every server was tried (${c.n})`)],
  'held-back': () => [w('Waiting here until a server is about to be free')],
  'held-for': (c) =>
    joined(
      [sayChoice(c.then, 'en'), [w('the next job waits here until it is about to be free')]],
      '; '
    ),
  text: (c) => [lit(c.text)]
} satisfies ChoiceTable

const CHOICE_ZH: ChoiceTable = {
  'no-servers': () => [w('尚未配置服务器')],
  'all-disabled': () => [w('所有服务器都已关闭')],
  'not-checked': () => [w('还没有检查过任何服务器')],
  'none-healthy': (c) => [w(`没有可用的服务器（${c.total} 台中 0 台在线）`)],
  'none-capable': (c) => [
    w('没有可以运行此工作流的在线服务器（'),
    ...lacksParts(c.servers, true),
    w('）')
  ],
  'only-healthy': () => [w('唯一在线的服务器')],
  'round-robin': () => [w('轮流分配（未按队列加权）')],
  'shortest-queue': (c) =>
    joined(
      [[w(`队列最短（${c.n}）`)], ...(c.tie ? [[w(`${c.tie} 台相同，取列表中靠前的一台`)]] : [])],
      '，'
    ),
  expected: (c) => {
    const main = joined(
      [
        [
          w(
            c.queue !== null
              ? `队列最短（${c.queue}）`
              : `预计 ${seconds(c.startMs)} 秒后开始，${seconds(c.doneMs)} 秒后完成`
          )
        ],
        ...(c.about ? [[w(`${c.about} 台相差无几之一`)]] : []),
        ...(c.justBack ? [[w('刚刚恢复')]] : [])
      ],
      '，'
    )
    return c.lacking ? joined([main, [w(`${c.lacking} 台服务器缺少所需的节点或模型`)]], '；') : main
  },
  tried: (c) => joined([sayChoice(c.then, 'zh-CN'), [w(`${c.n} 台服务器已经试过`)]], '；'),
  'all-tried': (c) => [w(`所有服务器都已试过（${c.n} 台）`)],
  'held-back': () => [w('在本机等待，直到某台服务器即将空闲')],
  'held-for': (c) =>
    joined([sayChoice(c.then, 'zh-CN'), [w('下一个任务在本机等待它即将空闲')]], '；'),
  text: (c) => [lit(c.text)]
} satisfies ChoiceTable

/** Every locale has a table for every code. */
export const SERVER_SAID = { en: SERVER_EN, 'zh-CN': SERVER_ZH } satisfies Record<
  Locale,
  ServerTable
>
export const CHOICE_SAID = { en: CHOICE_EN, 'zh-CN': CHOICE_ZH } satisfies Record<
  Locale,
  ChoiceTable
>

/** Why a server is down, in the window's language. */
export function sayServer(said: ServerSaid, locale: Locale = getLocale()): Part[] {
  return render(SERVER_SAID[locale], said)
}

/** Why a server was chosen or none was, in the window's language. */
export function sayChoice(said: ChoiceSaid, locale: Locale = getLocale()): Part[] {
  return render(CHOICE_SAID[locale], said)
}
