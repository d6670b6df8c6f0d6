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
import type {
  AttemptSaid,
  JobErrorSaid,
  JobNoteSaid,
  MovedSaid,
  OutputProblem,
  TrySaid,
  UiNodeSaid,
  WorkflowSaid
} from '../../../shared/job-said'
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

type MovedTable = SaidTable<MovedSaid, Part[]>
type NoteTable = SaidTable<JobNoteSaid, Part[]>
type AttemptTable = SaidTable<AttemptSaid, Part[]>
type JobErrorTable = SaidTable<JobErrorSaid, Part[]>
type WorkflowTable = SaidTable<WorkflowSaid, Part[]>

const MOVED_EN = {
  'server-down': (m) => [
    lit(m.server),
    w(' is down'),
    ...(m.why ? [w(' ('), ...sayServer(m.why, 'en'), w(')')] : [])
  ],
  forgotten: (m) => [lit(m.server), w(' no longer knows the job (restarted?)')],
  text: (m) => [lit(m.text)]
} satisfies MovedTable

const MOVED_ZH = {
  'server-down': (m) => [
    w('服务器 '),
    lit(m.server),
    w(' 已离线'),
    ...(m.why ? [w('（'), ...sayServer(m.why, 'zh-CN'), w('）')] : [])
  ],
  forgotten: (m) => [w('服务器 '), lit(m.server), w(' 已不记得此任务（重启过？）')],
  text: (m) => [lit(m.text)]
} satisfies MovedTable

/** Each output not saved: its file name literal, why in the language. */
function outputParts(
  over: { n: number; limit: number } | null,
  files: OutputProblem[],
  zh: boolean
): Part[] {
  const said: Part[][] = []
  if (over)
    said.push([
      w(
        zh
          ? `超出每个任务 ${over.limit} 个的上限 ${over.n} 个`
          : `${over.n} over the limit of ${over.limit} per job`
      )
    ])
  for (const f of files)
    said.push([lit(f.file), w(zh ? '：' : ': '), ...sayServer(f.why, zh ? 'zh-CN' : 'en')])
  return joined(said, zh ? '；' : '; ')
}

const NOTE_EN = {
  cancelled: () => [w('Cancelled by you')],
  'cancelled-on': (n) => [w('Cancelled on '), lit(n.server), w(' (removed from its queue there)')],
  interrupted: () => [w('Interrupted on the server')],
  'held-back': () => [w('Waiting here until a server is about to be free')],
  paused: () => [w('Waiting: sending is paused')],
  waiting: (n) => [w('Waiting for a healthy server: '), ...sayChoice(n.why, 'en')],
  'retried-as': (n) => [w('Retried as '), lit(n.id)],
  'retry-of': (n) => [w('Retry of '), lit(n.id)],
  moved: (n) => [w('Moved: '), ...render<MovedSaid, Part[]>(MOVED_EN, n.why)],
  'missing-outputs': (n) => [
    w('Some outputs could not be saved: '),
    ...outputParts(n.over, n.files, false)
  ],
  text: (n) => [lit(n.text)]
} satisfies NoteTable

const NOTE_ZH = {
  cancelled: () => [w('已由您取消')],
  'cancelled-on': (n) => [w('已在服务器 '), lit(n.server), w(' 上取消（从其队列中移除）')],
  interrupted: () => [w('在服务器上被中断')],
  'held-back': () => [w('在本机等待，直到某台服务器即将空闲')],
  paused: () => [w('等待中：发送已暂停')],
  waiting: (n) => [w('等待在线的服务器：'), ...sayChoice(n.why, 'zh-CN')],
  'retried-as': (n) => [w('已重试为 '), lit(n.id)],
  'retry-of': (n) => [w('重试自 '), lit(n.id)],
  moved: (n) => [w('已转移：'), ...render<MovedSaid, Part[]>(MOVED_ZH, n.why)],
  'missing-outputs': (n) => [w('部分输出无法保存：'), ...outputParts(n.over, n.files, true)],
  text: (n) => [lit(n.text)]
} satisfies NoteTable

