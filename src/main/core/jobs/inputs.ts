/**
 * Input images of a job: a file next to the workflow is uploaded to the chosen server, a file
 * only another server has is copied over from it.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { ComfyClient } from '../comfy/client'
import { uploadImage, viewFile } from '../comfy/prompt-api'
import type { FleetPort } from '../fleet/port'
import { resolveInputInside } from './files'
import type { JobStore } from './job-store'
import type { ApiPrompt } from './workflow'

/** Nodes whose `image` input names a file in the server's input folder. */
const IMAGE_LOADERS = ['LoadImage', 'LoadImageMask']
const IMAGE_EXT = /\.(png|jpe?g|webp|gif|bmp|tiff?)$/i

/** A local input image that cannot be read: the job fails (no other server would help). */
export class LocalFileError extends Error {
  constructor(
    /** The file as it was looked for. */
    readonly path: string,
    /** Node's own words for why it could not be read. */
    readonly detail: string
  ) {
    super(`Cannot read the input image ${path}: ${detail}`)
    this.name = 'LocalFileError'
  }
}

/**
 * The files in the server's input folder, from LoadImage's option list in an object_info
 * answer (`[[names...], {...}]`, or `["COMBO", { options: [names...] }]`), or null when the
 * answer does not say.
 */
export function inputFileList(objectInfo: unknown): Set<string> | null {
  const spec = (objectInfo as { LoadImage?: { input?: { required?: { image?: unknown } } } })
    ?.LoadImage?.input?.required?.image
  const list = Array.isArray(spec) ? spec[0] : null
  if (Array.isArray(list)) return new Set(list.filter((x): x is string => typeof x === 'string'))
  if (
    typeof list === 'string' &&
    list === 'COMBO' &&
    Array.isArray(spec) &&
    spec[1] &&
    typeof spec[1] === 'object'
  ) {
    const opts = (spec[1] as { options?: unknown }).options
    if (Array.isArray(opts)) return new Set(opts.filter((x): x is string => typeof x === 'string'))
  }
  return null
}

/**
 * The files in the server's input folder, or null when the server does not say (then nothing
 * is copied and ComfyUI's own check decides).
 */
async function inputFiles(client: ComfyClient): Promise<Set<string> | null> {
  try {
    const { value } = await client.getJson('/object_info/LoadImage')
    return inputFileList(value)
  } catch {
    return null
  }
}

export class InputImages {
  /** Base folders of workflows, for local input images (not journaled: paths stay local). */
  private readonly baseDirs = new Map<string, string>()

  constructor(
    private readonly store: JobStore,
    private readonly fleet: FleetPort,
    private readonly log: (level: 'info', message: string) => void
  ) {}

  /** Where the job's local input images are looked up. */
  setBaseDir(id: string, dir: string): void {
    this.baseDirs.set(id, dir)
  }

  /** The job finished: its folder is no longer needed. */
  forget(id: string): void {
    this.baseDirs.delete(id)
  }

  /** The prompt for one server: local input images uploaded there and renamed. */
  async prepare(id: string, client: ComfyClient, serverId: string): Promise<ApiPrompt> {
    const entry = this.store.entry(id)
    if (!entry?.prompt) throw new Error('The journal lost the workflow of this job')
    const prompt: ApiPrompt = JSON.parse(JSON.stringify(entry.prompt))
    const base = this.baseDirs.get(id)
    let onServer: Set<string> | null = null
    for (const node of Object.values(prompt)) {
      if (!IMAGE_LOADERS.includes(node.class_type)) continue
      const name = node.inputs.image
      if (typeof name !== 'string' || !name) continue
      const plain = name.replace(/\s*\[(input|output|temp)\]$/, '')
      // 1. A file next to the workflow (only there, and only images: a workflow from elsewhere
      //    must not be able to send arbitrary local files to a server).
      //    Real paths are compared, so a link in that folder pointing elsewhere is not followed.
      if (base && IMAGE_EXT.test(plain)) {
        const local = resolveInputInside(base, plain)
        if (local) {
          let bytes: Buffer
          try {
            bytes = fs.readFileSync(local)
          } catch (err) {
            throw new LocalFileError(local, (err as Error).message)
          }
          const up = await uploadImage(client, bytes, path.basename(plain))
          node.inputs.image = up.subfolder ? `${up.subfolder}/${up.name}` : up.name
          continue
        }
      }
      // 2. A file in another server's input folder: copy it over when this one lacks it.
      if (/\[(output|temp)\]$/.test(name)) continue
      onServer ??= await inputFiles(client)
      if (onServer === null || onServer.has(plain)) continue
      const copied = await this.copyFromFleet(plain, serverId, client)
      if (copied) node.inputs.image = copied
    }
    return prompt
  }

  /** Finds an input image on another healthy server and uploads it to `client`'s server. */
  private async copyFromFleet(
    name: string,
    targetId: string,
    client: ComfyClient
  ): Promise<string | null> {
    const slash = name.lastIndexOf('/')
    const ref = {
      filename: slash < 0 ? name : name.slice(slash + 1),
      subfolder: slash < 0 ? '' : name.slice(0, slash),
      type: 'input'
    }
    for (const s of this.fleet.status().servers) {
      if (s.id === targetId || !s.healthy) continue
      const other = this.fleet.clientFor(s.id)
      if (!other) continue
      try {
        const bytes = await viewFile(other, ref)
        const up = await uploadImage(client, bytes, ref.filename, ref.subfolder)
        this.log('info', `[Jobs] Copied input image ${name} from ${s.name}`)
        return up.subfolder ? `${up.subfolder}/${up.name}` : up.name
      } catch {
        // Not there (404) or unreachable: try the next one.
      }
    }
    return null
  }
}
