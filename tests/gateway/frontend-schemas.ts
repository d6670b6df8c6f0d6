/**
 * What the official ComfyUI frontend (Comfy-Org/ComfyUI_frontend) expects of a ComfyUI
 * server's HTTP answers and WebSocket messages, as zod schemas of our own, for tests.
 *
 * The facts (field names, types, which fields are required) were read from
 *   src/schemas/apiSchema.ts    at commit 00141c47a4d53f7eeedab174c6985212e721cfe5
 *   src/schemas/nodeDefSchema.ts at commit 637795a97335e19c2b9101541c4654381c7f4530
 *   src/scripts/api.ts           at commit 00141c47a4d53f7eeedab174c6985212e721cfe5
 * and cross-checked with the published type declarations of
 * @comfyorg/comfyui-frontend-types 1.45.6 (which ship types only, no runtime schemas, so
 * they cannot check an answer at run time).
 *
 * Like the frontend's schemas, objects here accept unknown fields; they are strict about the
 * fields the frontend names. The frontend itself checks little of this at run time (it casts
 * answers and socket messages to these types, and keeps every node definition that is an
 * object with a string `name`), so these schemas hold answers to its declared types, which is
 * stricter than what it enforces.
 *
 * Where ComfyUI itself (0.3.64, /work/shared/docs/comfyui-api.md sections 4 and 9) sends a
 * shape narrower types would refuse, and the frontend's code reads it, the schema accepts
 * ComfyUI's shape, and only there:
 * - the last `executing` of a prompt is `{node: null, prompt_id}` (`executingDone`);
 * - `executed.output` is null for a cached node that has no ui output;
 * - `progress_state` node entries carry `parent_node_id: null` for top-level nodes;
 * - a 200 from POST /prompt has no `error` (`promptAccepted`).
 */
import { z } from 'zod'

/** A node id: an integer or a string (subgraph ids look like "12:5"). */
const nodeId = z.union([z.number().int(), z.string()])
const promptId = z.string()

// ------------------------------------------------------------------ outputs and history

const resultItem = z.object({
  filename: z.string().optional(),
  subfolder: z.string().optional(),
  type: z.enum(['input', 'output', 'temp']).optional()
})

/** One node's `ui` output (`executed.output`, `history[id].outputs[node]`). */
export const nodeOutputs = z.looseObject({
  audio: z.array(resultItem).optional(),
  images: z.array(resultItem).optional(),
  video: z.array(resultItem).optional(),
  animated: z.array(z.boolean()).optional(),
  text: z.union([z.string(), z.array(z.string())]).optional()
})

const executionBase = z.object({ prompt_id: promptId, timestamp: z.number().int() })
const executionStart = executionBase
const executionSuccess = executionBase
const executionCached = executionBase.extend({ nodes: z.array(nodeId) })
const executionInterrupted = executionBase.extend({
  node_id: nodeId,
  node_type: z.string(),
  executed: z.array(nodeId)
})
const executionError = executionBase.extend({
  node_id: nodeId,
  node_type: z.string(),
  executed: z.array(nodeId),
  exception_message: z.string(),
  exception_type: z.string(),
  traceback: z.array(z.string()),
  current_inputs: z.any(),
  current_outputs: z.any()
})

/** `status.messages[]` of a history entry: `[event, data]` pairs of five kinds. */
const statusMessage = z.union([
  z.tuple([z.literal('execution_start'), executionStart]),
  z.tuple([z.literal('execution_success'), executionSuccess]),
  z.tuple([z.literal('execution_cached'), executionCached]),
  z.tuple([z.literal('execution_interrupted'), executionInterrupted]),
  z.tuple([z.literal('execution_error'), executionError])
])

const taskStatus = z.object({
  status_str: z.enum(['success', 'error']),
  completed: z.boolean(),
  messages: z.array(statusMessage)
})

/**
 * extra_data. The frontend types `extra_pnginfo.workflow` as its whole workflow schema; only
 * that a workflow object is there is checked here.
 */
const extraData = z.looseObject({
  extra_pnginfo: z.looseObject({ workflow: z.record(z.string(), z.unknown()) }).optional(),
  client_id: z.string().optional(),
  create_time: z.number().int().optional()
})

const promptInputs = z.record(
  z.string(),
  z.object({ inputs: z.record(z.string(), z.any()), class_type: z.string() })
)

/** A queue or history item: exactly `[number, prompt_id, prompt, extra_data, outputs]`. */
export const taskPrompt = z.tuple([z.number(), promptId, promptInputs, extraData, z.array(nodeId)])

const taskMeta = z.record(
  z.string(),
  z.object({
    node_id: nodeId,
    display_node: nodeId,
    prompt_id: promptId.optional(),
    read_node_id: nodeId.optional()
  })
)

