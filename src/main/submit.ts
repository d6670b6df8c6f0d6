/**
 * Submitting a workflow the user picked (tray file dialog, or the window through `jobs:submit`):
 * read it safely, load it with the core's `loadWorkflowBytes` (the schema for workflow files),
 * and hand it to the job engine. Plain Node: no Electron.
 */
import { open } from 'node:fs/promises'
import path from 'node:path'
import { WorkflowError, loadWorkflowBytes, MAX_WORKFLOW_BYTES } from './core/jobs/workflow'
import type { JobEngine } from './core/jobs/engine'
import type { JobRecord } from '../shared/types'
import type { JobSubmitRequest } from '../shared/ipc'

/** The file types a workflow comes in (ComfyUI's API-format JSON, or a PNG it saved). */
export const WORKFLOW_EXTENSIONS = ['json', 'png'] as const

/**
 * Reads a workflow file. Only absolute paths to regular `.json`/`.png` files up to the core's
 * size limit are read: a path from the window is never a way to read anything else.
 * Throws `WorkflowError` with a reason a person understands.
 */
export async function readWorkflowFile(file: string): Promise<Uint8Array> {
  const name = path.basename(file)
  if (!path.isAbsolute(file)) throw new WorkflowError(name, 'the path must be absolute')
  const ext = path.extname(file).slice(1).toLowerCase()
  if (!(WORKFLOW_EXTENSIONS as readonly string[]).includes(ext)) {
    throw new WorkflowError(name, 'only .json and .png workflows can be submitted')
  }
  let handle
  try {
    handle = await open(file, 'r')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new WorkflowError(
      name,
      code === 'ENOENT' ? 'the file does not exist' : `the file cannot be read (${code ?? 'error'})`
    )
  }
  try {
    const stat = await handle.stat()
    if (!stat.isFile()) throw new WorkflowError(name, 'this is not a file')
    if (stat.size > MAX_WORKFLOW_BYTES) {
      throw new WorkflowError(
        name,
        `the file is too large (${(stat.size / 1024 / 1024).toFixed(1)} MB; the limit is ${MAX_WORKFLOW_BYTES / 1024 / 1024} MB)`
      )
    }
    return await handle.readFile()
  } finally {
    await handle.close()
  }
}

/** Loads and submits one workflow; returns the journaled job. Throws `WorkflowError` and the engine's errors. */
export async function submitWorkflow(
  jobs: Pick<JobEngine, 'submit'>,
  request: JobSubmitRequest
): Promise<JobRecord> {
  const serverId = request.serverId ?? null
  if ('path' in request) {
    const bytes = await readWorkflowFile(request.path)
    const wf = loadWorkflowBytes(bytes, path.basename(request.path))
    return jobs.submit(wf, { serverId, baseDir: path.dirname(request.path) })
  }
  const wf = loadWorkflowBytes(request.bytes, request.name)
  return jobs.submit(wf, { serverId })
}
