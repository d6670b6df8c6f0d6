import { describe, expect, it } from 'vitest'
import {
  parseHash,
  Router,
  routeHash,
  type RouterWindow
} from '../../src/renderer/src/lib/router.svelte'
import { fakeApi } from './fake-api'
import { fleet } from '../core/helpers'
import type { AppSettings } from '../../src/shared/types'

function fakeWindow(hash = ''): RouterWindow & { fire(): void } {
  const fns = new Set<() => void>()
  return {
    location: { hash },
    addEventListener: (_t, fn) => fns.add(fn),
    removeEventListener: (_t, fn) => fns.delete(fn),
    fire: () => fns.forEach((fn) => fn())
  }
}

describe('the router', () => {
  it('reads and writes the hash', () => {
    expect(parseHash('')).toEqual({ view: 'dashboard', id: null })
    expect(parseHash('#jobs/abc%2Fd')).toEqual({ view: 'jobs', id: 'abc/d' })
    expect(parseHash('#servers/gpu-1')).toEqual({ view: 'servers', id: 'gpu-1' })
    expect(parseHash('#settings/x')).toEqual({ view: 'settings', id: null })
    expect(parseHash('#nonsense')).toEqual({ view: 'dashboard', id: null })
    expect(parseHash('#jobs/%E0%A4%A')).toEqual({ view: 'jobs', id: null })
    expect(routeHash({ view: 'jobs', id: 'a b' })).toBe('#jobs/a%20b')
  })

  it('starts where the hash says, follows it, and follows main', () => {
    const win = fakeWindow('#logs')
    const router = new Router(win)
    expect(router.view).toBe('logs')
    const api = fakeApi({ status: fleet([], null), settings: {} as AppSettings })
    const stop = router.start(api)
    win.location.hash = '#servers/gpu-2'
    win.fire()
    expect([router.view, router.id]).toEqual(['servers', 'gpu-2'])
    api.navigate({ view: 'jobs', jobId: 'j1' })
    expect([router.view, router.id]).toEqual(['jobs', 'j1'])
    expect(win.location.hash).toBe('#jobs/j1')
    router.go('settings')
    expect(win.location.hash).toBe('#settings')
    stop()
    expect(api.listenerCount()).toBe(0)
  })
})
