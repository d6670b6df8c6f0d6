/**
 * The HTTP transport the core talks through, with one keep-alive agent per server so requests
 * reuse one TCP connection round after round. The frequent checks and every other GET go over
 * Node's own http/https (lean: nothing but the exchange); a submit, an upload (POST) and an
 * output download go through axios on the same agents. Tests and simulators can hand in their
 * own transport.
 *
 * A server is not trusted: redirects to another address are never followed (they would carry
 * the server's auth header or the prompt elsewhere), bodies are capped, every request has one
 * hard deadline, and downloads stream to disk with a stall timeout instead of a total one.
 */
import fs from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import { Transform } from 'node:stream'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { AxiosInstance, AxiosResponse } from 'axios'
import { ComfyRequestError, classifyError, httpError, saidError } from './errors'
import { REDIRECT_STATUS, parseUrl, redirectTarget } from './redirects'
import {
  answer,
  axiosLimit,
  contentTypeOf,
  declaredLength,
  header,
  isFsError,
  readAll,
  tooLarge
} from './transport-body'
import {
  MAX_DOWNLOAD_BYTES,
  MAX_REQUEST_BYTES,
  MAX_RESPONSE_BYTES,
  type HttpRequest,
  type HttpResponse,
  type HttpTransport
} from './transport-types'

export * from './transport-types'
export { displayUrl } from './redirects'
export { formatSize } from './transport-body'

/** How long an idle keep-alive connection is kept open between check rounds. */
const KEEP_ALIVE_MS = 60_000

