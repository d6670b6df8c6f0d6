/**
 * The tray: icon (see `tray-icon.ts`), tooltip and context menu. It shows the fleet and the few
 * switches a tray user wants, and forwards clicks to the actions it is given; it decides nothing.
 * The menu is a pure function of what it shows (`trayMenuTemplate`), and is rebuilt only when
 * that changes: rebuilding a menu that is open makes some Linux trays flicker or close it.
 */
import {
  Menu,
  Tray,
  nativeImage,
  type MenuItemConstructorOptions,
  type NativeImage
} from 'electron'
import { trayIconModel, trayIconPng } from './tray-icon'
import { clip, serverSaidText, translator, type Locale, type Translate } from './messages'
import type { FleetStatus, ServerStatus } from '../shared/types'
import type { GatewayState } from './core/gateway/service'

export interface TrayActions {
  open(): void
  checkNow(): void
  setPaused(paused: boolean): void
  setVerbose(verbose: boolean): void
  setStartAtLogin(enabled: boolean): void
  /** Asks for a workflow file and submits it: to the best server (null) or to this one. */
  submit(serverId: string | null): void
  openLogFolder(): void
  /** Puts the gateway's address on the clipboard. */
  copyGatewayAddress(url: string): void
  /** Pauses (true) or resumes (false) sending jobs to the servers. */
  setSendingPaused(paused: boolean): void
  /** Submits the last workflow again as a batch of `count` runs with random seeds. */
  runAgain(count: number): void
  /** Files dropped on the tray icon (macOS), to submit. */
  dropFiles(files: string[]): void
  quit(): void
}

/** Everything the tray shows. */
export interface TrayView {
  status: FleetStatus
  verbose: boolean
  startAtLogin: boolean
  locale: Locale
  /** False while jobs cannot be submitted (no job engine). @default true */
  canSubmit?: boolean
  /** The gateway's state and port; no line when absent. */
  gateway?: { state: GatewayState; port: number }
  /** True while sending jobs is paused (they wait in the app). @default false */
  sendingPaused?: boolean
  /** File name of the last submitted workflow this session; null or absent when none. */
  lastWorkflow?: string | null
}

/** The counts offered by "Run the last workflow again". */
export const RUN_AGAIN_COUNTS: readonly number[] = [1, 4, 10]

/** Longest workflow name in the "Run ... again" line. */
const NAME_MAX = 40

/** Longest down reason in a menu line. */
const REASON_MAX = 60

/** `2/3 servers up - best: gpu-1 (queue 0)`, plus ` - checks paused` while paused. */
export function trayTooltip(status: FleetStatus, t: Translate = translator('en')): string {
  const enabled = status.servers.filter((s) => s.enabled).length
  let text: string
  if (status.servers.length === 0) text = t('summaryNoServers')
  else if (enabled === 0) text = t('summaryAllDisabled')
  else if (status.lastHealthCheck === null) text = t('summaryChecking', { count: enabled })
  else {
    const best = status.servers.find((s) => s.id === status.bestServerId)
    text = best
      ? t('summaryBest', {
          up: status.healthy,
          total: enabled,
          best: best.name,
          queue: best.queue.total
        })
      : t('summaryNone', { up: status.healthy, total: enabled })
  }
  return status.paused ? t('summaryPaused', { text }) : text
}

/** One menu line for a server: state, running/pending or why it is down; the best is starred. */
export function serverLine(s: ServerStatus, bestId: string | null, t: Translate): string {
  const values = { name: s.name, running: s.queue.running, pending: s.queue.pending }
  if (!s.enabled) return t('serverDisabled', values)
  if (s.lastCheck === null) return t('serverChecking', values)
  if (!s.healthy) {
    return t('serverDown', {
      ...values,
      reason: clip(serverSaidText(s, t) ?? t('unknownReason'), REASON_MAX)
    })
  }
  return t(s.id === bestId ? 'serverBest' : 'serverUp', values)
}

/** The tray image with its 1x (16 px) and 2x (32 px) versions; a template image on macOS. */
export function trayImage(status: FleetStatus, template = false): NativeImage {
  const image = nativeImage.createEmpty()
  image.addRepresentation({ scaleFactor: 1, buffer: trayIconPng(status, 16, { template }) })
  image.addRepresentation({ scaleFactor: 2, buffer: trayIconPng(status, 32, { template }) })
  if (template) image.setTemplateImage(true)
  return image
}

/** The gateway's menu line: its address (a click copies it), or why it is off. */
export function gatewayLine(
  gateway: NonNullable<TrayView['gateway']>,
  t: Translate,
  actions: TrayActions
): MenuItemConstructorOptions {
  const g = gateway.state
  switch (g.state) {
    case 'on':
      return {
        label: t('gatewayOn', { url: g.url }),
        toolTip: t('gatewayCopy'),
        click: () => actions.copyGatewayAddress(g.url)
      }
    case 'starting':
      return { label: t('gatewayStarting'), enabled: false }
    case 'off':
      return { label: t('gatewayOff'), enabled: false }
    case 'failed': {
      const reason =
        g.code === 'port-taken' ? t('gatewayPortTaken', { port: gateway.port }) : g.message
      return { label: t('gatewayFailed', { reason: clip(reason, REASON_MAX) }), enabled: false }
    }
  }
}

