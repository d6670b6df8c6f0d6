/**
 * The node classes the fake knows (a subset of ComfyUI 0.3.64's core nodes plus test nodes),
 * their `/object_info` form, the model folders, and a standard txt2img prompt.
 */
import type { FakeNodeDef, InputSpec } from './types'

const MAX_RESOLUTION = 16384
/** 0xffffffffffffffff in Python; as a double it prints as 18446744073709552000. */
const SEED_MAX = 2 ** 64 - 1

/** comfy.samplers.KSampler.SAMPLERS in 0.3.64 (42 entries, so errors say "list of length 42"). */
// prettier-ignore
export const SAMPLERS = [
  'euler', 'euler_cfg_pp', 'euler_ancestral', 'euler_ancestral_cfg_pp', 'heun', 'heunpp2', 'dpm_2',
  'dpm_2_ancestral', 'lms', 'dpm_fast', 'dpm_adaptive', 'dpmpp_2s_ancestral',
  'dpmpp_2s_ancestral_cfg_pp', 'dpmpp_sde', 'dpmpp_sde_gpu', 'dpmpp_2m', 'dpmpp_2m_cfg_pp',
  'dpmpp_2m_sde', 'dpmpp_2m_sde_gpu', 'dpmpp_2m_sde_heun', 'dpmpp_2m_sde_heun_gpu', 'dpmpp_3m_sde',
  'dpmpp_3m_sde_gpu', 'ddpm', 'lcm', 'ipndm', 'ipndm_v', 'deis', 'res_multistep',
  'res_multistep_cfg_pp', 'res_multistep_ancestral', 'res_multistep_ancestral_cfg_pp',
  'gradient_estimation', 'gradient_estimation_cfg_pp', 'er_sde', 'seeds_2', 'seeds_3', 'sa_solver',
  'sa_solver_pece', 'ddim', 'uni_pc', 'uni_pc_bh2'
]

// prettier-ignore
export const SCHEDULERS = [
  'simple', 'sgm_uniform', 'karras', 'exponential', 'ddim_uniform', 'beta', 'normal',
  'linear_quadratic', 'kl_optimal'
]

/** Keys of folder_names_and_paths in 0.3.64, in order (what GET /models lists). */
// prettier-ignore
export const MODEL_FOLDERS = [
  'checkpoints', 'configs', 'loras', 'vae', 'text_encoders', 'diffusion_models', 'clip_vision',
  'style_models', 'embeddings', 'diffusers', 'vae_approx', 'controlnet', 'gligen',
  'upscale_models', 'custom_nodes', 'hypernetworks', 'photomaker', 'classifiers', 'model_patches',
  'audio_encoders'
]

export const DEFAULT_MODELS: Record<string, string[]> = {
  checkpoints: ['sd_xl_base_1.0.safetensors', 'v1-5-pruned-emaonly.safetensors'],
  configs: ['v1-inference.yaml', 'v2-inference.yaml'],
  loras: ['add_detail.safetensors', 'sdxl_lightning_4step_lora.safetensors'],
  vae: ['sdxl_vae.safetensors', 'vae-ft-mse-840000-ema-pruned.safetensors'],
  text_encoders: ['clip_l.safetensors', 't5xxl_fp8_e4m3fn.safetensors'],
  diffusion_models: [],
  clip_vision: [],
  style_models: [],
  embeddings: ['easynegative.safetensors'],
  diffusers: [],
  vae_approx: [],
  controlnet: ['control_v11p_sd15_canny.pth'],
  gligen: [],
  upscale_models: ['RealESRGAN_x4plus.pth', '4x-UltraSharp.pth'],
  custom_nodes: [],
  hypernetworks: [],
  photomaker: [],
  classifiers: [],
  model_patches: [],
  audio_encoders: []
}

/** The classes a default fake server has. */
export const DEFAULT_NODE_CLASSES = [
  'CheckpointLoaderSimple',
  'CLIPTextEncode',
  'CLIPSetLastLayer',
  'EmptyLatentImage',
  'KSampler',
  'KSamplerAdvanced',
  'VAEDecode',
  'VAEEncode',
  'VAELoader',
  'LoraLoader',
  'LoadImage',
  'LoadImageMask',
  'SaveImage',
  'PreviewImage',
  'ImageScale',
  'UpscaleModelLoader',
  'ImageUpscaleWithModel',
  'FakeFail',
  'FakeSaveFile'
]

/**
 * Classes that define IS_CHANGED in ComfyUI 0.3.64 (core and comfy_extras): in the prompt as
 * executed, their nodes gain an `is_changed` key. Custom nodes set `isChanged` instead.
 */
