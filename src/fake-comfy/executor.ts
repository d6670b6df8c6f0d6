/**
 * Runs one prompt the way ComfyUI 0.3.64's PromptExecutor reports it: the same WebSocket
 * events, in the same order, with the same per-client routing, stretched over
 * `jobMs * cost / speed` of wall time. Time is tracked as "work credit" against the clock,
 * so late timers never make a job drift and speed changes apply from the moment they happen.
 */
import { IS_CHANGED_CLASSES, inputSpecs } from './nodes'
import { PyError, isDict, pyInt } from './pyjson'
import type { FakeNodeDef, ImageRef, QueueItem, StatusMessage } from './types'

export interface SaveImagesRequest {
  nodeId: string
  kind: 'save' | 'preview'
  filenamePrefix: string
  count: number
  seed: number
  width: number
  height: number
  prompt: Record<string, unknown>
  extraPngInfo: Record<string, unknown> | null
}

/** What a FakeSaveFile node asks for: `count` generated files named exactly `filename`. */
export interface SaveFilesRequest {
  nodeId: string
  filename: string
  count: number
  bytes: number
  subfolder: string
  /** 'same': every output in `subfolder`; 'different': output n in `<subfolder>/<n>`. */
  subfolders: 'same' | 'different'
  type: 'output' | 'temp'
}

/** What a job needs from the server process it runs in. */
export interface JobHost {
  readonly jobMs: number
  /** Send binary preview frames with sampler steps. */
  readonly previews: boolean
  /** Send `progress_state` events (servers from before mid-2025 had none). */
  readonly progressState: boolean
  speed(): number
  now(): number
  setTimer(ms: number, fn: () => void): unknown
  clearTimer(handle: unknown): void
  /** `sid` null means broadcast, like `send_sync(event, data, None)`. */
  send(event: string, data: Record<string, unknown>, sid: unknown): void
  sendBinary(data: Buffer, sid: unknown): void
  supportsPreviewMetadata(sid: unknown): boolean
  setLastNodeId(id: string | null): void
  /** Writes the images; may throw a PyError (the node then fails). */
  saveImages(req: SaveImagesRequest): ImageRef[]
  /** Registers FakeSaveFile's generated files. */
  saveFiles(req: SaveFilesRequest): ImageRef[]
  /** Small PNG for a preview frame. */
  previewPng(seed: number, step: number): Buffer
  onOutOfMemory(): void
}

export interface UiEntry {
  meta: Record<string, unknown>
  output: Record<string, unknown>
}

/** Output cache: node signature -> its UI output (null when it had none). */
export type OutputCache = Map<string, UiEntry | null>

export interface JobResult {
  success: boolean
  messages: StatusMessage[]
  outputs: Record<string, unknown>
  meta: Record<string, unknown>
  /** The cache as it should be after this prompt (classic cache: this prompt's nodes only). */
  cache: OutputCache
}

interface Action {
  /** Work (in cost units) that must pass before this action runs. */
  work: number
  nodeId: string
  run: () => void
}

interface NodeProgress {
  state: 'running' | 'finished'
  value: number
  max: number
}

/** The seed at which a sampler "runs out of memory" halfway through. */
export const FAIL_SEED = 666

const LINK_PLACEHOLDERS: Record<string, string> = {
  MODEL: '<comfy.model_patcher.ModelPatcher object at 0x7f3c5a1b2d90>',
  CLIP: '<comfy.sd.CLIP object at 0x7f3c5a1b2e50>',
  VAE: '<comfy.sd.VAE object at 0x7f3c5a1b2f10>',
  LATENT: "{'samples': tensor([[[[0., 0., 0.,  ..., 0., 0., 0.]]]])}",
  CONDITIONING:
    "[[tensor([[[-0.3887,  0.0229, -0.0524,  ..., -0.4900, -0.3066,  0.0674]]]), {'pooled_output': tensor([[-0.1113, 0.1904, ..., 0.2432]])}]]",
  IMAGE: 'tensor([[[[0.5020, 0.4980, 0.4941],\n          ...]]])',
  UPSCALE_MODEL:
    '<spandrel.__helpers.model_descriptor.ImageModelDescriptor object at 0x7f3c5a1b3fd0>'
}

function isLink(v: unknown): v is [string, number] {
  return Array.isArray(v) && v.length === 2 && typeof v[0] === 'string'
}

