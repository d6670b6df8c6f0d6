/**
 * Every text the main process shows (tray, notifications, dialogs), in one table per language,
 * like the window's `src/renderer/src/lib/i18n.svelte.ts`. `en` is the reference: the other table must
 * have the same keys (a type error otherwise). `{name}` marks a value filled in by `format`.
 * Why a server is down comes as data (`ServerSaid`) and is said here (`serverSaidText`); values
 * inside it (a host, Node's own error text) are shown as they are.
 */
import {
  HTTP_STATUS_TEXT,
  isAuthStatus,
  sizeText,
  type SaidOf,
  type ServerCode,
  type ServerSaid
} from '../shared/said'
import type { JobErrorCode, JobErrorSaid, WorkflowCode, WorkflowSaid } from '../shared/job-said'
import type { JobError, Language } from '../shared/types'

const en = {
  // Tray summary (also the tooltip): `2/3 servers up - best: gpu-1 (queue 0)`.
  summaryNoServers: 'No servers configured',
  summaryAllDisabled: 'All servers are disabled',
  summaryChecking: 'Checking {count} servers...',
  summaryBest: '{up}/{total} servers up - best: {best} (queue {queue})',
  summaryNone: '{up}/{total} servers up - no healthy server',
  summaryPaused: '{text} - checks paused',
  // One menu line per server.
  serverBest: '★ {name} - best: {running} running, {pending} pending',
  serverUp: '● {name} - {running} running, {pending} pending',
  serverDown: '✕ {name} - down: {reason}',
  serverChecking: '… {name} - checking',
  serverDisabled: '– {name} - disabled',
  unknownReason: 'no answer',
  submitWorkflow: 'Submit workflow...',
  submitTo: 'Submit to',
  submitToServer: '{name}...',
  submitToDown: '{name} (down)',
  openApp: 'Open Comfy Balancer',
  checkNow: 'Check now',
  pauseChecks: 'Pause checks',
  pauseSending: 'Pause sending',
  runAgain: 'Run {name} again',
  runAgainNone: 'Run the last workflow again',
  runTimes: '×{count}',
  verboseLogs: 'Verbose logs',
  startAtLogin: 'Start at login',
  openLogFolder: 'Open log folder',
  quit: 'Quit',
  // The gateway: one ComfyUI address for the whole fleet.
  gatewayOn: 'Gateway: {url}',
  gatewayCopy: 'Copy the address',
  gatewayOff: 'Gateway: off',
  gatewayStarting: 'Gateway: starting...',
  gatewayFailed: 'Gateway off: {reason}',
  gatewayFailedTitle: 'The gateway could not start',
  gatewayFailedBody: '{reason}',
  gatewayPortTaken: 'port {port} is already in use',
  gatewayPortTakenBody:
    'Port {port} is used by another program. Choose another port for the gateway in Settings.',
  // Dialogs.
  chooseWorkflow: 'Choose a ComfyUI workflow',
  chooseOutputFolder: 'Choose where finished images are saved',
  chooseWorkflowFor: 'Choose a ComfyUI workflow for {name}',
  workflowFilter: 'ComfyUI workflow (API JSON or PNG)',
  submitFailed: 'Could not submit {file}',
  queuedTitle: 'Queued: {file}',
  queuedBody: 'It goes to the best server.',
  queuedBatchBody: '{count} runs with new seeds, spread over your servers.',
  // Notifications.
  serverDownTitle: 'Server down: {name}',
  serversDownTitle: '{count} servers down',
  serverDownBody: '{reason}',
  serversDownBody: '{names}',
  serverUpTitle: 'Server back: {name}',
  serversUpTitle: '{count} servers back',
  serverUpBody: '{name} answers again.',
  serversUpBody: '{names} answer again.',
  jobDoneTitle: 'Job done: {source}',
  jobDoneBody: 'Finished on {server}. {files}',
  jobDoneFiles: '{count} file(s) saved.',
  jobDoneNoFiles: 'No files were saved.',
  jobDoneMissingTitle: 'Job done with missing outputs: {source}',
  crashTitle: 'Comfy Balancer hit an unexpected error',
  crashBodyKept: 'It keeps running. The details are in the log.',
  crashBodyRestarted: 'Its engine was restarted. The details are in the log.',
  jobDoneMissing: '{count} file(s) could not be saved.',
  jobCancelledOnServerTitle: 'Job cancelled on its server: {source}',
  jobCancelledOnServerBody: 'Someone removed it from the queue on {server}. It was not sent again.',
  jobFailedTitle: 'Job failed: {source}',
  jobFailedBody: '{message}',
  jobFailedNode: '{node}: {message}',
  jobInterrupted: 'The job was interrupted on the server.',
  // One notice per batch (one workflow run N times): "12 done, 1 failed in 3 min".
  batchDoneTitle: '{count} runs finished: {source}',
  batchFailedTitle: '{count} runs finished, some failed: {source}',
  batchBody: '{summary} in {duration}.',
  batchDone: '{count} done',
  batchFailed: '{count} failed',
  batchCancelled: '{count} cancelled',
  batchListSep: ', ',
  batchSeconds: '{count} s',
  batchMinutes: '{count} min',
  unknownServer: 'a server',
  settingsRepairedTitle: 'Settings were repaired',
  settingsRepairedBody: '{message}',
  secretsPlainTitle: 'Auth headers are not encrypted',
  secretsPlainBody:
    'This system offers no key store, so the auth headers of your servers are saved in plain text in {file}.',
  // Why a server is down (ServerSaid codes).
  saidTimeout: 'Timed out after {ms} ms',
  saidStalled: 'The download stalled: nothing arrived for {ms} ms',
  saidRefused: 'Connection refused (is ComfyUI running on that port?)',
  saidHostNotFound: 'Host not found: {host}',
  saidHostNotFoundBare: 'Host not found',
  saidClosed: 'The connection was closed by the server',
  saidUnreachable: 'Host unreachable (network down or wrong address)',
  saidBrokenHttp: 'The server sent a broken HTTP answer',
  saidTls: 'TLS certificate problem ({detail})',
  saidHttp: 'HTTP {status}{text}',
  saidHttpProxy: ' (an error page from a proxy)',
  saidHttpAuth: ' (check the server address and its auth header)',
  saidWebPage: 'Answered with a web page instead of JSON (a proxy or login page?)',
  saidNotJson: 'Answered with something that is not JSON',
  saidBadShape: 'Unexpected {what}',
  saidBadUrl: 'The server address is not a valid URL',
  saidNotHttp: 'Not an http or https address: {protocol}',
  saidStopped: 'The download was stopped',
  saidRedirect: 'The server redirected to another address ({to}); it was not followed',
  saidRedirectInvalid: 'The server redirected to an address that is not valid; it was not followed',
  saidRedirectPost:
    'The server answered with a redirect (HTTP {status}) instead of taking the request; it was not sent again',
  saidRedirectLoop: 'The server redirected too many times',
  saidTooLargeAnswer: 'The answer was larger than {limit}',
  saidTooLargeFile: 'The file was larger than {limit}',
  saidTooLargeRequest: 'The request was larger than {limit}',
  saidDisabled: 'Disabled',
  // Why a job failed (JobErrorSaid); ComfyUI's own words are shown as they are.
  jobErrServerError: 'The server reported an error',
  jobErrRefused: 'The server refused the workflow: {text}',
  jobErrServerRemoved: 'The chosen server was removed from the list',
  jobErrNoServerTook: 'No server could take the job ({count} tried)',
  jobErrNoneCanRun: 'No server can run this workflow (missing nodes or models)',
  jobErrLost: 'Servers lost this job {count} times; it is not sent again',
  jobErrMoved: 'Moved {count} times; it is not sent again',
  jobErrNoResult: '{server} does not give the result of this job: {why}',
  jobErrInput: 'Cannot read the input image {path}: {detail}',
  jobErrInternal: 'Something went wrong in the app: {text}',
  wfUiFormat:
    'This is a UI-format workflow; use "Export (API)" in ComfyUI, or a PNG saved by ComfyUI',
  wfNeedsObjectInfo: 'This UI-format workflow needs a server to convert it: none answers now',
  wfNotConverted: 'This UI workflow could not be converted: {detail}',
  wfNotWorkflow: 'This file is not a ComfyUI workflow',
  wfNoNodes: 'The workflow has no nodes',
  wfTooManyNodes: 'The workflow is too large ({nodes} nodes; the limit is {limit})',
  wfTooDeep: 'The workflow is nested too deeply to be a ComfyUI workflow',
  wfBadNode: 'Node "{id}" of the workflow is not valid (is this an API-format workflow?)',
  wfTooLarge: 'The file is too large (the limit is {limit})',
  wfBadPng: 'The PNG could not be read: {detail}',
  wfPngNone: 'This PNG holds no ComfyUI workflow',
  wfPngBadJson: 'The workflow inside this PNG is not valid JSON',
  wfBadJson: 'The file is not valid JSON',
  wfWrongType: 'Only .json and .png workflows can be submitted',
  wfNotAbsolute: 'The file must be given by its full path',
  wfMissing: 'The file does not exist',
  wfNotAFile: 'This is a folder, not a workflow file',
  wfNotRegularFile: 'This is not a regular file, so not a workflow file',
  wfUnreadable: 'The file cannot be read: {detail}',
  jobsOff: 'Jobs are turned off'
} as const