export function createHttpTransport(): HttpTransport {
  const httpAgent = new http.Agent({
    keepAlive: true,
    keepAliveMsecs: KEEP_ALIVE_MS,
    maxSockets: 6
  })
  // Made on first use: most servers of a watched fleet only ever see checks, and a large
  // fleet would pay for an agent and an axios instance per server it never uses.
  let httpsAgentMade: https.Agent | null = null
  const httpsAgent = (): https.Agent =>
    (httpsAgentMade ??= new https.Agent({
      keepAlive: true,
      keepAliveMsecs: KEEP_ALIVE_MS,
      maxSockets: 6
    }))
  // Redirects are followed by `openAxios` (same origin only), never by axios itself; the
  // deadline is the caller's AbortSignal, so axios's own timeout stays off. axios is loaded on
  // the first submit, upload or download: loading it costs a CLI command or a watch of checks
  // alone about a tenth of a second of CPU.
  let axMade: Promise<AxiosInstance> | null = null
  const ax = (): Promise<AxiosInstance> =>
    (axMade ??= import('axios').then(({ default: axios }) =>
      axios.create({
        adapter: 'http',
        httpAgent,
        httpsAgent: httpsAgent(),
        proxy: false,
        maxRedirects: 0,
        timeout: 0,
        validateStatus: () => true,
        responseType: 'stream',
        decompress: true,
        maxBodyLength: MAX_REQUEST_BYTES,
        maxContentLength: MAX_RESPONSE_BYTES
      })
    ))

  /**
   * The axios path: one exchange per hop (axios follows nothing), the same same-origin
   * redirect rule as `open`. `data` is sent again unchanged on a 307/308; a FormData is
   * encoded by axios each time, so the same fields and file go again.
   */
  async function openAxios(
    method: 'GET' | 'POST',
    rawUrl: string,
    headers: Record<string, string>,
    data: Buffer | FormData | undefined,
    maxContentLength: number,
    signal: AbortSignal
  ): Promise<AxiosResponse<Readable>> {
    let url = parseUrl(rawUrl)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ComfyRequestError('network', `Not an http or https address: ${url.protocol}`)
    }
    const origin = url.origin
    for (let hop = 0; ; hop++) {
      const res = await (
        await ax()
      ).request<Readable>({
        method,
        url: url.href,
        headers,
        data,
        maxContentLength,
        signal
      })
      const location = header(res.headers, 'location')
      if (!REDIRECT_STATUS.has(res.status) || !location) return res
      discard(res)
      url = redirectTarget(method, res.status, location, url, origin, hop)
    }
  }

  /** Drops an answer whose body is of no use, with its connection (a hostile one could be endless). */
  function discard(res: AxiosResponse<Readable>): void {
    res.data.destroy()
    const req = res.request as { destroy?: () => void } | undefined
    req?.destroy?.()
  }

  /** POST through axios: the body once, the same bytes on each same-address hop. */
  async function post(req: HttpRequest, max: number, signal: AbortSignal): Promise<HttpResponse> {
    const headers = { ...(req.headers ?? {}) }
    let data: Buffer | FormData | undefined
    if (req.form) {
      // axios writes the multipart type with its boundary.
      for (const k of Object.keys(headers)) {
        if (k.toLowerCase() === 'content-type') delete headers[k]
      }
      data = req.form
    } else if (req.body !== undefined) {
      const hasType = Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')
      if (!hasType) headers['Content-Type'] = 'application/json'
      data = Buffer.from(JSON.stringify(req.body), 'utf8')
    }
    const res = await openAxios('POST', req.url, headers, data, max, signal)
    let body: Buffer
    try {
      body = await readAll(res.data, declaredLength(res.headers), max, signal)
    } catch (err) {
      // Destroying axios's body stream alone leaves a silent connection open.
      discard(res)
      throw err
    }
    return answer(res.status, contentTypeOf(res.headers), body, req.binary)
  }

  /**
   * A GET in one piece over node:http: the request, same-origin redirects and the body under
   * its cap, ended by one timer (no AbortController, no promise per step: the checks of a
   * large fleet are mostly this, and each layer costs every check).
   */
  function get(req: HttpRequest, max: number): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
      let current: http.ClientRequest | null = null
      let done = false
      const fail = (err: unknown): void => {
        if (done) return
        done = true
        clearTimeout(timer)
        current?.destroy()
        reject(err instanceof ComfyRequestError ? err : classifyError(err, req.timeoutMs))
      }
      // The error (and its stack) is made only when it happens.
      const timer = setTimeout(
        () => fail(saidError({ code: 'timeout', ms: req.timeoutMs })),
        Math.max(1, req.timeoutMs)
      )
      let url: URL
      try {
        url = parseUrl(req.url)
      } catch (err) {
        fail(err)
        return
      }
      const origin = url.origin
      let hop = 0
      const send = (u: URL): void => {
        const secure = u.protocol === 'https:'
        if (!secure && u.protocol !== 'http:') {
          fail(new ComfyRequestError('network', `Not an http or https address: ${u.protocol}`))
          return
        }
        const r = (secure ? https : http).request(u, {
          method: 'GET',
          headers: req.headers,
          agent: secure ? httpsAgent() : httpAgent
        })
        current = r
        r.once('error', fail)
        r.once('response', (res) => {
          if (done) {
            res.destroy()
            return
          }
          const status = res.statusCode ?? 0
          const location = res.headers.location
          if (REDIRECT_STATUS.has(status) && location) {
            // Its body is of no use; a hostile one could be endless.
            res.destroy()
            let next: URL
            try {
              next = redirectTarget('GET', status, location, u, origin, hop++)
            } catch (err) {
              fail(err)
              return
            }
            send(next)
            return
          }
          const announced = declaredLength(res.headers)
          if (announced !== null && announced > max) {
            fail(tooLarge('answer', max))
            return
          }
          const chunks: Buffer[] = []
          let total = 0
          res.on('data', (chunk: Buffer) => {
            total += chunk.length
            if (total > max) fail(tooLarge('answer', max))
            else chunks.push(chunk)
          })
          res.once('end', () => {
            if (done) return
            done = true
            clearTimeout(timer)
            const body = Buffer.concat(chunks, total)
            resolve(answer(status, contentTypeOf(res.headers), body, req.binary))
          })
          res.once('error', fail)
          // Every body closes after its end: one that closed before is a connection cut.
          res.once('close', () => {
            if (!done) fail(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }))
          })
        })
        r.end()
      }
      send(url)
    })
  }

  return {
    async request(req) {
      const max = req.maxBytes ?? MAX_RESPONSE_BYTES
      // A GET carries no body (see HttpRequest): the lean path.
      if (req.method === 'GET') return get(req, max)
      const deadline = new AbortController()
      // Made only when it happens: an error (and its stack) per request costs every check.
      const timeout = () => saidError({ code: 'timeout', ms: req.timeoutMs })
      const timer = setTimeout(() => deadline.abort(timeout()), Math.max(1, req.timeoutMs))
      try {
        return await post(req, max, deadline.signal)
      } catch (err) {
        if (deadline.signal.aborted) throw deadline.signal.reason ?? timeout()
        if (err instanceof ComfyRequestError) throw err
        throw axiosLimit(err, 'answer', max) ?? classifyError(err, req.timeoutMs)
      } finally {
        clearTimeout(timer)
      }
    },

    async download(req, opts) {
      const max = opts.maxBytes ?? MAX_DOWNLOAD_BYTES
      const ctl = new AbortController()
      const stalled = new ComfyRequestError(
        'timeout',
        `The download stalled: nothing arrived for ${opts.idleTimeoutMs} ms`
      )
      const stopped = new ComfyRequestError('network', 'The download was stopped')
      let idle: ReturnType<typeof setTimeout> | undefined
      const arm = () => {
        clearTimeout(idle)
        idle = setTimeout(() => ctl.abort(stalled), Math.max(1, opts.idleTimeoutMs))
      }
      const onStop = () => ctl.abort(stopped)
      if (opts.signal?.aborted) throw stopped
      opts.signal?.addEventListener('abort', onStop, { once: true })
      const part = `${opts.destFile}.${process.pid}-${++partCounter}.part`
      let writeError: unknown = null
      let created = false
      let res: AxiosResponse<Readable> | undefined
      try {
        arm()
        res = await openAxios(
          'GET',
          req.url,
          { ...(req.headers ?? {}) },
          undefined,
          max,
          ctl.signal
        )
        const status = res.status
        const contentType = contentTypeOf(res.headers)
        if (status < 200 || status >= 300) {
          discard(res)
          throw httpError(status, contentType)
        }
        const announced = declaredLength(res.headers)
        if (announced !== null && announced > max) {
          discard(res)
          throw tooLarge('file', max)
        }
        let bytes = 0
        const counter = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            arm()
            bytes += chunk.length
            if (bytes > max) {
              cb(tooLarge('file', max))
              return
            }
            opts.onProgress?.(bytes, announced)
            cb(null, chunk)
          }
        })
        // Opened before streaming, so a failure can never leave a file created after its removal.
        const fh = await fs.promises.open(part, 'wx')
        created = true
        const out = fh.createWriteStream()
        out.once('error', (e) => {
          writeError = e
        })
        // A body cut short of its Content-Length fails in the HTTP parser, compressed or not.
        await pipeline(res.data, counter, out, { signal: ctl.signal })
        await fs.promises.rename(part, opts.destFile)
        created = false
        return { bytes, contentType }
      } catch (err) {
        if (res) discard(res)
        if (ctl.signal.aborted) throw ctl.signal.reason
        if (writeError) throw writeError
        if (err instanceof ComfyRequestError) throw err
        if (isFsError(err)) throw err
        throw axiosLimit(err, 'file', max) ?? classifyError(err, opts.idleTimeoutMs)
      } finally {
        clearTimeout(idle)
        opts.signal?.removeEventListener('abort', onStop)
        if (created) await fs.promises.rm(part, { force: true }).catch(() => undefined)
      }
    },

    close() {
      httpAgent.destroy()
      httpsAgentMade?.destroy()
    }
  }
}

let partCounter = 0

/** The default transport (kept under its former name for callers that use it). */
export const createAxiosTransport = createHttpTransport
