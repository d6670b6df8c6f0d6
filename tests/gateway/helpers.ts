/* eslint-disable @typescript-eslint/no-explicit-any -- JSON answers of a ComfyUI API */
/** A gateway in front of fake servers and a core, and a ComfyUI-style client for it. */
import fs from 'node:fs'
import http from 'node:http'
import WebSocket from 'ws'
import { startGateway, type Gateway, type GatewayOptions } from '../../src/main/core/gateway'
import type { FakeComfy, FakeComfyOptions } from '../../src/fake-comfy'
import type { BalancerCore } from '../../src/main/core/app'
import { FIXTURE, makeCore, onCleanup, servers, tmp, until } from '../jobs/helpers'

export { onCleanup, tmp, until } from '../jobs/helpers'

export interface Setup {
  fakes: FakeComfy[]
  core: BalancerCore
  gw: Gateway
  dir: string
}

export async function setup(
  n = 2,
  fake: FakeComfyOptions = {},
  gw: GatewayOptions = {},
  each?: (i: number) => FakeComfyOptions
): Promise<Setup> {
  const fakes = await servers(n, fake, each)
  const dir = tmp()
  const core = makeCore(
    fakes.map((f) => f.url),
    dir
  )
  core.start()
  await until(() => core.status().healthy === n)
  const g = await startGateway(core, { port: 0, dataDir: dir, ...gw })
  onCleanup(() => g.close())
  return { fakes, core, gw: g, dir }
}

export function txt2img(patch?: (p: Record<string, any>) => void): Record<string, any> {
  const p = JSON.parse(fs.readFileSync(FIXTURE, 'utf8'))
  patch?.(p)
  return p
}

export async function postJson(
  base: string,
  route: string,
  body: unknown,
  headers: Record<string, string> = {}
): Promise<{ status: number; json: any; text: string; type: string | null }> {
  const res = await fetch(base + route, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body)
  })
  const text = await res.text()
  let json: any = null
  try {
    json = JSON.parse(text)
  } catch {
    // not JSON
  }
  return { status: res.status, json, text, type: res.headers.get('content-type') }
}

export async function getJson(base: string, route: string): Promise<any> {
  const res = await fetch(base + route)
  if (res.status !== 200) throw new Error(`${route}: ${res.status}`)
  return res.json()
}

/** A raw request with any headers (fetch cannot set Host). */
export function raw(
  base: string,
  opts: { method?: string; path: string; headers?: Record<string, string>; body?: string }
): Promise<{ status: number; body: string }> {
  const u = new URL(base)
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        method: opts.method ?? 'GET',
        path: opts.path,
        headers: opts.headers
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c) => chunks.push(c))
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() })
        )
      }
    )
    req.on('error', reject)
    req.end(opts.body)
  })
}

/** A WebSocket client as ComfyUI's script_examples open it; keeps every message. */
export class WsClient {
  readonly messages: Array<{ type: string; data: any }> = []
  readonly ws: WebSocket
  constructor(base: string, clientId: string, query = '', headers: Record<string, string> = {}) {
    this.ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ws?clientId=${clientId}${query}`, {
      headers
    })
    this.ws.on('message', (d, bin) => {
      if (!bin) this.messages.push(JSON.parse(String(d)))
    })
    onCleanup(() => this.ws.terminate())
  }
  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve())
      this.ws.once('error', reject)
      this.ws.once('unexpected-response', (_r, res) =>
        reject(new Error(`refused with ${res.statusCode}`))
      )
    })
  }
  /** Resolves when `executing {node: null}` for this prompt came (script_examples' loop). */
  async finished(promptId: string, timeoutMs = 15_000): Promise<void> {
    await until(
      () =>
        this.messages.some(
          (m) => m.type === 'executing' && m.data.node === null && m.data.prompt_id === promptId
        ),
      timeoutMs
    )
  }
  of(promptId: string): string[] {
    return this.messages.filter((m) => m.data?.prompt_id === promptId).map((m) => m.type)
  }
}
