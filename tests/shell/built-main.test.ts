/**
 * The *built* main bundle (out/main/index.js), started under plain Node with a stub `electron`
 * (tests/shell/node-electron/): the closest this machine gets to `npm start` without the Electron
 * binary. It catches what unit tests cannot: bundling mistakes, ESM/CJS imports of electron and
 * electron-store, start-up order, and the quit path of the real entry. Skipped before a build.
 */
import { spawn } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync
} from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const ROOT = join(import.meta.dirname, '..', '..')
const MAIN = join(ROOT, 'out', 'main', 'index.js')
const REGISTER = join(import.meta.dirname, 'node-electron', 'register.mjs')

type Line = { event: string } & Record<string, unknown>

function run(
  env: Record<string, string>
): Promise<{ code: number | null; lines: Line[]; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', REGISTER, MAIN], {
      cwd: ROOT,
      env: { PATH: process.env['PATH'] ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      const lines = out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Line)
      resolve({ code, lines, stderr: err })
    })
  })
}

/** One ComfyUI-like server that answers the queue check. */
let server: Server
let url: string
beforeAll(async () => {
  server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json')
    if (req.url?.endsWith('/queue')) return void res.end('{"queue_running":[],"queue_pending":[]}')
    if (req.url?.endsWith('/system_stats')) return void res.end('{"system":{},"devices":[]}')
    res.statusCode = 404
    res.end('{}')
  })
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((ok) => server.close(() => ok())))

describe.skipIf(!existsSync(MAIN))('the built main bundle under a stub electron', () => {
  it('starts to the tray without a window, shows the fleet, and quits cleanly', async () => {
    const home = mkdtempSync(join(tmpdir(), 'comfy-balancer-built-'))
    const config = join(home, 'config')
    const data = join(config, 'comfy-balancer')
    mkdirSync(data, { recursive: true })
    writeFileSync(
      join(data, 'config.json'),
      JSON.stringify({
        healthCheckInterval: 500,
        servers: [{ name: 'gpu-1', url, headers: { Authorization: 'Bearer built-secret-1' } }]
      })
    )
    const { code, lines, stderr } = await run({
      HOME: home,
      XDG_CONFIG_HOME: config,
      STUB_RUN_MS: '1500'
    })
    expect(stderr).not.toMatch(/Error|at .*index\.js/)
    expect(code).toBe(0)
    const events = lines.map((l) => l.event)
    expect(lines).toContainEqual({ event: 'setPath', name: 'userData', value: data })
    expect(events).toContain('enableSandbox')
    expect(lines.find((l) => l.event === 'tray')).toEqual({ event: 'tray', scales: [1, 2] })
    expect(events).not.toContain('window')
    const tooltips = lines.filter((l) => l.event === 'tooltip').map((l) => l.text)
    expect(tooltips).toContain('Comfy Balancer: 1/1 servers up - best: gpu-1 (queue 0)')
    const menu = lines.filter((l) => l.event === 'menu').at(-1)!.labels as string[]
    expect(menu).toContain('★ gpu-1 - best: 0 running, 0 pending')
    expect(menu).toContain('Quit')
    // Quit: prevented once for the clean stop, then let through; IPC handlers removed first.
    expect(events.slice(events.indexOf('userQuits'))).toEqual([
      'userQuits',
      'quit',
      'trayDestroyed',
      'quit',
      'exit'
    ])
    expect(lines.find((l) => l.event === 'trayDestroyed')).toMatchObject({ ipcHandlers: 0 })
    // The settings file was brought to the current format, its secret encrypted.
    const saved = readFileSync(join(data, 'config.json'), 'utf8')
    expect(saved).toContain('"settingsVersion"')
    expect(saved).not.toContain('built-secret')
    // The log file has the start, the fleet line and the quit, and no secret.
    const logDir = join(data, 'logs')
    const log = readdirSync(logDir)
      .map((f) => readFileSync(join(logDir, f), 'utf8'))
      .join('')
    expect(log).toMatch(/INFO {2}\[App\] Comfy Balancer .* started/)
    expect(log).toContain('[LoadBalancer] Available servers: 1/1, best: gpu-1')
    expect(log).toContain('[App] Quitting')
    expect(log).not.toContain('built-secret')
  })

  it('a second instance quits at once', async () => {
    const home = mkdtempSync(join(tmpdir(), 'comfy-balancer-built-'))
    const { code, lines } = await run({
      HOME: home,
      XDG_CONFIG_HOME: join(home, 'config'),
      STUB_SECOND_INSTANCE: '1'
    })
    expect(code).toBe(0)
    expect(lines.map((l) => l.event)).toEqual(['setPath', 'enableSandbox', 'quit', 'exit'])
  })
})
