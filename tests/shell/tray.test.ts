import { beforeEach, describe, expect, it, vi } from 'vitest'
import type { MenuItemConstructorOptions } from 'electron'
import {
  AppTray,
  serverLine,
  trayMenuTemplate,
  trayTooltip,
  type TrayActions,
  type TrayView
} from '../../src/main/tray'
import { clip, translator } from '../../src/main/messages'
import { sayServer } from '../../src/main/core/log'
import type { SaidOf, ServerCode, ServerSaid } from '../../src/shared/said'
import { fleet, q, server } from '../core/helpers'
import { FakeNativeImage, FakeTray, Menu, resetElectronMock } from './electron-mock'

vi.mock('electron', () => import('./electron-mock'))

beforeEach(() => resetElectronMock())

const gpu1 = server('gpu-1', { name: 'gpu-1', queue: q(0, 0) })
const gpu2 = server('gpu-2', { name: 'gpu-2', queue: q(1, 2) })
const gpu3 = server('gpu-3', { name: 'gpu-3', healthy: false, error: 'Connection refused' })
const off = server('gpu-4', { name: 'gpu-4', enabled: false, healthy: false })

function actions() {
  return {
    open: vi.fn<TrayActions['open']>(),
    checkNow: vi.fn<TrayActions['checkNow']>(),
    setPaused: vi.fn<TrayActions['setPaused']>(),
    setVerbose: vi.fn<TrayActions['setVerbose']>(),
    setStartAtLogin: vi.fn<TrayActions['setStartAtLogin']>(),
    submit: vi.fn<TrayActions['submit']>(),
    openLogFolder: vi.fn<TrayActions['openLogFolder']>(),
    copyGatewayAddress: vi.fn<TrayActions['copyGatewayAddress']>(),
    setSendingPaused: vi.fn<TrayActions['setSendingPaused']>(),
    runAgain: vi.fn<TrayActions['runAgain']>(),
    dropFiles: vi.fn<TrayActions['dropFiles']>(),
    quit: vi.fn<TrayActions['quit']>()
  }
}

const view = (
  status = fleet([gpu1, gpu2, gpu3], 'gpu-1'),
  patch: Partial<TrayView> = {}
): TrayView => ({
  status,
  verbose: false,
  startAtLogin: false,
  locale: 'en',
  ...patch
})

const labels = (items: MenuItemConstructorOptions[]) => items.map((i) => i.label ?? i.type)
const item = (items: MenuItemConstructorOptions[], label: string) => {
  const found = items.find((i) => i.label === label)
  if (!found) throw new Error(`No menu item "${label}" in ${JSON.stringify(labels(items))}`)
  return found
}
const click = (items: MenuItemConstructorOptions[], label: string, checked = false) =>
  (item(items, label).click as (i: { checked: boolean }) => void)({ checked })

describe('trayTooltip', () => {
  it('says how many servers are up and which is best', () => {
    expect(trayTooltip(fleet([gpu1, gpu2, gpu3], 'gpu-1'))).toBe(
      '2/3 servers up - best: gpu-1 (queue 0)'
    )
  })

  it('says when none is up, when paused, and before the first check', () => {
    expect(trayTooltip(fleet([gpu3], null))).toBe('0/1 servers up - no healthy server')
    expect(trayTooltip(fleet([gpu1], 'gpu-1', { paused: true }))).toBe(
      '1/1 servers up - best: gpu-1 (queue 0) - checks paused'
    )
    expect(trayTooltip(fleet([gpu1, gpu2], null, { lastHealthCheck: null }))).toBe(
      'Checking 2 servers...'
    )
    expect(trayTooltip(fleet([], null))).toBe('No servers configured')
    expect(trayTooltip(fleet([off], null))).toBe('All servers are disabled')
  })

  it('counts only enabled servers', () => {
    expect(trayTooltip(fleet([gpu1, off], 'gpu-1'))).toBe('1/1 servers up - best: gpu-1 (queue 0)')
  })

  it('speaks Chinese', () => {
    expect(trayTooltip(fleet([gpu1, gpu2, gpu3], 'gpu-1'), translator('zh-CN'))).toBe(
      '2/3 台服务器在线 - 最佳：gpu-1（队列 0）'
    )
  })
})

