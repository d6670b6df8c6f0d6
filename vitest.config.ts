import { defineConfig } from 'vitest/config'
import { svelte } from '@sveltejs/vite-plugin-svelte'
import { svelteTesting } from '@testing-library/svelte/vite'

const shared = {
  setupFiles: ['tests/setup.ts'],
  testTimeout: 20_000
}

/**
 * Two projects: Node-side code (core, CLI, fake server, Electron shell with a mocked
 * `electron`) resolves packages for Node, so `ws` is the real client; the renderer's
 * component tests resolve them for the browser, as Svelte needs.
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          ...shared,
          name: 'node',
          include: ['tests/**/*.test.ts'],
          exclude: ['tests/e2e/**', 'tests/renderer/**', 'node_modules/**'],
          environment: 'node',
          server: { deps: { inline: ['electron-store'] } }
        }
      },
      {
        plugins: [svelte(), svelteTesting()],
        test: {
          ...shared,
          name: 'renderer',
          include: ['tests/renderer/**/*.test.ts'],
          environment: 'jsdom'
        }
      }
    ]
  }
})
