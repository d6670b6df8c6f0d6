/**
 * One-click submit: the workflow the user dropped or picked, what it is (asked from main with
 * `jobs.inspect`, which reads it with the engine's own loader), where to run it (Auto or one
 * server), and the submission.
 */
import type {
  ComfyBalancerApi,
  DroppedFile,
  InputEdit,
  JobSubmitRequest,
  SeedMode,
  WorkflowInspectResult,
  WorkflowSummary
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

/** Most runs of one batch (the engine's limit). */
export const MAX_RUNS = 1000

export const SEED_MODES: readonly SeedMode[] = ['random', 'increment', 'fixed']

/** A prompt text of the workflow, editable before Submit. */
export interface PromptText {
  /** `node.input`, unique in the workflow. */
  key: string
  nodeId: string
  input: string
  /** The node's title, or its class. */
  label: string
  value: string
}

/** Input names that hold a prompt on any node. */
const PROMPT_INPUTS = new Set(['text', 'prompt'])

/**
 * The prompt texts of a workflow: every text input of a `CLIPTextEncode`-like node (its class
 * ends in TextEncode... e.g. `CLIPTextEncodeSDXL`), and inputs named `text` or `prompt`.
 */
export function promptTexts(summary: WorkflowSummary): PromptText[] {
  return (summary.strings ?? []).flatMap((s) => {
    const node = summary.nodes[s.nodeId]
    const encoder = !!node && /TextEncode/i.test(node.type)
    if (!encoder && !PROMPT_INPUTS.has(s.input)) return []
    return [
      {
        key: `${s.nodeId}.${s.input}`,
        nodeId: s.nodeId,
        input: s.input,
        label: node ? node.title || node.type : `#${s.nodeId}`,
        value: s.value
      }
    ]
  })
}

/** "Runs" as typed: a whole number from 1 to MAX_RUNS, or null. */
export function parseRuns(text: string): number | null {
  const t = text.trim()
  if (!/^\d+$/.test(t)) return null
  const n = Number(t)
  return n >= 1 && n <= MAX_RUNS ? n : null
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
  #runs = $state('1')
  #seed = $state<SeedMode>('random')
  /** `node.input` -> the edited text (absent: as in the file). */
  #edits = $state<Record<string, string>>({})
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
  /** "Runs" as typed. */
  get runsText(): string {
    return this.#runs
  }
  set runsText(text: string) {
    this.#runs = text
  }
  /** The number of runs, or null while what is typed is not one (1 to 1000). */
  get runs(): number | null {
    return parseRuns(this.#runs)
  }
  get seed(): SeedMode {
    return this.#seed
  }
  set seed(mode: SeedMode) {
    this.#seed = mode
  }
  /** The workflow's prompt texts, with the edits made here. */
  get texts(): PromptText[] {
    const i = this.#inspection
    if (!i?.ok) return []
    return promptTexts(i.summary).map((p) =>
      Object.hasOwn(this.#edits, p.key) ? { ...p, value: this.#edits[p.key]! } : p
    )
  }
  /** Whether a prompt text differs from the file's. */
  edited(key: string): boolean {
    return Object.hasOwn(this.#edits, key)
  }
  /** Sets a prompt text; the file's own text drops the edit. */
  setText(key: string, value: string): void {
    const original = this.#original(key)
    const next = { ...this.#edits }
    if (original === value) delete next[key]
    else next[key] = value
    this.#edits = next
  }
  /** The edits to send with the submission (node id, input, text). */
  get sets(): InputEdit[] {
    return this.texts
      .filter((p) => this.edited(p.key))
      .map((p) => ({ node: p.nodeId, input: p.input, value: p.value }))
  }
  #original(key: string): string | undefined {
    const i = this.#inspection
    return i?.ok ? promptTexts(i.summary).find((p) => p.key === key)?.value : undefined
  }

  /** A workflow is loaded and understood, the runs make sense, and nothing is in flight. */
  get canSubmit(): boolean {
    return (
      !!this.#workflow &&
      this.#inspection?.ok === true &&
      this.runs !== null &&
      !this.#submitting &&
      !this.#reading
    )
  }

  /** Reads a dropped or picked file and asks main what it is. */
  async pick(file: PickedFile): Promise<void> {
    const pick = ++this.#pick
    this.#error = null
    this.#submitted = null
    this.#tooLarge = null
    this.#inspection = null
    this.#workflow = null
    this.#edits = {}
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
    this.#edits = {}
  }

  /** Sends the workflow to the target; returns the new job (null when it failed). */
  async submit(): Promise<JobRecord | null> {
    const wf = this.#workflow
    const api = this.#api
    if (!wf || !api || !this.canSubmit) return null
    const serverId = this.#target === 'auto' ? null : this.#target
    const count = this.runs ?? 1
    const sets = this.sets
    // One run as the file is: a plain job. More runs, or edits: a batch with its seed mode.
    const variations =
      count > 1 || sets.length
        ? { count, seed: count > 1 ? this.#seed : ('fixed' as const), sets }
        : {}
    const request: JobSubmitRequest = wf.path
      ? { path: wf.path, serverId, ...variations }
      : { name: wf.name, bytes: wf.bytes, serverId, ...variations }
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
