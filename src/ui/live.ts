// The live side of the web view: counts the log's commits each second, and
// streams to each open page (server-sent events) a state once a second and
// a sample of the events as they come. Work per event is a few comparisons;
// building the state and decoding sampled payloads happen only while a page
// is open, and a page that reads slowly misses samples, never grows memory.
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { ServerResponse } from 'node:http'
import { equalBytes, toHex } from '../log/entry.js'
import { toJson, PeerIds } from './json.js'
import { PeerReports } from './reports.js'
import { TailSampler, type TailFilter } from './sampler.js'
import { logView, nodeView, peersView } from './snapshot.js'
import { Throughput, type Second } from './throughput.js'
import type { HyperEmitter } from '../emitter.js'
import type { LogEntry } from '../log/log.js'

/** How long sampled events wait to go out together: the page's delay, against one write per commit. */
const FLUSH_MS = 25
/** The peer store is read this often (it is async and may be large). */
const PEER_STORE_MS = 5000
/** The db folder's size is summed this often. */
const DISK_MS = 10_000
/** Events from the log sent to a page that opens, so that its tail starts full. */
const INITIAL_EVENTS = 30
/** Entries looked through for them, newest first. */
const INITIAL_SCAN = 500
/** A payload longer than this is cut in the tail (the entry panel shows it whole). */
const MAX_PAYLOAD_CHARS = 2048

export interface LiveInit {
  /** most sampled events a second per page */
  sampleRate: number
  /** the db's folder, for the disk used; none for a db without one */
  dbPath?: string
  /** what the page needs to know first (ids, event names, whether it may emit), sent with the first state */
  config: () => Record<string, unknown>
}

interface Page {
  res: ServerResponse
  sampler: TailSampler
  timer: ReturnType<typeof setTimeout> | undefined
  /** events sampled but not written, as the page read too slowly */
  dropped: number
  shown: number
}

/** An event as the tail shows it. */
export interface TailEvent {
  seq: number
  id: string
  name: string
  author: string
  authorSeq: number
  timestamp: number
  /** payload as JSON text, cut at MAX_PAYLOAD_CHARS */
  payload: string
  cut?: boolean
}

export class LiveHub {
  readonly #emitter: HyperEmitter
  readonly #init: LiveInit
  readonly #pages = new Set<Page>()
  readonly #throughput: Throughput
  readonly reports: PeerReports
  readonly ids = new PeerIds()
  readonly #own: Uint8Array
  readonly #unsubscribe: () => void
  readonly #ticker: ReturnType<typeof setInterval>
  /** an event's tail form, made once for all pages */
  readonly #events = new WeakMap<LogEntry, string>()
  #known: ReadonlyMap<string, string> = new Map()
  #knownAt = 0
  #disk: number | null = null
  #diskAt = 0
  #closed = false

  constructor (emitter: HyperEmitter, init: LiveInit) {
    this.#emitter = emitter
    this.#init = init
    this.#own = emitter.log.identity.publicKey
    this.#throughput = new Throughput(emitter.delivered)
    this.reports = new PeerReports(emitter.status)
    this.reports.present(emitter.peers())
    this.#unsubscribe = emitter.log.onCommit(entries => { this.#committed(entries) })
    this.#ticker = setInterval(() => { this.#tick() }, 1000)
    this.#ticker.unref()
    this.#refreshDisk(Date.now())
  }

  /** Pages open now. */
  get pages (): number {
    return this.#pages.size
  }

  /** The seconds of the chart. */
  get history (): Second[] {
    return this.#throughput.history.slice()
  }

