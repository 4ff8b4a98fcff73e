import { EventEmitter } from 'node:events'
import { inspect } from 'node:util'
import { ClassicLevel } from 'classic-level'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { abortable } from './abort.js'
import { HyperEmitterError } from './errors.js'
import { trailing, withCallback, type Callback } from './callback.js'
import { Delivery, type Listener } from './delivery.js'
import type { EmitOptions, HyperEmitterOptions } from './options.js'
import { Lifecycle, type AbortOptions, type EmitterState } from './lifecycle.js'
import { Log, type AnyLevel, type LogEntry, type VerifyReport } from './log/log.js'
import { checkPolicy } from './log/retention.js'
import { toHex } from './log/entry.js'
import { BINARY } from './log/level.js'
import { Schema, type MessageCodec } from './schema/index.js'
import { Network } from './node/network.js'
import { toMultiaddr } from './node/address.js'
import type { PeerInfo } from './node/peers.js'
import { checkPsk, type HyperNode } from './node/index.js'
import { EventStream, readEvents, type ReadOptions, type ReaderSource } from './reader.js'
import type { EmitMessage, EventMap, EventName, ListenerMessage, TypedEvent, UntypedEvents } from './event-map.js'
import { StoredSchema } from './stored-schema.js'

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

/**
 * A persistent EventEmitter: every event is validated against the schema,
 * appended to a hash-linked log in `db`, and delivered to listeners in log
 * order, once.
 *
 * `E` types the events by name (`hypem types schema.proto` writes it, as
 * `Events`): `new HyperEmitter<Events>(db, schema)` checks the names and
 * messages given to `emit`, and types what listeners and `events()` get.
 * Without it, any name and message compile, and are checked at run time.
 */
export class HyperEmitter<E extends EventMap<E> = UntypedEvents> {
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
  readonly #life: Lifecycle<Log>
  readonly #delivery: Delivery
  /** set as soon as the db is open, before the network starts: the getters need it */
  #log: Log | undefined
  /** the log's length at open: where readers made while opening start from 'now' */
  #openedAt = 0
  #network: Network | undefined
  /** what the schema is known to read of the log */
  #stored: StoredSchema | undefined

  /**
   * @param db - any abstract-level db (`new Level(path)`, `new MemoryLevel()`), or a folder path for classic-level
   * @param schema - the events' `.proto` text
   */
  constructor (db: AnyLevel | string, schema: string | Uint8Array, options: HyperEmitterOptions = {}) {
    this.schema = new Schema(schema)
    const psk = options.psk != null ? checkPsk(options.psk) : undefined
    for (const key of ['activePeers', 'passivePeers', 'idempotencyWindow'] as const) {
      const n = options[key]
      if (n != null && !(Number.isSafeInteger(n) && n >= 1)) throw new HyperEmitterError(`options.${key} must be a whole number of at least 1, not ${String(n)}`, 'ERR_INVALID_OPTION')
    }
    if (options.retention != null) checkPolicy(options.retention)
    this.messages = this.schema.messages
    this.options = options
    const level: AnyLevel = typeof db === 'string' ? new ClassicLevel(db, BINARY) : db
    this.#delivery = new Delivery({ schema: this.schema, status: this.status, closed: () => this.#life.closing })
    this.#life = new Lifecycle(async closed => await this.#open(level, psk, closed))
  }

