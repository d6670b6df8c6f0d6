/** "Test connection": asks one server once, without adding it to the fleet. */
import type { ServerSaid } from '../../../shared/said'
import type { FailureKind, QueueCounts, ServerConfig, SystemInfo } from '../../../shared/types'
import { ComfyClient } from './client'
import { ComfyRequestError, classifyError } from './errors'
import type { HttpTransport } from './transport'

export type ProbeResult =
  | {
      ok: true
      latencyMs: number
      queue: QueueCounts
      system: SystemInfo | null
      legacyRoutes: boolean
    }
  /** `said`: why, as data (each face says it in its language); `error`: the same in English. */
  | { ok: false; error: string; errorKind: FailureKind; said: ServerSaid }

export async function probeServer(
  server: Pick<ServerConfig, 'url' | 'headers'>,
  timeoutMs: number,
  transport?: HttpTransport
): Promise<ProbeResult> {
  const client = new ComfyClient({ server, timeoutMs, transport })
  try {
    const q = await client.getQueue()
    let system: SystemInfo | null = null
    try {
      system = (await client.getSystemStats()).value
    } catch {
      // The queue answered: it is a ComfyUI; system stats are a bonus.
    }
    return {
      ok: true,
      latencyMs: Math.round(q.latencyMs * 10) / 10,
      queue: q.value,
      system,
      legacyRoutes: client.legacyRoutes
    }
  } catch (err) {
    const e = err instanceof ComfyRequestError ? err : classifyError(err, timeoutMs)
    return { ok: false, error: e.message, errorKind: e.kind, said: e.said }
  } finally {
    client.close()
  }
}