export const historyEntry = z.object({
  prompt: taskPrompt,
  status: taskStatus.optional(),
  outputs: z.record(z.string(), nodeOutputs),
  meta: taskMeta.optional()
})

/** GET /history and GET /history/{id}: prompt id -> entry. */
export const historyAnswer = z.record(z.string(), historyEntry)

/** GET /queue, as api.ts `getQueue` reads it (V1 backend: items already in task form). */
export const queueAnswer = z.object({
  queue_running: z.array(taskPrompt),
  queue_pending: z.array(taskPrompt)
})

/** GET /prompt (the frontend polls it when it has no socket) and the `status` payload. */
const statusPayload = z.object({
  exec_info: z.object({ queue_remaining: z.number().int() })
})
export const promptInfoAnswer = statusPayload

// ------------------------------------------------------------------ POST /prompt

const promptError = z.object({
  type: z.string(),
  message: z.string(),
  details: z.string(),
  extra_info: z.looseObject({ input_name: z.string().optional() }).optional()
})

const nodeError = z.object({
  errors: z.array(promptError),
  class_type: z.string(),
  dependent_outputs: z.array(z.any())
})

const promptResponseFields = {
  node_errors: z.record(z.string(), nodeError).optional(),
  prompt_id: z.string().optional(),
  exec_info: z.object({ queue_remaining: z.number().optional() }).optional()
}

/** A refused prompt (non-200): `error` is required, as api.ts's PromptExecutionError reads it. */
export const promptRefused = z.object({
  ...promptResponseFields,
  error: z.union([z.string(), promptError])
})

/**
 * An accepted prompt (200). The frontend's PromptResponse also declares `error` required, but
 * no ComfyUI sends `error` on a 200 (`{prompt_id, number, node_errors}`) and api.ts reads the
 * body of a 200 only as the queued prompt; so here `error` may be absent, and the prompt id
 * (which the frontend keeps for its queue) must be there.
 */
export const promptAccepted = z.object({
  ...promptResponseFields,
  prompt_id: z.string(),
  error: z.union([z.string(), promptError]).optional()
})

// ------------------------------------------------------------------ other routes

const deviceStats = z.object({
  name: z.string(),
  type: z.string(),
  index: z.number(),
  vram_total: z.number(),
  vram_free: z.number(),
  torch_vram_total: z.number(),
  torch_vram_free: z.number()
})

export const systemStatsAnswer = z.object({
  system: z.object({
    os: z.string(),
    python_version: z.string(),
    embedded_python: z.boolean(),
    comfyui_version: z.string(),
    pytorch_version: z.string(),
    required_frontend_version: z.string().optional(),
    argv: z.array(z.string()),
    ram_total: z.number(),
    ram_free: z.number()
  }),
  devices: z.array(deviceStats)
})

/** GET /features, and the `feature_flags` socket message. */
export const featureFlags = z.record(z.string(), z.any())
export const embeddingsAnswer = z.array(z.string())
export const extensionsAnswer = z.array(z.string())
/** GET /models and /models/{folder}: ComfyUI's string lists (the frontend's model library reads /experiment/models). */
export const modelsAnswer = z.array(z.string())

// ------------------------------------------------------------------ object_info

const comboOption = z.union([z.string(), z.number()])

const baseInputOptions = z.looseObject({
  default: z.any().optional(),
  defaultInput: z.boolean().optional(),
  forceInput: z.boolean().optional(),
  tooltip: z.string().optional(),
  hidden: z.boolean().optional(),
  advanced: z.boolean().optional(),
  widgetType: z.string().optional(),
  rawLink: z.boolean().optional(),
  lazy: z.boolean().optional()
})

const numericInputOptions = baseInputOptions.extend({
  min: z.number().optional(),
  max: z.number().optional(),
  step: z.number().optional(),
  default: z.union([z.number(), z.array(z.number())]).optional(),
  display: z.enum(['slider', 'number', 'knob']).optional()
})

const intInputOptions = numericInputOptions.extend({
  control_after_generate: z.boolean().optional()
})
const floatInputOptions = numericInputOptions.extend({
  round: z.union([z.number(), z.literal(false)]).optional()
})
const booleanInputOptions = baseInputOptions.extend({
  label_on: z.string().optional(),
  label_off: z.string().optional(),
  default: z.boolean().optional()
})
const stringInputOptions = baseInputOptions.extend({
  default: z.string().optional(),
  multiline: z.boolean().optional(),
  dynamicPrompts: z.boolean().optional(),
  defaultVal: z.string().optional(),
  placeholder: z.string().optional()
})
const comboInputOptions = baseInputOptions.extend({
  control_after_generate: z.boolean().optional(),
  image_upload: z.boolean().optional(),
  image_folder: z.enum(['input', 'output', 'temp']).optional(),
  allow_batch: z.boolean().optional(),
  video_upload: z.boolean().optional(),
  animated_image_upload: z.boolean().optional(),
  options: z.array(comboOption).optional(),
  remote: z.looseObject({ route: z.string() }).optional(),
  multi_select: z
    .object({ placeholder: z.string().optional(), chip: z.boolean().optional() })
    .optional()
})

