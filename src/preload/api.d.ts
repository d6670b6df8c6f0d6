/** The global the preload defines; optional because a page opened elsewhere has none. */
import type { ComfyBalancerApi } from '../shared/ipc'

declare global {
  interface Window {
    comfyBalancer?: ComfyBalancerApi
  }
}

export {}
