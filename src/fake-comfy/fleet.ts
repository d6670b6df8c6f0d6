/** Several fake ComfyUI servers at once (tests, benchmarks, the demo, `fake-fleet`). */
import { FakeComfy } from './server'
import type { FakeComfyOptions } from './types'

export interface FakeFleetOptions {
  count: number
  /** First port; servers listen on port, port+1, ... Ephemeral ports when absent. */
  port?: number
  /** Per-server speed (index i); missing entries default to 1. */
  speeds?: number[]
  /** Duration of a cost-1 job at speed 1, in ms. @default 100 */
  jobMs?: number
  /** Per-server names; default `fake-1`, `fake-2`, ... */
  names?: string[]
  /** Options shared by every server (port, speed, name and jobMs above win). */
  options?: FakeComfyOptions
  /** Per-server option overrides, by index. */
  perServer?: Array<FakeComfyOptions | undefined>
}

export interface FakeFleet {
  servers: FakeComfy[]
  urls: string[]
  stop(): Promise<void>
}

export async function startFakeFleet(opts: FakeFleetOptions): Promise<FakeFleet> {
  const { count } = opts
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`count must be an integer >= 0, got ${JSON.stringify(count)}`)
  }
  if (
    opts.port !== undefined &&
    (!Number.isInteger(opts.port) || opts.port < 1 || opts.port + count - 1 > 65535)
  ) {
    throw new RangeError(`port must leave room for ${count} servers below 65536, got ${opts.port}`)
  }
  const servers: FakeComfy[] = []
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.stop()))
  }
  try {
    for (let i = 0; i < count; i++) {
      const server = new FakeComfy({
        ...opts.options,
        ...opts.perServer?.[i],
        name: opts.names?.[i] ?? opts.perServer?.[i]?.name ?? `fake-${i + 1}`,
        port: opts.port === undefined ? (opts.perServer?.[i]?.port ?? 0) : opts.port + i,
        speed: opts.speeds?.[i] ?? opts.perServer?.[i]?.speed ?? opts.options?.speed ?? 1,
        jobMs: opts.jobMs ?? opts.perServer?.[i]?.jobMs ?? opts.options?.jobMs
      })
      servers.push(server)
      await server.start()
    }
  } catch (e) {
    await stop()
    throw e
  }
  return { servers, urls: servers.map((s) => s.url), stop }
}
