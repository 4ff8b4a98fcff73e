// The web view's HTTP server (node:http): the page's files, JSON snapshots,
// the live stream, verify, and emit when allowed. Guards: on loopback the
// Host header must name loopback (a page elsewhere that rebinds a DNS name
// to 127.0.0.1 is refused); beyond loopback every request needs the token.
// Emitting needs a JSON body from the page's own origin, so a form on
// another site cannot post one.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { extname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { HyperEmitterError } from '../errors.js'
import { LiveHub } from './live.js'
import { dagView, entryView, MAX_DAG } from './snapshot.js'
import type { HyperEmitter } from '../emitter.js'
import type { VerifyReport } from '../log/log.js'
import type { UIOptions, UIServer } from './index.js'

/** Open sockets at once: pages, their requests, and keep-alive. */
const MAX_SOCKETS = 64
const DEFAULT_MAX_PAGES = 16
const DEFAULT_SAMPLE_RATE = 50
/** Largest event body the page may post. */
const MAX_BODY = 256 * 1024
/** Problems a verify result lists (it counts them all). */
const MAX_PROBLEMS = 100
/** A page may ask for this many entries of the DAG at once. */
const DEFAULT_DAG = 120

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8'
}

const HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  // the page loads nothing from elsewhere; uPlot sets element styles from script
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
}

/** Whether `host` is a loopback address (or localhost). */
export function isLoopback (host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase()
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)
}

// the page's files, next to this module in src/ (dist/src/ui/ -> src/ui/static)
function staticDir (): string {
  for (const candidate of ['./static/', '../../../src/ui/static/']) {
    const dir = fileURLToPath(new URL(candidate, import.meta.url))
    try {
      if (statSync(join(dir, 'index.html')).isFile()) return dir
    } catch {
      // not there: the next one
    }
  }
  throw new HyperEmitterError('the web view\'s files (src/ui/static) are missing from the package', 'ERR_UI_FILES')
}

type Files = Map<string, { type: string, body: Buffer }>

/** The page's files, read once: a few hundred kilobytes. */
function loadFiles (): Files {
  const dir = staticDir()
  const files: Files = new Map()
  const walk = (at: string): void => {
    for (const item of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, item.name)
      if (item.isDirectory()) walk(path)
      else if (TYPES[extname(item.name)] != null) files.set(relative(dir, path).split(sep).join('/'), { type: TYPES[extname(item.name)], body: readFileSync(path) })
    }
  }
  walk(dir)
  return files
}

