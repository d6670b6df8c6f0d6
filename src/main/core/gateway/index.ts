/**
 * One ComfyUI address for the whole fleet: a local HTTP + WebSocket server that speaks
 * ComfyUI's API (`comfyui-api.md` sections 2-9), so any ComfyUI client (the ComfyUI window,
 * Krita AI Diffusion, scripts) sends its prompts through the job engine and gets the events,
 * history and images back as from one server.
 *
 * Safe by default: loopback only unless a token is set; the Host header must name the gateway
 * (DNS rebinding); browser requests from other origins get 403; every body is capped and every
 * request has a deadline.
 */
export { checkAccess, isLoopbackHost, sameSecret } from './security'
export { checkPrompt, mergeObjectInfo, FleetInfo } from './fleet'
export { PromptMap, type GatewayPrompt } from './ids'
export { UploadStore, parseMultipart } from './uploads'
export {
  DEFAULT_GATEWAY_PORT,
  GatewayStartError,
  MAX_JSON_BODY,
  MAX_UPLOAD_BYTES,
  MAX_VIEW_BYTES,
  type Gateway,
  type GatewayOptions
} from './options'

export { gatewayUrl, startGateway } from './start'

export { GatewayService, type GatewayState, type GatewayServiceOptions } from './service'