export const IS_CHANGED_CLASSES: readonly string[] = [
  'LoadImage',
  'LoadImageMask',
  'LoadImageOutput',
  'LoadLatent',
  'LoadAudio',
  'WebcamCapture',
  'SaveImageWebsocket'
]

export interface NodeContext {
  models: Record<string, string[]>
  /** Image files in the input directory (LoadImage's list). */
  inputFiles: () => string[]
  /** Whether an (optionally annotated) input file exists. */
  inputExists: (name: string) => boolean
}

const t = (tooltip: string): { tooltip: string } => ({ tooltip })

/** Builds the definitions for the given class names; unknown names become generic custom nodes. */
export function buildNodeDefs(
  classes: readonly string[],
  ctx: NodeContext,
  custom: Record<string, FakeNodeDef> = {}
): Record<string, FakeNodeDef> {
  const m = (folder: string): string[] => [...(ctx.models[folder] ?? [])]
  const known: Record<string, () => FakeNodeDef> = {
    CheckpointLoaderSimple: () => ({
      input: {
        required: {
          ckpt_name: [m('checkpoints'), t('The name of the checkpoint (model) to load.')]
        }
      },
      output: ['MODEL', 'CLIP', 'VAE'],
      output_tooltips: [
        'The model used for denoising latents.',
        'The CLIP model used for encoding text prompts.',
        'The VAE model used for encoding and decoding images to and from latent space.'
      ],
      display_name: 'Load Checkpoint',
      description:
        'Loads a diffusion model checkpoint, diffusion models are used to denoise latents.',
      category: 'loaders',
      weight: 1
    }),
    CLIPTextEncode: () => ({
      input: {
        required: {
          text: [
            'STRING',
            { multiline: true, dynamicPrompts: true, tooltip: 'The text to be encoded.' }
          ],
          clip: ['CLIP', t('The CLIP model used for encoding the text.')]
        }
      },
      output: ['CONDITIONING'],
      output_tooltips: [
        'A conditioning containing the embedded text used to guide the diffusion model.'
      ],
      display_name: 'CLIP Text Encode (Prompt)',
      description:
        'Encodes a text prompt using a CLIP model into an embedding that can be used to guide the diffusion model towards generating specific images.',
      category: 'conditioning',
      weight: 0.5
    }),
    CLIPSetLastLayer: () => ({
      input: {
        required: {
          clip: ['CLIP'],
          stop_at_clip_layer: ['INT', { default: -1, min: -24, max: -1, step: 1 }]
        }
      },
      output: ['CLIP'],
      display_name: 'CLIP Set Last Layer',
      category: 'conditioning',
      weight: 0.1
    }),
    EmptyLatentImage: () => ({
      input: {
        required: {
          width: [
            'INT',
            {
              default: 512,
              min: 16,
              max: MAX_RESOLUTION,
              step: 8,
              ...t('The width of the latent images in pixels.')
            }
          ],
          height: [
            'INT',
            {
              default: 512,
              min: 16,
              max: MAX_RESOLUTION,
              step: 8,
              ...t('The height of the latent images in pixels.')
            }
          ],
          batch_size: [
            'INT',
            { default: 1, min: 1, max: 4096, ...t('The number of latent images in the batch.') }
          ]
        }
      },
      output: ['LATENT'],
      output_tooltips: ['The empty latent image batch.'],
      display_name: 'Empty Latent Image',
      description: 'Create a new batch of empty latent images to be denoised via sampling.',
      category: 'latent',
      weight: 0.1
    }),
    KSampler: () => ({
      input: {
        required: {
          model: ['MODEL', t('The model used for denoising the input latent.')],
          seed: [
            'INT',
            {
              default: 0,
              min: 0,
              max: SEED_MAX,
              control_after_generate: true,
              ...t('The random seed used for creating the noise.')
            }
          ],
          steps: [
            'INT',
            {
              default: 20,
              min: 1,
              max: 10000,
              ...t('The number of steps used in the denoising process.')
            }
          ],
          cfg: [
            'FLOAT',
            {
              default: 8.0,
              min: 0.0,
              max: 100.0,
              step: 0.1,
              round: 0.01,
              ...t(
                'The Classifier-Free Guidance scale balances creativity and adherence to the prompt. Higher values result in images more closely matching the prompt however too high values will negatively impact quality.'
              )
            }
          ],
          sampler_name: [
            [...SAMPLERS],
            t(
              'The algorithm used when sampling, this can affect the quality, speed, and style of the generated output.'
            )
          ],
          scheduler: [
            [...SCHEDULERS],
            t('The scheduler controls how noise is gradually removed to form the image.')
          ],
          positive: [
            'CONDITIONING',
            t('The conditioning describing the attributes you want to include in the image.')
          ],
          negative: [
            'CONDITIONING',
            t('The conditioning describing the attributes you want to exclude from the image.')
          ],
          latent_image: ['LATENT', t('The latent image to denoise.')],
          denoise: [
            'FLOAT',
            {
              default: 1.0,
              min: 0.0,
              max: 1.0,
              step: 0.01,
              ...t(
                'The amount of denoising applied, lower values will maintain the structure of the initial image allowing for image to image sampling.'
              )
            }
          ]
        }
      },
      output: ['LATENT'],
      output_tooltips: ['The denoised latent.'],
      display_name: 'KSampler',
      description:
        'Uses the provided model, positive and negative conditioning to denoise the latent image.',
      category: 'sampling',
      behavior: 'sampler',
      weight: 10
    }),
    KSamplerAdvanced: () => ({
      input: {
        required: {
          model: ['MODEL'],
          add_noise: [['enable', 'disable']],
          noise_seed: ['INT', { default: 0, min: 0, max: SEED_MAX, control_after_generate: true }],
          steps: ['INT', { default: 20, min: 1, max: 10000 }],
          cfg: ['FLOAT', { default: 8.0, min: 0.0, max: 100.0, step: 0.1, round: 0.01 }],
          sampler_name: [[...SAMPLERS]],
          scheduler: [[...SCHEDULERS]],
          positive: ['CONDITIONING'],
          negative: ['CONDITIONING'],
          latent_image: ['LATENT'],
          start_at_step: ['INT', { default: 0, min: 0, max: 10000 }],
          end_at_step: ['INT', { default: 10000, min: 0, max: 10000 }],
          return_with_leftover_noise: [['disable', 'enable']]
        }
      },
      output: ['LATENT'],
      display_name: 'KSampler (Advanced)',
      category: 'sampling',
      behavior: 'sampler',
      weight: 10
    }),
    VAEDecode: () => ({
      input: {
        required: {
          samples: ['LATENT', t('The latent to be decoded.')],
          vae: ['VAE', t('The VAE model used for decoding the latent.')]
        }
      },
      output: ['IMAGE'],
      output_tooltips: ['The decoded image.'],
      display_name: 'VAE Decode',
      description: 'Decodes latent images back into pixel space images.',
      category: 'latent',
      weight: 1.5
    }),
    VAEEncode: () => ({
      input: { required: { pixels: ['IMAGE'], vae: ['VAE'] } },
      output: ['LATENT'],
      display_name: 'VAE Encode',
      category: 'latent',
      weight: 1
    }),
    VAELoader: () => ({
      input: { required: { vae_name: [[...m('vae'), 'pixel_space']] } },
      output: ['VAE'],
      display_name: 'Load VAE',
      category: 'loaders',
      weight: 0.5
    }),
    LoraLoader: () => ({
      input: {
        required: {
          model: ['MODEL', t('The diffusion model the LoRA will be applied to.')],
          clip: ['CLIP', t('The CLIP model the LoRA will be applied to.')],
          lora_name: [m('loras'), t('The name of the LoRA.')],
          strength_model: [
            'FLOAT',
            {
              default: 1.0,
              min: -100.0,
              max: 100.0,
              step: 0.01,
              ...t('How strongly to modify the diffusion model. This value can be negative.')
            }
          ],
          strength_clip: [
            'FLOAT',
            {
              default: 1.0,
              min: -100.0,
              max: 100.0,
              step: 0.01,
              ...t('How strongly to modify the CLIP model. This value can be negative.')
            }
          ]
        }
      },
      output: ['MODEL', 'CLIP'],
      output_tooltips: ['The modified diffusion model.', 'The modified CLIP model.'],
      display_name: 'Load LoRA',
      description:
        'LoRAs are used to modify diffusion and CLIP models, altering the way in which latents are denoised such as applying styles. Multiple LoRA nodes can be linked together.',
      category: 'loaders',
      weight: 0.5
    }),
    LoadImage: () => ({
      input: { required: { image: [[...ctx.inputFiles()].sort(), { image_upload: true }] } },
      output: ['IMAGE', 'MASK'],
      display_name: 'Load Image',
      category: 'image',
      behavior: 'load-image',
      weight: 0.2,
      validateInputs: {
        inputs: ['image'],
        check: (v) =>
          ctx.inputExists(String(v.image)) ? true : `Invalid image file: ${String(v.image)}`
      }
    }),
    LoadImageMask: () => ({
      input: {
        required: {
          image: [[...ctx.inputFiles()].sort(), { image_upload: true }],
          channel: [['alpha', 'red', 'green', 'blue']]
        }
      },
      output: ['MASK'],
      display_name: 'Load Image (as Mask)',
      category: 'mask',
      behavior: 'load-image',
      weight: 0.2,
      validateInputs: {
        inputs: ['image'],
        check: (v) =>
          ctx.inputExists(String(v.image)) ? true : `Invalid image file: ${String(v.image)}`
      }
    }),
    SaveImage: () => ({
      input: {
        required: {
          images: ['IMAGE', t('The images to save.')],
          filename_prefix: [
            'STRING',
            {
              default: 'ComfyUI',
              ...t(
                'The prefix for the file to save. This may include formatting information such as %date:yyyy-MM-dd% or %Empty Latent Image.width% to include values from nodes.'
              )
            }
          ]
        },
        hidden: { prompt: 'PROMPT', extra_pnginfo: 'EXTRA_PNGINFO' }
      },
      output: [],
      display_name: 'Save Image',
      description: 'Saves the input images to your ComfyUI output directory.',
      category: 'image',
      output_node: true,
      behavior: 'save',
      weight: 1
    }),
    PreviewImage: () => ({
      input: {
        required: { images: ['IMAGE'] },
        hidden: { prompt: 'PROMPT', extra_pnginfo: 'EXTRA_PNGINFO' }
      },
      output: [],
      display_name: 'Preview Image',
      description: 'Saves the input images to your ComfyUI output directory.',
      category: 'image',
      output_node: true,
      behavior: 'preview',
      weight: 0.5
    }),
    ImageScale: () => ({
      input: {
        required: {
          image: ['IMAGE'],
          upscale_method: [['nearest-exact', 'bilinear', 'area', 'bicubic', 'lanczos']],
          width: ['INT', { default: 512, min: 0, max: MAX_RESOLUTION, step: 1 }],
          height: ['INT', { default: 512, min: 0, max: MAX_RESOLUTION, step: 1 }],
          crop: [['disabled', 'center']]
        }
      },
      output: ['IMAGE'],
      display_name: 'Upscale Image',
      category: 'image/upscaling',
      weight: 0.5
    }),
    UpscaleModelLoader: () => ({
      input: { required: { model_name: [m('upscale_models')] } },
      output: ['UPSCALE_MODEL'],
      display_name: 'Load Upscale Model',
      python_module: 'comfy_extras.nodes_upscale_model',
      category: 'loaders',
      weight: 0.5
    }),
    ImageUpscaleWithModel: () => ({
      input: { required: { upscale_model: ['UPSCALE_MODEL'], image: ['IMAGE'] } },
      output: ['IMAGE'],
      display_name: 'Upscale Image (using Model)',
      python_module: 'comfy_extras.nodes_upscale_model',
      category: 'image/upscaling',
      weight: 3
    }),
    FakeFail: () => ({
      input: {
        required: {},
        optional: {
          anything: ['*'],
          message: ['STRING', { default: 'FakeFail always raises' }]
        }
      },
      output: [],
      display_name: 'Fake Fail (test)',
      description: 'Test node of the fake ComfyUI: raises an Exception when executed.',
      python_module: 'custom_nodes.fake_comfy',
      category: 'testing',
      output_node: true,
      behavior: 'fail',
      weight: 0.5
    }),
    FakeSaveFile: () => ({
      input: {
        required: { filename: ['STRING', { default: 'fake_output.bin' }] },
        optional: {
          count: ['INT', { default: 1, min: 0, max: 10000, step: 1 }],
          bytes: ['INT', { default: 1024, min: 0, max: 2 ** 40, step: 1 }],
          anything: ['*'],
          subfolder: ['STRING', { default: '' }],
          subfolders: [['same', 'different'], { default: 'same' }],
          type: [['output', 'temp'], { default: 'output' }],
          ui_key: ['STRING', { default: 'images' }]
        }
      },
      output: [],
      display_name: 'Fake Save File (test)',
      description:
        'Test node of the fake ComfyUI: reports count files named exactly filename, each bytes long, and serves them at /view.',
      python_module: 'custom_nodes.fake_comfy',
      category: 'testing',
      output_node: true,
      behavior: 'save-file',
      weight: 0.5
    })
  }
  const out: Record<string, FakeNodeDef> = {}
  for (const name of classes) {
    const make = known[name]
    out[name] = make
      ? make()
      : {
          input: { required: {}, optional: { value: ['*'] } },
          output: ['*'],
          display_name: name,
          description: 'Generic custom node of the fake ComfyUI.',
          python_module: 'custom_nodes.fake_custom',
          category: 'custom'
        }
  }
  for (const [name, def] of Object.entries(custom)) out[name] = def
  return out
}