describe('serverLine', () => {
  const t = translator('en')
  it('shows state, running/pending or the reason, and marks the best', () => {
    expect(serverLine(gpu1, 'gpu-1', t)).toBe('★ gpu-1 - best: 0 running, 0 pending')
    expect(serverLine(gpu2, 'gpu-1', t)).toBe('● gpu-2 - 1 running, 2 pending')
    expect(serverLine(gpu3, 'gpu-1', t)).toBe('✕ gpu-3 - down: Connection refused')
    expect(serverLine(off, 'gpu-1', t)).toBe('– gpu-4 - disabled')
    expect(serverLine(server('new', { lastCheck: null }), null, t)).toBe('… new - checking')
  })

  it('keeps a long reason short', () => {
    const s = server('x', {
      healthy: false,
      error: `HTTP 502 ${'from a very long proxy '.repeat(10)}`
    })
    expect(serverLine(s, null, t).length).toBeLessThan(80)
  })
})

describe('trayMenuTemplate', () => {
  it('pauses and resumes sending, its check mark following the queue state', () => {
    const a = actions()
    const running = trayMenuTemplate(view(), a)
    expect(item(running, 'Pause sending')).toMatchObject({ type: 'checkbox', checked: false })
    click(running, 'Pause sending', true)
    expect(a.setSendingPaused).toHaveBeenLastCalledWith(true)
    const paused = trayMenuTemplate(view(undefined, { sendingPaused: true }), a)
    expect(item(paused, 'Pause sending').checked).toBe(true)
    click(paused, 'Pause sending', false)
    expect(a.setSendingPaused).toHaveBeenLastCalledWith(false)
    const zh = trayMenuTemplate(view(undefined, { locale: 'zh-CN' }), a)
    expect(labels(zh)).toContain('暂停发送')
  })

  it('runs the last workflow again x1, x4 or x10, disabled until one was submitted', () => {
    const a = actions()
    const none = item(trayMenuTemplate(view(), a), 'Run the last workflow again')
    expect(none.enabled).toBe(false)
    const sub = (i: MenuItemConstructorOptions) => i.submenu as MenuItemConstructorOptions[]
    expect(sub(none).map((i) => [i.label, i.enabled])).toEqual([
      ['×1', false],
      ['×4', false],
      ['×10', false]
    ])
    const some = item(
      trayMenuTemplate(view(undefined, { lastWorkflow: 'portrait.json' }), a),
      'Run portrait.json again'
    )
    expect(some.enabled).toBe(true)
    for (const i of sub(some)) (i.click as () => void)()
    expect(a.runAgain.mock.calls).toEqual([[1], [4], [10]])
    // No job engine: nothing can be submitted.
    const noJobs = trayMenuTemplate(
      view(undefined, { lastWorkflow: 'portrait.json', canSubmit: false }),
      a
    )
    expect(item(noJobs, 'Run portrait.json again').enabled).toBe(false)
    const zh = trayMenuTemplate(view(undefined, { lastWorkflow: 'a.png', locale: 'zh-CN' }), a)
    expect(labels(zh)).toContain('再次运行 a.png')
  })

  it('has the summary, one line per server, submit, the switches and Quit', () => {
    const items = trayMenuTemplate(view(fleet([gpu1, gpu2, gpu3, off], 'gpu-1')), actions())
    expect(labels(items)).toEqual([
      '2/3 servers up - best: gpu-1 (queue 0)',
      'separator',
      '★ gpu-1 - best: 0 running, 0 pending',
      '● gpu-2 - 1 running, 2 pending',
      '✕ gpu-3 - down: Connection refused',
      '– gpu-4 - disabled',
      'separator',
      'Submit workflow...',
      'Submit to',
      'Run the last workflow again',
      'Pause sending',
      'separator',
      'Open Comfy Balancer',
      'Check now',
      'Pause checks',
      'Verbose logs',
      'Start at login',
      'Open log folder',
      'separator',
      'Quit'
    ])
  })

  it('wires every item to its action', () => {
    const a = actions()
    const items = trayMenuTemplate(view(), a)
    click(items, 'Open Comfy Balancer')
    click(items, '★ gpu-1 - best: 0 running, 0 pending')
    click(items, 'Check now')
    click(items, 'Pause checks', true)
    click(items, 'Verbose logs', true)
    click(items, 'Start at login', true)
    click(items, 'Open log folder')
    click(items, 'Submit workflow...')
    click(items, 'Quit')
    expect(a.open).toHaveBeenCalledTimes(2)
    expect(a.checkNow).toHaveBeenCalledOnce()
    expect(a.setPaused).toHaveBeenCalledWith(true)
    expect(a.setVerbose).toHaveBeenCalledWith(true)
    expect(a.setStartAtLogin).toHaveBeenCalledWith(true)
    expect(a.openLogFolder).toHaveBeenCalledOnce()
    expect(a.submit).toHaveBeenCalledWith(null)
    expect(a.quit).toHaveBeenCalledOnce()
  })

  it('offers each enabled server under Submit to, down ones greyed', () => {
    const a = actions()
    const items = trayMenuTemplate(view(fleet([gpu1, gpu2, gpu3, off], 'gpu-1')), a)
    const sub = item(items, 'Submit to').submenu as MenuItemConstructorOptions[]
    expect(sub.map((i) => [i.label, i.enabled])).toEqual([
      ['gpu-1...', true],
      ['gpu-2...', true],
      ['gpu-3 (down)', false]
    ])
    ;(sub[1]!.click as () => void)()
    expect(a.submit).toHaveBeenCalledWith('gpu-2')
  })

  it('shows the switches as they are', () => {
    const items = trayMenuTemplate(
      view(fleet([gpu1], 'gpu-1', { paused: true }), { verbose: true, startAtLogin: true }),
      actions()
    )
    expect(item(items, 'Pause checks')).toMatchObject({ type: 'checkbox', checked: true })
    expect(item(items, 'Check now')).toMatchObject({ enabled: false })
    expect(item(items, 'Verbose logs')).toMatchObject({ type: 'checkbox', checked: true })
    expect(item(items, 'Start at login')).toMatchObject({ type: 'checkbox', checked: true })
  })

  it('cannot submit with no servers or no job engine', () => {
    const empty = trayMenuTemplate(view(fleet([], null)), actions())
    expect(labels(empty).slice(0, 3)).toEqual([
      'No servers configured',
      'separator',
      'Submit workflow...'
    ])
    expect(item(empty, 'Submit workflow...').enabled).toBe(false)
    expect(item(empty, 'Submit to').enabled).toBe(false)
    const noJobs = trayMenuTemplate(view(undefined, { canSubmit: false }), actions())
    expect(item(noJobs, 'Submit workflow...').enabled).toBe(false)
  })

  it('speaks Chinese', () => {
    const items = trayMenuTemplate(view(undefined, { locale: 'zh-CN' }), actions())
    expect(labels(items)).toContain('提交工作流...')
    expect(labels(items)).toContain('★ gpu-1 - 最佳：运行中 0，排队中 0')
    expect(labels(items)).toContain('退出')
  })
})

