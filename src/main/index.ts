/**
 * Electron entry. Everything lives in `lifecycle.ts` (one instance, tray first, clean quit) so it
 * can be tested with a mocked `electron`; this file only starts it.
 */
import { runApp } from './lifecycle'

runApp({ mainDir: import.meta.dirname, rendererUrl: process.env['ELECTRON_RENDERER_URL'] })
