import type { FleetStatus, ServerStatus } from '../../src/shared/types'

/** A server status with sensible defaults, for pure-function tests. */
export function server(id: string, patch: Partial<ServerStatus> = {}): ServerStatus {
  const q = patch.queue ?? { running: 0, pending: 0, total: 0 }
  return {
    id,
    name: id,
    url: `http://${id}:8188`,
    enabled: true,
    healthy: true,
    latencyMs: 5,
    system: null,
    error: null,
    errorKind: null,
    lastCheck: 1,
    consecutiveFailures: 0,
    consecutiveSuccesses: 1,
    down: false,
    recovering: false,
    ownInFlight: 0,
    jobMs: null,
    etaMs: null,
    legacyRoutes: false,
    checks: 1,
    successes: 1,
    ...patch,
    queue: q
  }
}

export function q(running: number, pending: number) {
  return { running, pending, total: running + pending }
}

export function fleet(
  servers: ServerStatus[],
  best: string | null,
  patch: Partial<FleetStatus> = {}
): FleetStatus {
  return {
    total: servers.length,
    healthy: servers.filter((s) => s.enabled && s.healthy).length,
    bestServer: best,
    bestServerId: best,
    reason: best ? 'shortest queue' : 'No healthy server',
    lastHealthCheck: 1000,
    paused: false,
    servers,
    ...patch
  }
}