describe('the gateway line', () => {
  const at = (g: NonNullable<TrayView['gateway']>['state'], locale: 'en' | 'zh-CN' = 'en') =>
    trayMenuTemplate(view(undefined, { gateway: { state: g, port: 8288 }, locale }), actions())

  it('shows the address before Open, and a click copies it', () => {
    const a = actions()
    const items = trayMenuTemplate(
      view(undefined, {
        gateway: { state: { state: 'on', url: 'http://127.0.0.1:8288' }, port: 8288 }
      }),
      a
    )
    const l = labels(items)
    expect(l.indexOf('Gateway: http://127.0.0.1:8288')).toBe(l.indexOf('Open Comfy Balancer') - 2)
    click(items, 'Gateway: http://127.0.0.1:8288')
    expect(a.copyGatewayAddress).toHaveBeenCalledWith('http://127.0.0.1:8288')
  })

  it('says why it is off, greyed', () => {
    const taken = at({
      state: 'failed',
      code: 'port-taken',
      message: 'Port 8288 is already in use.'
    })
    expect(item(taken, 'Gateway off: port 8288 is already in use').enabled).toBe(false)
    const other = at({
      state: 'failed',
      code: 'listen',
      message: 'The gateway could not start: EACCES'
    })
    expect(labels(other)).toContain('Gateway off: The gateway could not start: EACCES')
    expect(item(at({ state: 'off' }), 'Gateway: off').enabled).toBe(false)
    expect(labels(at({ state: 'starting' }))).toContain('Gateway: starting...')
    expect(labels(at({ state: 'failed', code: 'port-taken', message: '' }, 'zh-CN'))).toContain(
      '网关未运行：端口 8288 已被占用'
    )
  })

  it('is not there without a gateway', () => {
    expect(labels(trayMenuTemplate(view(), actions())).join()).not.toMatch(/Gateway/)
  })
})

