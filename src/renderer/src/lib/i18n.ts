/**
 * Every text of the window, in one table per language. `en` is the reference: the other tables
 * must have the same keys (a type error otherwise). `{name}` marks a value filled in by `t`.
 * Reasons and errors coming from the core (for example "Timed out after 1000 ms") are shown as
 * they are.
 */
const en = {
  appTitle: 'Comfy Balancer',
  noApi:
    'This page is not connected to Comfy Balancer, so it cannot show your servers. Open it from the Comfy Balancer tray icon.',
  connecting: 'Connecting...',
  summaryBest: '{up}/{total} up, best {best}',
  summaryNone: '{up}/{total} up, no healthy server',
  summaryNoServers: 'No servers configured',
  summaryChecking: 'Checking {total} servers...',
  lastCheck: 'Last check {time}',
  checksPaused: 'Checks paused',
  checkNow: 'Check now',
  pauseChecks: 'Pause checks',
  resumeChecks: 'Resume checks',
  verboseLogs: 'Verbose logs',
  serversLabel: 'Servers',
  healthHealthy: 'Healthy',
  healthDown: 'Down',
  healthChecking: 'Checking',
  healthDisabled: 'Disabled',
  queueRunning: 'Running',
  queuePending: 'Pending',
  queueTotal: 'Total',
  bestBadge: 'Best',
  bestReason: 'Chosen: {reason}',
  latency: 'Latency',
  latencyValue: '{ms} ms',
  successRate: 'Checks OK',
  successRateValue: '{rate}% of {checks}',
  gpu: 'GPU',
  vramValue: '{total} VRAM, {free} free',
  comfyVersion: 'ComfyUI',
  unknownError: 'Not answering (no reason given)',
  noServersHint:
    'Add your ComfyUI servers to the settings file; a server editor comes in the next version.',
  logTitle: 'Log',
  logEmpty: 'Nothing logged yet.',
  actionFailed: 'That did not work: {error}'
} as const

export type MessageKey = keyof typeof en

const zhCN: Record<MessageKey, string> = {
  appTitle: 'Comfy Balancer',
  noApi: '此页面未连接到 Comfy Balancer，无法显示服务器。请从系统托盘的 Comfy Balancer 图标打开。',
  connecting: '正在连接...',
  summaryBest: '{up}/{total} 台在线，最佳 {best}',
  summaryNone: '{up}/{total} 台在线，没有可用的服务器',
  summaryNoServers: '尚未配置服务器',
  summaryChecking: '正在检查 {total} 台服务器...',
  lastCheck: '上次检查 {time}',
  checksPaused: '检查已暂停',
  checkNow: '立即检查',
  pauseChecks: '暂停检查',
  resumeChecks: '恢复检查',
  verboseLogs: '详细日志',
  serversLabel: '服务器',
  healthHealthy: '正常',
  healthDown: '离线',
  healthChecking: '检查中',
  healthDisabled: '已停用',
  queueRunning: '运行中',
  queuePending: '排队中',
  queueTotal: '合计',
  bestBadge: '最佳',
  bestReason: '选择原因：{reason}',
  latency: '延迟',
  latencyValue: '{ms} 毫秒',
  successRate: '检查成功',
  successRateValue: '{checks} 次中 {rate}%',
  gpu: 'GPU',
  vramValue: '显存 {total}，可用 {free}',
  comfyVersion: 'ComfyUI',
  unknownError: '无响应（原因未知）',
  noServersHint: '请在设置文件中添加 ComfyUI 服务器；服务器编辑器将在下一版本提供。',
  logTitle: '日志',
  logEmpty: '暂无日志。',
  actionFailed: '操作失败：{error}'
}

export const MESSAGES = { en, 'zh-CN': zhCN } as const satisfies Record<
  string,
  Record<MessageKey, string>
>

export type Locale = keyof typeof MESSAGES

/** The best supported locale for a list of preferred languages (e.g. `navigator.languages`). */
export function pickLocale(preferred: readonly string[]): Locale {
  for (const lang of preferred) {
    if (lang.toLowerCase().startsWith('zh')) return 'zh-CN'
    if (lang.toLowerCase().startsWith('en')) return 'en'
  }
  return 'en'
}

let current: Locale =
  typeof navigator === 'undefined' ? 'en' : pickLocale(navigator.languages ?? [navigator.language])

export function setLocale(locale: Locale): void {
  current = locale
}

export function getLocale(): Locale {
  return current
}

/** The text for a key in the current locale, with `{name}` placeholders filled in. */
export function t(key: MessageKey, values: Record<string, string | number> = {}): string {
  const template: string = MESSAGES[current][key] ?? en[key]
  return template.replace(/\{(\w+)\}/g, (m, name: string) =>
    name in values ? String(values[name]) : m
  )
}
