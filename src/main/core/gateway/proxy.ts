/**
 * Everything else ComfyUI's window needs (its static files at `/`, `/settings`, `/userdata`,
 * `/users`, `/i18n`, templates, an extension's own routes) comes from one home server: the
 * first healthy one in the list, so the artist's settings and saved workflows stay where they
 * are. Streamed both ways; only plain content headers cross: the client's token, cookies and
 * Origin never reach the server, the server's own headers never reach the client.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import https from 'node:https'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { BalancerCore } from '../app'
import type { FleetInfo } from './fleet'
import { sendText } from './http'

/** Routes (after `/api`) that take any method at the home server; others only GET and HEAD. */
const HOME_ROUTES =
  /^\/(settings|userdata|v2\/userdata|users|i18n|workflow_templates|global_subgraphs)(\/|$)/

/** Request headers passed on to the server. */
const REQUEST_HEADERS = [
  'accept',
  'accept-language',
  'content-type',
  'content-length',
  'range',
  'if-none-match',
  'if-modified-since',
  'comfy-user'
]

/** Answer headers passed on to the client. */
const ANSWER_HEADERS = [
  'content-type',
  'content-length',
  'content-encoding',
  'content-disposition',
  'content-range',
  'accept-ranges',
  'cache-control',
  'etag',
  'last-modified'
]

/** True when the home server answers this request. */
export function goesHome(method: string, route: string): boolean {
  return method === 'GET' || method === 'HEAD' || HOME_ROUTES.test(route)
}

export interface ProxyLimits {
  /** Largest request body passed on (a saved workflow, a setting). */
  maxBodyBytes: number
  /** Largest answer passed on. */
  maxAnswerBytes: number
  timeoutMs: number
}

function capped(max: number, what: () => void): Transform {
  let seen = 0
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length
      if (seen > max) {
        what()
        cb(new Error('too large'))
      } else cb(null, chunk)
    }
  })
}

/** Passes the request to the home server and its answer back, as they stream. */
export async function proxyHome(
  core: BalancerCore,
  fleet: FleetInfo,
  url: URL,
  req: IncomingMessage,
  res: ServerResponse,
  limits: ProxyLimits
): Promise<void> {
  const home = fleet.healthy()[0]
  const client = home ? core.serverClient(home.id) : undefined
  if (!client) {
    req.resume()
    return sendText(res, 503, 'No server is available')
  }
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > limits.maxBodyBytes) {
    req.resume()
    return sendText(res, 413, '413: Request Entity Too Large')
  }
  const query = new URLSearchParams(url.searchParams)
  query.delete('token')
  const qs = query.toString()
  const target = new URL(client.url.replace(/\/+$/, '') + url.pathname + (qs ? `?${qs}` : ''))
  const headers: Record<string, string> = {}
  for (const h of REQUEST_HEADERS) {
    const v = req.headers[h]
    if (typeof v === 'string') headers[h] = v
  }
  Object.assign(headers, client.requestHeaders)
  const lib = target.protocol === 'https:' ? https : http
  const method = req.method ?? 'GET'
  const up = await new Promise<IncomingMessage | null>((resolve) => {
    const out = lib.request(target, { method, headers }, resolve)
    out.setTimeout(limits.timeoutMs, () => out.destroy(new Error('timeout')))
    out.on('error', () => resolve(null))
    if (method === 'GET' || method === 'HEAD') {
      req.resume()
      out.end()
    } else {
      pipeline(
        req,
        capped(limits.maxBodyBytes, () => undefined),
        out
      ).catch(() => out.destroy())
    }
  })
  if (!up) {
    if (!res.headersSent) sendText(res, 502, '502: Bad Gateway')
    return
  }
  const answer: Record<string, string> = {}
  for (const h of ANSWER_HEADERS) {
    const v = up.headers[h]
    if (typeof v === 'string') answer[h] = v
  }
  // A redirect within the server (ComfyUI sends a few) stays within the gateway.
  const loc = up.headers.location
  if (typeof loc === 'string' && loc.startsWith('/') && !loc.startsWith('//')) answer.location = loc
  res.writeHead(up.statusCode ?? 502, answer)
  if (method === 'HEAD') {
    up.destroy()
    res.end()
    return
  }
  try {
    await pipeline(
      up,
      capped(limits.maxAnswerBytes, () => undefined),
      res
    )
  } catch {
    up.destroy()
    res.destroy()
  }
}
