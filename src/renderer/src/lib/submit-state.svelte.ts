/**
 * One-click submit: the workflow the user dropped or picked, what it is (asked from main with
 * `jobs.inspect`, which reads it with the engine's own loader), where to run it (Auto or one
 * server), and the submission.
 */
import type {
  ComfyBalancerApi,
  DroppedFile,
  JobSubmitRequest,
  WorkflowInspectResult
} from '../../../shared/ipc'
import type { FleetStatus, JobRecord } from '../../../shared/types'
import { errorText } from './fleet-state.svelte'

/** The largest workflow file the engine accepts (`MAX_WORKFLOW_BYTES` in the core). */
export const MAX_WORKFLOW_BYTES = 50 * 1024 * 1024

/** A file as the page gets it from a drop or a file input. */
export interface PickedFile extends DroppedFile {
  arrayBuffer(): Promise<ArrayBuffer>
}

export interface Workflow {
  name: string
  size: number
  /** Where it is on disk (Electron only): submitted by path, so its input images go too. */
  path: string | null
  bytes: Uint8Array
}

/** 'auto' or a server id. */
export type Target = 'auto' | string

/** Whether a server can be picked as the target now, and why not. */
export function targetProblem(
  status: FleetStatus | null,
  target: Target
): 'unknown' | 'disabled' | 'down' | null {
  if (target === 'auto') return null
  const s = status?.servers.find((x) => x.id === target)
  if (!s) return 'unknown'
  if (!s.enabled) return 'disabled'
  if (!s.healthy) return 'down'
  return null
}

export class SubmitState {
  #workflow = $state.raw<Workflow | null>(null)
  #inspection = $state.raw<WorkflowInspectResult | null>(null)
  #reading = $state(false)
  #target = $state<Target>('auto')
  #submitting = $state(false)
  #error = $state<string | null>(null)
  #tooLarge = $state<string | null>(null)
  #submitted = $state.raw<JobRecord | null>(null)
  readonly #api: ComfyBalancerApi | undefined
  /** Increases with each pick, so a slow read of an older file never wins. */
  #pick = 0

  constructor(api: ComfyBalancerApi | undefined) {
    this.#api = api
  }

  get workflow(): Workflow | null {
    return this.#workflow
  }
  get inspection(): WorkflowInspectResult | null {
    return this.#inspection
  }
  /** True while a picked file is being read and inspected. */
  get reading(): boolean {
    return this.#reading
  }
  /** The name of a file refused before reading because it is too large. */
  get tooLarge(): string | null {
    return this.#tooLarge
  }
  get target(): Target {
    return this.#target
  }
  set target(t: Target) {
    this.#target = t
  }
  get submitting(): boolean {
    return this.#submitting
  }
  /** Why the last submission or inspection failed (main's words). */
  get error(): string | null {
    return this.#error
  }
  /** The job made by the last submission (cleared by the next pick). */
  get submitted(): JobRecord | null {
    return this.#submitted
  }
  /** A workflow is loaded and understood, and nothing is in flight. */
  get canSubmit(): boolean {
    return !!this.#workflow && this.#inspection?.ok === true && !this.#submitting && !this.#reading
  }

  /** Reads a dropped or picked file and asks main what it is. */
  async pick(file: PickedFile): Promise<void> {
    const pick = ++this.#pick
    this.#error = null
    this.#submitted = null
    this.#tooLarge = null
    this.#inspection = null
    this.#workflow = null
    if (file.size > MAX_WORKFLOW_BYTES) {
      this.#tooLarge = file.name
      return
    }
    this.#reading = true
    try {
      const bytes = new Uint8Array(await file.arrayBuffer())
      const path = this.#api?.ui.pathForFile(file) ?? null
      const workflow: Workflow = { name: file.name, size: file.size, path, bytes }
      if (!this.#api) throw new Error('Not connected to Comfy Balancer')
      const inspection = await this.#api.jobs.inspect({ name: file.name, bytes })
      if (pick !== this.#pick) return
      this.#workflow = workflow
      this.#inspection = inspection
    } catch (err) {
      if (pick === this.#pick) this.#error = errorText(err)
    } finally {
      if (pick === this.#pick) this.#reading = false
    }
  }

  /** Forgets the picked workflow. */
  clear(): void {
    this.#pick++
    this.#workflow = null
    this.#inspection = null
    this.#error = null
    this.#tooLarge = null
    this.#submitted = null
    this.#reading = false
  }

  /** Sends the workflow to the target; returns the new job (null when it failed). */
  async submit(): Promise<JobRecord | null> {
    const wf = this.#workflow
    const api = this.#api
    if (!wf || !api || !this.canSubmit) return null
    const serverId = this.#target === 'auto' ? null : this.#target
    const request: JobSubmitRequest = wf.path
      ? { path: wf.path, serverId }
      : { name: wf.name, bytes: wf.bytes, serverId }
    this.#submitting = true
    this.#error = null
    try {
      const job = await api.jobs.submit(request)
      this.#submitted = job
      return job
    } catch (err) {
      this.#error = errorText(err)
      return null
    } finally {
      this.#submitting = false
    }
  }
}
