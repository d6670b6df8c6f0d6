/**
 * The fake fleets run in a child process (this same bundle, started with `--fleet-host`), so
 * the CPU the core spends is measured apart from the fakes', and the fakes' timers do not
 * compete with the core for one event loop. The parent drives them over IPC.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { startFakeFleet, type FakeFleet } from '../src/fake-comfy'
import { now, standardPrompt } from './lib'

/** One thing a fake server did, with the host's clock. */
export interface FleetEvent {
  /** Server index in the fleet. */
  s: number
  /** Prompt id. */
  id: string
  /** q: accepted into the queue, s: started, e: ended. */
  k: 'q' | 's' | 'e'
  t: number
  /** For 'e': finished with success. */
  ok?: boolean
}

export interface ServerStats {
  connections: number
  requests: number
  wsConnections: number
  /** Prompt ids in the server's history that finished with success. */
  historySuccess: string[]
  running: number
  pending: number
}

export type HostRequest =
  | { op: 'start'; count: number; speeds?: number[]; jobMs: number }
  | { op: 'die'; fleet: number; index: number }
  | { op: 'events'; fleet: number }
  | { op: 'stats'; fleet: number; history?: boolean }
  | { op: 'fill'; fleet: number; pending: number; bytes: number }
  | { op: 'stop'; fleet: number }
  | { op: 'idle'; fleet: number }
  | { op: 'now' }
  | { op: 'cpu' }

type HostReply =
  { rid: number; ok: true; value: unknown } | { rid: number; ok: false; error: string }

// ------------------------------------------------------------------ child side

interface HostedFleet {
  fleet: FakeFleet
  events: FleetEvent[]
}

/** Runs in the child: serves requests until the parent disconnects. */
export function runFleetHost(): void {
  const fleets = new Map<number, HostedFleet>()
  let nextId = 1
  const get = (id: number): HostedFleet => {
    const f = fleets.get(id)
    if (!f) throw new Error(`no fleet ${id}`)
    return f
  }

  const handle = async (req: HostRequest): Promise<unknown> => {
    switch (req.op) {
      case 'start': {
        const fleet = await startFakeFleet({
          count: req.count,
          speeds: req.speeds,
          jobMs: req.jobMs
        })
        const events: FleetEvent[] = []
        fleet.servers.forEach((srv, s) => {
          srv.on('queued', (id) => events.push({ s, id, k: 'q', t: now() }))
          srv.on('job-start', (id) => events.push({ s, id, k: 's', t: now() }))
          srv.on('job-end', (id, status) =>
            events.push({ s, id, k: 'e', t: now(), ok: status === 'success' })
          )
        })
        const id = nextId++
        fleets.set(id, { fleet, events })
        return { fleet: id, urls: fleet.urls }
      }
      case 'die': {
        const f = get(req.fleet)
        await f.fleet.servers[req.index]!.die()
        return null
      }
      case 'events':
        return get(req.fleet).events
      case 'stats':
        return get(req.fleet).fleet.servers.map((srv): ServerStats => {
          const q = srv.queueSnapshot()
          return {
            ...srv.stats,
            historySuccess: req.history
              ? srv.historyIds().filter((h) => srv.historyEntry(h)?.status.status_str === 'success')
              : [],
            running: q.running.length,
            pending: q.pending.length
          }
        })
      case 'fill': {
        // Stops each server (speed 0) and queues 1 + `pending` prompts that carry a UI
        // workflow of about `bytes` in extra_pnginfo, as the ComfyUI frontend sends it.
        const f = get(req.fleet)
        const filler = 'x'.repeat(Math.max(0, req.bytes - 200))
        for (const srv of f.fleet.servers) {
          srv.setSpeed(0)
          for (let i = 0; i < req.pending + 1; i++) {
            const res = await fetch(`${srv.url}/api/prompt`, {
              method: 'POST',
              headers: { 'Content-Type': 'application/json' },
              body: JSON.stringify({
                prompt: standardPrompt(),
                client_id: 'other-user',
                prompt_id: randomUUID(),
                extra_data: { extra_pnginfo: { workflow: { nodes: [], extra: { filler } } } }
              })
            })
            if (!res.ok) throw new Error(`fill: POST /prompt answered ${res.status}`)
            await res.arrayBuffer()
          }
        }
        return null
      }
      case 'stop': {
        const f = fleets.get(req.fleet)
        fleets.delete(req.fleet)
        await f?.fleet.stop()
        return null
      }
      case 'idle':
        await Promise.all(get(req.fleet).fleet.servers.map((srv) => srv.waitForIdle(30_000)))
        return null
      case 'now':
        return now()
      case 'cpu':
        return process.cpuUsage()
    }
  }

  process.on('message', (msg: { rid: number; req: HostRequest }) => {
    handle(msg.req).then(
      (value) => process.send?.({ rid: msg.rid, ok: true, value } satisfies HostReply),
      (err: unknown) =>
        process.send?.({ rid: msg.rid, ok: false, error: String(err) } satisfies HostReply)
    )
  })
  process.on('disconnect', () => {
    void Promise.all([...fleets.values()].map((f) => f.fleet.stop())).finally(() => process.exit(0))
  })
}

