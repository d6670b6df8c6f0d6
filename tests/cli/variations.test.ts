/**
 * `submit FILE --count N --seed MODE --set NODE.INPUT=VALUE`: one workflow, N runs over a fake
 * fleet on 127.0.0.1, as one batch.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { CliIo } from '../../src/cli/io'
import { submitCommand, type SubmitArgs } from '../../src/cli/submit'
import { parseSettings, serversFromUrls } from '../../src/main/core/settings'
import { startFakeFleet, type FakeFleet } from '../../src/fake-comfy'

const FIXTURE = path.join(import.meta.dirname, '..', 'fixtures', 'txt2img.json')
const FILE_SEED = 156680208700286

const cleanups: Array<() => Promise<unknown> | void> = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-cli-var-'))
  cleanups.push(() => fs.rmSync(d, { recursive: true, force: true }))
  return d
}

function io(dataDir: string) {
  const out: string[] = []
  const err: string[] = []
  const human: string[] = []
  const value: CliIo = {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    human: (l) => human.push(l),
    env: { COMFY_BALANCER_DATA: dataDir },
    isTty: false,
    interrupted: new Promise(() => {})
  }
  return { io: value, out, err, human }
}

async function fleet(count: number): Promise<FakeFleet> {
  const f = await startFakeFleet({ count, jobMs: 120 })
  cleanups.push(() => f.stop())
  return f
}

function args(f: FakeFleet, dir: string, more: Partial<SubmitArgs>): SubmitArgs {
  const { servers } = serversFromUrls(f.urls)
  return {
    file: FIXTURE,
    settings: parseSettings({ servers, healthCheckInterval: 1000, timeout: 2000 }).settings,
    wait: true,
    json: true,
    out: path.join(dir, 'out'),
    queueTimeoutMs: 10_000,
    ...more
  }
}

type Inputs = Record<string, { inputs: Record<string, unknown> }>

/** The prompt a fake server ran for this id. */
function ranPrompt(f: FakeFleet, id: string): Inputs {
  const s = f.servers.find((x) => x.historyEntry(id))
  if (!s) throw new Error(`no server ran ${id}`)
  return s.historyEntry(id)!.prompt[2] as Inputs
}

interface BatchJson {
  batchId: string
  jobs: Array<{
    promptId: string
    index: number
    server: string
    status: string
    outputs: string[]
  }>
}

describe('submit --count', () => {
  it('nine runs with random seeds and an edited text use all three servers and save nine outputs', async () => {
    const f = await fleet(3)
    const dir = tmp()
    const t = io(dir)
    const code = await submitCommand(
      args(f, dir, {
        count: 9,
        seed: 'random',
        sets: ['6.text=a red fox in the snow']
      }),
      t.io
    )
    expect(t.err).toEqual([])
    expect(code).toBe(0)
    expect(t.out).toHaveLength(1)
    const batch = JSON.parse(t.out[0]!) as BatchJson
    expect(batch.batchId).toMatch(/^[0-9a-f-]{36}$/)
    expect(batch.jobs.map((j) => j.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8])
    expect(batch.jobs.map((j) => j.status)).toEqual(Array(9).fill('done'))
    expect(new Set(batch.jobs.map((j) => j.server))).toEqual(new Set(f.urls))
    const prompts = batch.jobs.map((j) => ranPrompt(f, j.promptId))
    expect(new Set(prompts.map((p) => p['3']!.inputs.seed)).size).toBe(9)
    for (const p of prompts) expect(p['6']!.inputs.text).toBe('a red fox in the snow')
    const outputs = batch.jobs.flatMap((j) => j.outputs)
    expect(new Set(outputs).size).toBe(9)
    for (const o of outputs) expect(fs.existsSync(o)).toBe(true)
    // Each ran once in the whole fleet.
    for (const j of batch.jobs) {
      expect(f.servers.reduce((n, s) => n + s.executionCount(j.promptId), 0)).toBe(1)
    }
  })

  it('--seed increment gives consecutive seeds from the file’s, and progress n/N done', async () => {
    const f = await fleet(2)
    const dir = tmp()
    const t = io(dir)
    const code = await submitCommand(
      args(f, dir, { count: 3, seed: 'increment', json: false }),
      t.io
    )
    expect(code).toBe(0)
    expect(t.human).toEqual(
      expect.arrayContaining(['1/3 done', '2/3 done', '3/3 done', expect.stringMatching(/^Batch /)])
    )
    expect(t.out.at(-1)).toMatch(/^Batch [0-9a-f-]{36}: 3\/3 done$/)
    const ids = t.out
      .map((l) => /^([0-9a-f]{8}) \(txt2img\.json\): Done/.exec(l)?.[1])
      .filter(Boolean)
    expect(ids).toHaveLength(3)
    const seeds = f.servers
      .flatMap((s) => s.historyIds().map((id) => s.historyEntry(id)!.prompt[2] as Inputs))
      .map((p) => p['3']!.inputs.seed)
      .sort()
    expect(seeds).toEqual([FILE_SEED, FILE_SEED + 1, FILE_SEED + 2])
  })

  it('one run with --set keeps the single-job JSON and sends the edit, typed by object_info', async () => {
    const f = await fleet(1)
    const dir = tmp()
    const t = io(dir)
    const code = await submitCommand(
      args(f, dir, { sets: ['Empty Latent Image.width=768', '3.cfg=6.5'] }),
      t.io
    )
    expect(code).toBe(0)
    const job = JSON.parse(t.out[0]!) as { promptId: string; status: string; index?: number }
    expect(job.status).toBe('done')
    expect(job.index).toBeUndefined()
    const p = ranPrompt(f, job.promptId)
    expect(p['5']!.inputs.width).toBe(768)
    expect(p['3']!.inputs.cfg).toBe(6.5)
    expect(p['3']!.inputs.seed).toBe(FILE_SEED)
  })

  it('refuses bad flags and edits with exit 2, naming the node and input, sending nothing', async () => {
    const f = await fleet(1)
    const dir = tmp()
    const cases: Array<[Partial<SubmitArgs>, RegExp]> = [
      [{ count: 0 }, /--count must be a whole number from 1 to 1000/],
      [{ count: 1001 }, /--count must be a whole number from 1 to 1000/],
      [{ count: 2, seed: 'sometimes' }, /--seed must be random, increment or fixed/],
      [{ sets: ['6text=x'] }, /--set needs NODE\.INPUT=VALUE/],
      [{ sets: ['CLIP Text Encode (Prompt).text=x'] }, /is on nodes 6, 7: use the node id/],
      [{ sets: ['3.steps=many'] }, /node 3 \(KSampler\) input "steps" needs a whole number/],
      [{ sets: ['3.sampler_name=nope'] }, /input "sampler_name": "nope" is not one of the choices/]
    ]
    for (const [more, message] of cases) {
      const t = io(dir)
      expect(await submitCommand(args(f, dir, { count: 2, ...more }), t.io)).toBe(2)
      expect(t.err.join('\n')).toMatch(message)
    }
    expect(f.servers[0]!.historyIds()).toEqual([])
  })
})
