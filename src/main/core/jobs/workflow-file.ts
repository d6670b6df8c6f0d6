/**
 * Reading a workflow file from disk, for every face (the tray app, the window, the CLI). Only
 * regular `.json`/`.png` files are read, and never more than the size limit plus one byte, so a
 * huge file, a device, a FIFO or a file that grows while read is refused quickly and without
 * filling memory. Plain Node.
 */
import { constants } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { MAX_WORKFLOW_BYTES, WorkflowError } from './workflow'

/** The file types a workflow comes in (ComfyUI's API-format JSON, or a PNG it saved). */
export const WORKFLOW_EXTENSIONS = ['json', 'png'] as const

export interface ReadWorkflowFileOptions {
  /** Largest file read, in bytes. @default MAX_WORKFLOW_BYTES */
  maxBytes?: number
}

/** Bytes asked of the file per read. */
const READ_SIZE = 1024 * 1024

function tooLarge(name: string, size: number | null, max: number): WorkflowError {
  return new WorkflowError(name, { code: 'too-large', bytes: size, limitBytes: max })
}

function notAFile(name: string, folder: boolean): WorkflowError {
  return new WorkflowError(name, { code: 'not-a-file', folder })
}

function cannotRead(name: string, why: string): WorkflowError {
  return new WorkflowError(name, { code: 'unreadable', detail: why })
}

/**
 * Reads a workflow file (absolute or relative to the working folder). Throws `WorkflowError`,
 * naming the file, with a reason a person understands and what to do.
 */
export async function readWorkflowFile(
  file: string,
  options: ReadWorkflowFileOptions = {}
): Promise<Uint8Array> {
  const max = options.maxBytes ?? MAX_WORKFLOW_BYTES
  const name = path.basename(file)
  const ext = path.extname(file).slice(1).toLowerCase()
  if (!(WORKFLOW_EXTENSIONS as readonly string[]).includes(ext)) {
    throw new WorkflowError(name, { code: 'wrong-type' })
  }
  let handle: FileHandle
  try {
    // Non-blocking, so opening a FIFO does not wait for a writer (it is refused below).
    handle = await open(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0))
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new WorkflowError(name, { code: 'missing' })
    if (code === 'EISDIR') throw notAFile(name, true)
    throw cannotRead(name, code ?? (err as Error).message)
  }
  try {
    const stat = await handle.stat()
    if (!stat.isFile()) {
      throw notAFile(name, stat.isDirectory())
    }
    if (stat.size > max) throw tooLarge(name, stat.size, max)
    // The size can be wrong (a file that grows, /proc files say 0): read at most max + 1 bytes.
    const chunks: Buffer[] = []
    let total = 0
    for (;;) {
      const want = Math.min(READ_SIZE, max + 1 - total)
      const buf = Buffer.allocUnsafe(want)
      const { bytesRead } = await handle.read(buf, 0, want, null)
      if (bytesRead === 0) break
      chunks.push(bytesRead === want ? buf : buf.subarray(0, bytesRead))
      total += bytesRead
      if (total > max) throw tooLarge(name, null, max)
    }
    return Buffer.concat(chunks, total)
  } catch (err) {
    if (err instanceof WorkflowError) throw err
    const code = (err as NodeJS.ErrnoException).code
    throw cannotRead(name, code ?? (err as Error).message)
  } finally {
    await handle.close()
  }
}
