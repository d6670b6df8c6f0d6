/** The fake ComfyUI server used by tests, benchmarks, the demo and `comfy-balancer fake-fleet`. */
export { FakeComfy } from './server'
export { faultApplies, parseFault } from './faults'
export { fakeFileBytes } from './files'
export type { FakeComfyEvents } from './server'
export { startFakeFleet } from './fleet'
export type { FakeFleet, FakeFleetOptions } from './fleet'
export { FAIL_SEED } from './executor'
export {
  DEFAULT_MODELS,
  DEFAULT_NODE_CLASSES,
  IS_CHANGED_CLASSES,
  MODEL_FOLDERS,
  SAMPLERS,
  SCHEDULERS,
  buildNodeDefs,
  makeTxt2ImgPrompt,
  nodeInfo
} from './nodes'
export type { Txt2ImgOptions } from './nodes'
export {
  addPngText,
  comfyPngText,
  crc32,
  decodePng,
  isPng,
  makeComfyPng,
  makePng,
  readPngText
} from './png'
export type { PngOptions } from './png'
export { pyDumps } from './pyjson'
export { validatePrompt } from './validate'
export type { NodeError, PromptError, ValidationResult } from './validate'
export type {
  FakeComfyOptions,
  FakeComfyStats,
  FakeFault,
  FakeFaultKind,
  FaultRoute,
  RedirectStatus,
  FakeNodeDef,
  HistoryEntry,
  ImageRef,
  InputSpec,
  QueueItem,
  StatusMessage
} from './types'