export type MessageKey = keyof typeof en

const zhCN: Record<MessageKey, string> = {
  summaryNoServers: '尚未配置服务器',
  summaryAllDisabled: '所有服务器均已停用',
  summaryChecking: '正在检查 {count} 台服务器...',
  summaryBest: '{up}/{total} 台服务器在线 - 最佳：{best}（队列 {queue}）',
  summaryNone: '{up}/{total} 台服务器在线 - 没有可用的服务器',
  summaryPaused: '{text} - 检查已暂停',
  serverBest: '★ {name} - 最佳：运行中 {running}，排队中 {pending}',
  serverUp: '● {name} - 运行中 {running}，排队中 {pending}',
  serverDown: '✕ {name} - 离线：{reason}',
  serverChecking: '… {name} - 检查中',
  serverDisabled: '– {name} - 已停用',
  unknownReason: '无响应',
  submitWorkflow: '提交工作流...',
  submitTo: '提交到',
  submitToServer: '{name}...',
  submitToDown: '{name}（离线）',
  openApp: '打开 Comfy Balancer',
  checkNow: '立即检查',
  pauseChecks: '暂停检查',
  pauseSending: '暂停发送',
  runAgain: '再次运行 {name}',
  runAgainNone: '再次运行上一个工作流',
  runTimes: '×{count}',
  verboseLogs: '详细日志',
  startAtLogin: '登录时启动',
  openLogFolder: '打开日志文件夹',
  quit: '退出',
  chooseWorkflow: '选择 ComfyUI 工作流',
  chooseOutputFolder: '选择成品图片的保存位置',
  chooseWorkflowFor: '为 {name} 选择 ComfyUI 工作流',
  workflowFilter: 'ComfyUI 工作流（API JSON 或 PNG）',
  submitFailed: '无法提交 {file}',
  queuedTitle: '已加入队列：{file}',
  queuedBody: '将发送到最佳服务器。',
  queuedBatchBody: '{count} 次运行，使用新的种子，分配到各台服务器。',
  serverDownTitle: '服务器离线：{name}',
  serversDownTitle: '{count} 台服务器离线',
  serverDownBody: '{reason}',
  serversDownBody: '{names}',
  serverUpTitle: '服务器已恢复：{name}',
  serversUpTitle: '{count} 台服务器已恢复',
  serverUpBody: '{name} 已重新响应。',
  serversUpBody: '{names} 已重新响应。',
  jobDoneTitle: '任务完成：{source}',
  jobDoneBody: '在 {server} 上完成。{files}',
  jobDoneFiles: '已保存 {count} 个文件。',
  jobDoneNoFiles: '没有保存任何文件。',
  jobDoneMissingTitle: '任务完成，但缺少输出：{source}',
  crashTitle: 'Comfy Balancer 遇到了意外错误',
  crashBodyKept: '它仍在运行。详细信息见日志。',
  crashBodyRestarted: '它的引擎已重新启动。详细信息见日志。',
  jobDoneMissing: '{count} 个文件未能保存。',
  jobCancelledOnServerTitle: '任务已在服务器上被取消：{source}',
  jobCancelledOnServerBody: '有人在 {server} 上把它从队列中移除了。它不会被重新发送。',
  jobFailedTitle: '任务失败：{source}',
  jobFailedBody: '{message}',
  jobFailedNode: '{node}：{message}',
  jobInterrupted: '任务在服务器上被中断。',
  batchDoneTitle: '{count} 次运行已结束：{source}',
  batchFailedTitle: '{count} 次运行已结束，部分失败：{source}',
  batchBody: '{summary}，用时 {duration}。',
  batchDone: '{count} 个完成',
  batchFailed: '{count} 个失败',
  batchCancelled: '{count} 个已取消',
  batchListSep: '，',
  batchSeconds: '{count} 秒',
  batchMinutes: '{count} 分钟',
  unknownServer: '某台服务器',
  settingsRepairedTitle: '设置已修复',
  settingsRepairedBody: '{message}',
  secretsPlainTitle: '认证请求头未加密',
  secretsPlainBody: '此系统没有可用的密钥存储，服务器的认证请求头以明文保存在 {file} 中。',
  gatewayOn: '网关：{url}',
  gatewayCopy: '复制地址',
  gatewayOff: '网关：已关闭',
  gatewayStarting: '网关：正在启动...',
  gatewayFailed: '网关未运行：{reason}',
  gatewayFailedTitle: '网关无法启动',
  gatewayFailedBody: '{reason}',
  gatewayPortTaken: '端口 {port} 已被占用',
  gatewayPortTakenBody: '端口 {port} 已被其他程序占用。请在设置中为网关换一个端口。',
  saidTimeout: '超时（{ms} 毫秒内无响应）',
  saidStalled: '下载停滞：{ms} 毫秒内没有收到数据',
  saidRefused: '连接被拒绝（ComfyUI 是否在该端口运行？）',
  saidHostNotFound: '找不到主机：{host}',
  saidHostNotFoundBare: '找不到主机',
  saidClosed: '服务器关闭了连接',
  saidUnreachable: '无法访问主机（网络断开或地址错误）',
  saidBrokenHttp: '服务器返回了损坏的应答',
  saidTls: 'HTTPS 证书有问题（{detail}）',
  saidHttp: '服务器返回错误 {status}',
  saidHttpProxy: '（来自代理的错误页面）',
  saidHttpAuth: '（请检查地址和登录请求头）',
  saidWebPage: '返回的是网页而不是 ComfyUI（代理或登录页面？）',
  saidNotJson: '返回的内容不是 ComfyUI 的应答',
  saidBadShape: '应答格式与 ComfyUI 不符',
  saidBadUrl: '服务器地址无效',
  saidNotHttp: '不是 http 或 https 地址：{protocol}',
  saidStopped: '下载已停止',
  saidRedirect: '服务器重定向到了其他地址（{to}），未跟随',
  saidRedirectInvalid: '服务器重定向到了无效的地址，未跟随',
  saidRedirectPost: '服务器以重定向（HTTP {status}）代替接收请求，未重新发送',
  saidRedirectLoop: '服务器重定向次数过多',
  saidTooLargeAnswer: '应答超过了 {limit}',
  saidTooLargeFile: '文件超过了 {limit}',
  saidTooLargeRequest: '请求超过了 {limit}',
  saidDisabled: '已停用',
  jobErrServerError: '服务器报告了错误',
  jobErrRefused: '服务器拒绝了此工作流：{text}',
  jobErrServerRemoved: '所选服务器已从列表中删除',
  jobErrNoServerTook: '没有服务器接收此任务（试过 {count} 台）',
  jobErrNoneCanRun: '没有服务器可以运行此工作流（缺少节点或模型）',
  jobErrLost: '服务器已 {count} 次丢失此任务，不再发送',
  jobErrMoved: '已转移 {count} 次，不再发送',
  jobErrNoResult: '服务器 {server} 无法给出此任务的结果：{why}',
  jobErrInput: '无法读取输入图片 {path}：{detail}',
  jobErrInternal: '应用内部出错：{text}',
  wfUiFormat: '这是 UI 格式的工作流；请在 ComfyUI 中使用“导出 (API)”，或使用 ComfyUI 保存的 PNG',
  wfNeedsObjectInfo: '此 UI 格式工作流需要服务器来转换：目前没有服务器应答',
  wfNotConverted: '无法转换此 UI 工作流：{detail}',
  wfNotWorkflow: '此文件不是 ComfyUI 工作流',
  wfNoNodes: '工作流中没有节点',
  wfTooManyNodes: '工作流过大（{nodes} 个节点；上限为 {limit}）',
  wfTooDeep: '工作流嵌套过深，不是 ComfyUI 工作流',
  wfBadNode: '工作流的节点“{id}”无效（这是 API 格式的工作流吗？）',
  wfTooLarge: '文件过大（上限为 {limit}）',
  wfBadPng: '无法读取此 PNG：{detail}',
  wfPngNone: '此 PNG 中没有 ComfyUI 工作流',
  wfPngBadJson: '此 PNG 中的工作流不是有效的 JSON',
  wfBadJson: '此文件不是有效的 JSON',
  wfWrongType: '只能提交 .json 和 .png 工作流',
  wfNotAbsolute: '必须给出文件的完整路径',
  wfMissing: '文件不存在',
  wfNotAFile: '这是文件夹，不是工作流文件',
  wfNotRegularFile: '这不是普通文件，因此不是工作流文件',
  wfUnreadable: '无法读取此文件：{detail}',
  jobsOff: '任务功能已关闭'
}