export class Job {
  readonly promptId: string
  readonly clientId: unknown
  private readonly prompt: Record<string, unknown>
  private readonly extra: Record<string, unknown>
  private readonly outputs: string[]
  private readonly cost: number
  private readonly actions: Action[] = []
  private readonly messages: StatusMessage[] = []
  private readonly registry = new Map<string, NodeProgress>()
  private readonly ui = new Map<string, UiEntry>()
  private readonly executed: string[] = []
  private readonly sigs = new Map<string, string>()
  private readonly cachedNodes = new Set<string>()
  private currentOutputs: string[] = []
  private idx = 0
  private credit = 0
  private last = 0
  /** Handle of the pending tick; set by reschedule(), cleared by tick() and finish(). */
  private timer: unknown = null
  private interruptRequested = false
  private done = false
  /** Node that has started and not finished, if any. */
  private current: string | null = null

  constructor(
    private readonly host: JobHost,
    item: QueueItem,
    private readonly defs: Record<string, FakeNodeDef>,
    private readonly cache: OutputCache | null,
    private readonly onDone: (result: JobResult) => void
  ) {
    this.promptId = item[1]
    this.prompt = item[2]
    this.extra = item[3]
    this.outputs = item[4]
    this.clientId = Object.hasOwn(this.extra, 'client_id') ? (this.extra.client_id ?? null) : null
    const c = this.extra.fake_cost
    this.cost = typeof c === 'number' && Number.isFinite(c) && c > 0 ? c : 1
  }

  get finished(): boolean {
    return this.done
  }

  /** The node currently executing (display id), or null. */
  get currentNode(): string | null {
    return this.current
  }

  start(): void {
    this.markIsChanged()
    this.addMessage('execution_start', { prompt_id: this.promptId }, false)
    if (this.cache) {
      for (const id of Object.keys(this.prompt)) {
        const sig = this.signature(id, new Set())
        if (sig !== null && this.cache.has(sig)) this.cachedNodes.add(id)
      }
    }
    const cached = [...this.cachedNodes]
    this.addMessage('execution_cached', { nodes: cached, prompt_id: this.promptId }, false)
    this.currentOutputs = cached
    this.plan()
    this.last = this.host.now()
    this.tick()
  }

  /**
   * IsChangedCache: every node whose class defines IS_CHANGED gains `is_changed` in the
   * prompt as executed (what SaveImage writes into the PNG; /queue and /history keep their
   * copy without it). A submitted `is_changed` is trusted and kept.
   */
  private markIsChanged(): void {
    for (const id of Object.keys(this.prompt)) {
      const node = this.prompt[id]
      if (!isDict(node) || Object.hasOwn(node, 'is_changed')) continue
      const ct = node.class_type
      const def = this.def(id)
      if (def?.isChanged === true || (typeof ct === 'string' && IS_CHANGED_CLASSES.includes(ct))) {
        node.is_changed = [NaN]
      }
    }
  }

  /** Like setting ComfyUI's interrupt flag: the running node raises at its next check. */
  interrupt(): void {
    if (this.done) return
    this.interruptRequested = true
    this.clear()
    this.timer = this.host.setTimer(0, () => this.tick())
  }

  /** The process died: stop silently, report nothing. */
  cancel(): void {
    this.done = true
    this.clear()
  }

  /** Books the time elapsed so far at the current speed (call before the speed changes). */
  accrue(): void {
    const now = this.host.now()
    const speed = this.host.speed()
    const elapsed = Math.max(0, now - this.last)
    this.last = now
    if (speed <= 0) return
    this.credit += this.host.jobMs <= 0 ? Infinity : (elapsed * speed) / this.host.jobMs
  }

  /** Re-arms the timer for the next action at the current speed. */
  reschedule(): void {
    this.clear()
    if (this.done) return
    const next = this.actions[this.idx]
    if (!next) return
    const speed = this.host.speed()
    if (speed <= 0) return // paused until the speed changes
    const need = Math.max(0, next.work - this.credit)
    const delay = this.host.jobMs <= 0 ? 0 : Math.ceil((need * this.host.jobMs) / speed)
    this.timer = this.host.setTimer(delay, () => this.tick())
  }

  private clear(): void {
    if (this.timer !== null) this.host.clearTimer(this.timer)
    this.timer = null
  }

  private tick(): void {
    this.timer = null
    if (this.done) return
    this.accrue()
    while (!this.done && this.idx < this.actions.length) {
      if (this.interruptRequested) {
        this.doInterrupt()
        return
      }
      const action = this.actions[this.idx] as Action
      if (this.credit + 1e-9 < action.work) break
      this.credit -= action.work
      this.idx++
      action.run()
    }
    if (this.done) return
    if (this.idx >= this.actions.length) {
      this.finish(true)
      return
    }
    this.reschedule()
  }