describe('AppTray', () => {
  it('hands files dropped on the icon to the drop action (macOS)', () => {
    const a = actions()
    new AppTray(view(), a)
    const fake = FakeTray.instances[0]!
    fake.emit('drop-files', {}, ['/in/a.json', '/in/b.png'])
    expect(a.dropFiles).toHaveBeenCalledExactlyOnceWith(['/in/a.json', '/in/b.png'])
    fake.emit('drop-files', {}, [])
    expect(a.dropFiles).toHaveBeenCalledOnce()
  })

  it('draws 1x and 2x icons, sets the tooltip and follows status changes', () => {
    const a = actions()
    const tray = new AppTray(view(fleet([gpu1, gpu2], 'gpu-1')), a)
    const fake = FakeTray.instances[0]!
    const image = fake.image as FakeNativeImage
    expect(image.representations.map((r) => r.scaleFactor)).toEqual([1, 2])
    expect(image.template).toBe(false)
    expect(fake.tooltip).toBe('Comfy Balancer: 2/2 servers up - best: gpu-1 (queue 0)')

    tray.update(view(fleet([gpu1, gpu2, gpu3], 'gpu-1')))
    expect(fake.tooltip).toBe('Comfy Balancer: 2/3 servers up - best: gpu-1 (queue 0)')
    expect(fake.setImage).toHaveBeenCalledTimes(1)

    fake.listeners.get('click')!()
    expect(a.open).toHaveBeenCalledOnce()
    tray.destroy()
    expect(fake.destroyed).toBe(true)
  })

  it('rebuilds the menu only when what it shows changes', () => {
    const tray = new AppTray(view(), actions())
    const fake = FakeTray.instances[0]!
    expect(fake.setContextMenu).toHaveBeenCalledTimes(1)
    // Same status again (a new round with the same numbers): nothing is rebuilt or redrawn.
    tray.update(view(fleet([{ ...gpu1, latencyMs: 99, lastCheck: 5 }, gpu2, gpu3], 'gpu-1')))
    expect(fake.setContextMenu).toHaveBeenCalledTimes(1)
    expect(fake.setImage).not.toHaveBeenCalled()
    expect(fake.setToolTip).toHaveBeenCalledTimes(1)
    // A queue that changes a menu line, but not the icon or the tooltip.
    tray.update(view(fleet([gpu1, { ...gpu2, queue: q(1, 3) }, gpu3], 'gpu-1')))
    expect(fake.setContextMenu).toHaveBeenCalledTimes(2)
    expect(fake.setImage).not.toHaveBeenCalled()
    expect(fake.setToolTip).toHaveBeenCalledTimes(1)
    // A switch.
    tray.update(view(fleet([gpu1, { ...gpu2, queue: q(1, 3) }, gpu3], 'gpu-1'), { verbose: true }))
    expect(fake.setContextMenu).toHaveBeenCalledTimes(3)
    const built = Menu.buildFromTemplate.mock.results.at(-1)!.value as {
      items: MenuItemConstructorOptions[]
    }
    expect(item(built.items, 'Verbose logs').checked).toBe(true)
  })

  it('uses a template image on macOS', () => {
    new AppTray(view(), actions(), { template: true })
    const image = FakeTray.instances[0]!.image as FakeNativeImage
    expect(image.template).toBe(true)
  })
})

