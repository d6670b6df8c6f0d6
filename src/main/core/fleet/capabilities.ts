/**
 * What each server can run: its node classes (object_info) and model files (/models/<folder>).
 * Read on demand, before a job is placed, never on every check (object_info is large, and a
 * fleet that only gets watched never needs it); cached per server until the server may have
 * restarted (its socket reconnected, or its system stats changed).
 */
import type { Lacks } from '../../../shared/said'
import type { Clock } from '../clock'
import { sayLacks } from '../log'
import type { ComfyClient } from '../comfy/client'
import type { WorkflowNeeds } from './port'

/** Model folders checked for capability matching. */
export const CAPS_MODEL_FOLDERS = [
  'checkpoints',
  'loras',
  'vae',
  'diffusion_models',
  'text_encoders',
  'controlnet',
  'upscale_models',
  'clip_vision'
]
/** object_info can be several MB on servers with many custom nodes. */
export const CAPS_TIMEOUT_MS = 30_000

/** Node classes and model files one server has. */
export interface ServerCaps {
  classes: Set<string>
  /** Folder -> file names; a folder the server did not list is not judged. */
  models: Map<string, Set<string>>
}

/** A server whose capabilities may be read: its id and client, and whether to read them now. */
export interface CapsTarget {
  id: string
  client: ComfyClient
  /** Enabled and healthy: worth asking. */
  ready: boolean
}

export interface CapabilitiesOptions {
  clock: Clock
  /** The per-request timeout; object_info gets at least CAPS_TIMEOUT_MS. */
  timeoutMs: () => number
}

/** Model folders read at once per server. */
const CAPS_PARALLEL_READS = 3

/** Reads what a server can run, or null when its object_info is not usable. */
export async function readCaps(client: ComfyClient, timeoutMs: number): Promise<ServerCaps | null> {
  const info = await client.getJson('/object_info', Math.max(timeoutMs, CAPS_TIMEOUT_MS))
  if (!info.value || typeof info.value !== 'object' || Array.isArray(info.value)) return null
  const classes = new Set(Object.keys(info.value as object))
  const models = new Map<string, Set<string>>()
  // A few folders at a time: the first job waits for these, and a server keeps few connections.
  const folders = [...CAPS_MODEL_FOLDERS]
  const reader = async (): Promise<void> => {
    for (let folder = folders.shift(); folder !== undefined; folder = folders.shift()) {
      try {
        const r = await client.getJson(`/models/${folder}`)
        if (Array.isArray(r.value))
          models.set(folder, new Set(r.value.filter((x): x is string => typeof x === 'string')))
      } catch {
        // Unknown folder (404) or an old server without /models: not judged.
      }
    }
  }
  await Promise.all(Array.from({ length: CAPS_PARALLEL_READS }, reader))
  return { classes, models }
}

/** What a server with `caps` lacks to run a workflow needing `needs`, or null when nothing. */
export function lacksFor(caps: ServerCaps, needs: WorkflowNeeds): Omit<Lacks, 'name'> | null {
  const nodes = needs.classes.filter((c) => !caps.classes.has(c))
  const models = needs.models
    .filter((m) => {
      const list = caps.models.get(m.folder)
      return list !== undefined && !list.has(m.name)
    })
    .map((m) => m.name)
  return nodes.length || models.length ? { nodes, models } : null
}

/** Why a server with `caps` cannot run a workflow needing `needs`, or null when it can. */
export function missingFor(caps: ServerCaps, needs: WorkflowNeeds): string | null {
  const l = lacksFor(caps, needs)
  return l ? sayLacks(l) : null
}

/** Servers that cannot run a workflow: id -> why in words, and `lacks`: id -> what, as data. */
export type Unable = Map<string, string> & { lacks: Map<string, Omit<Lacks, 'name'>> }

/** The capabilities of every server, read once and again after a restart. */
export class Capabilities {
  private readonly known = new Map<string, ServerCaps>()
  private readonly loading = new Map<string, Promise<void>>()
  /** Bumped per server on invalidation: a read that started before it is not kept. */
  private readonly epoch = new Map<string, number>()

  constructor(private readonly o: CapabilitiesOptions) {}

  /** The server may have restarted (reconnected, other system stats): read it again. */
  invalidate(serverId: string): void {
    this.known.delete(serverId)
    this.epoch.set(serverId, (this.epoch.get(serverId) ?? 0) + 1)
  }

  /** The server left the fleet. */
  forget(serverId: string): void {
    this.invalidate(serverId)
    this.loading.delete(serverId)
  }

  /** What the server can run, or undefined while not known. */
  get(serverId: string): ServerCaps | undefined {
    return this.known.get(serverId)
  }

  /**
   * Which servers cannot run this workflow, and why: node classes missing from their
   * object_info, or model files missing from their model folders. Only servers whose
   * capabilities are known are judged; the others are given the benefit of the doubt (a 400
   * from them rules them out for the job).
   */
  unableToRun(serverIds: readonly string[], needs: WorkflowNeeds | null): Unable {
    const out = Object.assign(new Map<string, string>(), { lacks: new Map() }) as Unable
    if (!needs) return out
    for (const id of serverIds) {
      const caps = this.known.get(id)
      const l = caps ? lacksFor(caps, needs) : null
      if (l) {
        out.set(id, sayLacks(l))
        out.lacks.set(id, l)
      }
    }
    return out
  }

  /**
   * Reads, for ready servers that have not told us yet, what they can run, waiting at most
   * `maxWaitMs` (a read that takes longer goes on and is kept when it ends).
   */
  async ensure(targets: readonly CapsTarget[], maxWaitMs: number): Promise<void> {
    const loads = targets.filter((t) => t.ready && !this.known.has(t.id)).map((t) => this.load(t))
    if (!loads.length) return
    let timer: unknown = null
    await Promise.race([
      Promise.all(loads),
      new Promise<void>((r) => (timer = this.o.clock.setTimeout(r, maxWaitMs)))
    ])
    if (timer !== null) this.o.clock.clearTimeout(timer)
  }

  /** One read per server at a time. */
  private load(t: CapsTarget): Promise<void> {
    const running = this.loading.get(t.id)
    if (running) return running
    const epoch = this.epoch.get(t.id) ?? 0
    const p = readCaps(t.client, this.o.timeoutMs())
      .then((caps) => {
        if (caps && (this.epoch.get(t.id) ?? 0) === epoch) this.known.set(t.id, caps)
      })
      .catch(() => {
        // Left unknown; read again before the next job that needs it.
      })
      .finally(() => {
        if (this.loading.get(t.id) === p) this.loading.delete(t.id)
      })
    this.loading.set(t.id, p)
    return p
  }
}