// ------------------------------------------------------------------ parent side

export interface RemoteFleet {
  id: number
  urls: string[]
}

/** The parent's handle on the child that hosts the fake fleets. */
export class FleetHost {
  private readonly child: ChildProcess
  private rid = 0
  private readonly waiting = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >()
  /** Why the child is gone, once it is. */
  private exited: string | null = null
  /** Host clock minus our clock (ms), estimated by ping. */
  offsetMs = 0

  private constructor(child: ChildProcess) {
    this.child = child
    child.on('message', (m: HostReply) => {
      const w = this.waiting.get(m.rid)
      if (!w) return
      this.waiting.delete(m.rid)
      if (m.ok) w.resolve(m.value)
      else w.reject(new Error(m.error))
    })
    child.on('exit', (code, signal) => {
      this.exited = `fleet host exited (code ${code}, signal ${signal})`
      for (const w of this.waiting.values()) w.reject(new Error(this.exited))
      this.waiting.clear()
    })
  }

  static async start(entry: string): Promise<FleetHost> {
    const child = fork(entry, ['--fleet-host'], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: []
    })
    const host = new FleetHost(child)
    await host.calibrate()
    return host
  }

  call<T>(req: HostRequest): Promise<T> {
    const rid = ++this.rid
    return new Promise<T>((resolve, reject) => {
      if (this.exited) return reject(new Error(this.exited))
      this.waiting.set(rid, { resolve: resolve as (v: unknown) => void, reject })
      this.child.send({ rid, req }, (err) => {
        if (!err) return
        this.waiting.delete(rid)
        reject(err)
      })
    })
  }

  /** Estimates the clock offset from the ping with the shortest round trip. */
  async calibrate(): Promise<void> {
    let best = Infinity
    for (let i = 0; i < 30; i++) {
      const a = now()
      const t = await this.call<number>({ op: 'now' })
      const b = now()
      if (b - a < best) {
        best = b - a
        this.offsetMs = t - (a + b) / 2
      }
    }
  }

  /** A host timestamp on our clock. */
  local(t: number): number {
    return t - this.offsetMs
  }

  async startFleet(count: number, jobMs: number, speeds?: number[]): Promise<RemoteFleet> {
    const r = await this.call<{ fleet: number; urls: string[] }>({
      op: 'start',
      count,
      speeds,
      jobMs
    })
    return { id: r.fleet, urls: r.urls }
  }

  /** Events with timestamps on our clock. */
  async events(fleet: RemoteFleet): Promise<FleetEvent[]> {
    const ev = await this.call<FleetEvent[]>({ op: 'events', fleet: fleet.id })
    return ev.map((e) => ({ ...e, t: this.local(e.t) }))
  }

  stats(fleet: RemoteFleet, history = false): Promise<ServerStats[]> {
    return this.call<ServerStats[]>({ op: 'stats', fleet: fleet.id, history })
  }

  /** CPU time of the process that runs the fake servers. */
  cpu(): Promise<NodeJS.CpuUsage> {
    return this.call<NodeJS.CpuUsage>({ op: 'cpu' })
  }

  die(fleet: RemoteFleet, index: number): Promise<void> {
    return this.call({ op: 'die', fleet: fleet.id, index })
  }

  fill(fleet: RemoteFleet, pending: number, bytes: number): Promise<void> {
    return this.call({ op: 'fill', fleet: fleet.id, pending, bytes })
  }

  /** Resolves once every server of the fleet has nothing running or pending. */
  idle(fleet: RemoteFleet): Promise<void> {
    return this.call({ op: 'idle', fleet: fleet.id })
  }

  stopFleet(fleet: RemoteFleet): Promise<void> {
    return this.call({ op: 'stop', fleet: fleet.id })
  }

  /** Stops every fleet and waits for the child to exit. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) return resolve()
      const timer = setTimeout(() => this.child.kill(), 10_000)
      this.child.once('exit', () => {
        clearTimeout(timer)
        resolve()
      })
      this.child.disconnect()
    })
  }
}
