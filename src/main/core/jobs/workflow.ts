/**
 * Loading a workflow the user hands us: API-format JSON (optionally wrapped as `{prompt}`), a
 * PNG saved by ComfyUI (its `prompt` text chunk, Python-JSON), or a UI-format workflow (what
 * ComfyUI's plain "Save" writes, or a PNG's `workflow` chunk), converted to a prompt with the
 * servers' object_info the way ComfyUI's own window does. Every problem names the file and
 * says what to do.
 *
 * Node ids and input names are data, never object keys with a meaning: `__proto__`,
 * `constructor` and the like are carried as plain own properties.
 */
import type { WorkflowSaid } from '../../../shared/job-said'
import { sayWorkflowProblem, workflowAdvice } from '../log'
import type { ApiPrompt } from './api-prompt'
import { isPng, PngError, readPngText } from './png-text'
import { jsonShape, parsePythonJson } from './pyjson'
import { convertUiWorkflow, isUiWorkflow, UiWorkflowError, type ObjectInfo } from './ui-workflow'

/** Largest workflow file accepted. */
export const MAX_WORKFLOW_BYTES = 50 * 1024 * 1024

/**
 * Deepest nesting of an API prompt (prompt > node > inputs > value is 4 levels; a ComfyUI prompt
 * is shallow, so this is generous). Deeper values would crash `JSON.stringify` later.
 */
export const MAX_PROMPT_DEPTH = 64

/** Deepest nesting of any workflow file (a UI graph with subgraphs nests deeper than a prompt). */
export const MAX_DOCUMENT_DEPTH = 256

/** Most nodes in one API prompt (large ComfyUI workflows have a few thousand). */
export const MAX_PROMPT_NODES = 20_000

/** The key ComfyUI adds to executed nodes in the PNG's prompt; a submitted one is trusted, so it goes. */
const IS_CHANGED = 'is_changed'

export type { ApiNode, ApiPrompt } from './api-prompt'

export interface ModelRef {
  nodeId: string
  /** ComfyUI model folder, e.g. `checkpoints`, `loras`. */
  folder: string
  name: string
}

export interface ImageRef {
  nodeId: string
  input: string
  /** The value in the workflow, e.g. `photo.png` or `sub/photo.png [input]`. */
  name: string
}

export interface WorkflowSummary {
  nodeCount: number
  /** Distinct node classes, sorted. */
  classes: string[]
  models: ModelRef[]
  images: ImageRef[]
}

export interface LoadedWorkflow {
  /** Where it came from (file name), for messages. */
  source: string
  format: 'json' | 'png'
  prompt: ApiPrompt
  summary: WorkflowSummary
  /** True when the file held a UI-format graph that was converted to this prompt. */
  converted?: boolean
  /**
   * The UI graph (the file itself, or a PNG's `workflow` chunk) when known: sent along as
   * `extra_pnginfo.workflow`, so images the server saves open their graph in ComfyUI again.
   */
  graph?: Record<string, unknown>
  /** What the conversion had to guess (missing widget values taken from defaults...). */
  warnings?: string[]
}

/**
 * Why a file is not a workflow we can send. `said` is what is wrong as data (each face says it
 * in its language), `problem` the same in English, `advice` what to do about it; `message` is
 * both, after the file's name. A plain string problem (from an older caller) is a text said.
 */
export class WorkflowError extends Error {
  readonly said: WorkflowSaid
  readonly problem: string
  readonly advice: string | null
  constructor(
    readonly source: string,
    problem: WorkflowSaid | string,
    advice?: string
  ) {
    const said: WorkflowSaid =
      typeof problem === 'string' ? { code: 'text', text: problem } : problem
    const words = sayWorkflowProblem(said)
    const todo = advice ?? workflowAdvice(said)
    const sep = /[.?!]$/.test(words) ? ' ' : '. '
    super(`${source}: ${words}${todo ? `${sep}${todo}` : ''}`)
    this.name = 'WorkflowError'
    this.said = said
    this.problem = words
    this.advice = todo
  }
}

/** A UI-format workflow that needs the servers' object_info before it can be loaded. */
export class NeedsObjectInfoError extends WorkflowError {
  constructor(source: string) {
    super(source, { code: 'needs-object-info' })
    this.name = 'NeedsObjectInfoError'
  }
}