/** A node's `/object_info` entry, in the key order of server.py's `node_info`. */
export function nodeInfo(name: string, def: FakeNodeDef): Record<string, unknown> {
  const input: Record<string, unknown> = {}
  const inputOrder: Record<string, string[]> = {}
  for (const key of ['required', 'optional', 'hidden'] as const) {
    const group = def.input[key]
    if (!group) continue
    input[key] = group
    inputOrder[key] = Object.keys(group)
  }
  const info: Record<string, unknown> = {
    input,
    input_order: inputOrder,
    output: def.output,
    output_is_list: def.output_is_list ?? def.output.map(() => false),
    output_name: def.output_name ?? def.output,
    name,
    display_name: def.display_name ?? name,
    description: def.description ?? '',
    python_module: def.python_module ?? 'nodes',
    category: def.category ?? 'sd',
    output_node: def.output_node === true
  }
  if (def.output_tooltips) info.output_tooltips = def.output_tooltips
  if (def.deprecated) info.deprecated = true
  if (def.experimental) info.experimental = true
  return info
}

/** Specs of a node's required and optional inputs, in definition order. */
export function inputSpecs(def: FakeNodeDef): Array<[string, InputSpec, 'required' | 'optional']> {
  const out: Array<[string, InputSpec, 'required' | 'optional']> = []
  for (const [k, s] of Object.entries(def.input.required ?? {})) out.push([k, s, 'required'])
  for (const [k, s] of Object.entries(def.input.optional ?? {})) out.push([k, s, 'optional'])
  return out
}

