import type { Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { abortable } from '../abort.js'
import { createNode, type HyperNode, type NodeInit } from './index.js'
import { tcpAddresses } from './address.js'
import { Announcer, type EventPeer } from './announce.js'
import { KeepAlive } from './keepalive.js'
import { PeerTable, type PeerInfo } from './peers.js'
import { NetworkRecords } from './records.js'
import { toHex } from '../log/entry.js'
import { HyperEmitterError, RefusedError } from '../errors.js'
import type { EventEmitter } from 'node:events'
import type { Log, AnyLevel } from '../log/log.js'
import type { Schema } from '../schema/index.js'
import { LocalDescriptor, type SyncEvent } from '../sync/index.js'

/** How long connect() waits for the sync handshake. */
const CONNECT_TIMEOUT = 15_000
/** How often connect() looks whether the peer passed this node on to others. */
const JOIN_POLL_MS = 100

export interface NetworkInit {
  log: Log
  schema: Schema
  db: AnyLevel
  status: EventEmitter
  topic: string
  mdns: boolean
  reconnectTimeout?: number
  blockTime?: number
  activePeers?: number
  passivePeers?: number
  maxConnections?: number
  inboundConnectionThreshold?: number
  /** hex public keys or peer ids whose entries are accepted (the node's own always are) */
  writers?: string[]
  psk?: NodeInit['psk']
  /** appends the node's EventPeer announcement */
  announce: (payload: EventPeer) => Promise<unknown>
}

/**
 * The emitter's side of libp2p: starts the node, listens, dials, and turns
 * sync events into status events. Keeping peers is KeepAlive's job;
 * EventPeer is Announcer's; the per-peer figures are PeerTable's.
 */
export class Network {
  readonly #init: NetworkInit
  readonly #records: NetworkRecords
  readonly #table = new PeerTable()
  #node: HyperNode | undefined
  #keepAlive: KeepAlive | undefined
  #announcer: Announcer | undefined
  #starting: Promise<HyperNode> | undefined
  #stopped = false
  #unsubscribe: (() => void) | undefined

  constructor (init: NetworkInit) {
    this.#init = init
    this.#records = new NetworkRecords(init.db)
  }

  /** The libp2p node, once started. */
  get node (): HyperNode | undefined {
    return this.#node
  }

  /** Whether peers are saved, so that the node should start at open. */
  async hasSavedPeers (): Promise<boolean> {
    return await this.#records.hasPeers()
  }

  /** Starts the node (once) and redials saved peers. */
  start (): Promise<HyperNode> {
    this.#starting ??= this.#start()
    return this.#starting
  }

  async #start (): Promise<HyperNode> {
    const { log: l, schema } = this.#init
    await this.#records.migrate()
    const own = toHex(l.identity.publicKey)
    const writers = this.#init.writers == null ? undefined : new Set([own, ...this.#init.writers.map(writerKey)])
    const node = await createNode({
      identity: l.identity,
      mdns: this.#init.mdns,
      topic: this.#init.topic,
      reconnectTimeout: this.#init.reconnectTimeout,
      maxConnections: this.#init.maxConnections,
      inboundConnectionThreshold: this.#init.inboundConnectionThreshold,
      psk: this.#init.psk,
      isBlocked: (peer) => this.#node?.services.sync.isBlocked(peer) ?? false,
      overlay: {
        activeSize: this.#init.activePeers,
        passiveSize: this.#init.passivePeers,
        onChange: (change) => { this.#onOverlayChange(change.type, change.peer) }
      },
      sync: {
        log: l,
        fingerprint: schema.fingerprint,
        descriptor: localDescriptor(schema),
        topic: this.#init.topic,
        blockTime: this.#init.blockTime,
        ingest: {
          // events of names the schema lacks are stored and relayed unread (§6)
          validate: (name, payload) => { schema.checkEntry(name, payload) },
          accept: writers == null ? undefined : (author) => writers.has(author)
        },
        onEvent: (event) => { this.#onSyncEvent(event) }
      }
    })
    this.#node = node
    const stopped = (): boolean => this.#stopped
    const keepAlive = new KeepAlive({
      node,
      records: this.#records,
      reconnectTimeout: this.#init.reconnectTimeout ?? 1000,
      isLegacy: (peer) => node.services.overlay.isLegacy(peer),
      stopped
    })
    this.#keepAlive = keepAlive
    const saved = await keepAlive.restore()
    const announcer = new Announcer({ node, schema, records: this.#records, own, announce: this.#init.announce, stopped })
    this.#announcer = announcer
    // peers found on the LAN, announced in the log or saved go to the
    // overlay's passive view: it picks the few to keep sessions with
    node.addEventListener('peer:discovery', (evt) => {
      if (evt.detail.multiaddrs.length > 0) node.services.overlay.learn([evt.detail.id.toString()])
    })
    this.#unsubscribe = l.onCommit(entries => { announcer.learnAnnounced(entries) })
    await node.start()
    node.services.overlay.learn(saved)
    keepAlive.started()
    return node
  }

  /**
   * Listens on `addrs`; announces the addresses with EventPeer when they
   * changed. The signal stops the wait for the node to start; once bound,
   * the node listens until it stops.
   */
  async listen (addrs: Multiaddr[], signal?: AbortSignal): Promise<Multiaddr[]> {
    const node = await abortable(this.start(), signal)
    signal?.throwIfAborted()
    try {
      await node.services.listener.listen(addrs)
    } catch (err) {
      const inUse = /EADDRINUSE/.test(String((err as Error).message)) || (err as { code?: string }).code === 'EADDRINUSE'
      throw new HyperEmitterError(`cannot listen on ${addrs.join(', ')}: ${inUse ? 'the address is in use' : (err as Error).message}`,
        inUse ? 'ERR_ADDRESS_IN_USE' : 'ERR_LISTEN', { cause: err })
    }
    const listening = node.getMultiaddrs()
    await this.#announcer!.announce(tcpAddresses(listening))
    return listening
  }

  /**
   * Dials `addr` and resolves with the peer id once the sync session runs.
   * Gives up after CONNECT_TIMEOUT, or when `signal` aborts (then rejects
   * with its reason).
   */
  async connect (addr: Multiaddr, signal?: AbortSignal): Promise<string> {
    const timeout = AbortSignal.timeout(CONNECT_TIMEOUT)
    const either = signal == null ? timeout : AbortSignal.any([signal, timeout])
    try {
      const node = await abortable(this.start(), either)
      const connection = await node.dial(addr, { signal: either })
      const peer = connection.remotePeer.toString()
      // into the overlay through this peer; an older node that does not
      // speak the overlay gets a session on the connection, as before
      if (node.services.overlay.isLegacy(peer)) {
        if (connection.direction === 'outbound') void node.services.sync.open(connection)
      } else {
        node.services.overlay.join(peer)
      }
      try {
        await this.#joined(node, peer, either)
      } catch (err) {
        if (signal?.aborted === true) throw err
        throw new HyperEmitterError(`connected to ${addr.toString()}, but no sync session: ${(err as Error).message}`, 'ERR_NO_SESSION', { cause: err })
      }
      return peer
    } catch (err) {
      if (signal?.aborted === true) throw signal.reason
      throw err
    }
  }

  // Resolves once a session with `peer` runs; or, when `peer` answered the
  // join and then passed this node on (its active view was full, and a later
  // joiner took the place), once a session with any other peer runs. A
  // session that ends before its handshake without a refusal (the loser of
  // a simultaneous open, a reset) is followed by the next one; a refusal
  // rejects.
  async #joined (node: HyperNode, peer: string, signal: AbortSignal): Promise<void> {
    const session = (): Promise<'ready' | 'ended'> => node.services.sync.ready(peer, signal).then(() => 'ready' as const, (err: unknown) => {
      if (signal.aborted || err instanceof RefusedError) throw err
      return 'ended' as const
    })
    let ready = session()
    ready.catch(() => {})
    const overlay = node.services.overlay
    while (true) {
      const tick = new Promise<'tick'>(resolve => { setTimeout(resolve, JOIN_POLL_MS, 'tick') })
      const state = await Promise.race([ready, tick])
      if (state === 'ready') return
      if (state === 'ended') {
        await tick
        ready = session()
        ready.catch(() => {})
      }
      const passedOn = !overlay.isLegacy(peer) && !overlay.awaits(peer) && !overlay.active.includes(peer)
      if (passedOn && node.services.sync.peers.length > 0) return
    }
  }

  /**
   * Connected peers with a sync session. Their `sent` and `received` count
   * since this emitter opened: the sessions that ended, and the running one.
   */
  peers (): PeerInfo[] {
    const node = this.#node
    if (node == null || this.#stopped) return []
    return this.#table.list(node)
  }

  /**
   * Resolves when `peer` (or every connected peer) has sent what this node
   * lacked; rejects with the reason of `signal` when it aborts first. It
   * does not start the node: one that never went online has no peers.
   */
  async synced (peer?: string, signal?: AbortSignal): Promise<void> {
    const node = this.#starting != null ? await abortable(this.#starting, signal) : undefined
    if (node == null || this.#stopped) {
      if (peer != null) throw new HyperEmitterError(`no sync session with ${peer}`, 'ERR_NO_SESSION')
      return
    }
    const ids = peer != null ? [peer] : node.services.sync.peers
    await abortable(Promise.all(ids.map(async id => {
      const session = node.services.sync.session(id)
      if (session == null) throw new HyperEmitterError(`no sync session with ${id}`, 'ERR_NO_SESSION')
      await session.synced
    })), signal)
  }

  // A peer entered the active view: the side that dialled opens the session
  // at once (the sync service would within RECONCILE_MS). One that left it
  // has its session closed; the overlay closes the connection.
  #onOverlayChange (type: 'up' | 'down', peer: string): void {
    const node = this.#node
    if (node == null || this.#stopped) return
    if (type === 'down') {
      node.services.sync.close(peer)
      return
    }
    const outbound = node.getConnections(peerIdFromString(peer)).find(c => c.status === 'open' && c.direction === 'outbound')
    if (outbound != null) void node.services.sync.open(outbound)
  }

  #onSyncEvent (event: SyncEvent): void {
    const status = this.#init.status
    const peer = event.peer.toString()
    switch (event.type) {
      case 'peer:session':
        this.#table.started(peer, this.#node?.services.sync.session(peer))
        this.#keepAlive?.connected(event.peer, event.connection)
        status.emit('peer:connect', { peer })
        break
      case 'peer:session-end':
        this.#table.ended(peer)
        this.#keepAlive?.disconnected(peer)
        status.emit('peer:disconnect', { peer })
        break
      case 'peer:synced':
        this.#table.synced(peer)
        status.emit('peer:synced', { peer })
        break
      case 'peer:invalid':
        status.emit('peer:invalid', { peer, count: event.count, reason: event.reason })
        break
      case 'peer:refused':
        status.emit('peer:refused', { peer, code: event.code, reason: event.reason, remote: event.remote })
        break
    }
  }

  async stop (): Promise<void> {
    await this.#keepAlive?.saved()
    this.#stopped = true
    this.#unsubscribe?.()
    this.#keepAlive?.stop()
    const node = this.#starting != null ? await this.#starting.catch(() => undefined) : undefined
    await node?.stop()
  }
}

// A schema past the descriptor's bounds (§5.1.1) is compared by its older
// fingerprint alone: only peers on the same schema sync with it.
function localDescriptor (schema: Schema): LocalDescriptor | undefined {
  try {
    return new LocalDescriptor(schema.descriptor)
  } catch {
    return undefined
  }
}

/** A writer (or a reader's author) named by its peer id or its hex public key: the hex key. */
export function writerKey (writer: string): string {
  if (/^[0-9a-f]{64}$/i.test(writer)) return writer.toLowerCase()
  const key = peerIdFromString(writer).publicKey
  if (key == null || key.type !== 'Ed25519') throw new HyperEmitterError(`writer ${writer} is not an Ed25519 peer id`, 'ERR_INVALID_WRITER')
  return toHex(key.raw)
}
