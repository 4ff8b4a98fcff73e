import { EventEmitter } from 'node:events'
import { inspect } from 'node:util'
import { ClassicLevel } from 'classic-level'
import { logger } from '@libp2p/logger'
import { ClosedError, NotOpenError, OpenError } from './errors.js'
import { Log, type AnyLevel, type LogEntry, type VerifyReport } from './log/log.js'
import { Schema, type MessageCodec } from './schema/index.js'
import { toHex } from './log/entry.js'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { Network, abortable, toMultiaddr, type PeerInfo } from './node/network.js'
import { checkPsk, type HyperNode } from './node/index.js'
import { EventStream, readEvents, type Event, type ReadOptions, type ReaderSource } from './reader.js'

const log = logger('hyperemitter:emitter')

/** Events kept in memory for listeners before delivery falls back to reading the db. */
const DELIVERY_CACHE = 4096

export type Callback<T = void> = (err: Error | null, value?: T) => void

/**
 * Where the emitter is in its life, as abstract-level's `db.status`:
 * `'opening'` from the constructor until the db is open, then `'open'`;
 * `'closing'` from `close()`, then `'closed'`. A failed open also ends in
 * `'closed'`, and calls then reject with the OpenError.
 */
export type EmitterState = 'opening' | 'open' | 'closing' | 'closed'

/** Options of the calls that wait: aborting `signal` rejects the call with its reason. */
export interface AbortOptions {
  signal?: AbortSignal
}

/**
 * A listener gets the decoded message. With a second `done` parameter, or by
 * returning a promise, it holds delivery of the next event until it is done.
 */
export type Listener<T = Record<string, unknown>> = (message: T, done: (err?: Error | null) => void) => unknown

export interface HyperEmitterOptions {
  /** fsync every commit: survive power loss, not only crashes. @default false */
  fsync?: boolean
  /**
   * The log's write-ahead file (a path), or false for none: an emit is
   * durable once appended to it, before level has it. @default `hyperemitter.wal`
   * in the db's folder; none for dbs without a folder
   */
  wal?: string | false
  /** ms between libp2p's first redials of a lost peer; then the emitter redials every 1 to 2 s (60 s for peers not met for 10 minutes). @default 1000 */
  reconnectTimeout?: number
  /** ms a peer that broke the protocol or sent invalid entries is kept away. @default 60000 */
  blockTime?: number
  /** discover and dial peers on the LAN by mDNS. @default false */
  mdns?: boolean
  /** cluster name: peers with another topic are refused, and mDNS only finds this one. @default '' */
  topic?: string
  /** peer ids (or hex public keys) whose entries are accepted; the node's own always are. @default anyone */
  writers?: string[]
  /** most open connections. @default 100 */
  maxConnections?: number
  /** inbound connections a second from one host (libp2p's default is 5). @default 50 */
  inboundConnectionThreshold?: number
  /**
   * A private network key (a swarm key file, see `generatePsk()`): only nodes
   * holding the same key can connect at all. @default none
   */
  psk?: Uint8Array | string
}

/** The events on `emitter.status`. */
export interface StatusEvents {
  'peer:connect': { peer: string }
  'peer:disconnect': { peer: string }
  'peer:synced': { peer: string }
  'peer:refused': { peer: string, code: string, reason: string, remote: boolean }
  'peer:invalid': { peer: string, count: number, reason: string }
  'listener-error': unknown
}

/** What `emit` resolves with. */
export class Emitted {
  readonly #id: Uint8Array
  /** its position in this node's change feed */
  readonly seq: number
  constructor (id: Uint8Array, seq: number) {
    this.#id = id
    this.seq = seq
  }