export const MESSAGES = { en, 'zh-CN': zhCN } as const satisfies Record<
  string,
  Record<MessageKey, string>
>

export type Locale = keyof typeof MESSAGES

/**
 * The locale for the `language` setting; `system` follows the system's preferred languages
 * (Electron's `app.getPreferredSystemLanguages()`, then `app.getLocale()`).
 */
export function resolveLocale(language: Language, systemLanguages: readonly string[]): Locale {
  if (language !== 'system') return language
  for (const lang of systemLanguages) {
    const l = lang.toLowerCase()
    if (l.startsWith('zh')) return 'zh-CN'
    if (l.startsWith('en')) return 'en'
  }
  return 'en'
}

export type Translate = (key: MessageKey, values?: Record<string, string | number>) => string

/** A `t` function for one locale: the text for a key with `{name}` placeholders filled in. */
export function translator(locale: Locale): Translate {
  const table: Record<MessageKey, string> = MESSAGES[locale]
  return (key, values = {}) =>
    (table[key] ?? en[key]).replace(/\{(\w+)\}/g, (m, name: string) =>
      name in values ? String(values[name]) : m
    )
}

/** Shortens a text for a menu line or a notification title. */
export function clip(text: string, max: number): string {
  const oneLine = text.replace(/\s+/g, ' ').trim()
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine
}

