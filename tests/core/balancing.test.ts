import { describe, expect, it } from 'vitest'
import {
  DEFAULT_JOB_MS,
  expectedWaitMs,
  RUN_LEFT_MIN_SHARE,
  priorJobMs,
  ServerEstimator,
  withEstimates,
  workflowKind
} from '../../src/main/core/fleet/estimator'
import { OurJobs } from '../../src/main/core/fleet/our-jobs'
import { expectedCompletionPolicy } from '../../src/main/core/fleet/policy'
import { q, server } from './helpers'

describe('estimator', () => {
  it('learns a moving average of run times, per server and per kind', () => {
    const e = new ServerEstimator()
    expect(e.jobMs).toBeNull()
    e.recordRun(1000, 'a')
    expect(e.jobMs).toBe(1000)
    e.recordRun(2000, 'b')
    expect(e.jobMs).toBeCloseTo(1300)
    expect(e.jobMsFor('a')).toBe(1000)
    expect(e.jobMsFor('b')).toBe(2000)
    expect(e.jobMsFor('unknown')).toBeCloseTo(1300)
    e.recordRun(-5)
    e.recordRun(Number.NaN)
    expect(e.sampleCount).toBe(2)
  })

  it("knows a server's speed from the jobs seen to run there until ours have", () => {
    const e = new ServerEstimator()
    e.recordSeen(4000)
    e.recordSeen(Number.NaN)
    e.recordSeen(0)
    expect(e.jobMs).toBe(4000)
    expect(e.jobMsFor('a')).toBe(4000)
    // Our own finished jobs then stand for it (they are of our kinds of workflow).
    e.recordRun(1000, 'a')
    e.recordSeen(8000)
    expect(e.jobMs).toBe(1000)
    expect(e.jobMsFor('b')).toBe(1000)
  })

  it('counts our jobs until a report taken after they were accepted includes them', () => {
    const o = new OurJobs()
    o.noteSent('a', 'p1', 100)
    o.noteSent('a', 'p2', 200)
    o.noteSent('b', 'p3', 120)
    expect(o.unreported('a')).toBe(2)
    o.noteReport('a', 150) // started before p2 was accepted: includes only p1
    expect(o.unreported('a')).toBe(1)
    o.noteReport('a', 120) // an older report answering late changes nothing
    expect(o.unreported('a')).toBe(1)
    expect(o.unreported('b')).toBe(1)
    o.noteGone('a', 'p2')
    expect(o.unreported('a')).toBe(0)
    o.noteGone('b', 'p1') // not on b: b keeps its own
    expect(o.unreported('b')).toBe(1)
  })

  it('counts our jobs waiting on a server (sending or queued), not the running ones', () => {
    const o = new OurJobs()
    o.noteSent('a', 'p1', 100, 'sending')
    o.noteSent('a', 'p2', 100, 'queued')
    o.noteSent('a', 'p3', 100, 'running')
    expect(o.waiting('a')).toBe(2)
    o.noteSent('a', 'p1', 300) // accepted
    o.noteReport('a', 200)
    expect(o.unreported('a')).toBe(1) // p1 was taken after that report
    o.noteSent('a', 'p2', 400, 'running') // starts running: keeps the time it was taken
    expect(o.waiting('a')).toBe(1)
    expect(o.unreported('a')).toBe(1)
    o.forget('a')
    expect([o.waiting('a'), o.unreported('a')]).toEqual([0, 0])
  })

  it('has a neutral prior for servers it has not seen finish a job', () => {
    expect(priorJobMs([])).toBe(DEFAULT_JOB_MS)
    expect(priorJobMs([null, 1000, 3000, null, 2000])).toBe(2000)
    expect(priorJobMs([1000, 3000])).toBe(2000)
  })

  it('expects the running job half done and everything else in full', () => {
    expect(expectedWaitMs({ running: 1, pending: 2 }, 1, 1000)).toBe(3500)
    expect(expectedWaitMs({ running: 0, pending: 0 }, 0, 1000)).toBe(0)
  })

  it('counts what is left of the running job when it is known how long it has run', () => {
    // Running for 300 ms of 1 s: 700 ms of it left, then 2 in full.
    expect(expectedWaitMs(q(1, 2), 0, 1000, 300)).toBe(2700)
    // Running longer than the average: a little of it is still expected.
    expect(expectedWaitMs(q(1, 0), 0, 1000, 5000)).toBe(1000 * RUN_LEFT_MIN_SHARE)
    const s = server('a', { queue: q(1, 0) })
    expect(withEstimates(s, 400, 0, 1000, 100).etaMs).toBe(300)
    expect(withEstimates(s, 400, 1, 1000, 100).etaMs).toBe(700)
    // Not known: half done, as before.
    expect(withEstimates(s, 400, 0, 1000).etaMs).toBe(200)
    expect(withEstimates(s, 400, 0, 1000, null).etaMs).toBe(200)
  })

  it('names the kind of a workflow by its node classes and steps', () => {
    const a = {
      '1': { class_type: 'KSampler', inputs: { steps: 20 } },
      '2': { class_type: 'SaveImage', inputs: {} }
    }
    const b = {
      '9': { class_type: 'SaveImage', inputs: {} },
      '3': { class_type: 'KSampler', inputs: { steps: 20 } }
    }
    const c = {
      '1': { class_type: 'KSampler', inputs: { steps: 40 } },
      '2': { class_type: 'SaveImage', inputs: {} }
    }
    expect(workflowKind(a)).toBe(workflowKind(b))
    expect(workflowKind(a)).not.toBe(workflowKind(c))
  })
})