  /** hex id of the stored entry */
  get id (): string {
    return toHex(this.#id)
  }

  toJSON (): { id: string, seq: number } {
    return { id: this.id, seq: this.seq }
  }

  [inspect.custom] (): string {
    return `Emitted { id: '${this.id}', seq: ${this.seq} }`
  }
}

interface Registered {
  fn: Listener
  once: boolean
}

/**
 * A persistent EventEmitter: every event is validated against the schema,
 * appended to a hash-linked log in `db`, and delivered to listeners in log
 * order, once.
 */
export class HyperEmitter {
  /** The event encoders and decoders, by message name. */
  readonly messages: Record<string, MessageCodec>
  /** The parsed schema. */
  readonly schema: Schema
  /**
   * Network and delivery events: `peer:connect`, `peer:disconnect`,
   * `peer:synced`, `peer:refused`, `peer:invalid` (see StatusEvents), and
   * `listener-error` (err, eventName) when a listener throws. Not the
   * lifecycle: that is `state`.
   */
  readonly status = new EventEmitter()
  /** The options the emitter was made with. */
  readonly options: Readonly<HyperEmitterOptions>
  #state: EmitterState = 'opening'
  /** settles once the open is over: with the log, or with the OpenError */
  readonly #opening: Promise<Log>
  #openError: OpenError | undefined
  #log: Log | undefined
  /** the log's length at open: where readers made while opening start from 'now' */
  #openedAt = 0
  #network: Network | undefined
  /** aborted by close(), with a ClosedError: calls that wait give up */
  readonly #closeController = new AbortController()
  readonly #listeners = new Map<string, Registered[]>()
  #delivered = 0
  #cache: LogEntry[] = []
  #delivering = false
  #waiters = new Set<() => void>()
  #closing: Promise<void> | undefined

  /**
   * @param db - any abstract-level db (`new Level(path)`, `new MemoryLevel()`), or a folder path for classic-level
   * @param schema - the events' `.proto` text
   */
  constructor (db: AnyLevel | string, schema: string | Uint8Array, options: HyperEmitterOptions = {}) {
    this.schema = new Schema(schema)
    const psk = options.psk != null ? checkPsk(options.psk) : undefined
    this.messages = this.schema.messages
    this.options = options
    const level: AnyLevel = typeof db === 'string' ? new ClassicLevel(db) : db
    this.#opening = this.#open(level, psk)
    // errors reach whoever awaits: ready(), emit(), ...
    this.#opening.catch(() => {})
  }