/** How each code of why a server is down is said with `t`. */
type ServerSaidTexts = {
  [C in ServerCode]: (s: SaidOf<ServerSaid, C>, t: Translate) => string
}

/** Why a server is down, in the words of `t`'s language; a missing code fails the typecheck. */
const SERVER_SAID = {
  timeout: (s, t) => t('saidTimeout', { ms: s.ms }),
  stalled: (s, t) => t('saidStalled', { ms: s.ms }),
  refused: (_s, t) => t('saidRefused'),
  'host-not-found': (s, t) =>
    s.host ? t('saidHostNotFound', { host: s.host }) : t('saidHostNotFoundBare'),
  closed: (_s, t) => t('saidClosed'),
  unreachable: (_s, t) => t('saidUnreachable'),
  'broken-http': (_s, t) => t('saidBrokenHttp'),
  tls: (s, t) => t('saidTls', { detail: s.detail }),
  http: (s, t) => {
    const words = HTTP_STATUS_TEXT[s.status]
    return (
      t('saidHttp', { status: s.status, text: words ? ` ${words}` : '' }) +
      (s.proxyPage ? t('saidHttpProxy') : '') +
      (isAuthStatus(s.status) ? t('saidHttpAuth') : '')
    )
  },
  'not-json': (s, t) => t(s.page ? 'saidWebPage' : 'saidNotJson'),
  'bad-shape': (s, t) => t('saidBadShape', { what: s.detail ? `${s.what}: ${s.detail}` : s.what }),
  network: (s) => s.detail,
  'bad-url': (_s, t) => t('saidBadUrl'),
  'not-http': (s, t) => t('saidNotHttp', { protocol: s.protocol }),
  stopped: (_s, t) => t('saidStopped'),
  redirect: (s, t) => t('saidRedirect', { to: s.to }),
  'redirect-invalid': (_s, t) => t('saidRedirectInvalid'),
  'redirect-post': (s, t) => t('saidRedirectPost', { status: s.status }),
  'redirect-loop': (_s, t) => t('saidRedirectLoop'),
  'too-large': (s, t) =>
    t(
      s.what === 'file'
        ? 'saidTooLargeFile'
        : s.what === 'request'
          ? 'saidTooLargeRequest'
          : 'saidTooLargeAnswer',
      { limit: sizeText(s.limitBytes) }
    ),
  disabled: (_s, t) => t('saidDisabled'),
  text: (s) => s.text
} satisfies ServerSaidTexts