  private def(id: string): FakeNodeDef | undefined {
    const node = this.prompt[id]
    const ct = isDict(node) ? node.class_type : undefined
    return typeof ct === 'string' && Object.hasOwn(this.defs, ct) ? this.defs[ct] : undefined
  }

  private inputs(id: string): Record<string, unknown> {
    const node = this.prompt[id]
    return isDict(node) && isDict(node.inputs) ? node.inputs : {}
  }

  private classType(id: string): unknown {
    const node = this.prompt[id]
    return isDict(node) ? node.class_type : undefined
  }

  /** ComfyUI's classic cache key: class, widget values and the upstream signatures. */
  private signature(id: string, visiting: Set<string>): string | null {
    const known = this.sigs.get(id)
    if (known !== undefined) return known
    if (visiting.has(id) || !Object.hasOwn(this.prompt, id)) return null
    visiting.add(id)
    const inputs = this.inputs(id)
    const parts: unknown[] = [this.classType(id)]
    for (const key of Object.keys(inputs).sort()) {
      const v = inputs[key]
      if (isLink(v)) {
        const up = this.signature(v[0], visiting)
        if (up === null) return null
        parts.push([key, 'link', up, v[1]])
      } else {
        parts.push([key, v])
      }
    }
    const sig = JSON.stringify(parts)
    this.sigs.set(id, sig)
    return sig
  }

  /** Nodes to run, dependencies first; cached nodes stop the walk like ExecutionList does. */
  private order(): string[] {
    const out: string[] = []
    const seen = new Set<string>()
    const visit = (id: string): void => {
      if (seen.has(id) || !Object.hasOwn(this.prompt, id)) return
      seen.add(id)
      if (!this.cachedNodes.has(id)) {
        for (const v of Object.values(this.inputs(id))) if (isLink(v)) visit(v[0])
      }
      out.push(id)
    }
    for (const o of this.outputs) visit(o)
    return out
  }

  private plan(): void {
    const order = this.order()
    const running = order.filter((id) => !this.cachedNodes.has(id))
    const weightOf = (id: string): number => Math.max(0, this.def(id)?.weight ?? 1)
    const total = running.reduce((s, id) => s + weightOf(id), 0)
    for (const id of order) {
      if (this.cachedNodes.has(id)) {
        this.actions.push({ work: 0, nodeId: id, run: () => this.runCached(id) })
        continue
      }
      const work = total > 0 ? (this.cost * weightOf(id)) / total : 0
      const def = this.def(id)
      this.actions.push({ work: 0, nodeId: id, run: () => this.nodeStart(id) })
      if (def?.behavior === 'sampler') {
        const inputs = this.inputs(id)
        const steps = Math.min(10000, Math.max(1, toInt(inputs.steps, 20)))
        const seed = toInt(inputs.seed ?? inputs.noise_seed, 0)
        const failAt = seed === FAIL_SEED ? Math.ceil(steps / 2) : -1
        for (let i = 1; i <= steps; i++) {
          this.actions.push({
            work: work / steps,
            nodeId: id,
            run: () => (i === failAt ? this.outOfMemory(id) : this.progress(id, i, steps, seed))
          })
        }
        this.actions.push({ work: 0, nodeId: id, run: () => this.nodeFinish(id, null) })
      } else {
        this.actions.push({ work, nodeId: id, run: () => this.nodeRun(id) })
      }
    }
  }

  private addMessage(event: string, data: Record<string, unknown>, broadcast: boolean): void {
    const full = { ...data, timestamp: Math.floor(this.host.now()) }
    this.messages.push([event, full])
    if (this.clientId !== null || broadcast) this.host.send(event, full, this.clientId)
  }

  private sendProgressState(): void {
    if (!this.host.progressState) return
    const nodes: Record<string, unknown> = {}
    for (const [id, p] of this.registry) {
      nodes[id] = {
        value: p.value,
        max: p.max,
        state: p.state,
        node_id: id,
        prompt_id: this.promptId,
        display_node_id: id,
        parent_node_id: null,
        real_node_id: id
      }
    }
    this.host.send('progress_state', { prompt_id: this.promptId, nodes }, this.clientId)
  }

  private nodeStart(id: string): void {
    this.current = id
    this.registry.set(id, { state: 'running', value: 0, max: 1 })
    this.sendProgressState()
    if (this.clientId !== null) {
      this.host.setLastNodeId(id)
      this.host.send(
        'executing',
        { node: id, display_node: id, prompt_id: this.promptId },
        this.clientId
      )
    }
  }

