import { beforeEach, describe, expect, it, vi } from 'vitest'
import { AppTray, trayMenuTemplate, trayTooltip, type TrayActions } from '../../src/main/tray'
import { fleet, q, server } from '../core/helpers'
import { FakeNativeImage, FakeTray, resetElectronMock } from './electron-mock'

vi.mock('electron', () => import('./electron-mock'))

beforeEach(() => resetElectronMock())

const gpu1 = server('gpu-1', { name: 'gpu-1', queue: q(0, 0) })
const gpu2 = server('gpu-2', { name: 'gpu-2', queue: q(1, 2) })
const gpu3 = server('gpu-3', { name: 'gpu-3', healthy: false, error: 'Connection refused' })

function actions() {
  return {
    open: vi.fn<TrayActions['open']>(),
    checkNow: vi.fn<TrayActions['checkNow']>(),
    setPaused: vi.fn<TrayActions['setPaused']>(),
    quit: vi.fn<TrayActions['quit']>()
  }
}

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
  })
})

describe('trayMenuTemplate', () => {
  it('has the summary, Open, Check now, Pause checks and Quit, wired to the actions', () => {
    const a = actions()
    const items = trayMenuTemplate(fleet([gpu1, gpu3], 'gpu-1'), a)
    expect(items.map((i) => i.label ?? i.type)).toEqual([
      '1/2 servers up - best: gpu-1 (queue 0)',
      'separator',
      'Open Comfy Balancer',
      'Check now',
      'Pause checks',
      'separator',
      'Quit'
    ])
    const click = (label: string, checked = false) =>
      (items.find((i) => i.label === label)!.click as (item: { checked: boolean }) => void)({
        checked
      })
    click('Open Comfy Balancer')
    click('Check now')
    click('Pause checks', true)
    click('Quit')
    expect(a.open).toHaveBeenCalledOnce()
    expect(a.checkNow).toHaveBeenCalledOnce()
    expect(a.setPaused).toHaveBeenCalledWith(true)
    expect(a.quit).toHaveBeenCalledOnce()
  })

  it('shows Pause checks ticked and Check now disabled while paused', () => {
    const items = trayMenuTemplate(fleet([gpu1], 'gpu-1', { paused: true }), actions())
    expect(items.find((i) => i.label === 'Pause checks')).toMatchObject({ checked: true })
    expect(items.find((i) => i.label === 'Check now')).toMatchObject({ enabled: false })
  })
})

describe('AppTray', () => {
  it('draws 1x and 2x icons, sets the tooltip and follows status changes', () => {
    const a = actions()
    const tray = new AppTray(fleet([gpu1, gpu2], 'gpu-1'), a)
    const fake = FakeTray.instances[0]!
    const image = fake.image as FakeNativeImage
    expect(image.representations.map((r) => r.scaleFactor)).toEqual([1, 2])
    expect(fake.tooltip).toBe('Comfy Balancer: 2/2 servers up - best: gpu-1 (queue 0)')

    tray.update(fleet([gpu1, gpu2, gpu3], 'gpu-1'))
    expect(fake.tooltip).toBe('Comfy Balancer: 2/3 servers up - best: gpu-1 (queue 0)')
    expect(fake.setImage).toHaveBeenCalledTimes(1)

    // Same look: nothing is redrawn or rebuilt.
    tray.update(fleet([gpu1, gpu2, gpu3], 'gpu-1'))
    expect(fake.setImage).toHaveBeenCalledTimes(1)
    expect(fake.setContextMenu).toHaveBeenCalledTimes(2)

    fake.listeners.get('click')!()
    expect(a.open).toHaveBeenCalledOnce()
    tray.destroy()
    expect(fake.destroyed).toBe(true)
  })
})