function digest (text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

/** The running web view; see serveUI. */
export class WebView implements UIServer {
  readonly url: string
  readonly host: string
  readonly port: number
  readonly token: string | undefined
  readonly widened: boolean
  readonly allowEmit: boolean
  readonly #emitter: HyperEmitter
  readonly #server: Server
  readonly #hub: LiveHub
  readonly #files: Files
  readonly #maxPages: number
  readonly #tokenDigest: Buffer | undefined
  readonly #cookie: string
  readonly #closing = new AbortController()
  readonly #watch: ReturnType<typeof setInterval>
  #verifying: Promise<Record<string, unknown>> | undefined
  #closed: Promise<void> | undefined

  private constructor (emitter: HyperEmitter, server: Server, hub: LiveHub, files: Files, options: Required<Pick<UIOptions, 'host' | 'port' | 'allowEmit' | 'maxPages'>> & { token: string | undefined }) {
    this.#emitter = emitter
    this.#server = server
    this.#hub = hub
    this.#files = files
    this.host = options.host
    this.port = options.port
    this.token = options.token
    this.widened = !isLoopback(options.host)
    this.allowEmit = options.allowEmit
    this.#maxPages = options.maxPages
    this.#tokenDigest = options.token == null ? undefined : digest(options.token)
    // cookies are not kept apart by port: one per view
    this.#cookie = `hypem_ui_${options.port}`
    const shown = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host
    const urlHost = shown.includes(':') ? `[${shown}]` : shown
    this.url = `http://${urlHost}:${options.port}/${options.token != null ? `?token=${encodeURIComponent(options.token)}` : ''}`
    // the emitter has no close event: the view follows it
    this.#watch = setInterval(() => { if (emitter.closed) void this.close() }, 250)
    this.#watch.unref()
  }

  static async start (emitter: HyperEmitter, options: UIOptions): Promise<WebView> {
    const host = options.host ?? '127.0.0.1'
    const port = options.port ?? 0
    if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new HyperEmitterError(`options.port must be a port number, not ${String(port)}`, 'ERR_INVALID_OPTION')
    if (options.token === '') throw new HyperEmitterError('options.token must not be empty', 'ERR_INVALID_OPTION')
    const sampleRate = options.sampleRate ?? DEFAULT_SAMPLE_RATE
    if (!(sampleRate >= 1)) throw new HyperEmitterError(`options.sampleRate must be at least 1, not ${String(sampleRate)}`, 'ERR_INVALID_OPTION')
    const token = options.token ?? (isLoopback(host) ? undefined : randomBytes(18).toString('base64url'))
    const files = loadFiles()
    await emitter.ready()
    const made: { view?: WebView } = {}
    const hub = new LiveHub(emitter, { sampleRate, dbPath: options.dbPath, config: () => made.view?.config() ?? {} })
    // requests reach the view once it is made, after the port is bound
    const server = createServer((req, res) => {
      const view = made.view
      if (view == null) {
        res.writeHead(503).end()
        return
      }
      view.#handle(req, res).catch((err: unknown) => { view.#fail(res, err) })
    })
    server.maxConnections = MAX_SOCKETS
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(port, host, () => {
          server.off('error', reject)
          resolve()
        })
      })
    } catch (err) {
      hub.close()
      throw err
    }
    const bound = (server.address() as { port: number }).port
    made.view = new WebView(emitter, server, hub, files, { host, port: bound, token, allowEmit: options.allowEmit === true, maxPages: options.maxPages ?? DEFAULT_MAX_PAGES })
    return made.view
  }

  get pages (): number {
    return this.#hub.pages
  }

  /** Stops the server and ends the pages' streams (bound: it can be passed around). */
  readonly close = (): Promise<void> => {
    this.#closed ??= (async () => {
      clearInterval(this.#watch)
      this.#closing.abort(new HyperEmitterError('the web view closed', 'ERR_CLOSED'))
      this.#hub.close()
      const done = new Promise<void>(resolve => { this.#server.close(() => { resolve() }) })
      this.#server.closeAllConnections()
      await done
    })()
    return this.#closed
  }

  async #handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    for (const [k, v] of Object.entries(HEADERS)) res.setHeader(k, v)
    if (!this.#hostAllowed(req)) {
      send(res, 403, 'text/plain; charset=utf-8', 'this view answers to its loopback address only\n')
      return
    }
    const url = new URL(req.url ?? '/', 'http://view.invalid')
    if (!this.#authorized(req, url)) {
      send(res, 401, 'text/plain; charset=utf-8', 'a token is required: open the URL hypem printed, with its ?token=\n')
      return
    }
    const path = url.pathname
    if (req.method === 'POST') {
      if (path === '/api/emit') await this.#emit(req, res)
      else json(res, 405, { error: 'MethodNotAllowed', message: `${path} takes GET` })
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      json(res, 405, { error: 'MethodNotAllowed', message: 'GET, or POST to /api/emit' })
      return
    }
    if (path === '/' || path === '/index.html') {
      // the token in the URL becomes a cookie, so the page's own requests carry it
      if (this.token != null && url.searchParams.has('token')) res.setHeader('set-cookie', `${this.#cookie}=${encodeURIComponent(this.token)}; HttpOnly; SameSite=Strict; Path=/`)
      this.#file(res, 'index.html')
      return
    }
    if (path.startsWith('/static/')) {
      let name: string
      try {
        name = decodeURIComponent(path.slice('/static/'.length))
      } catch {
        name = ''
      }
      this.#file(res, name)
      return
    }
    if (path === '/favicon.ico') {
      this.#file(res, 'favicon.svg')
      return
    }
    if (!path.startsWith('/api/')) {
      send(res, 404, 'text/plain; charset=utf-8', 'not found\n')
      return
    }
    if (this.#emitter.closed) {
      json(res, 503, { error: 'ClosedError', message: 'the emitter is closed' })
      return
    }
    switch (path) {
      case '/api/config':
        json(res, 200, this.config())
        return
      case '/api/state':
        json(res, 200, { ...this.#hub.state(), history: this.#hub.history })
        return
      case '/api/live':
        if (this.#hub.pages >= this.#maxPages) {
          json(res, 503, { error: 'TooManyPages', message: `${this.#maxPages} pages are open already` })
          return
        }
        await this.#hub.open(res, { name: url.searchParams.get('name') ?? undefined, text: url.searchParams.get('text') ?? undefined })
        return
      case '/api/dag':
        json(res, 200, await dagView(this.#emitter, Number(url.searchParams.get('limit') ?? DEFAULT_DAG) || DEFAULT_DAG))
        return
      case '/api/verify':
        json(res, 200, await this.#verify())
        return
    }
    if (path.startsWith('/api/entry/')) {
      const entry = await entryView(this.#emitter, path.slice('/api/entry/'.length).toLowerCase(), this.#hub.ids)
      if (entry == null) json(res, 404, { error: 'NotFound', message: 'no such entry in this log' })
      else json(res, 200, entry)
      return
    }
    json(res, 404, { error: 'NotFound', message: `no ${path}` })
  }

  /** What the page needs first: the node's ids, the event names, whether it may emit. */
  config (): Record<string, unknown> {
    return {
      id: this.#emitter.id,
      peerId: this.#emitter.peerId,
      names: this.#emitter.schema.names,
      allowEmit: this.allowEmit,
      widened: this.widened,
      maxDag: MAX_DAG
    }
  }

  #hostAllowed (req: IncomingMessage): boolean {
    if (this.widened) return true
    const host = req.headers.host
    if (host == null) return false
    const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0]
    return isLoopback(name)
  }

  #authorized (req: IncomingMessage, url: URL): boolean {
    const expected = this.#tokenDigest
    if (expected == null) return true
    const given: string[] = []
    const query = url.searchParams.get('token')
    if (query != null) given.push(query)
    const auth = req.headers.authorization
    if (auth?.startsWith('Bearer ') === true) given.push(auth.slice(7))
    const cookie = cookieValue(req.headers.cookie, this.#cookie)
    if (cookie != null) given.push(cookie)
    return given.some(t => timingSafeEqual(digest(t), expected))
  }

  #file (res: ServerResponse, name: string): void {
    const file = this.#files.get(name)
    if (file == null) {
      send(res, 404, 'text/plain; charset=utf-8', 'not found\n')
      return
    }
    res.writeHead(200, { 'content-type': file.type, 'content-length': file.body.byteLength, 'cache-control': 'no-cache' })
    res.end(file.body)
  }

  async #verify (): Promise<Record<string, unknown>> {
    // one walk at a time, shared by every page that asks meanwhile
    this.#verifying ??= (async () => {
      const started = performance.now()
      try {
        const report: VerifyReport = await this.#emitter.verify({ signal: this.#closing.signal })
        return {
          ok: report.ok,
          entries: report.entries,
          authors: report.authors,
          problemCount: report.problems.length,
          problems: report.problems.slice(0, MAX_PROBLEMS),
          ms: Math.round(performance.now() - started),
          at: Date.now()
        }
      } finally {
        this.#verifying = undefined
      }
    })()
    return await this.#verifying
  }

  async #emit (req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.allowEmit) {
      json(res, 403, { error: 'ReadOnly', message: 'this view is read-only: start it with --ui-emit (allowEmit) to emit from the page' })
      return
    }
    const origin = req.headers.origin
    if (origin != null && origin !== `http://${req.headers.host ?? ''}`) {
      json(res, 403, { error: 'Forbidden', message: 'emits come from the page itself' })
      return
    }
    if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) {
      json(res, 415, { error: 'UnsupportedMediaType', message: 'send {"name":...,"payload":...} as application/json' })
      return
    }
    let body: unknown
    try {
      body = JSON.parse(await readBody(req, MAX_BODY))
    } catch (err) {
      json(res, 400, { error: 'BadRequest', message: (err as Error).message })
      return
    }
    const { name, payload } = (body ?? {}) as { name?: unknown, payload?: unknown }
    if (typeof name !== 'string' || payload == null || typeof payload !== 'object') {
      json(res, 400, { error: 'BadRequest', message: 'send {"name":"Event","payload":{...}}' })
      return
    }
    try {
      const emitted = await this.#emitter.emit(name, payload)
      json(res, 200, emitted.toJSON())
    } catch (err) {
      const e = err as HyperEmitterError
      json(res, e.code === 'ERR_CLOSED' ? 503 : 400, { error: e.name, code: e.code, message: e.message })
    }
  }

  #fail (res: ServerResponse, err: unknown): void {
    if (res.headersSent) {
      res.destroy()
      return
    }
    const e = err as HyperEmitterError
    json(res, e.code === 'ERR_CLOSED' || this.#emitter.closed ? 503 : 500, { error: e.name ?? 'Error', message: e.message ?? String(err) })
  }
}

function send (res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' })
  res.end(body)
}

function json (res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value))
}

function cookieValue (header: string | undefined, name: string): string | undefined {
  if (header == null) return undefined
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=')
    if (k === name) {
      try {
        return decodeURIComponent(v.join('='))
      } catch {
        return undefined
      }
    }
  }
  return undefined
}

async function readBody (req: IncomingMessage, max: number): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength
    if (size > max) throw new Error(`the body is over ${max} bytes`)
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}
