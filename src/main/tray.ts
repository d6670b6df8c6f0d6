/**
 * The tray: icon (see `tray-icon.ts`), tooltip and a small context menu. It only shows the fleet
 * status and forwards the user's clicks to the actions it is given.
 */
import {
  Menu,
  Tray,
  nativeImage,
  type MenuItemConstructorOptions,
  type NativeImage
} from 'electron'
import { trayIconModel, trayIconPng } from './tray-icon'
import type { FleetStatus } from '../shared/types'

export interface TrayActions {
  open(): void
  checkNow(): void
  setPaused(paused: boolean): void
  quit(): void
}

/** `2/3 servers up - best: gpu-1 (queue 0)`, plus ` - paused` while paused. */
export function trayTooltip(status: FleetStatus): string {
  const enabled = status.servers.filter((s) => s.enabled).length
  let text: string
  if (status.servers.length === 0) text = 'No servers configured'
  else if (enabled === 0) text = 'All servers are disabled'
  else if (status.lastHealthCheck === null) text = `Checking ${enabled} servers...`
  else {
    const best = status.servers.find((s) => s.id === status.bestServerId)
    const head = `${status.healthy}/${enabled} servers up`
    text = best
      ? `${head} - best: ${best.name} (queue ${best.queue.total})`
      : `${head} - no healthy server`
  }
  return status.paused ? `${text} - checks paused` : text
}

/** The tray image with its 1x (16 px) and 2x (32 px) versions. */
export function trayImage(status: FleetStatus): NativeImage {
  const image = nativeImage.createEmpty()
  image.addRepresentation({ scaleFactor: 1, buffer: trayIconPng(status, 16) })
  image.addRepresentation({ scaleFactor: 2, buffer: trayIconPng(status, 32) })
  return image
}

export function trayMenuTemplate(
  status: FleetStatus,
  actions: TrayActions
): MenuItemConstructorOptions[] {
  return [
    // Linux desktops often show no tooltip, so the summary is also the menu's first line.
    { label: trayTooltip(status), enabled: false },
    { type: 'separator' },
    { label: 'Open Comfy Balancer', click: () => actions.open() },
    { label: 'Check now', enabled: !status.paused, click: () => actions.checkNow() },
    {
      label: 'Pause checks',
      type: 'checkbox',
      checked: status.paused,
      click: (item) => actions.setPaused(item.checked)
    },
    { type: 'separator' },
    { label: 'Quit', click: () => actions.quit() }
  ]
}

function iconKey(status: FleetStatus): string {
  const m = trayIconModel(status)
  return `${m.state}:${m.count ?? ''}`
}

export class AppTray {
  private readonly tray: Tray
  /** The icon model last drawn, so a status change that looks the same redraws nothing. */
  private iconKey = ''
  private tooltip = ''

  constructor(
    status: FleetStatus,
    private readonly actions: TrayActions
  ) {
    this.tray = new Tray(trayImage(status))
    this.iconKey = iconKey(status)
    // Windows and most Linux trays: a left click opens the window.
    this.tray.on('click', () => this.actions.open())
    this.update(status)
  }

  update(status: FleetStatus): void {
    const key = iconKey(status)
    if (key !== this.iconKey) {
      this.iconKey = key
      this.tray.setImage(trayImage(status))
    }
    // The tooltip also carries the paused state, so an unchanged tooltip means an unchanged menu
    // (rebuilding a menu that is open makes some Linux trays flicker).
    const tooltip = trayTooltip(status)
    if (tooltip !== this.tooltip) {
      this.tooltip = tooltip
      this.tray.setToolTip(`Comfy Balancer: ${tooltip}`)
      this.tray.setContextMenu(Menu.buildFromTemplate(trayMenuTemplate(status, this.actions)))
    }
  }

  destroy(): void {
    this.tray.destroy()
  }
}