const ATTEMPT_EN = {
  sending: () => [w('sending')],
  accepted: () => [w('accepted')],
  'not-received': () => [w('not received')],
  unknown: () => [w('unknown (server unreachable)')],
  'cannot-run': (a) => [w('cannot run it: '), lit(a.text)],
  refused: (a) => [w('refused: '), lit(a.text)],
  failed: (a) => sayServer(a.why, 'en'),
  'upload-failed': (a) => [w('upload failed: '), ...sayServer(a.why, 'en')],
  'input-unreadable': (a) => [
    w('cannot read the input image '),
    lit(a.path),
    w(': '),
    lit(a.detail)
  ],
  text: (a) => [lit(a.text)]
} satisfies AttemptTable

const ATTEMPT_ZH = {
  sending: () => [w('发送中')],
  accepted: () => [w('已接受')],
  'not-received': () => [w('未收到')],
  unknown: () => [w('未知（服务器无法访问）')],
  'cannot-run': (a) => [w('无法运行：'), lit(a.text)],
  refused: (a) => [w('被拒绝：'), lit(a.text)],
  failed: (a) => sayServer(a.why, 'zh-CN'),
  'upload-failed': (a) => [w('上传失败：'), ...sayServer(a.why, 'zh-CN')],
  'input-unreadable': (a) => [w('无法读取输入图片 '), lit(a.path), w('：'), lit(a.detail)],
  text: (a) => [lit(a.text)]
} satisfies AttemptTable

/** Each try: the server's name literal, what it came to in the language. */
function triesParts(tries: TrySaid[], locale: Locale): Part[] {
  const zh = locale === 'zh-CN'
  return joined(
    tries.map((t) => [
      lit(t.server),
      w(zh ? '：' : ': '),
      ...render<AttemptSaid, Part[]>(ATTEMPT_SAID[locale], t.why)
    ]),
    zh ? '；' : '; '
  )
}

const JOB_ERROR_EN = {
  comfy: (e) => [lit(e.text)],
  'server-error': () => [w('The server reported an error')],
  refused: (e) => [w('The server refused the workflow: '), lit(e.text)],
  'server-removed': () => [w('The chosen server was removed from the list')],
  'no-server-took': (e) => [
    w('No server could take the job ('),
    ...triesParts(e.tries, 'en'),
    w(')')
  ],
  'none-can-run': (e) => [
    w('No server can run this workflow ('),
    ...lacksParts(e.servers, false),
    w(')')
  ],
  'lost-too-often': (e) => [
    w(`Servers lost this job ${e.n} times after taking it; it is not sent again (`),
    ...render<MovedSaid, Part[]>(MOVED_EN, e.why),
    w(')')
  ],
  'moved-too-often': (e) => [
    w(`Moved ${e.n} times; it is not sent again (`),
    ...render<MovedSaid, Part[]>(MOVED_EN, e.why),
    w(')')
  ],
  'no-result': (e) => [
    lit(e.server),
    w(' does not give the result of this job: '),
    ...sayServer(e.why, 'en')
  ],
  'input-unreadable': (e) => [
    w('Cannot read the input image '),
    lit(e.path),
    w(': '),
    lit(e.detail)
  ],
  internal: (e) => [w('Something went wrong in the app: '), lit(e.text)],
  text: (e) => [lit(e.text)]
} satisfies JobErrorTable

const JOB_ERROR_ZH = {
  comfy: (e) => [lit(e.text)],
  'server-error': () => [w('服务器报告了错误')],
  refused: (e) => [w('服务器拒绝了此工作流：'), lit(e.text)],
  'server-removed': () => [w('所选服务器已从列表中删除')],
  'no-server-took': (e) => [w('没有服务器接收此任务（'), ...triesParts(e.tries, 'zh-CN'), w('）')],
  'none-can-run': (e) => [
    w('没有服务器可以运行此工作流（'),
    ...lacksParts(e.servers, true),
    w('）')
  ],
  'lost-too-often': (e) => [
    w(`服务器接收此任务后已 ${e.n} 次丢失它，不再发送（`),
    ...render<MovedSaid, Part[]>(MOVED_ZH, e.why),
    w('）')
  ],
  'moved-too-often': (e) => [
    w(`已转移 ${e.n} 次，不再发送（`),
    ...render<MovedSaid, Part[]>(MOVED_ZH, e.why),
    w('）')
  ],
  'no-result': (e) => [
    w('服务器 '),
    lit(e.server),
    w(' 无法给出此任务的结果：'),
    ...sayServer(e.why, 'zh-CN')
  ],
  'input-unreadable': (e) => [w('无法读取输入图片 '), lit(e.path), w('：'), lit(e.detail)],
  internal: (e) => [w('应用内部出错：'), lit(e.text)],
  text: (e) => [lit(e.text)]
} satisfies JobErrorTable

