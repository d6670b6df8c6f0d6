import { describe, expect, it } from 'vitest'
import { errorText, FleetState } from '../../src/renderer/src/lib/fleet-state.svelte'
import type { AppSettings } from '../../src/shared/types'
import { fleet, server } from '../core/helpers'
import { fakeApi } from './fake-api'

const settings = { verboseLogging: false, servers: [] } as unknown as AppSettings
const flush = () => new Promise((r) => setTimeout(r, 0))

describe('FleetState', () => {
  it('keeps a status pushed before the initial answer (it is newer)', async () => {
    const old = fleet([server('a')], 'a', { lastHealthCheck: 1 })
    const newer = fleet([server('a', { healthy: false, error: 'down' })], null, {
      lastHealthCheck: 2
    })
    const api = fakeApi({ status: old, settings })
    const state = new FleetState(api)
    const stop = state.start()
    api.pushStatus(newer)
    await flush()
    expect(state.status).toBe(newer)
    stop()
  })

  it('keeps the last lines only, in order, without doubles', async () => {
    const line = (n: number) => ({ time: n, level: 'info' as const, message: `line ${n}` })
    const api = fakeApi({ status: fleet([], null), settings, logs: [line(1), line(2)] })
    // Main took its snapshot after line 3 was pushed: the line arrives twice.
    api.logs.get = async () => {
      await flush()
      return [line(1), line(2), line(3)]
    }
    const state = new FleetState(api, { maxLogLines: 3 })
    const stop = state.start()
    api.pushLog(line(3))
    await flush()
    api.pushLog(line(4))
    expect(state.logs.map((l) => l.time)).toEqual([2, 3, 4])
    stop()
  })

  it('keeps the error of a failed action for the window', async () => {
    const api = fakeApi({ status: fleet([], null), settings })
    api.checks.now = () =>
      Promise.reject(new Error("Error invoking remote method 'checks:now': Error: boom"))
    const state = new FleetState(api)
    await state.checkNow()
    expect(state.error).toBe('boom')
    expect(state.busy).toBe(false)
    expect(errorText('plain')).toBe('plain')
  })

  it('does nothing without an API', async () => {
    const state = new FleetState(undefined)
    expect(state.connected).toBe(false)
    state.start()()
    await state.checkNow()
    expect(state.error).toBe('Not connected to Comfy Balancer')
  })
})
