/** The user's cancel of a running job ends as cancelled, though the server reports an interrupt. */
import { describe } from 'vitest'
import { expect, test } from '../harness'
import { sleep, until, workflow } from './helpers'
import { startProxy } from './proxy'

describe('cancel', () => {
  test('a running job cancelled by the user is cancelled, even when the interrupt event comes first', async ({
    fleet,
    core
  }) => {
    const [fake] = await fleet(1, { jobMs: 3_000 })
    const proxy = await startProxy(fake!.url)
    // The server interrupts at once; its answer to our POST arrives only later.
    proxy.hook = async (req, res, forward) => {
      if (req.method !== 'POST' || !/\/interrupt$/.test(req.path)) return false
      const r = await forward()
      await sleep(300)
      res.writeHead(r.status)
      res.end(r.body)
      return true
    }
    try {
      const c = await core([proxy.url], { settings: { healthCheckInterval: 60_000 } })
      const states: string[] = []
      c.events.on('job', (j) => states.push(j.state))
      const job = c.jobs!.submit(workflow())
      await until(() => c.jobs!.get(job.id)!.state === 'running')
      const end = await c.jobs!.cancel(job.id)
      expect(end.state).toBe('cancelled')
      await sleep(400)
      expect(c.jobs!.get(job.id)!.state).toBe('cancelled')
      // Never shown as interrupted on the way (the window would say so).
      expect(states).not.toContain('interrupted')
      expect(fake!.queueSnapshot().running).not.toContain(job.id)
    } finally {
      await proxy.close()
    }
  })
})
