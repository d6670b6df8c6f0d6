/**
 * The small things a command line is expected to do: --version, help and options per command,
 * colours by the terminal's rules, results alone on stdout, tables lined up for CJK and emoji,
 * `watch --json`.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import pkg from '../../package.json' with { type: 'json' }
import { main } from '../../src/cli/index'
import { jobsText, statusText } from '../../src/cli/format'
import { streamColors, streamIo, type CliIo, type TermStream } from '../../src/cli/io'
import { displayWidth, fit, truncate } from '../../src/cli/width'
import { startFakeFleet } from '../../src/fake-comfy'
import { workflowFile } from './spawn'
import type { FleetStatus, ServerStatus } from '../../src/shared/types'

const cleanups: Array<() => Promise<unknown> | void> = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

function io(over: Partial<CliIo> = {}) {
  const out: string[] = []
  const err: string[] = []
  const value: CliIo = {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    env: {},
    isTty: false,
    interrupted: new Promise(() => {}),
    ...over
  }
  return { io: value, out, err }
}

// eslint-disable-next-line no-control-regex
const ESC = /\x1b\[/

describe('--version and help', () => {
  it('--version and -V print the package version and exit 0', async () => {
    for (const flag of ['--version', '-V']) {
      const t = io()
      expect(await main([flag], t.io)).toBe(0)
      expect(t.out).toEqual([pkg.version])
      expect(t.err).toEqual([])
    }
  })

  it("`COMMAND --help` lists that command's options only", async () => {
    const s = io()
    expect(await main(['status', '--help'], s.io)).toBe(0)
    const status = s.out.join('\n')
    expect(status).toMatch(/^Usage: comfy-balancer status/)
    expect(status).toContain('--servers')
    expect(status).toContain('--json')
    expect(status).not.toContain('--wait')
    expect(status).not.toContain('--speeds')
    const f = io()
    expect(await main(['help', 'fake-fleet'], f.io)).toBe(0)
    expect(f.out.join('\n')).toContain('--speeds')
    expect(f.out.join('\n')).not.toContain('--servers')
    const all = io()
    expect(await main(['--help'], all.io)).toBe(0)
    expect(all.out.join('\n')).toMatch(/--version/)
    expect(all.out.join('\n')).toMatch(/130 stopped with Ctrl-C \(143 for SIGTERM\)/)
  })

  it('an option the command does not take is an error (exit 2) that names it', async () => {
    for (const [args, name] of [
      [['status', '--wait', '--servers', 'http://127.0.0.1:9'], '--wait'],
      [['jobs', '--servers', 'http://127.0.0.1:9'], '--servers'],
      [['demo', '--json'], '--json'],
      [['fake-fleet', '--rounds', '2'], '--rounds']
    ] as const) {
      const t = io()
      expect(await main([...args], t.io), args.join(' ')).toBe(2)
      expect(t.err.join('\n')).toContain(`does not take ${name}`)
      expect(t.err.join('\n')).toContain(`comfy-balancer ${args[0]} --help`)
      expect(t.out).toEqual([])
    }
  })

  it('submit takes --count, --seed and --set and passes them on', async () => {
    const h = io()
    expect(await main(['submit', '--help'], h.io)).toBe(0)
    for (const o of ['--count N', '--seed', '--set NODE.INPUT=VALUE'])
      expect(h.out.join('\n')).toContain(o)
    const bad = io()
    expect(
      await main(['submit', 'x.json', '--count', '0', '--servers', 'http://127.0.0.1:9'], bad.io)
    ).toBe(2)
    expect(bad.err.join('\n')).toMatch(/--count must be a whole number from 1 to 1000/)
    const f = await startFakeFleet({ count: 2, jobMs: 50 })
    cleanups.push(() => f.stop())
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-manners-'))
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }))
    const wf = workflowFile(dir, 'wf.json')
    const t = io({ env: { COMFY_BALANCER_DATA: dir } })
    const code = await main(
      [
        'submit',
        wf,
        '--count',
        '2',
        '--seed',
        'increment',
        '--json',
        '--servers',
        f.urls.join(',')
      ],
      t.io
    )
    expect(code, t.err.join('\n')).toBe(0)
    expect(JSON.parse(t.out.join('\n')).jobs).toHaveLength(2)
  })

  it('registers serve with its own options', async () => {
    const t = io()
    expect(await main(['serve', '--help'], t.io)).toBe(0)
    expect(t.out.join('\n')).toMatch(/comfy-balancer serve/)
    expect(t.out.join('\n')).toContain('--token')
    const h = io()
    await main(['--help'], h.io)
    expect(h.out.join('\n')).toMatch(/^ {2}serve /m)
  })
})

/** A fake terminal stream. */
function stream(tty: boolean, depth = 8, columns?: number): TermStream & { text: string } {
  const s = {
    text: '',
    isTTY: tty,
    columns,
    write: (c: string) => {
      s.text += c
      return true
    },
    // What tty.WriteStream#hasColors does with its env: NO_COLOR / FORCE_COLOR / TERM=dumb.
    hasColors: tty
      ? (env?: object) => {
          const e = (env ?? {}) as NodeJS.ProcessEnv
          if (e.FORCE_COLOR !== undefined) return e.FORCE_COLOR !== '0'
          if (e.NO_COLOR !== undefined || e.TERM === 'dumb') return false
          return depth > 1
        }
      : undefined
  }
  return s
}