/**
 * Why a server is down, in `t`'s language: from its said when the status has one, else its
 * words as they are (from an older core), else null.
 */
export function serverSaidText(
  s: { said?: ServerSaid | null; error: string | null },
  t: Translate
): string | null {
  if (!s.said) return s.error
  return (SERVER_SAID[s.said.code] as (x: ServerSaid, t: Translate) => string)(s.said, t)
}

/** How each code of why a job failed is said with `t`. */
type JobErrorTexts = {
  [C in JobErrorCode]: (e: SaidOf<JobErrorSaid, C>, t: Translate) => string
}

const say = (said: ServerSaid, t: Translate): string =>
  (SERVER_SAID[said.code] as (x: ServerSaid, t: Translate) => string)(said, t)

/** Why a job failed, in the words of `t`'s language; a missing code fails the typecheck. */
const JOB_ERROR = {
  comfy: (e) => e.text,
  'server-error': (_e, t) => t('jobErrServerError'),
  refused: (e, t) => t('jobErrRefused', { text: e.text }),
  'server-removed': (_e, t) => t('jobErrServerRemoved'),
  'no-server-took': (e, t) => t('jobErrNoServerTook', { count: e.tries.length }),
  'none-can-run': (_e, t) => t('jobErrNoneCanRun'),
  'lost-too-often': (e, t) => t('jobErrLost', { count: e.n }),
  'moved-too-often': (e, t) => t('jobErrMoved', { count: e.n }),
  'no-result': (e, t) => t('jobErrNoResult', { server: e.server, why: say(e.why, t) }),
  'input-unreadable': (e, t) => t('jobErrInput', { path: e.path, detail: e.detail }),
  internal: (e, t) => t('jobErrInternal', { text: e.text }),
  text: (e) => e.text
} satisfies JobErrorTexts

