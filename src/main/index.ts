/**
 * Electron entry. Everything lives in `lifecycle.ts` (one instance, tray first, clean quit) so it
 * can be tested with a mocked `electron`; this file only starts it, guarded by `crash-guard.ts`
 * (an unexpected error is logged and shown, and the app keeps running).
 */
import { guardApp } from './crash-guard'
import { runApp } from './lifecycle'

guardApp(
  runApp({ mainDir: import.meta.dirname, rendererUrl: process.env['ELECTRON_RENDERER_URL'] })
)