/** `node 5 "My sampler" (KSampler)`: the id, title and class literal. */
function nodeParts(node: UiNodeSaid, zh: boolean): Part[] {
  const title =
    node.title && node.title !== node.classType ? [w(' “'), lit(node.title), w('”')] : []
  return [
    w(zh ? '节点 ' : 'node '),
    lit(node.id),
    ...title,
    w(zh ? '（' : ' ('),
    lit(node.classType),
    w(zh ? '）' : ')')
  ]
}

const mbText = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1)

const WORKFLOW_EN = {
  'ui-format': () => [
    w(
      'this is a UI-format workflow, which a server cannot run. In ComfyUI use "Export (API)" in the Workflow menu, or use a PNG saved by ComfyUI.'
    )
  ],
  'needs-object-info': () => [
    w(
      'this is a UI-format workflow; a server must be up to convert it (or in ComfyUI use "Export (API)").'
    )
  ],
  'not-converted': (p) => [
    w('this UI workflow could not be converted: '),
    ...(p.node ? [...nodeParts(p.node, false), w(': ')] : []),
    lit(p.detail)
  ],
  'not-workflow': () => [w('this is not a ComfyUI workflow in API format.')],
  'no-nodes': () => [w('the workflow has no nodes.')],
  'too-many-nodes': (p) => [
    w(`the workflow is too large (${p.nodes} nodes; the limit is ${p.limit}).`)
  ],
  'too-deep': (p) => [w(`the workflow is nested too deeply (more than ${p.limit} levels).`)],
  'bad-node': (p) => [
    w('node '),
    lit(p.id),
    w(' is not a ComfyUI node; is this an API-format workflow?')
  ],
  'too-large': (p) => [w(`the file is too large (the limit is ${mbText(p.limitBytes)} MB).`)],
  'bad-png': (p) => [w('the PNG could not be read ('), lit(p.detail), w(').')],
  'png-none': () => [
    w('this PNG holds no ComfyUI workflow (not saved by ComfyUI, or its data was removed).')
  ],
  'png-bad-json': () => [w('the workflow inside this PNG is damaged.')],
  'bad-json': () => [
    w('this is not a workflow file (expected an API-format .json or a ComfyUI PNG).')
  ],
  'wrong-type': () => [w('only .json and .png workflows can be submitted.')],
  'not-absolute': () => [w('the path must be absolute.')],
  missing: () => [w('the file does not exist.')],
  'not-a-file': (p) => [w(p.folder ? 'this is a folder, not a file.' : 'this is not a file.')],
  unreadable: (p) => [w('the file cannot be read ('), lit(p.detail), w(').')],
  text: (p) => [lit(p.text)]
} satisfies WorkflowTable