describe('colours', () => {
  it('ask the terminal stream (which honours NO_COLOR, FORCE_COLOR, TERM=dumb); a pipe only with FORCE_COLOR', () => {
    expect(streamColors(stream(true), { TERM: 'xterm-256color' })).toBe(true)
    expect(streamColors(stream(true), { NO_COLOR: '1', TERM: 'xterm' })).toBe(false)
    expect(streamColors(stream(true), { TERM: 'dumb' })).toBe(false)
    expect(streamColors(stream(false), { TERM: 'xterm' })).toBe(false)
    expect(streamColors(stream(false), { FORCE_COLOR: '1' })).toBe(true)
    expect(streamColors(stream(false), { FORCE_COLOR: '0' })).toBe(false)
    // The real Node streams of this (piped) test process.
    expect(streamColors(process.stdout, { NO_COLOR: '1' })).toBe(false)
  })

  it('status prints no escape sequence when colours are off, and colours the states when on', () => {
    const s = fleetStatus(['a', 'b'])
    expect(statusText(s, { color: false })).not.toMatch(ESC)
    expect(statusText(s, { color: true })).toMatch(ESC)
  })
})

describe('human lines and progress go to stderr', () => {
  it('streamIo: out to stdout; human, err and progress to stderr; progress only on a terminal', () => {
    const stdout = stream(false)
    const stderr = stream(true, 8, 40)
    const x = streamIo(new Promise(() => {}), { stdout, stderr, env: {} })
    x.progress!('[####......]  40%  running')
    x.human!('a note')
    x.out('{"result":1}')
    x.progress!(null)
    expect(stdout.text).toBe('{"result":1}\n')
    expect(stderr.text).toContain('[####......]  40%  running')
    expect(stderr.text).toContain('a note\n')
    expect(x.liveProgress).toBe(true)

    const pipeErr = stream(false)
    const quiet = streamIo(new Promise(() => {}), {
      stdout: stream(false),
      stderr: pipeErr,
      env: {}
    })
    quiet.progress!('[##] 20%')
    quiet.progress!(null)
    expect(pipeErr.text).toBe('')
    expect(quiet.liveProgress).toBe(false)
  })

  it('a progress line never wraps: it is cut to the width of the terminal', () => {
    const stderr = stream(true, 8, 30)
    const x = streamIo(new Promise(() => {}), { stdout: stream(false), stderr, env: {} })
    x.progress!(`[${'#'.repeat(60)}] 100%`)
    const drawn = stderr.text.split('\r\x1b[K').at(-1)!
    expect(displayWidth(drawn)).toBeLessThanOrEqual(29)
    expect(drawn.endsWith('…')).toBe(true)
  })

  it('watch prints its banner to stderr, so stdout is only the result', async () => {
    const f = await startFakeFleet({ count: 1, jobMs: 100 })
    cleanups.push(() => f.stop())
    const t = io()
    await main(
      ['watch', '--servers', f.urls[0]!, '--interval', '500', '--rounds', '1', '--json'],
      t.io
    )
    expect(t.err.join('\n')).toMatch(/^Watching 1 server/)
    expect(t.out.every((l) => l.startsWith('{'))).toBe(true)
  })
})

function server(i: number, name: string, over: Partial<ServerStatus> = {}): ServerStatus {
  return {
    id: `s${i}`,
    name,
    url: `http://10.0.0.${i}:8188`,
    enabled: true,
    healthy: true,
    queue: { running: 0, pending: i, total: i },
    latencyMs: 12,
    lastCheck: 1,
    error: null,
    system: null,
    etaMs: null,
    ...over
  } as ServerStatus
}

function fleetStatus(names: string[]): FleetStatus {
  const servers = names.map((n, i) => server(i + 1, n))
  return {
    servers,
    total: servers.length,
    healthy: servers.length,
    bestServerId: servers[0]!.id,
    reason: 'shortest queue',
    lastHealthCheck: 1
  } as unknown as FleetStatus
}

