// The web view's public surface: `serveUI(emitter, options)`, exported as
// `hyperemitter/ui`. The server lives in server.ts, the page in static/.
import '../polyfill.js'
import { WebView } from './server.js'
import type { HyperEmitter } from '../emitter.js'
import type { AnyHyperEmitter } from '../event-map.js'

export interface UIOptions {
  /** the port to listen on; 0 picks a free one. @default 0 */
  port?: number
  /**
   * The host to listen on. Anything but a loopback address lets other
   * machines in: a token is then required. @default '127.0.0.1'
   */
  host?: string
  /**
   * The access token every request must carry (`?token=` in the page's URL,
   * which the page turns into a cookie, or `Authorization: Bearer`).
   * @default a random one when `host` is not a loopback address, none on loopback
   */
  token?: string
  /** Let the page emit events (POST /api/emit). @default false: the view is read-only */
  allowEmit?: boolean
  /** The db's folder, to show the disk it uses. @default none: not shown */
  dbPath?: string
  /** Pages open at once (each holds one live stream); more are refused with 503. @default 16 */
  maxPages?: number
  /** Most events a second each page's live tail gets; the rest are counted. @default 50 */
  sampleRate?: number
}

/** A running web view. */
export interface UIServer {
  /** The page's address, with the token when one is required. */
  readonly url: string
  readonly host: string
  readonly port: number
  /** The token requests need, if any. */
  readonly token: string | undefined
  /** Whether the view listens beyond loopback (then it needs the token). */
  readonly widened: boolean
  /** Whether the page may emit. */
  readonly allowEmit: boolean
  /** Pages connected now. */
  readonly pages: number
  /** Stops the server and ends every page's stream; also done when the emitter closes. */
  close: () => Promise<void>
}

/**
 * Serves a live web view of `emitter`: its peers, throughput, a tail of its
 * events and its log, over node:http with server-sent events. Waits for the
 * emitter to open; rejects when the port cannot be bound. It never writes
 * to the terminal: the caller prints `url`.
 */
export async function serveUI (emitter: AnyHyperEmitter, options: UIOptions = {}): Promise<UIServer> {
  // the page takes any name and payload, checked at run time: untyped
  return await WebView.start(emitter as HyperEmitter, options)
}

export { isLoopback } from './server.js'