function isGraph(v: unknown): v is Record<string, unknown> {
  return isRecord(v) && isUiWorkflow(v)
}

/** Converts a UI graph, or says why not (naming the node). */
function fromGraph(
  graph: Record<string, unknown>,
  source: string,
  format: 'json' | 'png',
  objectInfo: ObjectInfo | null | undefined
): LoadedWorkflow {
  if (!objectInfo) throw new NeedsObjectInfoError(source)
  let out: { prompt: ApiPrompt; warnings: string[] }
  try {
    out = convertUiWorkflow(graph, objectInfo)
  } catch (err) {
    if (!(err instanceof UiWorkflowError)) throw err
    throw new WorkflowError(source, {
      code: 'not-converted',
      node: err.node
        ? { id: err.node.id, title: err.node.title, classType: err.node.classType }
        : null,
      detail: err.reason
    })
  }
  const prompt = parseApiPrompt(out.prompt, source)
  return {
    source,
    format,
    prompt,
    summary: summarize(prompt),
    converted: true,
    graph,
    warnings: out.warnings
  }
}

/** Loader inputs whose values are model files, by input name (class-specific ones below). */
const MODEL_INPUTS: Record<string, string> = {
  ckpt_name: 'checkpoints',
  lora_name: 'loras',
  vae_name: 'vae',
  unet_name: 'diffusion_models',
  control_net_name: 'controlnet',
  upscale_model_name: 'upscale_models',
  style_model_name: 'style_models',
  gligen_name: 'gligen',
  hypernetwork_name: 'hypernetworks',
  config_name: 'configs',
  clip_name: 'text_encoders',
  clip_name1: 'text_encoders',
  clip_name2: 'text_encoders',
  clip_name3: 'text_encoders',
  clip_name4: 'text_encoders',
  photomaker_model_name: 'photomaker'
}

const CLASS_MODEL_INPUTS: Record<string, Record<string, string>> = {
  CLIPVisionLoader: { clip_name: 'clip_vision' },
  UpscaleModelLoader: { model_name: 'upscale_models' },
  DiffusersLoader: { model_path: 'diffusers' }
}

/** Inputs that name an image file in ComfyUI's input folder. */
const IMAGE_INPUTS: Record<string, string[]> = {
  LoadImage: ['image'],
  LoadImageMask: ['image'],
  LoadImageOutput: ['image']
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** `map[key]` for own keys only: `constructor` or `toString` as a name finds nothing. */
function lookup<T>(map: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(map, key) ? map[key] : undefined
}

/** Sets an own, enumerable property, even for the key `__proto__` (where `obj[key] = v` would not). */
function setOwn(obj: object, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true })
}

/**
 * Refuses a value nested deeper than `maxDepth` (checked without recursion, so any depth gives
 * this error and not a stack overflow).
 */
export function assertWorkflowDepth(value: unknown, source: string, maxDepth: number): void {
  if (jsonShape(value, maxDepth).over) {
    throw new WorkflowError(source, { code: 'too-deep', limit: maxDepth })
  }
}

/** Validates an API-format prompt from untrusted JSON. */
export function parseApiPrompt(raw: unknown, source: string): ApiPrompt {
  let value = raw
  if (isRecord(value) && isRecord(value.prompt) && !('class_type' in value.prompt))
    value = value.prompt
  if (
    isRecord(value) &&
    Array.isArray(value.nodes) &&
    ('links' in value || 'last_node_id' in value)
  ) {
    throw new WorkflowError(source, { code: 'ui-format' })
  }
  if (!isRecord(value)) {
    throw new WorkflowError(source, { code: 'not-workflow' })
  }
  const ids = Object.keys(value)
  if (ids.length === 0) throw new WorkflowError(source, { code: 'no-nodes' })
  if (ids.length > MAX_PROMPT_NODES) {
    throw new WorkflowError(source, {
      code: 'too-many-nodes',
      nodes: ids.length,
      limit: MAX_PROMPT_NODES
    })
  }
  assertWorkflowDepth(value, source, MAX_PROMPT_DEPTH)
  const prompt: ApiPrompt = {}
  for (const id of ids) {
    const node = value[id]
    if (!isRecord(node)) {
      throw new WorkflowError(source, { code: 'bad-node', id, what: 'not-object' })
    }
    if (typeof node.class_type !== 'string' || !node.class_type) {
      throw new WorkflowError(source, { code: 'bad-node', id, what: 'no-class' })
    }
    if (node.inputs !== undefined && !isRecord(node.inputs)) {
      throw new WorkflowError(source, {
        code: 'bad-node',
        id,
        what: 'bad-inputs',
        classType: node.class_type
      })
    }
    // Spreading copies own keys as own properties (even `__proto__`); assignment would not.
    const copy: Record<string, unknown> = { ...node }
    delete copy[IS_CHANGED]
    setOwn(copy, 'class_type', node.class_type)
    setOwn(copy, 'inputs', node.inputs ?? {})
    setOwn(prompt, id, copy)
  }
  return prompt
}