export interface Txt2ImgOptions {
  seed?: number
  steps?: number
  cfg?: number
  ckpt?: string
  positive?: string
  negative?: string
  width?: number
  height?: number
  batchSize?: number
  filenamePrefix?: string
  sampler?: string
  scheduler?: string
}

/** ComfyUI's default txt2img workflow in API format (node ids 3..9 as in the stock graph). */
export function makeTxt2ImgPrompt(opts: Txt2ImgOptions = {}): Record<string, unknown> {
  return {
    '3': {
      class_type: 'KSampler',
      inputs: {
        seed: opts.seed ?? 156680208700286,
        steps: opts.steps ?? 20,
        cfg: opts.cfg ?? 8,
        sampler_name: opts.sampler ?? 'euler',
        scheduler: opts.scheduler ?? 'normal',
        denoise: 1,
        model: ['4', 0],
        positive: ['6', 0],
        negative: ['7', 0],
        latent_image: ['5', 0]
      },
      _meta: { title: 'KSampler' }
    },
    '4': {
      class_type: 'CheckpointLoaderSimple',
      inputs: { ckpt_name: opts.ckpt ?? 'v1-5-pruned-emaonly.safetensors' },
      _meta: { title: 'Load Checkpoint' }
    },
    '5': {
      class_type: 'EmptyLatentImage',
      inputs: {
        width: opts.width ?? 512,
        height: opts.height ?? 512,
        batch_size: opts.batchSize ?? 1
      },
      _meta: { title: 'Empty Latent Image' }
    },
    '6': {
      class_type: 'CLIPTextEncode',
      inputs: {
        text:
          opts.positive ??
          'beautiful scenery nature glass bottle landscape, , purple galaxy bottle,',
        clip: ['4', 1]
      },
      _meta: { title: 'CLIP Text Encode (Prompt)' }
    },
    '7': {
      class_type: 'CLIPTextEncode',
      inputs: { text: opts.negative ?? 'text, watermark', clip: ['4', 1] },
      _meta: { title: 'CLIP Text Encode (Prompt)' }
    },
    '8': {
      class_type: 'VAEDecode',
      inputs: { samples: ['3', 0], vae: ['4', 2] },
      _meta: { title: 'VAE Decode' }
    },
    '9': {
      class_type: 'SaveImage',
      inputs: { filename_prefix: opts.filenamePrefix ?? 'ComfyUI', images: ['8', 0] },
      _meta: { title: 'Save Image' }
    }
  }
}
