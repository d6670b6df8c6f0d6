/**
 * The wire of the gateway's own small API (`balancer-api.ts`): its names, version, limits and
 * the small readers and refusals its routes share.
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import path from 'node:path'
import { sendJson } from './http'

/** The version of this API; a client that knows another one must not use it. */
export const BALANCER_API_VERSION = 1
/** What `/balancer/v1/info` names the app (a ComfyUI or another program never says this). */
export const BALANCER_APP = 'comfy-balancer'
/** The header every answer of this API carries: the API version. */
export const BALANCER_HEADER = 'X-Comfy-Balancer-Api'
export const BALANCER_PREFIX = '/balancer/v1/'

/**
 * Which data folder an app keeps its journal in, as a key that does not show the path: a CLI
 * goes through the app only when it is the app of the CLI's own data folder (the same journal).
 */
export function dataFolderKey(dir: string): string {
  let real = path.resolve(dir)
  try {
    real = fs.realpathSync.native(real)
  } catch {
    // not there (yet): the path as given
  }
  if (process.platform === 'win32' || process.platform === 'darwin') real = real.toLowerCase()
  return createHash('sha256').update(`comfy-balancer data\n${real}`).digest('hex').slice(0, 32)
}

/** Jobs listed per request at most (the newest). */
export const MAX_LISTED_JOBS = 5_000
/** Longest a GET waits for a change of the jobs it asks about. */
export const MAX_CHANGE_WAIT_MS = 25_000
/** A refusal with a code the client can act on and a message for a person. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string
  ) {
    super(message)
  }
}

export function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string
): void {
  sendJson(res, status, { error: { code, message } })
}

/** True for a peer on this machine (a local folder may then be named for input images). */
export function loopbackPeer(req: IncomingMessage): boolean {
  const a = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '')
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a)
}

export function intParam(url: URL, name: string, min: number, max: number): number | undefined {
  const raw = url.searchParams.get(name)
  if (raw === null) return undefined
  if (!/^\d{1,16}$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ApiError(400, 'bad-option', `${name} must be a whole number from ${min} to ${max}`)
  }
  return Number(raw)
}

/** A job id or a unique start of one (4 characters at least), as the CLI takes them. */
export function matches(jobId: string, given: string): boolean {
  const want = given.trim().toLowerCase()
  return jobId === given || jobId === want || (want.length >= 4 && jobId.startsWith(want))
}
