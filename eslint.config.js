import js from '@eslint/js'
import ts from 'typescript-eslint'
import svelte from 'eslint-plugin-svelte'
import globals from 'globals'
import svelteConfig from './svelte.config.js'

/** Core files a face must not reach past app.ts for. */
const FACE_BANS = [
  '**/core/jobs/**',
  '**/core/fleet/**',
  '**/core/comfy/**',
  '**/core/settings*',
  '**/core/paths',
  '**/core/log',
  '**/core/clock',
  '**/core/events'
]

/** The shell's Electron adapters; every other file of src/main is plain Node. */
const SHELL_WITH_ELECTRON = [
  'src/main/crash-guard.ts',
  'src/main/ipc.ts',
  'src/main/lifecycle.ts',
  'src/main/login-item.ts',
  'src/main/notifier.ts',
  'src/main/secrets.ts',
  'src/main/store.ts',
  'src/main/tray.ts',
  'src/main/window.ts'
]

const IPC_BAN = [
  {
    name: 'electron',
    importNames: ['ipcMain', 'ipcRenderer'],
    message: 'Use the typed IPC wrappers (src/main/ipc.ts, src/preload/create-api.ts).'
  }
]

const ELECTRON_BAN = [
  { name: 'electron', message: 'Plain Node code must not import electron.' },
  { name: 'electron-store', message: 'Plain Node code must not import electron.' }
]

/**
 * One group of files: the import patterns they may not use (gitignore style, `!` allows
 * again) and, unless `plainNode` is false, the Electron ban.
 */
function layer(files, banned, ignores = [], plainNode = true, extraPaths = []) {
  return [
    {
      files,
      ignores,
      rules: {
        'no-restricted-imports': [
          'error',
          {
            paths: [...(plainNode ? ELECTRON_BAN : []), ...extraPaths],
            patterns: [
              {
                group: banned,
                message: 'This layer may not import that (see architecture.md, Layers).'
              }
            ]
          }
        ]
      }
    }
  ]
}

export default ts.config(
  {
    ignores: [
      'out/**',
      'node_modules/**',
      'test-results/**',
      'playwright-report/**',
      'reports/**',
      'dist/**',
      'bench/results/**'
    ]
  },
  js.configs.recommended,
  ...ts.configs.recommended,
  ...svelte.configs.recommended,
  { languageOptions: { globals: { ...globals.browser, ...globals.node } } },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: {
      parserOptions: {
        projectService: true,
        extraFileExtensions: ['.svelte'],
        parser: ts.parser,
        svelteConfig
      }
    }
  },
  // Layers (architecture.md): each imports only from the layers below it. ESLint keeps one
  // `no-restricted-imports` per file, so every group below carries the Electron ban it needs.
  ...layer(['src/shared/**/*.ts'], ['**/main/**', '**/cli/**', '**/renderer/**', '**/preload/**']),
  ...layer(
    ['src/main/core/comfy/**/*.ts'],
    ['**/fleet/**', '**/jobs/**', '**/gateway/**', '**/app']
  ),
  ...layer(['src/main/core/fleet/**/*.ts'], ['**/jobs/**', '**/gateway/**', '**/app']),
  // Jobs see the fleet only through its port.
  ...layer(
    ['src/main/core/jobs/**/*.ts'],
    ['**/fleet/monitor*', '**/fleet/live-feed*', '**/gateway/**', '**/app']
  ),
  ...layer(
    ['src/main/core/gateway/**/*.ts'],
    ['**/jobs/**', '**/fleet/**', '**/comfy/**', '!**/comfy/client']
  ),
  ...layer(['src/main/core/*.ts'], ['**/gateway/**'], ['src/main/core/app.ts']),
  ...layer(['src/main/core/app.ts'], ['**/gateway/**']),
  // The fake ComfyUI shares only the PNG text reader with the core.
  ...layer(
    ['src/fake-comfy/**/*.ts'],
    [
      '**/cli/**',
      '**/renderer/**',
      '**/main/core/app',
      '**/main/core/fleet/**',
      '**/main/core/comfy/**',
      '**/main/core/gateway/**'
    ]
  ),
  // The faces use the core only through its front door (app.ts) and the gateway, a face of its
  // own; in the shell, raw ipcMain/ipcRenderer only in the typed IPC wrappers.
  ...layer(['src/cli/**/*.ts'], FACE_BANS),
  // Every other file of the shell runs under plain Node (tested without Electron).
  ...layer(['src/main/*.ts'], FACE_BANS, SHELL_WITH_ELECTRON, true, IPC_BAN),
  ...layer(
    SHELL_WITH_ELECTRON,
    FACE_BANS,
    ['src/main/ipc.ts', 'src/main/lifecycle.ts'],
    false,
    IPC_BAN
  ),
  ...layer(['src/main/ipc.ts', 'src/main/lifecycle.ts'], FACE_BANS, [], false),
  {
    // IPC goes through the typed contract: raw ipcMain/ipcRenderer only in the wrappers and
    // where they are handed to them.
    files: ['src/preload/**/*.ts', 'src/renderer/**/*.ts', 'src/renderer/**/*.svelte'],
    ignores: ['src/preload/index.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'electron',
              importNames: ['ipcMain', 'ipcRenderer'],
              message: 'Use the typed IPC wrappers (src/main/ipc.ts, src/preload/create-api.ts).'
            }
          ]
        }
      ]
    }
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }
      ]
    }
  }
)