  private progress(id: string, value: number, max: number, seed: number): void {
    this.registry.set(id, { state: 'running', value, max })
    this.sendProgressState()
    const meta = this.host.previews && this.host.supportsPreviewMetadata(this.clientId)
    if (meta) {
      const json = Buffer.from(
        JSON.stringify({
          node_id: id,
          prompt_id: this.promptId,
          display_node_id: id,
          parent_node_id: null,
          real_node_id: id,
          image_type: 'image/png'
        })
      )
      const head = Buffer.alloc(8)
      head.writeUInt32BE(4, 0)
      head.writeUInt32BE(json.length, 4)
      this.host.sendBinary(
        Buffer.concat([head, json, this.host.previewPng(seed, value)]),
        this.clientId
      )
    }
    this.host.send('progress', { value, max, prompt_id: this.promptId, node: id }, this.clientId)
    if (this.host.previews && !meta) {
      const head = Buffer.alloc(8)
      head.writeUInt32BE(1, 0) // PREVIEW_IMAGE
      head.writeUInt32BE(2, 4) // PNG
      this.host.sendBinary(Buffer.concat([head, this.host.previewPng(seed, value)]), this.clientId)
    }
  }

  private nodeRun(id: string): void {
    const def = this.def(id)
    const behavior = def?.behavior ?? 'plain'
    let ui: Record<string, unknown> | null = null
    if (behavior === 'fail') {
      const msg = this.inputs(id).message
      this.failNode(
        id,
        'Exception',
        `${typeof msg === 'string' ? msg : 'FakeFail always raises'}\n`,
        'fail'
      )
      return
    }
    if (behavior === 'save-file') {
      const inputs = this.inputs(id)
      const str = (v: unknown, d: string): string => (typeof v === 'string' ? v : d)
      ui = {
        [str(inputs.ui_key, 'images')]: this.host.saveFiles({
          nodeId: id,
          filename: str(inputs.filename, 'fake_output.bin'),
          count: Math.max(0, toInt(inputs.count, 1)),
          bytes: Math.max(0, toInt(inputs.bytes, 1024)),
          subfolder: str(inputs.subfolder, ''),
          subfolders: inputs.subfolders === 'different' ? 'different' : 'same',
          type: inputs.type === 'temp' ? 'temp' : 'output'
        })
      }
    }
    if (behavior === 'save' || behavior === 'preview') {
      try {
        ui = { images: this.saveImages(id, behavior) }
      } catch (e) {
        if (!(e instanceof PyError)) throw e
        this.failNode(id, e.pyType, `${e.message}\n`, 'save_images')
        return
      }
    }
    this.nodeFinish(id, ui)
  }

  private nodeFinish(id: string, ui: Record<string, unknown> | null): void {
    if (ui) {
      this.ui.set(id, {
        meta: { node_id: id, display_node: id, parent_node: null, real_node_id: id },
        output: ui
      })
      if (this.clientId !== null) {
        this.host.send(
          'executed',
          { node: id, display_node: id, output: ui, prompt_id: this.promptId },
          this.clientId
        )
      }
    }
    const p = this.registry.get(id)
    this.registry.set(id, { state: 'finished', value: p?.max ?? 1, max: p?.max ?? 1 })
    this.sendProgressState()
    this.executed.push(id)
    this.current = null
  }

  private runCached(id: string): void {
    const sig = this.sigs.get(id)
    const entry = sig !== undefined ? (this.cache?.get(sig) ?? null) : null
    if (entry) this.ui.set(id, entry)
    if (this.clientId !== null) {
      this.host.send(
        'executed',
        { node: id, display_node: id, output: entry?.output ?? null, prompt_id: this.promptId },
        this.clientId
      )
    }
    this.registry.set(id, { state: 'finished', value: 1, max: 1 })
    this.sendProgressState()
  }

  private outOfMemory(id: string): void {
    this.host.onOutOfMemory()
    this.failNode(
      id,
      'torch.OutOfMemoryError',
      'Allocation on device \nThis error means you ran out of memory on your GPU.\n\nTIPS: If the workflow worked before you might have accidentally set the batch_size to a large number.',
      'sample'
    )
  }

  private currentInputs(id: string): Record<string, unknown[]> {
    const out: Record<string, unknown[]> = {}
    const def = this.def(id)
    const inputs = this.inputs(id)
    const specs = def ? inputSpecs(def) : Object.keys(inputs).map((k) => [k, ['*']] as const)
    for (const [name, spec] of specs) {
      if (!Object.hasOwn(inputs, name)) continue
      const v = inputs[name]
      if (isLink(v)) {
        const t = typeof spec[0] === 'string' ? spec[0] : 'COMBO'
        out[name] = [LINK_PLACEHOLDERS[t] ?? '<object object at 0x7f3c5a1b4000>']
      } else if (v === null || ['number', 'string', 'boolean'].includes(typeof v)) {
        out[name] = [v]
      } else {
        out[name] = [JSON.stringify(v)]
      }
    }
    return out
  }