  async #open (level: AnyLevel, psk: Uint8Array | undefined): Promise<Log> {
    const options = this.options
    let l: Log | undefined
    try {
      l = await Log.open(level, { fsync: options.fsync, wal: options.wal })
      this.#log = l
      this.#delivered = l.length
      this.#openedAt = l.length
      l.onCommit(entries => { this.#committed(entries) })
      this.#network = new Network({
        log: l,
        schema: this.schema,
        db: level,
        status: this.status,
        topic: options.topic ?? '',
        mdns: options.mdns === true,
        reconnectTimeout: options.reconnectTimeout,
        blockTime: options.blockTime,
        writers: options.writers,
        maxConnections: options.maxConnections,
        inboundConnectionThreshold: options.inboundConnectionThreshold,
        psk,
        announce: async (payload) => this.emit('EventPeer', payload)
      })
      // a node that has peers to go back to, or looks for them, goes online
      // now, unless it is being closed already
      if (this.#closing == null && (options.mdns === true || await this.#network.hasSavedPeers())) await this.#network.start()
      if (this.#state === 'opening') this.#state = 'open'
      return l
    } catch (err) {
      // leave nothing open behind: the db's lock, the node
      await this.#network?.stop().catch(() => {})
      if (l != null) await l.close().catch(() => {})
      else if (level.status === 'open') await level.close().catch(() => {})
      this.#openError = new OpenError(`cannot open the emitter: ${(err as Error)?.message ?? String(err)}`, { cause: err })
      if (this.#state === 'opening') this.#state = 'closed'
      throw this.#openError
    }
  }

  /**
   * Opens an emitter and waits until its db is ready; rejects with OpenError
   * (its `cause` says why) when it cannot open.
   */
  static async open (db: AnyLevel | string, schema: string | Uint8Array, options?: HyperEmitterOptions): Promise<HyperEmitter> {
    const emitter = new HyperEmitter(db, schema, options)
    await emitter.ready()
    return emitter
  }

  /**
   * Resolves once the emitter is open. Rejects with OpenError when it could
   * not open, with ClosedError once `close()` was called, and with the
   * reason of `signal` when it aborts first.
   */
  async ready (options: AbortOptions = {}): Promise<void> {
    await this.#opened(options.signal)
  }

  /** `'opening'`, `'open'`, `'closing'` or `'closed'`: see EmitterState. */
  get state (): EmitterState {
    return this.#state
  }

  /**
   * The hex public key that authors this node's entries. It is kept in the
   * db, so it is known once the db is open: while the emitter opens this
   * throws NotOpenError (await `ready()`, or make the emitter with
   * `HyperEmitter.open()`), and after a failed open the OpenError. It stays
   * readable after `close()`.
   */
  get id (): string {
    return toHex(this.#openedLog().identity.publicKey)
  }

  /**
   * The underlying log, for the network layer and tools. Throws as `id` does
   * before the db is open; after `close()` it is the closed log.
   */
  get log (): Log {
    return this.#openedLog()
  }

  /** Whether `close()` was called (`state` is `'closing'` or `'closed'`). */
  get closed (): boolean {
    return this.#closing != null
  }

  /**
   * Validates `message` against event `name`, appends it to the log, and
   * resolves once it is durable in the db.
   */
  emit (name: string, message: unknown, callback?: Callback<Emitted>): Promise<Emitted> {
    return withCallback(this.#emit(name, message), callback)
  }

  #emit (name: string, message: unknown): Promise<Emitted> {
    let payload: Uint8Array
    try {
      const unusable = this.#unusable()
      if (unusable != null) throw unusable
      payload = this.schema.encode(name, message)
    } catch (err) {
      return Promise.reject(err)
    }
    return this.#state === 'open' ? this.#log!.append(name, payload, emitted) : this.#opened().then(l => l.append(name, payload, emitted))
  }

  /** Calls `listener` with every event `name` stored from now on. */
  on<T = Record<string, unknown>> (name: string, listener: Listener<T>): this {
    return this.#add(name, listener as Listener, false)
  }

  addListener<T = Record<string, unknown>> (name: string, listener: Listener<T>): this {
    return this.on(name, listener)
  }

  /** Like `on`, for the next event `name` only. */
  once<T = Record<string, unknown>> (name: string, listener: Listener<T>): this {
    return this.#add(name, listener as Listener, true)
  }

  /** Removes a listener added with `on` or `once`; an unknown one is ignored. */
  removeListener<T = Record<string, unknown>> (name: string, listener: Listener<T>): this {
    const list = this.#listeners.get(name)
    const i = list?.findIndex(r => r.fn === listener) ?? -1
    if (list != null && i >= 0) {
      list.splice(i, 1)
      if (list.length === 0) this.#listeners.delete(name)
    }
    return this
  }

  off<T = Record<string, unknown>> (name: string, listener: Listener<T>): this {
    return this.removeListener(name, listener)
  }

  /** Number of listeners for `name`. */
  listenerCount (name: string): number {
    return this.#listeners.get(name)?.length ?? 0
  }

  #add (name: string, fn: Listener, once: boolean): this {
    if (typeof fn !== 'function') throw new TypeError('the listener must be a function')
    const list = this.#listeners.get(name) ?? []
    list.push({ fn, once })
    this.#listeners.set(name, list)
    return this
  }

  /**
   * A Duplex stream in object mode: reads `{ name, payload }` events (from
   * now, from the beginning, or from a named cursor) and emits what is
   * written. Made while the emitter opens, it starts reading once it is open.
   * Made after `close()` (or a failed open) it errors with ClosedError (or
   * the OpenError); one made before `close()` ends at `close()`.
   */
  stream (options: ReadOptions = {}): EventStream {
    return new EventStream(this.#readerSource(), (name, payload) => this.emit(name, payload), options)
  }

  /**
   * The events as an async iterable, with the same options as `stream`: it
   * waits while the emitter opens, throws ClosedError (or the OpenError)
   * when made after `close()` (or a failed open), and ends at `close()`.
   */
  events (options: ReadOptions = {}): AsyncGenerator<Event> {
    return readEvents(this.#readerSource(), options)
  }

  /**
   * Listens for peers: `listen(port[, host][, options][, callback])` (host
   * defaults to 127.0.0.1, or 0.0.0.0 with mdns) or
   * `listen(multiaddrs[, options][, callback])`. Resolves with the addresses
   * listened on, and writes an EventPeer event when they differ from the
   * last one this node wrote. Waits while the emitter opens; `signal` stops
   * the wait (the call then rejects with its reason), but an address already
   * bound stays bound until `close()`.
   */
  listen (port: number, host?: string, callback?: Callback<Multiaddr[]>): Promise<Multiaddr[]>
  listen (port: number, host: string | undefined, options: AbortOptions, callback?: Callback<Multiaddr[]>): Promise<Multiaddr[]>
  listen (port: number, callback?: Callback<Multiaddr[]>): Promise<Multiaddr[]>
  listen (port: number, options: AbortOptions, callback?: Callback<Multiaddr[]>): Promise<Multiaddr[]>
  listen (addrs: string | Multiaddr | Array<string | Multiaddr>, callback?: Callback<Multiaddr[]>): Promise<Multiaddr[]>
  listen (addrs: string | Multiaddr | Array<string | Multiaddr>, options: AbortOptions, callback?: Callback<Multiaddr[]>): Promise<Multiaddr[]>
  listen (target: number | string | Multiaddr | Array<string | Multiaddr>, ...rest: Array<string | AbortOptions | Callback<Multiaddr[]> | undefined>): Promise<Multiaddr[]> {
    const { host, signal, callback } = trailing(rest)
    const done = (async () => {
      const addrs = typeof target === 'number'
        ? [toMultiaddr({ ip: host ?? (this.options.mdns === true ? '0.0.0.0' : '127.0.0.1'), port: target })]
        : (Array.isArray(target) ? target : [target]).map(a => multiaddr(a.toString()))
      const network = await this.#online(signal)
      return await abortable(network.listen(addrs, this.#until(signal)), this.#closeController.signal)
    })()
    return withCallback(done, callback)
  }

  /**
   * Connects to a peer: `connect(port, host[, options][, callback])` or
   * `connect(multiaddr[, options][, callback])`. Resolves with its peer id
   * once the sync session runs; a lost connection is redialled. Waits while
   * the emitter opens; gives up after 15 s, or when `signal` aborts (then
   * rejects with its reason).
   */
  connect (port: number, host?: string, callback?: Callback<string>): Promise<string>
  connect (port: number, host: string | undefined, options: AbortOptions, callback?: Callback<string>): Promise<string>
  connect (addr: string | Multiaddr, callback?: Callback<string>): Promise<string>
  connect (addr: string | Multiaddr, options: AbortOptions, callback?: Callback<string>): Promise<string>
  connect (target: number | string | Multiaddr, ...rest: Array<string | AbortOptions | Callback<string> | undefined>): Promise<string> {
    const { host, signal, callback } = trailing(rest)
    const done = (async () => {
      const addr = typeof target === 'number' ? toMultiaddr({ ip: host ?? '127.0.0.1', port: target }) : multiaddr(target.toString())
      const network = await this.#online(signal)
      return await network.connect(addr, this.#until(signal))
    })()
    return withCallback(done, callback)
  }

  /**
   * The connected peers with a running sync session; `[]` while the emitter
   * opens and after `close()`. Each peer's `sent` and `received` count the
   * entries exchanged with it since this emitter opened, over all its
   * sessions; `session` holds the running session's alone.
   */
  peers (): PeerInfo[] {
    return this.#state === 'open' ? this.#network?.peers() ?? [] : []
  }

  /**
   * Resolves once `peer` (a peer id), or every connected peer, has sent what
   * this node lacked when they connected; at once when there are none.
   * Waits while the emitter opens. Rejects with ERR_NO_SESSION for a peer
   * with no session, with the reason of `signal` when it aborts first, and
   * with ClosedError at `close()`.
   */
  synced (options?: AbortOptions): Promise<void>
  synced (peer?: string, options?: AbortOptions): Promise<void>
  async synced (peer?: string | AbortOptions, options: AbortOptions = {}): Promise<void> {
    if (typeof peer === 'object') {
      options = peer
      peer = undefined
    }
    await this.#opened(options.signal)
    await this.#network!.synced(peer, this.#until(options.signal))
  }

  /**
   * The libp2p node, once the emitter went online (it listened, connected,
   * had saved peers at open, or runs mDNS); `undefined` before.
   */
  get node (): HyperNode | undefined {
    return this.#network?.node
  }

  /** This node's libp2p peer id (its author key). Throws as `id` does before the db is open. */
  get peerId (): string {
    return peerIdFromPublicKey(publicKeyFromRaw(this.#openedLog().identity.publicKey)).toString()
  }

  /**
   * Checks every id, signature, parent link, clock and author chain of the
   * log. Waits while the emitter opens; `signal` stops the wait or the
   * walk, and the call rejects with its reason.
   */
  async verify (options: AbortOptions = {}): Promise<VerifyReport> {
    const l = await this.#opened(options.signal)
    return await abortable(l.verify({ signal: options.signal }), this.#until(options.signal))
  }

  /**
   * Stops delivery, reading and the network, then closes the db; in any
   * state (while opening, it waits for the open to end). Calls made after
   * it, and calls that wait, reject with ClosedError.
   */
  close (callback?: Callback): Promise<void> {
    if (this.#closing == null) {
      if (this.#state !== 'closed') this.#state = 'closing'
      this.#closeController.abort(new ClosedError('the emitter was closed'))
      this.#closing = this.#close()
    }
    return withCallback(this.#closing, callback)
  }

  async #close (): Promise<void> {
    this.#wake()
    // libp2p finishes closing connections on unref'd timers: hold the event
    // loop open so that a program awaiting close() is not ended half-way
    const hold = setInterval(() => {}, 1000)
    try {
      let l: Log
      try {
        l = await this.#opening
      } catch {
        // a failed open closed what it had opened
        return
      }
      try {
        await this.#network?.stop()
      } finally {
        await l.close()
        this.#wake()
      }
    } finally {
      this.#state = 'closed'
      clearInterval(hold)
    }
  }

  // Why the emitter cannot be used: it was closed, or failed to open.
  #unusable (): Error | undefined {
    if (this.#closing != null) return new ClosedError('the emitter is closed')
    return this.#openError
  }

  // The log once the emitter is open: waits while it opens.
  async #opened (signal?: AbortSignal): Promise<Log> {
    const unusable = this.#unusable()
    if (unusable != null) throw unusable
    signal?.throwIfAborted()
    const l = this.#state === 'open' ? this.#log! : await abortable(this.#opening, signal)
    // close() may have been called meanwhile
    if (this.#closing != null) throw new ClosedError('the emitter is closed')
    return l
  }

  // The log for the getters, which cannot wait.
  #openedLog (): Log {
    if (this.#openError != null) throw this.#openError
    if (this.#log != null) return this.#log
    if (this.#closing != null) throw new ClosedError('the emitter was closed before it opened')
    throw new NotOpenError('the emitter is still opening: await emitter.ready(), or make it with HyperEmitter.open()')
  }

  async #online (signal?: AbortSignal): Promise<Network> {
    await this.#opened(signal)
    const network = this.#network!
    await abortable(network.start(), this.#until(signal))
    return network
  }

  // The caller's signal, or close(): whichever aborts first.
  #until (signal?: AbortSignal): AbortSignal {
    return signal == null ? this.#closeController.signal : AbortSignal.any([signal, this.#closeController.signal])
  }

  #readerSource (): ReaderSource {
    return {
      log: async (signal) => this.#opened(signal),
      schema: this.schema,
      now: () => this.#state === 'open' ? this.#delivered : undefined,
      openedAt: () => this.#openedAt,
      changed: async (signal) => this.#changed(signal),
      closed: () => this.#closing != null
    }
  }

  #changed (signal?: AbortSignal): Promise<void> {
    if (this.#closing != null || signal?.aborted === true) return Promise.resolve()
    return new Promise(resolve => {
      const wake = (): void => {
        this.#waiters.delete(wake)
        signal?.removeEventListener('abort', wake)
        resolve()
      }
      this.#waiters.add(wake)
      signal?.addEventListener('abort', wake, { once: true })
    })
  }

  #wake (): void {
    for (const wake of [...this.#waiters]) wake()
  }

  #committed (entries: LogEntry[]): void {
    if (this.#cache.length < DELIVERY_CACHE) this.#cache.push(...entries)
    this.#wake()
    if (!this.#delivering) void this.#deliverAll()
  }

  // Delivers the feed in order from where listeners are, from the in-memory
  // cache when it holds the next event and from the db when it fell behind.
  async #deliverAll (): Promise<void> {
    this.#delivering = true
    try {
      const l = this.#log!
      while (this.#closing == null && this.#delivered < l.length) {
        let batch = this.#cache
        this.#cache = []
        if (batch.length === 0 || batch[0].seq > this.#delivered + 1) {
          batch = await l.read(this.#delivered + 1, DELIVERY_CACHE)
        }
        for (const e of batch) {
          if (e.seq <= this.#delivered) continue
          if (this.#closing != null) return
          this.#delivered = e.seq
          const wait = this.#deliver(e)
          if (wait != null) await wait
        }
      }
    } catch (err) {
      if (this.#closing == null) log.error('delivery stopped: %e', err)
    } finally {
      this.#delivering = false
    }
  }

  #deliver (e: LogEntry): Promise<void> | undefined {
    const list = this.#listeners.get(e.entry.name)
    if (list == null || list.length === 0) return
    const message = this.schema.decode(e.entry.name, e.entry.payload)
    const waits: Array<Promise<unknown>> = []
    for (const r of [...list]) {
      if (r.once) {
        // this record, not the first with the same function
        list.splice(list.indexOf(r), 1)
        if (list.length === 0) this.#listeners.delete(e.entry.name)
      }
      try {
        if (r.fn.length >= 2) {
          waits.push(new Promise<void>((resolve) => {
            r.fn(message, (err?: Error | null) => {
              if (err != null) this.#listenerError(err, e.entry.name)
              resolve()
            })
          }))
        } else {
          const out = (r.fn as (m: unknown) => unknown)(message)
          if (out != null && typeof (out as Promise<unknown>).then === 'function') {
            waits.push((out as Promise<unknown>).then(undefined, err => { this.#listenerError(err, e.entry.name) }))
          }
        }
      } catch (err) {
        this.#listenerError(err, e.entry.name)
      }
    }
    if (waits.length > 0) return Promise.all(waits).then(() => {})
  }

  #listenerError (err: unknown, name: string): void {
    if (this.status.listenerCount('listener-error') > 0) this.status.emit('listener-error', err, name)
    else log.error('listener of %s threw: %e', name, err)
  }
}

function emitted (e: LogEntry): Emitted {
  return new Emitted(e.id, e.seq)
}

// The optional arguments after a listen or connect target: a host, options, a callback.
function trailing<T> (rest: Array<string | AbortOptions | Callback<T> | undefined>): { host?: string, signal?: AbortSignal, callback?: Callback<T> } {
  const out: { host?: string, signal?: AbortSignal, callback?: Callback<T> } = {}
  for (const arg of rest) {
    if (typeof arg === 'string') out.host = arg
    else if (typeof arg === 'function') out.callback = arg
    else if (arg != null) out.signal = arg.signal
  }
  return out
}

function withCallback<T> (done: Promise<T>, callback?: Callback<T>): Promise<T> {
  if (callback != null) done.then(v => { callback(null, v) }, err => { callback(err) })
  return done
}

/** Creates a HyperEmitter: the factory form of `new HyperEmitter(...)`. */
export function hyperEmitter (db: AnyLevel | string, schema: string | Uint8Array, options?: HyperEmitterOptions): HyperEmitter {
  return new HyperEmitter(db, schema, options)
}