const WORKFLOW_ZH = {
  'ui-format': () => [
    w(
      '这是界面格式的工作流，服务器无法直接运行。请在 ComfyUI 的“工作流”菜单中使用“导出 (API)”，或使用 ComfyUI 保存的 PNG。'
    )
  ],
  'needs-object-info': () => [
    w('这是界面格式的工作流，需要有在线的服务器才能转换（或在 ComfyUI 中使用“导出 (API)”）。')
  ],
  'not-converted': (p) => [
    w('无法转换此界面工作流：'),
    ...(p.node ? [...nodeParts(p.node, true), w('：')] : []),
    lit(p.detail)
  ],
  'not-workflow': () => [w('这不是 API 格式的 ComfyUI 工作流。')],
  'no-nodes': () => [w('工作流中没有节点。')],
  'too-many-nodes': (p) => [w(`工作流太大（${p.nodes} 个节点，上限 ${p.limit} 个）。`)],
  'too-deep': (p) => [w(`工作流嵌套太深（超过 ${p.limit} 层）。`)],
  'bad-node': (p) => [w('节点 '), lit(p.id), w(' 不是 ComfyUI 节点；这是 API 格式的工作流吗？')],
  'too-large': (p) => [w(`文件太大（上限 ${mbText(p.limitBytes)} MB）。`)],
  'bad-png': (p) => [w('无法读取此 PNG（'), lit(p.detail), w('）。')],
  'png-none': () => [w('此 PNG 不包含 ComfyUI 工作流（不是 ComfyUI 保存的，或数据已被删除）。')],
  'png-bad-json': () => [w('此 PNG 中的工作流已损坏。')],
  'bad-json': () => [w('这不是工作流文件（需要 API 格式的 .json 或 ComfyUI 保存的 PNG）。')],
  'wrong-type': () => [w('只能提交 .json 和 .png 工作流。')],
  'not-absolute': () => [w('路径必须是绝对路径。')],
  missing: () => [w('文件不存在。')],
  'not-a-file': (p) => [w(p.folder ? '这是文件夹，不是文件。' : '这不是文件。')],
  unreadable: (p) => [w('无法读取文件（'), lit(p.detail), w('）。')],
  text: (p) => [lit(p.text)]
} satisfies WorkflowTable

/** Every locale has a table for every code. */
export const SERVER_SAID = { en: SERVER_EN, 'zh-CN': SERVER_ZH } satisfies Record<
  Locale,
  ServerTable
>
export const CHOICE_SAID = { en: CHOICE_EN, 'zh-CN': CHOICE_ZH } satisfies Record<
  Locale,
  ChoiceTable
>
export const NOTE_SAID = { en: NOTE_EN, 'zh-CN': NOTE_ZH } satisfies Record<Locale, NoteTable>
export const ATTEMPT_SAID = { en: ATTEMPT_EN, 'zh-CN': ATTEMPT_ZH } satisfies Record<
  Locale,
  AttemptTable
>
export const JOB_ERROR_SAID = { en: JOB_ERROR_EN, 'zh-CN': JOB_ERROR_ZH } satisfies Record<
  Locale,
  JobErrorTable
>
export const WORKFLOW_SAID = { en: WORKFLOW_EN, 'zh-CN': WORKFLOW_ZH } satisfies Record<
  Locale,
  WorkflowTable
>
export const MOVED_SAID = { en: MOVED_EN, 'zh-CN': MOVED_ZH } satisfies Record<Locale, MovedTable>

/** Why a server is down, in the window's language. */
export function sayServer(said: ServerSaid, locale: Locale = getLocale()): Part[] {
  return render(SERVER_SAID[locale], said)
}

/** Why a server was chosen or none was, in the window's language. */
export function sayChoice(said: ChoiceSaid, locale: Locale = getLocale()): Part[] {
  return render(CHOICE_SAID[locale], said)
}

/** A job note, in the window's language. */
export function sayJobNote(said: JobNoteSaid, locale: Locale = getLocale()): Part[] {
  return render(NOTE_SAID[locale], said)
}

/** What one try on a server came to, in the window's language. */
export function sayAttempt(said: AttemptSaid, locale: Locale = getLocale()): Part[] {
  return render<AttemptSaid, Part[]>(ATTEMPT_SAID[locale], said)
}

/** Why a job failed, in the window's language. */
export function sayJobError(said: JobErrorSaid, locale: Locale = getLocale()): Part[] {
  return render(JOB_ERROR_SAID[locale], said)
}

/** Why a file is not a workflow we can send, in the window's language. */
export function sayWorkflowProblem(said: WorkflowSaid, locale: Locale = getLocale()): Part[] {
  return render(WORKFLOW_SAID[locale], said)
}