/** What the workflow needs: node classes, model files, input images. */
export function summarize(prompt: ApiPrompt): WorkflowSummary {
  const classes = new Set<string>()
  const models: ModelRef[] = []
  const images: ImageRef[] = []
  for (const [nodeId, node] of Object.entries(prompt)) {
    classes.add(node.class_type)
    const special = lookup(CLASS_MODEL_INPUTS, node.class_type) ?? {}
    const imageInputs = lookup(IMAGE_INPUTS, node.class_type) ?? []
    for (const [input, value] of Object.entries(node.inputs)) {
      if (typeof value !== 'string' || !value) continue
      const folder = lookup(special, input) ?? lookup(MODEL_INPUTS, input)
      if (folder) models.push({ nodeId, folder, name: value })
      if (imageInputs.includes(input)) images.push({ nodeId, input, name: value })
    }
  }
  return { nodeCount: Object.keys(prompt).length, classes: [...classes].sort(), models, images }
}

/**
 * Loads a workflow from the bytes of a `.json` or `.png` file. A UI-format graph is converted
 * with `objectInfo` (the servers' node definitions); without it, a `NeedsObjectInfoError`.
 */
export function loadWorkflowBytes(
  bytes: Uint8Array,
  source: string,
  objectInfo?: ObjectInfo | null
): LoadedWorkflow {
  if (bytes.byteLength > MAX_WORKFLOW_BYTES) {
    throw new WorkflowError(source, {
      code: 'too-large',
      bytes: bytes.byteLength,
      limitBytes: MAX_WORKFLOW_BYTES
    })
  }
  if (isPng(bytes)) {
    let text: Map<string, string>
    try {
      text = readPngText(bytes)
    } catch (err) {
      if (!(err instanceof PngError)) throw err
      throw new WorkflowError(source, { code: 'bad-png', detail: err.message })
    }
    const promptText = text.get('prompt')
    const graphText = text.get('workflow')
    let graph: Record<string, unknown> | undefined
    if (graphText !== undefined) {
      try {
        const g: unknown = parsePythonJson(graphText)
        assertWorkflowDepth(g, source, MAX_DOCUMENT_DEPTH)
        if (isGraph(g)) graph = g
      } catch (err) {
        // A broken graph matters only when there is no prompt to run instead.
        if (promptText === undefined) {
          if (err instanceof WorkflowError) throw err
          throw new WorkflowError(source, { code: 'png-bad-json' })
        }
      }
    }
    if (promptText === undefined) {
      if (graph) return fromGraph(graph, source, 'png', objectInfo)
      throw new WorkflowError(source, { code: 'png-none' })
    }
    let raw: unknown
    try {
      raw = parsePythonJson(promptText)
    } catch {
      throw new WorkflowError(source, { code: 'png-bad-json' })
    }
    assertWorkflowDepth(raw, source, MAX_DOCUMENT_DEPTH)
    const prompt = parseApiPrompt(raw, source)
    return {
      source,
      format: 'png',
      prompt,
      summary: summarize(prompt),
      ...(graph ? { graph } : {})
    }
  }
  let text = Buffer.from(bytes).toString('utf8')
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    try {
      // Written by a Python script (bare NaN, Infinity)?
      raw = parsePythonJson(text)
    } catch {
      const where = /position (\d+)/.exec((err as Error).message)?.[1]
      throw new WorkflowError(source, { code: 'bad-json', at: where ? Number(where) : null })
    }
  }
  assertWorkflowDepth(raw, source, MAX_DOCUMENT_DEPTH)
  if (isGraph(raw)) return fromGraph(raw, source, 'json', objectInfo)
  const prompt = parseApiPrompt(raw, source)
  return { source, format: 'json', prompt, summary: summarize(prompt) }
}
