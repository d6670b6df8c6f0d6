// Makes `import ... from 'electron'` resolve to the stub next to this file, for running the
// built main bundle under plain Node (see tests/shell/built-main.test.ts).
import { register } from 'node:module'

register(new URL('./hooks.mjs', import.meta.url))
