import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = join(import.meta.dirname, '..', '..')

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f)
    return statSync(p).isDirectory() ? files(p) : /\.(ts|js|mjs|cjs)$/.test(f) ? [p] : []
  })
}

// import x from 'electron', import('electron'), require("electron"), export ... from 'electron-store'
const ELECTRON =
  /(?:from\s*|import\s*\(\s*|require\s*\(\s*|import\s+)['"](electron|electron-store)(?:\/[^'"]*)?['"]/

describe('the engine runs under plain Node', () => {
  for (const dir of ['src/main/core', 'src/cli', 'src/fake-comfy', 'src/shared']) {
    it(`${dir} never imports electron`, () => {
      const list = files(join(ROOT, dir))
      expect(list.length).toBeGreaterThan(0)
      const offenders = list.filter((f) => ELECTRON.test(readFileSync(f, 'utf8')))
      expect(offenders.map((f) => relative(ROOT, f))).toEqual([])
    })
  }

  it('the detector itself catches every import form', () => {
    for (const src of [
      "import { app } from 'electron'",
      'import electron from "electron"',
      "const e = require('electron')",
      "await import('electron')",
      "import Store from 'electron-store'",
      "import 'electron'",
      "import { ipcMain } from 'electron/main'"
    ]) {
      expect(ELECTRON.test(src), src).toBe(true)
    }
    expect(ELECTRON.test("import { x } from './electron-free'")).toBe(false)
  })
})
