/** Starting the gateway: the checks before it listens, and its address. */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { BalancerCore } from '../app'
import {
  DEFAULT_GATEWAY_PORT,
  GatewayStartError,
  type Gateway,
  type GatewayOptions
} from './options'
import { isLoopbackHost } from './security'
import { GatewayServer } from './server'

/** The address clients use: `http://host:port` (an IPv6 host in brackets). */
export function gatewayUrl(host: string, port: number): string {
  const shown = host.includes(':') ? `[${host}]` : host
  return `http://${shown}:${port}`
}

/**
 * Starts the gateway on `host:port`. Refuses a non-loopback host without a token, and a core
 * without its job engine. Fails with a GatewayStartError (`port-taken` when the port is in use).
 */
export async function startGateway(
  core: BalancerCore,
  opts: GatewayOptions = {}
): Promise<Gateway> {
  const host = opts.host ?? '127.0.0.1'
  const token = opts.token ? opts.token : null
  if (!isLoopbackHost(host) && token === null) {
    throw new GatewayStartError(
      'token-required',
      `Listening on ${host} lets other machines in: set a token (--token) first.`
    )
  }
  if (!core.jobs) throw new GatewayStartError('no-jobs', 'The gateway needs the job engine')
  const dataDir =
    opts.dataDir ?? core.dataDir() ?? fs.mkdtempSync(path.join(os.tmpdir(), 'comfy-gateway-'))
  const port = opts.port ?? DEFAULT_GATEWAY_PORT
  const gw = new GatewayServer(core, host, port, token, dataDir, opts)
  let actual: number
  try {
    actual = await gw.listen(host, port)
  } catch (err) {
    await gw.close()
    throw err
  }
  return { url: gatewayUrl(host, actual), close: () => gw.close() }
}