/** "Run NAME again" with its counts; disabled until a workflow was submitted this session. */
export function runAgainLine(
  view: TrayView,
  t: Translate,
  actions: TrayActions
): MenuItemConstructorOptions {
  const name = view.lastWorkflow ?? null
  const enabled = name !== null && view.canSubmit !== false
  return {
    label: name ? t('runAgain', { name: clip(name, NAME_MAX) }) : t('runAgainNone'),
    enabled,
    submenu: RUN_AGAIN_COUNTS.map((count) => ({
      label: t('runTimes', { count }),
      enabled,
      click: () => actions.runAgain(count)
    }))
  }
}

export function trayMenuTemplate(
  view: TrayView,
  actions: TrayActions
): MenuItemConstructorOptions[] {
  const { status } = view
  const t = translator(view.locale)
  const canSubmit = view.canSubmit !== false && status.servers.some((s) => s.enabled)
  const servers: MenuItemConstructorOptions[] = status.servers.map((s) => ({
    label: serverLine(s, status.bestServerId, t),
    click: () => actions.open()
  }))
  const submitTo: MenuItemConstructorOptions[] = status.servers
    .filter((s) => s.enabled)
    .map((s) => ({
      label: s.healthy
        ? t('submitToServer', { name: s.name })
        : t('submitToDown', { name: s.name }),
      enabled: s.healthy,
      click: () => actions.submit(s.id)
    }))
  return [
    // Linux desktops often show no tooltip, so the summary is also the menu's first line.
    { label: trayTooltip(status, t), enabled: false },
    ...(servers.length ? [{ type: 'separator' as const }, ...servers] : []),
    { type: 'separator' },
    { label: t('submitWorkflow'), enabled: canSubmit, click: () => actions.submit(null) },
    {
      label: t('submitTo'),
      enabled: canSubmit && submitTo.length > 0,
      submenu: submitTo.length ? submitTo : [{ label: t('summaryNoServers'), enabled: false }]
    },
    runAgainLine(view, t, actions),
    {
      label: t('pauseSending'),
      type: 'checkbox',
      checked: view.sendingPaused === true,
      enabled: view.canSubmit !== false,
      click: (item) => actions.setSendingPaused(item.checked)
    },
    ...(view.gateway
      ? [{ type: 'separator' as const }, gatewayLine(view.gateway, t, actions)]
      : []),
    { type: 'separator' },
    { label: t('openApp'), click: () => actions.open() },
    { label: t('checkNow'), enabled: !status.paused, click: () => actions.checkNow() },
    {
      label: t('pauseChecks'),
      type: 'checkbox',
      checked: status.paused,
      click: (item) => actions.setPaused(item.checked)
    },
    {
      label: t('verboseLogs'),
      type: 'checkbox',
      checked: view.verbose,
      click: (item) => actions.setVerbose(item.checked)
    },
    {
      label: t('startAtLogin'),
      type: 'checkbox',
      checked: view.startAtLogin,
      click: (item) => actions.setStartAtLogin(item.checked)
    },
    { label: t('openLogFolder'), click: () => actions.openLogFolder() },
    { type: 'separator' },
    { label: t('quit'), click: () => actions.quit() }
  ]
}

/** What a menu shows (labels, state, nesting), without its click handlers. */
export function menuKey(template: MenuItemConstructorOptions[]): string {
  return JSON.stringify(template)
}

function iconKey(status: FleetStatus): string {
  const m = trayIconModel(status)
  return `${m.state}:${m.count ?? ''}`
}

export interface AppTrayOptions {
  /** Monochrome template icon (macOS). @default false */
  template?: boolean
}

export class AppTray {
  private readonly tray: Tray
  private readonly template: boolean
  /** What was last drawn, shown and built, so an update that looks the same does nothing. */
  private iconKey = ''
  private tooltip = ''
  private menuKey = ''
  private menu: MenuItemConstructorOptions[] = []

  constructor(
    view: TrayView,
    private readonly actions: TrayActions,
    opts: AppTrayOptions = {}
  ) {
    this.template = opts.template === true
    this.tray = new Tray(trayImage(view.status, this.template))
    this.iconKey = iconKey(view.status)
    // Windows and most Linux trays: a left click opens the window (macOS opens the menu).
    this.tray.on('click', () => this.actions.open())
    // macOS: files dropped on the icon.
    this.tray.on('drop-files', (_event, files) => {
      if (Array.isArray(files) && files.length) this.actions.dropFiles(files)
    })
    this.update(view)
  }

  update(view: TrayView): void {
    const key = iconKey(view.status)
    if (key !== this.iconKey) {
      this.iconKey = key
      this.tray.setImage(trayImage(view.status, this.template))
    }
    const tooltip = `Comfy Balancer: ${trayTooltip(view.status, translator(view.locale))}`
    if (tooltip !== this.tooltip) {
      this.tooltip = tooltip
      this.tray.setToolTip(tooltip)
    }
    const template = trayMenuTemplate(view, this.actions)
    const menu = menuKey(template)
    if (menu !== this.menuKey) {
      this.menuKey = menu
      this.menu = template
      this.tray.setContextMenu(Menu.buildFromTemplate(template))
    }
  }

  /** What the tray shows now: icon state, tooltip and menu labels (for the e2e smoke test). */
  snapshot(): { icon: string; tooltip: string; menu: unknown[] } {
    const labels = (items: MenuItemConstructorOptions[]): unknown[] =>
      items.map((i) =>
        Array.isArray(i.submenu) ? { [i.label ?? '']: labels(i.submenu) } : (i.label ?? i.type)
      )
    return { icon: this.iconKey, tooltip: this.tooltip, menu: labels(this.menu) }
  }

  destroy(): void {
    this.tray.destroy()
  }
}
