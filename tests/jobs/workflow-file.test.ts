import { execFileSync } from 'node:child_process'
import {
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { MAX_WORKFLOW_BYTES, WorkflowError } from '../../src/main/core/jobs/workflow'
import { readWorkflowFile, WORKFLOW_EXTENSIONS } from '../../src/main/core/jobs/workflow-file'
import * as shell from '../../src/main/submit'

let dir: string
let fifo: string | null = null

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'wf-file-'))
})

afterEach(() => {
  // Should a read of the FIFO still wait for a writer, open it for writing so it ends.
  if (fifo && existsSync(fifo)) {
    try {
      closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK))
    } catch {
      // no reader waits: nothing to end
    }
  }
  fifo = null
  rmSync(dir, { recursive: true, force: true })
})

async function refusal(p: Promise<unknown>): Promise<WorkflowError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e
  )
  expect(err).toBeInstanceOf(WorkflowError)
  return err as WorkflowError
}

describe('readWorkflowFile (core)', () => {
  it('reads a file by absolute or relative path', async () => {
    const file = path.join(dir, 'w.JSON')
    writeFileSync(file, '{"1": {}}')
    expect(Buffer.from(await readWorkflowFile(file)).toString()).toBe('{"1": {}}')
    const rel = path.relative(process.cwd(), file)
    expect(path.isAbsolute(rel)).toBe(false)
    expect(Buffer.from(await readWorkflowFile(rel)).toString()).toBe('{"1": {}}')
    expect(WORKFLOW_EXTENSIONS).toEqual(['json', 'png'])
  })

  it('reads a file of exactly the limit and refuses one byte more', async () => {
    const file = path.join(dir, 'w.json')
    writeFileSync(file, 'x'.repeat(100))
    expect((await readWorkflowFile(file, { maxBytes: 100 })).byteLength).toBe(100)
    const err = await refusal(readWorkflowFile(file, { maxBytes: 99 }))
    expect(err.message).toMatch(/^w\.json: the file is too large/)
  })

  it('refuses a 1.5 GB file from its size, without reading it', async () => {
    const big = path.join(dir, 'big.png')
    writeFileSync(big, '')
    truncateSync(big, 1.5 * 1024 * 1024 * 1024)
    const err = await refusal(readWorkflowFile(big))
    expect(err.message).toBe(
      `big.png: the file is too large (1536.0 MB; the limit is ${MAX_WORKFLOW_BYTES / 1024 / 1024}.0 MB). Choose the workflow file itself (.json or a ComfyUI .png).`
    )
  })

  it('reads at most the limit from a file whose size says 0 (/proc)', async () => {
    const link = path.join(dir, 'maps.json')
    symlinkSync('/proc/self/maps', link)
    // Its size says 0, its content is longer: the whole of it is read...
    const all = await readWorkflowFile(link)
    expect(all.byteLength).toBeGreaterThan(200)
    // ...unless it is longer than the limit, which reading finds out, not the size.
    const err = await refusal(readWorkflowFile(link, { maxBytes: 100 }))
    expect(err.message).toMatch(/^maps\.json: the file is too large \(more than 0\.0 MB/)
  })

  it('refuses a device and a folder without reading', async () => {
    const zero = path.join(dir, 'zero.json')
    symlinkSync('/dev/zero', zero)
    expect((await refusal(readWorkflowFile(zero))).message).toBe(
      'zero.json: this is not a file (a device or a pipe). Choose a .json or .png workflow file.'
    )
    mkdirSync(path.join(dir, 'folder.png'))
    expect((await refusal(readWorkflowFile(path.join(dir, 'folder.png')))).message).toMatch(
      /^folder\.png: this is not a file but a folder\. Choose/
    )
  })

  it('refuses a FIFO without waiting for a writer', async () => {
    fifo = path.join(dir, 'pipe.json')
    execFileSync('mkfifo', [fifo])
    expect((await refusal(readWorkflowFile(fifo))).message).toMatch(
      /^pipe\.json: this is not a file \(a device or a pipe\)/
    )
  }, 5000)

  it('names the file and says what to do', async () => {
    expect((await refusal(readWorkflowFile(path.join(dir, 'gone.json')))).message).toBe(
      'gone.json: the file does not exist. Check its name and folder.'
    )
    // What is wrong and what to do stay apart, for faces that translate the problem.
    const gone = await refusal(readWorkflowFile(path.join(dir, 'gone.json')))
    expect([gone.source, gone.problem, gone.advice]).toEqual([
      'gone.json',
      'the file does not exist',
      'Check its name and folder.'
    ])
    expect((await refusal(readWorkflowFile('/etc/passwd'))).message).toMatch(
      /^passwd: only \.json and \.png workflows can be submitted\. In ComfyUI use "Export \(API\)"/
    )
  })
})

describe('readWorkflowFile (shell)', () => {
  it('keeps the absolute-path rule and reads boundedly through the core', async () => {
    expect(shell.WORKFLOW_EXTENSIONS).toBe(WORKFLOW_EXTENSIONS)
    const err = await refusal(shell.readWorkflowFile('w.json'))
    expect(err.message).toMatch(/^w\.json: the path must be absolute.*Choose the file again\./)
    const link = path.join(dir, 'maps.json')
    symlinkSync('/proc/self/maps', link)
    await refusal(shell.readWorkflowFile(link, { maxBytes: 100 }))
    const zero = path.join(dir, 'zero.png')
    symlinkSync('/dev/zero', zero)
    expect((await refusal(shell.readWorkflowFile(zero))).message).toMatch(/not a file/)
  })
})