/** Why a job failed, in `t`'s language: from its said, else its words as they are. */
export function jobErrorText(
  e: Pick<JobError, 'message'> & { said?: JobErrorSaid },
  t: Translate
): string {
  if (!e.said) return e.message
  return (JOB_ERROR[e.said.code] as (x: JobErrorSaid, t: Translate) => string)(e.said, t)
}

/** How each code of why a file is not a workflow we can send is said with `t`. */
type WorkflowTexts = {
  [C in WorkflowCode]: (w: SaidOf<WorkflowSaid, C>, t: Translate) => string
}

const WORKFLOW = {
  'ui-format': (_w, t) => t('wfUiFormat'),
  'needs-object-info': (_w, t) => t('wfNeedsObjectInfo'),
  'not-converted': (w, t) => t('wfNotConverted', { detail: w.detail }),
  'not-workflow': (_w, t) => t('wfNotWorkflow'),
  'no-nodes': (_w, t) => t('wfNoNodes'),
  'too-many-nodes': (w, t) => t('wfTooManyNodes', { nodes: w.nodes, limit: w.limit }),
  'too-deep': (_w, t) => t('wfTooDeep'),
  'bad-node': (w, t) => t('wfBadNode', { id: w.id }),
  'too-large': (w, t) => t('wfTooLarge', { limit: sizeText(w.limitBytes) }),
  'bad-png': (w, t) => t('wfBadPng', { detail: w.detail }),
  'png-none': (_w, t) => t('wfPngNone'),
  'png-bad-json': (_w, t) => t('wfPngBadJson'),
  'bad-json': (_w, t) => t('wfBadJson'),
  'wrong-type': (_w, t) => t('wfWrongType'),
  'not-absolute': (_w, t) => t('wfNotAbsolute'),
  missing: (_w, t) => t('wfMissing'),
  'not-a-file': (w, t) => t(w.folder ? 'wfNotAFile' : 'wfNotRegularFile'),
  unreadable: (w, t) => t('wfUnreadable', { detail: w.detail }),
  text: (w) => w.text
} satisfies WorkflowTexts

/** Why a file is not a workflow we can send, in the words of `t`'s language. */
export function workflowProblemText(said: WorkflowSaid, t: Translate): string {
  return (WORKFLOW[said.code] as (x: WorkflowSaid, t: Translate) => string)(said, t)
}