  private failNode(id: string, type: string, message: string, fn: string): void {
    this.addMessage(
      'execution_error',
      {
        prompt_id: this.promptId,
        node_id: id,
        node_type: this.classType(id),
        executed: [...this.executed],
        exception_message: message,
        exception_type: type,
        traceback: [
          '  File "/ComfyUI/execution.py", line 496, in execute\n    output_data, output_ui, has_subgraph, has_pending_tasks = await get_output_data(prompt_id, unique_id, obj, input_data_all, execution_block_cb=execution_block_cb, pre_execute_cb=pre_execute_cb, hidden_inputs=hidden_inputs)\n',
          `  File "/ComfyUI/execution.py", line 315, in get_output_data\n    return_values = await _async_map_node_over_list(prompt_id, unique_id, obj, input_data_all, obj.FUNCTION, allow_interrupt=True, execution_block_cb=execution_block_cb, pre_execute_cb=pre_execute_cb, hidden_inputs=hidden_inputs)\n`,
          `  File "/ComfyUI/nodes.py", line 1525, in ${fn}\n    raise\n`
        ],
        current_inputs: this.currentInputs(id),
        current_outputs: [...this.currentOutputs]
      },
      false
    )
    this.finish(false)
  }

  private doInterrupt(): void {
    const next = this.actions[this.idx]
    const nodeId = this.current ?? next?.nodeId ?? null
    if (nodeId === null) {
      this.finish(true)
      return
    }
    this.addMessage(
      'execution_interrupted',
      {
        prompt_id: this.promptId,
        node_id: nodeId,
        node_type: this.classType(nodeId),
        executed: [...this.executed]
      },
      true
    )
    this.finish(false)
  }

  private finish(success: boolean): void {
    if (this.done) return
    this.done = true
    this.clear()
    if (success) this.addMessage('execution_success', { prompt_id: this.promptId }, false)
    const outputs: Record<string, unknown> = {}
    const meta: Record<string, unknown> = {}
    for (const [id, entry] of this.ui) {
      outputs[id] = entry.output
      meta[id] = entry.meta
    }
    const cache: OutputCache = new Map()
    for (const id of Object.keys(this.prompt)) {
      const sig = this.sigs.get(id) ?? this.signature(id, new Set())
      if (sig === null) continue
      if (this.executed.includes(id) || this.cachedNodes.has(id)) {
        cache.set(sig, this.ui.get(id) ?? this.cache?.get(sig) ?? null)
      }
    }
    this.host.setLastNodeId(null)
    this.onDone({ success, messages: this.messages, outputs, meta, cache })
  }

  /** Where a save node's pictures come from: the upstream sampler's seed and latent size. */
  private saveImages(id: string, kind: 'save' | 'preview'): ImageRef[] {
    let seed = 0
    let width = 1024
    let height = 1024
    let batch = 1
    let foundSeed = false
    let foundLatent = false
    const queue = [id]
    const seen = new Set<string>()
    while (queue.length > 0) {
      const cur = queue.shift() as string
      if (seen.has(cur)) continue
      seen.add(cur)
      const inputs = this.inputs(cur)
      const behavior = this.def(cur)?.behavior
      if (!foundSeed && behavior === 'sampler') {
        seed = toInt(inputs.seed ?? inputs.noise_seed, 0)
        foundSeed = true
      }
      if (!foundLatent && this.classType(cur) === 'EmptyLatentImage') {
        width = toInt(inputs.width, 1024)
        height = toInt(inputs.height, 1024)
        batch = toInt(inputs.batch_size, 1)
        foundLatent = true
      }
      for (const v of Object.values(inputs)) if (isLink(v)) queue.push(v[0])
    }
    const prefix = this.inputs(id).filename_prefix
    const extra = this.extra.extra_pnginfo
    return this.host.saveImages({
      nodeId: id,
      kind,
      filenamePrefix: typeof prefix === 'string' ? prefix : 'ComfyUI',
      count: Math.min(16, Math.max(1, batch)),
      seed,
      width: Math.min(128, Math.max(8, Math.round(width / 16))),
      height: Math.min(128, Math.max(8, Math.round(height / 16))),
      prompt: this.prompt,
      extraPngInfo: isDict(extra) ? extra : null
    })
  }
}

function toInt(v: unknown, fallback: number): number {
  try {
    return v === undefined || v === null || Array.isArray(v) ? fallback : pyInt(v)
  } catch {
    return fallback
  }
}
