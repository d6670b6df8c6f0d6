/**
 * Submitting a workflow the user picked (tray file dialog, or the window through `jobs:submit`):
 * read it safely, load it with the core's `loadWorkflowBytes` (the schema for workflow files),
 * and hand it to the job engine. Plain Node: no Electron.
 */
import path from 'node:path'
import { WorkflowError, loadWorkflowBytes, type LoadedWorkflow } from './core/app'
import {
  readWorkflowFile as readWorkflowFileCore,
  WORKFLOW_EXTENSIONS,
  type ReadWorkflowFileOptions
} from './core/app'
import type { JobEngine } from './core/app'
import type { JobRecord } from '../shared/types'
import type { JobSubmitRequest } from '../shared/ipc'

export { WORKFLOW_EXTENSIONS }

/**
 * Reads a workflow file the shell was handed. Only absolute paths are taken (a path from the
 * window is never resolved against the app's working folder); the rest, regular `.json`/`.png`
 * files up to the core's size limit read boundedly, is the core's `readWorkflowFile`.
 * Throws `WorkflowError` with the reason as a code (and in English).
 */
export async function readWorkflowFile(
  file: string,
  options?: ReadWorkflowFileOptions
): Promise<Uint8Array> {
  if (!path.isAbsolute(file)) {
    throw new WorkflowError(path.basename(file), { code: 'not-absolute' })
  }
  return readWorkflowFileCore(file, options)
}

/** Turns a file's bytes into a workflow: the core's loader (which converts UI-format files). */
export type WorkflowLoader = (bytes: Uint8Array, source: string) => Promise<LoadedWorkflow>

const plainLoader: WorkflowLoader = async (bytes, source) => loadWorkflowBytes(bytes, source)

/** Loads and submits one workflow; returns the journaled job. Throws `WorkflowError` and the engine's errors. */
export async function submitWorkflow(
  jobs: Pick<JobEngine, 'submit'>,
  request: JobSubmitRequest,
  load: WorkflowLoader = plainLoader
): Promise<JobRecord> {
  const serverId = request.serverId ?? null
  if ('path' in request) {
    const bytes = await readWorkflowFile(request.path)
    const wf = await load(bytes, path.basename(request.path))
    return jobs.submit(wf, { serverId, baseDir: path.dirname(request.path) })
  }
  const wf = await load(request.bytes, request.name)
  return jobs.submit(wf, { serverId })
}