describe('why a server is down, in the menu', () => {
  /** One said of every code, with the values that are shown as they are. */
  const SAIDS: { [C in ServerCode]: SaidOf<ServerSaid, C> } = {
    timeout: { code: 'timeout', ms: 1000 },
    stalled: { code: 'stalled', ms: 500 },
    refused: { code: 'refused' },
    'host-not-found': { code: 'host-not-found', host: 'gpu.lan' },
    closed: { code: 'closed' },
    unreachable: { code: 'unreachable' },
    'broken-http': { code: 'broken-http' },
    tls: { code: 'tls', detail: 'CERT_HAS_EXPIRED' },
    http: { code: 'http', status: 401, proxyPage: false },
    'not-json': { code: 'not-json', page: true },
    'bad-shape': { code: 'bad-shape', what: 'queue answer' },
    network: { code: 'network', detail: 'socket hang up' },
    'bad-url': { code: 'bad-url' },
    'not-http': { code: 'not-http', protocol: 'ftp:' },
    stopped: { code: 'stopped' },
    redirect: { code: 'redirect', to: 'http://x:1/' },
    'redirect-invalid': { code: 'redirect-invalid' },
    'redirect-post': { code: 'redirect-post', status: 302 },
    'redirect-loop': { code: 'redirect-loop' },
    'too-large': { code: 'too-large', what: 'file', limitBytes: 1024 },
    disabled: { code: 'disabled' },
    text: { code: 'text', text: 'anything' }
  }
  const LITERALS = [
    'gpu.lan',
    'CERT_HAS_EXPIRED',
    'socket hang up',
    'ftp:',
    'http://x:1/',
    'anything'
  ]
  /** Words that are the same in Chinese (names of things). */
  const NAMES = /ComfyUI|HTTPS?|https?|KB|gpu-\d/g

  it('says every code in English as the core says it (the log, the CLI)', () => {
    for (const said of Object.values(SAIDS)) {
      const s = server('gpu-3', { healthy: false, error: 'ignored', said })
      expect(serverLine(s, null, translator('en'))).toBe(
        `✕ gpu-3 - down: ${clip(sayServer(said), 60)}`
      )
    }
  })

  it('says every code in Chinese with no English sentence', () => {
    for (const said of Object.values(SAIDS)) {
      const s = server('gpu-3', { healthy: false, error: sayServer(said), said })
      let line = serverLine(s, null, translator('zh-CN'))
      for (const l of LITERALS) line = line.replace(l, '')
      expect(line.replace(NAMES, ''), said.code).not.toMatch(/[A-Za-z]{2,}/)
    }
  })

  it('a Chinese menu shows a down server in Chinese', () => {
    const down = server('gpu-3', {
      healthy: false,
      error: 'Timed out after 1000 ms',
      said: { code: 'timeout', ms: 1000 }
    })
    const items = trayMenuTemplate(
      view(fleet([gpu1, down], 'gpu-1'), { locale: 'zh-CN' }),
      actions()
    )
    expect(labels(items)).toContain('✕ gpu-3 - 离线：超时（1000 毫秒内无响应）')
    expect(labels(items).join('\n')).not.toContain('Timed out')
  })

  it('a status without a said (an older core) shows its words as they are', () => {
    expect(serverLine(gpu3, null, translator('zh-CN'))).toBe('✕ gpu-3 - 离线：Connection refused')
  })
})
