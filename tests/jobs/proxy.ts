/**
 * A programmable proxy in front of a fake ComfyUI, for hostile cases the server itself would
 * not produce: a hook may answer a request itself (and still forward it later), everything
 * else, WebSocket upgrades included, is passed through untouched.
 */
import http from 'node:http'
import net from 'node:net'

export interface ProxyRequest {
  method: string
  path: string
  body: Buffer
}

/** Return true when the hook answered the request itself. */
export type ProxyHook = (
  req: ProxyRequest,
  res: http.ServerResponse,
  forward: () => Promise<{ status: number; body: Buffer }>
) => boolean | Promise<boolean>

export interface Proxy {
  url: string
  hook: ProxyHook | null
  close(): Promise<void>
}

export async function startProxy(target: string): Promise<Proxy> {
  const t = new URL(target)
  const sockets = new Set<net.Socket>()
  const proxy: Proxy = { url: '', hook: null, close: async () => undefined }
  const forwardRaw = (req: ProxyRequest, headers: http.IncomingHttpHeaders) =>
    new Promise<{ status: number; body: Buffer; headers: http.IncomingHttpHeaders }>(
      (resolve, reject) => {
        const out = http.request(
          {
            host: t.hostname,
            port: t.port,
            method: req.method,
            path: req.path,
            headers: { ...headers, host: t.host }
          },
          (r) => {
            const chunks: Buffer[] = []
            r.on('data', (c: Buffer) => chunks.push(c))
            r.on('end', () =>
              resolve({
                status: r.statusCode ?? 502,
                body: Buffer.concat(chunks),
                headers: r.headers
              })
            )
            r.on('error', reject)
          }
        )
        out.on('error', reject)
        out.end(req.body)
      }
    )
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const pr: ProxyRequest = {
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        body: Buffer.concat(chunks)
      }
      const forward = () => forwardRaw(pr, req.headers)
      void (async () => {
        try {
          if (proxy.hook && (await proxy.hook(pr, res, forward))) return
          const r = await forward()
          const h = { ...r.headers }
          delete h['transfer-encoding']
          h['content-length'] = String(r.body.length)
          res.writeHead(r.status, h)
          res.end(r.body)
        } catch {
          if (!res.headersSent) res.writeHead(502)
          res.end()
        }
      })()
    })
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  server.on('upgrade', (req, socket, head) => {
    const up = net.connect(Number(t.port), t.hostname, () => {
      let raw = `${req.method} ${req.url} HTTP/1.1\r\n`
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const k = req.rawHeaders[i]!
        raw += `${k}: ${k.toLowerCase() === 'host' ? t.host : req.rawHeaders[i + 1]}\r\n`
      }
      up.write(raw + '\r\n')
      if (head.length) up.write(head)
      up.pipe(socket)
      socket.pipe(up)
    })
    sockets.add(up)
    up.on('close', () => {
      sockets.delete(up)
      socket.destroy()
    })
    up.on('error', () => socket.destroy())
    socket.on('error', () => up.destroy())
    socket.on('close', () => up.destroy())
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const addr = server.address() as net.AddressInfo
  proxy.url = `http://127.0.0.1:${addr.port}`
  proxy.close = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy()
      server.close(() => r())
    })
  return proxy
}