const WIDGET_TYPES = new Set(['INT', 'FLOAT', 'BOOLEAN', 'STRING', 'COMBO'])

/** One input: `[type]` or `[type, options]`, the options checked by the type. */
const inputSpec = z.union([
  z.tuple([z.literal('INT'), intInputOptions.optional()]),
  z.tuple([z.literal('FLOAT'), floatInputOptions.optional()]),
  z.tuple([z.literal('BOOLEAN'), booleanInputOptions.optional()]),
  z.tuple([z.literal('STRING'), stringInputOptions.optional()]),
  z.tuple([z.array(comboOption), comboInputOptions.optional()]),
  z.tuple([z.literal('COMBO'), comboInputOptions.optional()]),
  z.tuple([z.string().refine((t) => !WIDGET_TYPES.has(t)), baseInputOptions.optional()])
])

/** One node class, as nodeDefSchema's `zComfyNodeDef` declares it. */
export const nodeDef = z.object({
  input: z
    .object({
      required: z.record(z.string(), inputSpec).optional(),
      optional: z.record(z.string(), inputSpec).optional(),
      hidden: z.record(z.string(), z.any()).optional()
    })
    .optional(),
  output: z.array(z.union([z.string(), z.array(comboOption)])).optional(),
  output_is_list: z.array(z.boolean()).optional(),
  output_name: z.array(z.string()).optional(),
  output_tooltips: z.array(z.string()).optional(),
  name: z.string(),
  display_name: z.string(),
  description: z.string(),
  category: z.string(),
  output_node: z.boolean(),
  python_module: z.string(),
  deprecated: z.boolean().optional(),
  experimental: z.boolean().optional(),
  api_node: z.boolean().optional()
})

export const objectInfoAnswer = z.record(z.string(), nodeDef)

// ------------------------------------------------------------------ /ws messages

const nodeProgressState = z.object({
  value: z.number(),
  max: z.number(),
  state: z.enum(['pending', 'running', 'finished', 'error']),
  node_id: nodeId,
  prompt_id: promptId,
  display_node_id: nodeId.optional(),
  // Declared optional by the frontend; ComfyUI sends null for a node outside any subgraph.
  parent_node_id: nodeId.nullish(),
  real_node_id: nodeId.optional()
})

const executing = z.object({ node: nodeId, display_node: nodeId, prompt_id: promptId })

/**
 * The last `executing` of a prompt: `{node: null, prompt_id}`. The frontend declares `node`
 * as a node id, but every ComfyUI ends a prompt this way and api.ts passes
 * `display_node || node` on, so `null` is its "nothing runs now".
 */
const executingDone = z.object({ node: z.null(), prompt_id: promptId })

/** The `data` schema of each socket message type the gateway sends. */
export const wsData = {
  status: z.object({
    status: statusPayload.nullish(),
    sid: z.string().nullish()
  }),
  progress: z.object({
    value: z.number().int(),
    max: z.number().int(),
    prompt_id: promptId,
    node: nodeId
  }),
  progress_state: z.object({
    prompt_id: promptId,
    nodes: z.record(z.string(), nodeProgressState)
  }),
  executing: z.union([executing, executingDone]),
  // `output` null: ComfyUI re-sends `executed` for a cached node, with its cached ui or null
  // (api.ts passes it on; the output store takes null as "no outputs").
  executed: executing.extend({ output: nodeOutputs.nullable(), merge: z.boolean().optional() }),
  execution_start: executionStart,
  execution_success: executionSuccess,
  execution_cached: executionCached,
  execution_interrupted: executionInterrupted,
  execution_error: executionError,
  feature_flags: featureFlags
} as const

export type WsType = keyof typeof wsData

/** A socket message `{type, data}` of a type the frontend knows, its data checked by type. */
export const wsMessage = z
  .object({ type: z.string(), data: z.unknown() })
  .superRefine((msg, ctx) => {
    const schema = (wsData as Record<string, z.ZodType>)[msg.type]
    if (!schema) {
      ctx.addIssue({ code: 'custom', message: `unknown message type ${msg.type}` })
      return
    }
    const r = schema.safeParse(msg.data)
    if (!r.success) {
      for (const issue of r.error.issues) {
        ctx.addIssue({
          code: 'custom',
          message: `${msg.type}: ${issue.message}`,
          path: ['data', ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))]
        })
      }
    }
  })