  /** The state a page gets each second. */
  state (): Record<string, unknown> {
    const e = this.#emitter
    const last = this.#throughput.history.at(-1)
    return {
      t: Date.now(),
      second: last,
      totals: { ...this.#throughput.totals, ...this.reports.totals },
      node: nodeView(e),
      peers: peersView(e, this.reports, this.ids, this.#known),
      log: logView(e, this.ids, this.#disk),
      notices: this.reports.notices.slice(-20),
      pages: this.#pages.size
    }
  }

  /** Streams to `res` (its headers not sent yet) until the page goes away. */
  async open (res: ServerResponse, filter: TailFilter): Promise<void> {
    const page: Page = { res, sampler: new TailSampler(this.#init.sampleRate, filter, Date.now()), timer: undefined, dropped: 0, shown: 0 }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no'
    })
    res.socket?.setNoDelay(true)
    res.on('close', () => { this.#drop(page) })
    this.#pages.add(page)
    // the peer store comes with the next state: the page's first one goes at once
    if (Date.now() - this.#knownAt >= PEER_STORE_MS) void this.#refreshKnown(Date.now())
    write(res, 'hello', JSON.stringify({ config: this.#init.config(), history: this.#throughput.history, state: this.state() }))
    const initial = await this.#recent(page.sampler)
    if (this.#pages.has(page) && initial.length > 0) write(res, 'events', `{"initial":true,"events":[${initial.join(',')}]}`)
  }

  /** Ends every page's stream and stops counting. */
  close (): void {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#ticker)
    this.#unsubscribe()
    this.reports.close()
    for (const page of [...this.#pages]) {
      this.#drop(page)
      page.res.end()
    }
  }

  #drop (page: Page): void {
    clearTimeout(page.timer)
    this.#pages.delete(page)
  }

  #committed (entries: LogEntry[]): void {
    let own = 0
    for (const e of entries) if (equalBytes(e.entry.author, this.#own)) own++
    this.#throughput.count(own, entries.length - own)
    if (this.#pages.size === 0) return
    const now = Date.now()
    let payloads: Map<LogEntry, string> | undefined
    const json = (e: LogEntry): string => {
      payloads ??= new Map()
      let text = payloads.get(e)
      if (text == null) {
        text = this.#payload(e)
        payloads.set(e, text)
      }
      return text
    }
    for (const page of this.#pages) {
      page.sampler.offer(entries, now, json)
      if (page.sampler.pending && page.timer == null) page.timer = setTimeout(() => { this.#flush(page) }, FLUSH_MS)
    }
  }

  #flush (page: Page): void {
    page.timer = undefined
    const entries = page.sampler.take()
    if (entries.length === 0 || !this.#pages.has(page)) return
    // a page that has not read what it was sent gets nothing more until it has
    if (page.res.writableNeedDrain) {
      page.dropped += entries.length
      return
    }
    page.shown += entries.length
    write(page.res, 'events', `{"events":[${entries.map(e => this.#event(e)).join(',')}]}`)
  }

  #tick (): void {
    if (this.#closed) return
    const now = Date.now()
    const t = Math.floor(now / 1000) * 1000 - 1000
    this.#throughput.roll(t, this.#emitter.delivered)
    if (this.#pages.size === 0 || this.#emitter.state !== 'open') return
    if (now - this.#knownAt >= PEER_STORE_MS) void this.#refreshKnown(now)
    if (now - this.#diskAt >= DISK_MS) this.#refreshDisk(now)
    const state = JSON.stringify(this.state())
    for (const page of this.#pages) {
      const tail = JSON.stringify({ matched: page.sampler.matched(), shown: page.shown, dropped: page.dropped })
      page.shown = 0
      page.dropped = 0
      if (page.res.writableNeedDrain) continue
      write(page.res, 'state', state)
      write(page.res, 'tail', tail)
    }
  }

  // The newest events that pass the page's filter, oldest first.
  async #recent (sampler: TailSampler): Promise<string[]> {
    const l = this.#emitter.log
    const length = l.length
    if (length === 0 || l.closed) return []
    let entries: LogEntry[]
    try {
      entries = await l.read(Math.max(1, length - INITIAL_SCAN + 1), INITIAL_SCAN)
    } catch {
      return []
    }
    const probe = new TailSampler(INITIAL_EVENTS * 1000, sampler.filter, 0)
    probe.offer(entries, 1000, e => this.#payload(e))
    return probe.take().slice(-INITIAL_EVENTS).map(e => this.#event(e))
  }

  #payload (e: LogEntry): string {
    try {
      return toJson(this.#emitter.schema.decode(e.entry.name, e.entry.payload))
    } catch {
      // an event this node's schema does not know: its bytes
      return JSON.stringify({ bytes: Buffer.from(e.entry.payload).toString('base64') })
    }
  }

  #event (e: LogEntry): string {
    let text = this.#events.get(e)
    if (text == null) {
      let payload = this.#payload(e)
      const cut = payload.length > MAX_PAYLOAD_CHARS
      if (cut) payload = payload.slice(0, MAX_PAYLOAD_CHARS)
      const event: TailEvent = {
        seq: e.seq,
        id: toHex(e.id),
        name: e.entry.name,
        author: toHex(e.entry.author),
        authorSeq: e.entry.seq,
        timestamp: e.entry.timestamp,
        payload,
        cut: cut || undefined
      }
      text = JSON.stringify(event)
      this.#events.set(e, text)
    }
    return text
  }

  async #refreshKnown (now: number): Promise<void> {
    this.#knownAt = now
    const node = this.#emitter.node
    if (node == null || node.status !== 'started') return
    try {
      const peers = await node.peerStore.all()
      const known = new Map<string, string>()
      for (const p of peers) known.set(p.id.toString(), p.addresses[0]?.multiaddr.toString() ?? '')
      this.#known = known
    } catch {
      // a stopping node: the last list stays
    }
  }

  #refreshDisk (now: number): void {
    this.#diskAt = now
    const dir = this.#init.dbPath
    if (dir == null) return
    folderSize(dir).then(bytes => { this.#disk = bytes }, () => {})
  }
}

function write (res: ServerResponse, event: string, data: string): void {
  res.write(`event: ${event}\ndata: ${data}\n\n`)
}

/** Bytes of the files in `dir` and below. */
async function folderSize (dir: string): Promise<number> {
  let total = 0
  for (const item of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, item.name)
    if (item.isDirectory()) total += await folderSize(path)
    else if (item.isFile()) total += (await stat(path)).size
  }
  return total
}
