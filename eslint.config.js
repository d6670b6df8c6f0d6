import js from '@eslint/js'
import ts from 'typescript-eslint'
import svelte from 'eslint-plugin-svelte'
import globals from 'globals'
import svelteConfig from './svelte.config.js'

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
  {
    // The engine runs under plain Node: never let Electron leak into it.
    files: [
      'src/main/core/**/*.ts',
      'src/cli/**/*.ts',
      'src/fake-comfy/**/*.ts',
      'src/shared/**/*.ts'
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'electron', message: 'The core must not import electron.' },
            { name: 'electron-store', message: 'The core must not import electron.' }
          ]
        }
      ]
    }
  },
  {
    // IPC goes through the typed contract: raw ipcMain/ipcRenderer only in the wrappers and
    // where they are handed to them.
    files: [
      'src/main/*.ts',
      'src/preload/**/*.ts',
      'src/renderer/**/*.ts',
      'src/renderer/**/*.svelte'
    ],
    ignores: ['src/main/ipc.ts', 'src/main/lifecycle.ts', 'src/preload/index.ts'],
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
