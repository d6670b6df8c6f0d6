/** What each server can run: read on demand, kept, read again after a restart. */
import { describe, expect, it } from 'vitest'
import { Capabilities, missingFor } from '../../src/main/core/fleet/capabilities'
import type { ComfyClient } from '../../src/main/core/comfy/client'
import { ManualClock } from '../jobs/fake-port'

/** A client answering object_info and /models from a table, counting the reads. */
function stubClient(classes: string[], models: Record<string, string[]>) {
  const reads: string[] = []
  let release: (() => void) | null = null
  const c = {
    reads,
    hold: false,
    /** Lets a held object_info answer go. */
    release: () => release?.(),
    async getJson(route: string) {
      reads.push(route)
      if (route === '/object_info') {
        if (c.hold) await new Promise<void>((r) => (release = r))
        return { value: Object.fromEntries(classes.map((k) => [k, {}])), latencyMs: 1 }
      }
      const folder = route.replace('/models/', '')
      if (!(folder in models)) throw new Error('404')
      return { value: models[folder], latencyMs: 1 }
    }
  }
  return c
}

const needs = {
  classes: ['KSampler', 'Foo'],
  models: [{ folder: 'checkpoints', name: 'x.safetensors' }]
}

describe('capabilities', () => {
  it('reads a ready server once and judges only the servers it knows', async () => {
    const clock = new ManualClock()
    const caps = new Capabilities({ clock, timeoutMs: () => 1000 })
    const a = stubClient(['KSampler'], { checkpoints: ['y.safetensors'] })
    const b = stubClient(['KSampler', 'Foo'], { checkpoints: ['x.safetensors'] })
    const targets = [
      { id: 'a', client: a as unknown as ComfyClient, ready: true },
      { id: 'b', client: b as unknown as ComfyClient, ready: true },
      { id: 'c', client: a as unknown as ComfyClient, ready: false }
    ]
    await caps.ensure(targets, 3000)
    expect(caps.unableToRun(['a', 'b', 'c'], needs)).toEqual(
      new Map([['a', 'missing node Foo; missing model x.safetensors']])
    )
    const n = a.reads.length
    await caps.ensure(targets, 3000)
    expect(a.reads.length).toBe(n) // kept
    expect(caps.unableToRun(['a'], null).size).toBe(0)
  })

  it('reads again after the server may have restarted, and drops a read started before', async () => {
    const clock = new ManualClock()
    const caps = new Capabilities({ clock, timeoutMs: () => 1000 })
    const a = stubClient(['KSampler'], {})
    const t = [{ id: 'a', client: a as unknown as ComfyClient, ready: true }]
    await caps.ensure(t, 3000)
    expect(caps.get('a')).toBeDefined()
    caps.invalidate('a')
    expect(caps.get('a')).toBeUndefined()
    a.hold = true
    const waiting = caps.ensure(t, 3000)
    await Promise.resolve()
    caps.invalidate('a') // restarted again while reading
    a.release()
    await waiting
    expect(caps.get('a')).toBeUndefined()
    a.hold = false
    await caps.ensure(t, 3000)
    expect(caps.get('a')?.classes.has('KSampler')).toBe(true)
    expect(a.reads.filter((r) => r === '/object_info')).toHaveLength(3)
  })

  it('waits at most maxWaitMs for a slow server, and keeps its answer when it comes', async () => {
    const clock = new ManualClock()
    const caps = new Capabilities({ clock, timeoutMs: () => 1000 })
    const a = stubClient(['KSampler'], {})
    a.hold = true
    let done = false
    const p = caps
      .ensure([{ id: 'a', client: a as unknown as ComfyClient, ready: true }], 3000)
      .then(() => (done = true))
    await Promise.resolve()
    clock.advance(2999)
    await Promise.resolve()
    expect(done).toBe(false)
    clock.advance(1)
    await p
    expect(caps.get('a')).toBeUndefined()
    a.release()
    await new Promise((r) => setImmediate(r))
    expect(caps.get('a')).toBeDefined()
  })

  it('judges a model folder only when the server listed it', () => {
    const caps = { classes: new Set(['KSampler', 'Foo']), models: new Map() }
    expect(missingFor(caps, needs)).toBeNull()
    caps.models.set('checkpoints', new Set(['y.safetensors']))
    expect(missingFor(caps, needs)).toBe('missing model x.safetensors')
  })
})
