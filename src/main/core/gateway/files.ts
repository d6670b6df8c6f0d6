/**
 * Files through the gateway: `/view` streamed from the server that produced the file (or the
 * gateway's own uploads), `/view_metadata`, and uploads kept until a job needs them.
 */
import fs from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { BalancerCore } from '../app'
import type { FleetInfo } from './fleet'
import {
  fileKey,
  openUpstream,
  readBody,
  relay,
  sendEmpty,
  sendJson,
  sendText,
  type OutputFile
} from './http'
import { MAX_SMALL_BODY } from './options'
import { parseMultipart, UploadError, type UploadStore } from './uploads'

/** Output files remembered with the server that has them. */
export const MAX_OUTPUT_INDEX = 20_000

export class GatewayFiles {
  private readonly outputIndex = new Map<string, string>()

  constructor(
    private readonly core: BalancerCore,
    private readonly fleet: FleetInfo,
    private readonly uploads: UploadStore,
    private readonly limits: { maxUploadBytes: number; maxViewBytes: number }
  ) {}

  /** Notes which server has an output file, so /view asks that one first. */
  remember(f: OutputFile, serverId: string): void {
    const k = fileKey(f.type, f.subfolder, f.filename)
    this.outputIndex.delete(k)
    this.outputIndex.set(k, serverId)
    while (this.outputIndex.size > MAX_OUTPUT_INDEX)
      this.outputIndex.delete(this.outputIndex.keys().next().value as string)
  }

  async view(url: URL, req: IncomingMessage, res: ServerResponse, stream: () => void) {
    let filename = url.searchParams.get('filename') ?? ''
    let type = url.searchParams.get('type') || 'output'
    const subfolder = url.searchParams.get('subfolder') ?? ''
    const ann = /\s\[(output|input|temp)\]$/.exec(filename)
    if (ann) {
      type = ann[1]!
      filename = filename.slice(0, ann.index)
    }
    if (!url.searchParams.has('filename')) return sendText(res, 404, '404: Not Found')
    if (!filename || filename.startsWith('/') || filename.includes('..')) {
      return sendText(res, 400, '400: Bad Request')
    }
    if (!['output', 'input', 'temp'].includes(type)) return sendText(res, 400, '400: Bad Request')
    if (subfolder.split(/[\\/]/).includes('..') || path.isAbsolute(subfolder)) {
      return sendText(res, 403, '403: Forbidden')
    }
    stream()
    res.setTimeout(Math.max(30_000, this.core.settings.timeout), () => res.destroy())
    const local = type === 'input' ? this.uploads.find(type, subfolder, filename) : null
    if (local && !url.searchParams.has('preview') && !url.searchParams.has('channel')) {
      const size = fs.statSync(local).size
      res.writeHead(200, {
        'Content-Type': /\.png$/i.test(local) ? 'image/png' : 'application/octet-stream',
        'Content-Length': size,
        'Content-Disposition': `filename="${path.basename(local).replace(/"/g, '')}"`
      })
      if (req.method === 'HEAD') return void res.end()
      await pipeline(fs.createReadStream(local), res).catch(() => res.destroy())
      return
    }
    const known = this.outputIndex.get(fileKey(type, subfolder, filename))
    const order = [
      ...(known ? [known] : []),
      ...this.fleet
        .healthy()
        .map((s) => s.id)
        .filter((id) => id !== known)
    ]
    const route = `/view?${url.searchParams.toString()}`
    for (const id of order) {
      const client = this.core.serverClient(id)
      if (!client) continue
      let up: IncomingMessage
      try {
        up = await openUpstream(client, route, Math.max(30_000, this.core.settings.timeout))
      } catch {
        continue
      }
      if (up.statusCode === 404 || (up.statusCode ?? 500) >= 500) {
        up.resume()
        continue
      }
      return relay(up, req, res, this.limits.maxViewBytes)
    }
    sendText(res, 404, '404: Not Found')
  }

  async viewMetadata(folder: string, url: URL, req: IncomingMessage, res: ServerResponse) {
    const route = `/view_metadata/${encodeURIComponent(folder)}?${url.searchParams.toString()}`
    for (const s of this.fleet.healthy()) {
      const client = this.core.serverClient(s.id)
      if (!client) continue
      try {
        const up = await openUpstream(client, route, Math.max(10_000, this.core.settings.timeout))
        if (up.statusCode !== 200) {
          up.resume()
          continue
        }
        return relay(up, req, res, MAX_SMALL_BODY * 16)
      } catch {
        // next server
      }
    }
    sendEmpty(res, 404)
  }

  async upload(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const type = req.headers['content-type'] ?? ''
    const body = await readBody(req, this.limits.maxUploadBytes)
    let parts
    try {
      parts = parseMultipart(body, type)
    } catch (err) {
      if (err instanceof UploadError) return sendText(res, 400, '400: Bad Request')
      throw err
    }
    const field = (n: string) =>
      parts.find((p) => p.name === n && p.filename === null)?.data.toString('utf8')
    const image = parts.find((p) => p.name === 'image' && p.filename !== null)
    if (!image || !image.filename) return sendText(res, 400, '400: Bad Request')
    const overwrite = field('overwrite')
    try {
      const stored = this.uploads.put(image.data, image.filename, {
        subfolder: field('subfolder') ?? '',
        type: field('type') || 'input',
        overwrite: overwrite === 'true' || overwrite === '1'
      })
      sendJson(res, 200, stored)
    } catch (err) {
      if (err instanceof UploadError) return sendText(res, 400, '400: Bad Request')
      throw err
    }
  }
}
