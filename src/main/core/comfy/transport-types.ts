/**
 * The shapes the HTTP transport speaks in: a request and its answer, a download to a file and
 * its result, the transport itself, and the limits it keeps (largest answer, file and request
 * body, same-address redirects followed). Plain types and numbers, so test transports and
 * simulators can use them without the Node http code.
 */
export interface HttpRequest {
  method: 'GET' | 'POST'
  /** Absolute URL. */
  url: string
  headers?: Record<string, string>
  /** JSON-serialisable body for POST. */
  body?: unknown
  /** Multipart body for POST (uploads); takes precedence over `body`. */
  form?: FormData
  /** Keep the raw bytes in `bytes` (small files such as input images). */
  binary?: boolean
  /** Largest body accepted; MAX_RESPONSE_BYTES when not set. */
  maxBytes?: number
  /** Hard deadline for the whole request (redirects and body included) in ms. */
  timeoutMs: number
}

export interface HttpResponse {
  status: number
  contentType: string | undefined
  /** Raw body text; parsing is the caller's job so a non-JSON answer can be reported as such. */
  text: string
  /** Raw bytes, when the request asked for `binary`. */
  bytes?: Buffer
}

/** A GET whose body goes to a file. */
export interface DownloadRequest {
  /** Absolute URL. */
  url: string
  headers?: Record<string, string>
}

export interface DownloadOptions {
  /** The finished file; the body is written next to it under a temporary name first. */
  destFile: string
  /** Fails when no byte arrives for this long (not a deadline for the whole file). */
  idleTimeoutMs: number
  /** Largest file accepted; MAX_DOWNLOAD_BYTES when not set. */
  maxBytes?: number
  /** Bytes written so far, and the announced size when the server sent one. */
  onProgress?: (bytes: number, total: number | null) => void
  /** Stops the download (quit, cancel). */
  signal?: AbortSignal
}

export interface DownloadResult {
  bytes: number
  contentType: string | undefined
}

export interface HttpTransport {
  request(req: HttpRequest): Promise<HttpResponse>
  /**
   * Streams a GET to `destFile`: renamed into place only when complete, removed on any failure.
   * Server-side failures are ComfyRequestErrors (`http` for non-2xx, `timeout` for a stall,
   * `too-large`, `redirect`, `network`); a file system failure is passed on as it is.
   * Optional so simple test transports need not implement it (the client then buffers).
   */
  download?(req: DownloadRequest, opts: DownloadOptions): Promise<DownloadResult>
  /** Closes keep-alive connections (and ends requests in flight). Safe to call twice. */
  close(): void
}

/** Largest body accepted from a server (a full /queue can carry many workflows). */
export const MAX_RESPONSE_BYTES = 64 * 1024 * 1024

/** Largest output file downloaded from /view. */
export const MAX_DOWNLOAD_BYTES = 1024 * 1024 * 1024

/** Largest request body sent (a workflow, an input image or video to upload). */
export const MAX_REQUEST_BYTES = 1024 * 1024 * 1024

/** Same-address redirects followed per request, at most. */
export const MAX_REDIRECTS = 3
