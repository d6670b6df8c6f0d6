/** Runs the built CLI as a child process, the way a user does. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const ROOT = path.join(import.meta.dirname, '..', '..')

/** Builds the CLI once per test file into its own folder (never the shared out/cli). */
export function buildCli(): { entry: string; remove: () => void } {
  // CLI_TEST_ENTRY runs the tests against another build (for example an older one).
  if (process.env.CLI_TEST_ENTRY) return { entry: process.env.CLI_TEST_ENTRY, remove: () => {} }
  const dir = path.join(
    ROOT,
    'out',
    `cli-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
  )
  const outDir = path.join(dir, 'out', 'cli')
  execFileSync(
    process.execPath,
    [
      path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'),
      'build',
      '-c',
      'vite.cli.config.ts',
      '--outDir',
      outDir,
      '--logLevel',
      'error'
    ],
    { cwd: ROOT, stdio: 'pipe' }
  )
  return {
    entry: path.join(outDir, 'index.js'),
    remove: () => fs.rmSync(dir, { recursive: true, force: true })
  }
}

export interface Run {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  /** Resolves with the exit code (or 128 + signal number when killed by one). */
  exited: Promise<number>
  /** Waits until stdout+stderr match, at most `ms`. */
  waitFor: (re: RegExp, ms?: number) => Promise<void>
  /** The exit code, or throws if the process is still running after `ms`. */
  exitWithin: (ms: number) => Promise<number>
}

const SIGNALS: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }

export function runCli(entry: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string): Run {
  const child = spawn(process.execPath, [entry, ...args], {
    env: { PATH: process.env.PATH, HOME: os.tmpdir(), ...env },
    cwd: cwd ?? os.tmpdir(),
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  let err = ''
  child.stdout!.on('data', (d) => (out += String(d)))
  child.stderr!.on('data', (d) => (err += String(d)))
  // 'close', not 'exit': by then everything the process wrote has been read.
  const exited = new Promise<number>((resolve) =>
    child.on('close', (code, sig) => resolve(code ?? 128 + (SIGNALS[sig ?? ''] ?? 0)))
  )
  let done: number | null = null
  void exited.then((c) => (done = c))
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitFor(re, ms = 10_000) {
      const t0 = Date.now()
      while (!re.test(out + err)) {
        if (done !== null) throw new Error(`exited ${done} before ${re}:\n${out}\n${err}`)
        if (Date.now() - t0 > ms) throw new Error(`no ${re} after ${ms} ms:\n${out}\n${err}`)
        await new Promise((r) => setTimeout(r, 25))
      }
    },
    async exitWithin(ms) {
      let timer: ReturnType<typeof setTimeout> | undefined
      const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), ms)))
      const r = await Promise.race([exited, late])
      clearTimeout(timer)
      if (r === 'late') {
        child.kill('SIGKILL')
        throw new Error(`still running ${ms} ms later:\n${out}\n${err}`)
      }
      return r
    }
  }
}

export const FIXTURE = path.join(import.meta.dirname, '..', 'fixtures', 'txt2img.json')

/** A copy of the txt2img fixture with changes, in `dir`. */
export function workflowFile(
  dir: string,
  name: string,
  change: (wf: Record<string, { inputs: Record<string, unknown> }>) => void = () => {}
): string {
  const wf = JSON.parse(fs.readFileSync(FIXTURE, 'utf8'))
  change(wf)
  const file = path.join(dir, name)
  fs.writeFileSync(file, JSON.stringify(wf))
  return file
}