describe('expected-completion policy', () => {
  const est = (ms: Record<string, number>) => (id: string) => ms[id]!

  it('prefers a fast GPU with a longer queue over a slow one with a shorter queue', () => {
    const servers = [
      server('slow', { queue: q(1, 0), jobMs: 4000, etaMs: expectedWaitMs(q(1, 0), 0, 4000) }),
      server('fast', { queue: q(1, 1), jobMs: 1000, etaMs: expectedWaitMs(q(1, 1), 0, 1000) })
    ]
    const c = expectedCompletionPolicy(servers, {
      estimateJobMs: est({ slow: 4000, fast: 1000 }),
      rng: () => 0
    })
    expect(c.server?.id).toBe('fast')
    expect(c.reason).toMatch(/expected start in 1\.5 s, done in 2\.5 s/)
    expect(c.finishMs).toBe(2500)
  })

  it('speaks of the queue while a server has no learned run time', () => {
    const c = expectedCompletionPolicy([server('a', { queue: q(1, 2), etaMs: 1 })], {
      estimateJobMs: () => 1000
    })
    expect(c.reason).toBe('shortest queue (3)')
  })

  it('counts the jobs it just sent (own accounting) through etaMs', () => {
    const a = server('a', {
      queue: q(0, 0),
      ownInFlight: 2,
      etaMs: expectedWaitMs(q(0, 0), 2, 1000)
    })
    const b = server('b', { queue: q(0, 1), etaMs: expectedWaitMs(q(0, 1), 0, 1000) })
    const c = expectedCompletionPolicy([a, b], { estimateJobMs: () => 1000, rng: () => 0 })
    expect(c.server?.id).toBe('b')
  })

  it('draws among near-equal servers so many apps do not herd, and never among worse ones', () => {
    const servers = ['a', 'b', 'c'].map((id) => server(id, { etaMs: 0 }))
    servers.push(server('busy', { etaMs: 60_000 }))
    const seen = new Set<string>()
    let x = 0
    const rng = () => {
      x = (x * 9301 + 49297) % 233280
      return x / 233280
    }
    for (let i = 0; i < 200; i++) {
      seen.add(expectedCompletionPolicy(servers, { estimateJobMs: () => 1000, rng }).server!.id)
    }
    expect([...seen].sort()).toEqual(['a', 'b', 'c'])
  })

  it('breaks a tie between the two drawn by latency', () => {
    const servers = [
      server('far', { etaMs: 0, latencyMs: 80 }),
      server('near', { etaMs: 0, latencyMs: 2 })
    ]
    const draws = [0, 0.9]
    let i = 0
    const c = expectedCompletionPolicy(servers, {
      estimateJobMs: () => 1000,
      rng: () => draws[i++ % 2]!
    })
    expect(c.server?.id).toBe('near')
  })

  it('leaves out servers that cannot run the job, and says so', () => {
    const servers = [server('a', { etaMs: 0 }), server('b', { etaMs: 5000 })]
    const unable = new Map([['a', 'missing node FooSampler']])
    const c = expectedCompletionPolicy(servers, {
      estimateJobMs: () => 1000,
      rng: () => 0,
      job: { unable }
    })
    expect(c.server?.id).toBe('b')
    expect(c.reason).toMatch(/1 server\(s\) lack what it needs/)
    const none = expectedCompletionPolicy([servers[0]!], { job: { unable } })
    expect(none.server).toBeNull()
    expect(none.reason).toMatch(
      /No healthy server can run this workflow \(a: missing node FooSampler\)/
    )
  })

  it('never chooses a server that is down; one that just came back only when nothing else can', () => {
    const back = server('back', { etaMs: 0, down: true, recovering: true })
    const busy = server('busy', { etaMs: 30_000 })
    expect(expectedCompletionPolicy([back, busy], { estimateJobMs: () => 1000 }).server?.id).toBe(
      'busy'
    )
    const only = expectedCompletionPolicy([back], { estimateJobMs: () => 1000 })
    expect(only.server?.id).toBe('back')
    expect(only.reason).toMatch(/just came back/)
    expect(
      expectedCompletionPolicy([server('x', { healthy: false, down: true })]).server
    ).toBeNull()
  })
})
