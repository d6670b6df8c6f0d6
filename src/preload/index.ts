/**
 * Preload (sandboxed, context-isolated): exposes exactly the typed API of `src/shared/ipc.ts`
 * as `window.comfyBalancer`. Nothing generic such as `ipcRenderer` reaches the page.
 */
import { contextBridge, ipcRenderer, webUtils } from 'electron'
import { API_GLOBAL } from '../shared/ipc'
import { createApi } from './create-api'

contextBridge.exposeInMainWorld(
  API_GLOBAL,
  createApi(ipcRenderer, (file) => webUtils.getPathForFile(file as File))
)