  async #open (level: AnyLevel, psk: Uint8Array | undefined, closed: AbortSignal): Promise<Log> {
    const options = this.options
    let l: Log | undefined
    try {
      l = await Log.open(level, { fsync: options.fsync, wal: options.wal, keyWindow: options.idempotencyWindow, retention: options.retention })
      // before anything reads the log: a schema that cannot read what the db
      // holds refuses to open, naming the events
      const stored = this.#stored = await StoredSchema.check(level, l, this.schema, options.force === true)
      l.onCommit(() => { stored.committed() })
      this.#log = l
      this.#openedAt = l.length
      this.#delivery.attach(l)
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
        activePeers: options.activePeers,
        passivePeers: options.passivePeers,
        maxConnections: options.maxConnections,
        inboundConnectionThreshold: options.inboundConnectionThreshold,
        psk,
        // E may leave EventPeer out; the schema always has it
        announce: async (payload) => (this as unknown as HyperEmitter).emit('EventPeer', payload)
      })
      // a node that has peers to go back to, or looks for them, goes online
      // now, unless it is being closed already
      if (!closed.aborted && (options.mdns === true || await this.#network.hasSavedPeers())) await this.#network.start()
      return l
    } catch (err) {
      // leave nothing open behind: the db's lock, the node
      await this.#network?.stop().catch(() => {})
      if (l != null) await l.close().catch(() => {})
      else if (level.status === 'open') await level.close().catch(() => {})
      throw err
    }
  }

  /**
   * Opens an emitter and waits until its db is ready; rejects with OpenError
   * (its `cause` says why) when it cannot open.
   */
  static async open<E extends EventMap<E> = UntypedEvents> (db: AnyLevel | string, schema: string | Uint8Array, options?: HyperEmitterOptions): Promise<HyperEmitter<E>> {
    const emitter = new HyperEmitter<E>(db, schema, options)
    await emitter.ready()
    return emitter
  }

  /**
   * Resolves once the emitter is open. Rejects with OpenError when it could
   * not open, with ClosedError once `close()` was called, and with the
   * reason of `signal` when it aborts first.
   */
  async ready (options: AbortOptions = {}): Promise<void> {
    await this.#life.opened(options.signal)
  }

  /** `'opening'`, `'open'`, `'closing'` or `'closed'`: see EmitterState. */
  get state (): EmitterState {
    return this.#life.state
  }

  /**
   * The hex public key that authors this node's entries. It is kept in the
   * db, so it is known once the db is open: while the emitter opens this
   * throws NotOpenError (await `ready()`, or make the emitter with
   * `HyperEmitter.open()`), and after a failed open the OpenError. It stays
   * readable after `close()`.
   */
  get id (): string {
    return toHex(this.#life.current(this.#log).identity.publicKey)
  }

  /**
   * The underlying log, for the network layer and tools. Throws as `id` does
   * before the db is open; after `close()` it is the closed log.
   */
  get log (): Log {
    return this.#life.current(this.#log)
  }

  /** Feed position of the last event handed to listeners (0 until the emitter is open). */
  get delivered (): number {
    return this.#life.state === 'open' ? this.#delivery.delivered : 0
  }

  /** Whether `close()` was called (`state` is `'closing'` or `'closed'`). */
  get closed (): boolean {
    return this.#life.closing
  }

  /**
   * Validates `message` against event `name`, appends it to the log, and
   * resolves once it is durable in the db. With `options.key`, an emit of a
   * key this node stored within its `idempotencyWindow` stores nothing and
   * resolves with the first one's entry (see EmitOptions).
   */
  emit<N extends EventName<E>> (name: N, message: EmitMessage<E, N>, options?: EmitOptions | Callback<Emitted>, callback?: Callback<Emitted>): Promise<Emitted> {
    if (typeof options === 'function') return withCallback(this.#emit(name, message, undefined), options)
    return withCallback(this.#emit(name, message, options?.key), callback)
  }

  #emit (name: string, message: unknown, key: string | undefined): Promise<Emitted> {
    let payload: Uint8Array
    try {
      const unusable = this.#life.unusable()
      if (unusable != null) throw unusable
      payload = this.schema.encode(name, message)
    } catch (err) {
      return Promise.reject(err)
    }
    // the log's commit hands the event on to listeners and readers (see Delivery)
    return this.#life.state === 'open' ? this.#log!.append(name, payload, emitted, key) : this.#life.opened().then(l => l.append(name, payload, emitted, key))
  }

  /**
   * Calls `listener` with every event `name` stored from now on. Events of
   * types the schema does not define reach no listener (readers yield them).
   */
  on<T = Record<string, unknown>, N extends EventName<E> = EventName<E>> (name: N, listener: Listener<ListenerMessage<E, N, T>>): this {
    this.#delivery.add(name, listener as Listener, false)
    return this
  }

  addListener<T = Record<string, unknown>, N extends EventName<E> = EventName<E>> (name: N, listener: Listener<ListenerMessage<E, N, T>>): this {
    return this.on(name, listener)
  }

  /** Like `on`, for the next event `name` only. */
  once<T = Record<string, unknown>, N extends EventName<E> = EventName<E>> (name: N, listener: Listener<ListenerMessage<E, N, T>>): this {
    this.#delivery.add(name, listener as Listener, true)
    return this
  }

  /** Removes a listener added with `on` or `once`; an unknown one is ignored. */
  removeListener<T = Record<string, unknown>, N extends EventName<E> = EventName<E>> (name: N, listener: Listener<ListenerMessage<E, N, T>>): this {
    this.#delivery.remove(name, listener as Listener)
    return this
  }

  off<T = Record<string, unknown>, N extends EventName<E> = EventName<E>> (name: N, listener: Listener<ListenerMessage<E, N, T>>): this {
    return this.removeListener(name, listener)
  }

  /** Number of listeners for `name`. */
  listenerCount (name: EventName<E>): number {
    return this.#delivery.count(name)
  }

  /**
   * A Duplex stream in object mode: reads `{ name, payload }` events (from
   * now, from the beginning, or from a named cursor) and emits what is
   * written. Made while the emitter opens, it starts reading once it is open.
   * Made after `close()` (or a failed open) it errors with ClosedError (or
   * the OpenError); one made before `close()` ends at `close()`.
   */
  stream (options: ReadOptions = {}): EventStream {
    // what is written to the stream is checked at run time only
    return new EventStream(this.#readerSource(), (name, payload, key) => this.#emit(name, payload, key), options)
  }

  /**
   * The events as an async iterable, with the same options as `stream`
   * (events the schema does not define come with `unknown: true` and their
   * raw bytes as `payload`): it
   * waits while the emitter opens, throws ClosedError (or the OpenError)
   * when made after `close()` (or a failed open), and ends at `close()`.
   */
  events (options: ReadOptions = {}): AsyncGenerator<TypedEvent<E>> {
    // the schema decides what is known at run time: E only names it
    return readEvents(this.#readerSource(), options) as AsyncGenerator<TypedEvent<E>>
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
      return await abortable(network.listen(addrs, this.#life.until(signal)), this.#life.closeSignal)
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
      return await network.connect(addr, this.#life.until(signal))
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
    return this.#life.state === 'open' ? this.#network?.peers() ?? [] : []
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
    await this.#life.opened(options.signal)
    await this.#network!.synced(peer, this.#life.until(options.signal))
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
    return peerIdFromPublicKey(publicKeyFromRaw(this.#life.current(this.#log).identity.publicKey)).toString()
  }

  /**
   * Checks every id, signature, parent link, clock and author chain of the
   * log. Waits while the emitter opens; `signal` stops the wait or the
   * walk, and the call rejects with its reason.
   */
  async verify (options: AbortOptions = {}): Promise<VerifyReport> {
    const l = await this.#life.opened(options.signal)
    return await abortable(l.verify({ signal: options.signal }), this.#life.until(options.signal))
  }

  /**
   * Stops delivery, reading and the network, then closes the db; in any
   * state (while opening, it waits for the open to end). Calls made after
   * it, and calls that wait, reject with ClosedError.
   */
  close (callback?: Callback): Promise<void> {
    return withCallback(this.#life.close(async () => { await this.#shutdown() }), callback)
  }

  async #shutdown (): Promise<void> {
    this.#delivery.wake()
    // libp2p finishes closing connections on unref'd timers: hold the event
    // loop open so that a program awaiting close() is not ended half-way
    const hold = setInterval(() => {}, 1000)
    try {
      const l = await this.#life.settled()
      // a failed open closed what it had opened
      if (l == null) return
      try {
        await this.#network?.stop()
      } finally {
        await this.#stored?.save()
        await l.close()
        this.#delivery.wake()
      }
    } finally {
      clearInterval(hold)
    }
  }

  async #online (signal?: AbortSignal): Promise<Network> {
    await this.#life.opened(signal)
    const network = this.#network!
    await abortable(network.start(), this.#life.until(signal))
    return network
  }

  #readerSource (): ReaderSource {
    return {
      log: async (signal) => this.#life.opened(signal),
      schema: this.schema,
      now: () => this.#life.state === 'open' ? this.#delivery.delivered : undefined,
      openedAt: () => this.#openedAt,
      changed: async (signal) => this.#delivery.changed(signal),
      floor: notice => { this.status.emit('read:floor', notice) },
      closed: () => this.#life.closing
    }
  }
}

function emitted (e: LogEntry): Emitted {
  return new Emitted(e.id, e.seq)
}

/** Creates a HyperEmitter: the factory form of `new HyperEmitter(...)`. */
export function hyperEmitter<E extends EventMap<E> = UntypedEvents> (db: AnyLevel | string, schema: string | Uint8Array, options?: HyperEmitterOptions): HyperEmitter<E> {
  return new HyperEmitter<E>(db, schema, options)
}