describe('tables line up whatever the script', () => {
  it('counts CJK and emoji as two columns, marks as none', () => {
    expect(displayWidth('abc')).toBe(3)
    expect(displayWidth('北京显卡')).toBe(8)
    expect(displayWidth('ＧＰＵ')).toBe(6)
    expect(displayWidth('gpu🔥')).toBe(5)
    expect(displayWidth('👍🏽')).toBe(2)
    expect(displayWidth('e\u0301')).toBe(1)
    expect(displayWidth('한국')).toBe(4)
  })

  it('cuts with an ellipsis within the width, never through a wide character', () => {
    expect(truncate('hello world', 8)).toBe('hello w…')
    expect(truncate('北京显卡服务器', 6)).toBe('北京…')
    expect(displayWidth(truncate('北京显卡服务器', 6))).toBeLessThanOrEqual(6)
    expect(fit('北京', 6)).toBe('北京  ')
    expect(truncate('short', 10)).toBe('short')
  })

  it('status: the URL column starts at the same column for Chinese, emoji and Latin names', () => {
    const text = statusText(fleetStatus(['北京显卡', 'gpu-1', '🔥 fast']), { color: false })
    const lines = text.split('\n').slice(1)
    const col = (l: string) => displayWidth(l.slice(0, l.indexOf('http://')))
    expect(lines.map(col)).toEqual([col(lines[0]!), col(lines[0]!), col(lines[0]!)])
    expect(lines[0]).toContain('北京显卡')
  })

  it('status: long names are cut with … and no line is wider than the terminal', () => {
    const long = '上海数据中心第三机房显卡服务器集群一号机'
    const text = statusText(fleetStatus([long, 'b']), { color: false, columns: 60 })
    for (const l of text.split('\n')) expect(displayWidth(l)).toBeLessThanOrEqual(60)
    expect(text).toContain('…')
    expect(text).toContain('上海')
  })

  it('jobs: the server column lines up and lines fit the terminal', () => {
    const row = (id: string, server: string, source: string) => ({
      id,
      state: 'done' as const,
      server,
      source,
      updatedAt: '2025-01-01T10:00:00.000Z',
      finishedAt: null,
      owner: 'cli' as const,
      runActive: false,
      pid: 1
    })
    const lines = jobsText(
      [
        row('aaaaaaaa', 'http://显卡.example:8188', '工作流程-很长的名字-非常长-真的很长.json'),
        row('bbbbbbbb', 'http://gpu:8188', 'x.json')
      ],
      { columns: 80 }
    )
    const col = (l: string) => displayWidth(l.slice(0, l.indexOf('2025-')))
    expect(col(lines[0]!)).toBe(col(lines[1]!))
    for (const l of lines) expect(displayWidth(l)).toBeLessThanOrEqual(80)
  })

  it('jobs in the CLI use that table', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-manners-'))
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }))
    const t = io({ env: { COMFY_BALANCER_DATA: dir } })
    expect(await main(['jobs'], t.io)).toBe(0)
    expect(t.out).toEqual(['No jobs.'])
  })
})

describe('watch --json', () => {
  it('prints one status --json object per line on each change, and per round with --verbose', async () => {
    const f = await startFakeFleet({ count: 2, jobMs: 100 })
    cleanups.push(() => f.stop())
    const dead = 'http://127.0.0.1:9'
    const args = ['watch', '--json', '--servers', [...f.urls, dead].join(','), '--timeout', '300']
    const quiet = io()
    expect(await main([...args, '--interval', '500', '--rounds', '3'], quiet.io)).toBe(0)
    // Nothing changes after the first round: one line.
    expect(quiet.out).toHaveLength(1)
    const first = JSON.parse(quiet.out[0]!)
    const status = io()
    await main(
      ['status', '--json', '--timeout', '300', '--servers', [...f.urls, dead].join(',')],
      status.io
    )
    const ref = JSON.parse(status.out.join('\n'))
    expect(Object.keys(first).sort()).toEqual(Object.keys(ref).sort())
    expect(Object.keys(first.servers[0]).sort()).toEqual(Object.keys(ref.servers[0]).sort())
    expect(first.healthy).toBe(2)
    expect(first.servers[2].queue).toBeNull()

    const verbose = io()
    expect(
      await main([...args, '--interval', '500', '--rounds', '3', '--verbose'], verbose.io)
    ).toBe(0)
    expect(verbose.out).toHaveLength(3)
    for (const l of verbose.out) expect(() => JSON.parse(l)).not.toThrow()
  })

  it('prints a new line when a server goes down', async () => {
    const f = await startFakeFleet({ count: 2, jobMs: 100 })
    cleanups.push(() => f.stop())
    const t = io()
    let rounds = 0
    const out = t.io.out
    t.io.out = (l) => {
      out(l)
      if (++rounds === 1) f.servers[1]!.setFault({ kind: 'refuse' })
    }
    await main(
      [
        'watch',
        '--json',
        '--servers',
        f.urls.join(','),
        '--interval',
        '500',
        '--rounds',
        '4',
        '--timeout',
        '300'
      ],
      t.io
    )
    const objs = t.out.map((l) => JSON.parse(l))
    expect(objs.length).toBeGreaterThanOrEqual(2)
    expect(objs[0].healthy).toBe(2)
    expect(objs.at(-1).healthy).toBe(1)
  })
})
