import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { KEEP_ALIVE, type PeerId, type Connection } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { createNode, type HyperNode, type NodeInit } from './index.js'
import { toHex } from '../log/entry.js'
import { HyperEmitterError } from '../errors.js'
import type { EventEmitter } from 'node:events'
import type { Log, LogEntry, AnyLevel } from '../log/log.js'
import type { Schema } from '../schema/index.js'
import type { SyncEvent } from '../sync/index.js'
import type { AbstractLevel } from 'abstract-level'

const log = logger('hyperemitter:network')

/** The tag that makes libp2p redial a peer after a drop. */
export const KEEP_ALIVE_TAG = `${KEEP_ALIVE}-hyperemitter`
const KEEP_ALIVE_TAGS = { [KEEP_ALIVE_TAG]: { value: 50 } }
/** Longest wait between our own redials after libp2p gave up on a peer... */
const MAX_BACKOFF = 60_000
/**
 * ...and for a peer met lately (or saved, in the first minutes after start):
 * a partition that heals, or a peer that restarts, is back within seconds.
 */
const RECENT_BACKOFF = 2000
/** How long a peer counts as met lately. */
const RECENT_MS = 10 * 60_000
/** EventPeer announcements dialled at once. */
const MAX_ANNOUNCED_DIALS = 8
/** How long connect() waits for the sync handshake. */
const CONNECT_TIMEOUT = 15_000
/** The network's records: its own sublevel of the db, beside the log's. */
const SUBLEVEL = 'network'
/** Key of the last EventPeer this node wrote (its JSON), in the state sublevel. */
const EVENT_PEER_KEY = 'event-peer'
/** Key of the version of the network's records: set once the older ones are moved in. */
const FORMAT_KEY = 'format'
const FORMAT = '1'
/** Where versions before FORMAT kept saved peers (a sublevel of the db)... */
const LEGACY_PEERS = 'peers'
/** ...and the last EventPeer (a key of the log's `meta` sublevel). */
const LEGACY_META = 'meta'

/** A connected peer as `peers()` lists it. */
export interface PeerInfo {
  /** libp2p peer id */
  id: string
  /** the remote address of the connection */
  address: string
  /** whether the peer has sent everything this node lacked */
  synced: boolean
  /** entries sent to it since this emitter opened, in this session and the ones before */
  sent: number
  /** entries received from it and stored since this emitter opened, in this session and the ones before */
  received: number
  /** entries sent and received in the running session alone */
  session: { sent: number, received: number }
}

/** A TCP address as EventPeer carries it. */
export interface PeerAddress {
  ip: string
  port: number
}

export interface NetworkInit {
  log: Log
  schema: Schema
  db: AnyLevel
  status: EventEmitter
  topic: string
  mdns: boolean
  reconnectTimeout?: number
  blockTime?: number
  maxConnections?: number
  inboundConnectionThreshold?: number
  /** hex public keys or peer ids whose entries are accepted (the node's own always are) */
  writers?: string[]
  psk?: NodeInit['psk']
  /** appends the node's EventPeer announcement */
  announce: (payload: { id: string, addresses: PeerAddress[] }) => Promise<unknown>
}

interface SavedPeer {
  addrs: string[]
}

/** What a sync session counts. */
interface Counting {
  readonly sent: number
  readonly received: number
}

/** Entries sent to and received from one peer since open. */
class PeerCounters {
  /** in sessions that ended */
  sent = 0
  received = 0
  /** the session counted live, until it ends */
  session: Counting | undefined

  /** Adds the counted session's figures to the totals. */
  fold (): void {
    if (this.session == null) return
    this.sent += this.session.sent
    this.received += this.session.received
    this.session = undefined
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Level = AbstractLevel<any, any, any>

/**
 * The emitter's side of libp2p: starts the node, listens, dials, saves and
 * redials known peers, announces itself with EventPeer, and dials the peers
 * that others announce.
 */
export class Network {
  readonly #init: NetworkInit
  readonly #db: Level
  readonly #peers: Level
  /** the last EventPeer and the records' format */
  readonly #state: Level
  #migrating: Promise<void> | undefined
  #node: HyperNode | undefined
  #starting: Promise<HyperNode> | undefined
  #stopped = false
  readonly #synced = new Set<string>()
  readonly #retries = new Map<string, ReturnType<typeof setTimeout>>()
  /** when each peer's last session started or ended */
  readonly #met = new Map<string, number>()
  #startedAt = 0
  #announcedDials = 0
  /** hex public key of this node: its own EventPeer is not dialled */
  #own = ''
  /** peers being saved: close waits for them */
  readonly #saving = new Set<Promise<void>>()
  #unsubscribe: (() => void) | undefined
  /** by peer id: kept when a session ends, so that peers() counts since open */
  readonly #counters = new Map<string, PeerCounters>()

  constructor (init: NetworkInit) {
    this.#init = init
    this.#db = init.db as unknown as Level
    const own = this.#db.sublevel(SUBLEVEL, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
    this.#peers = own.sublevel('peers', { keyEncoding: 'utf8', valueEncoding: 'json' }) as unknown as Level
    this.#state = own.sublevel('state', { keyEncoding: 'utf8', valueEncoding: 'utf8' }) as unknown as Level
  }

  // Moves what older versions kept elsewhere into the network's sublevel, in
  // one batch, once: saved peers, and the last EventPeer, so that an upgraded
  // node does not announce itself again.
  #migrate (): Promise<void> {
    this.#migrating ??= (async () => {
      if (await this.#state.get(FORMAT_KEY) === FORMAT) return
      const legacyPeers = this.#db.sublevel(LEGACY_PEERS, { keyEncoding: 'utf8', valueEncoding: 'json' })
      const legacyMeta = this.#db.sublevel(LEGACY_META, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
      const ops: Array<{ type: 'put' | 'del', sublevel: Level, key: string, value?: unknown }> = []
      for await (const [id, entry] of legacyPeers.iterator()) {
        ops.push({ type: 'put', sublevel: this.#peers, key: id, value: entry })
        ops.push({ type: 'del', sublevel: legacyPeers as unknown as Level, key: id })
      }
      const lastPeer = await legacyMeta.get(EVENT_PEER_KEY)
      if (lastPeer != null && await this.#state.get(EVENT_PEER_KEY) == null) {
        ops.push({ type: 'put', sublevel: this.#state, key: EVENT_PEER_KEY, value: lastPeer })
      }
      ops.push({ type: 'put', sublevel: this.#state, key: FORMAT_KEY, value: FORMAT })
      await this.#db.batch(ops as never)
    })()
    return this.#migrating
  }

  /** The libp2p node, once started. */
  get node (): HyperNode | undefined {
    return this.#node
  }

  /** Whether peers are saved, so that the node should start at open. */
  async hasSavedPeers (): Promise<boolean> {
    await this.#migrate()
    for await (const _ of this.#peers.keys({ limit: 1 })) return true
    return false
  }

  /** Starts the node (once) and redials saved peers. */
  start (): Promise<HyperNode> {
    this.#starting ??= this.#start()
    return this.#starting
  }

  async #start (): Promise<HyperNode> {
    const { log: l, schema } = this.#init
    await this.#migrate()
    const own = toHex(l.identity.publicKey)
    this.#own = own
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
      sync: {
        log: l,
        fingerprint: schema.fingerprint,
        topic: this.#init.topic,
        blockTime: this.#init.blockTime,
        ingest: {
          validate: (name, payload) => { schema.check(name, payload) },
          accept: writers == null ? undefined : (author) => writers.has(author)
        },
        onEvent: (event) => { this.#onSyncEvent(event) }
      }
    })
    this.#node = node
    // saved peers carry the keep-alive tag: libp2p dials them when it starts,
    // once; those still away a moment later are dialled again and again
    const saved: PeerId[] = []
    for await (const [id, entry] of this.#peers.iterator() as AsyncIterable<[string, SavedPeer]>) {
      try {
        const peer = peerIdFromString(id)
        await node.peerStore.merge(peer, { multiaddrs: entry.addrs.map(a => multiaddr(a)), tags: KEEP_ALIVE_TAGS })
        saved.push(peer)
      } catch (err) {
        log.error('saved peer %s is unusable: %e', id, err)
      }
    }
    node.addEventListener('peer:reconnect-failure', (evt) => { this.#retryLater(evt.detail, this.#init.reconnectTimeout ?? 1000) })
    node.addEventListener('peer:discovery', (evt) => {
      const peer = evt.detail.id
      if (evt.detail.multiaddrs.length > 0 && node.getConnections(peer).length === 0) {
        node.dial(peer).catch(err => { log('could not dial discovered peer %p: %e', peer, err) })
      }
    })
    this.#unsubscribe = l.onCommit(entries => { this.#onCommit(entries) })
    await node.start()
    this.#startedAt = Date.now()
    for (const peer of saved) this.#retryLater(peer, RECENT_BACKOFF)
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
    const addresses = tcpAddresses(listening)
    await this.#announce(addresses)
    return listening
  }

  // An EventPeer entry, unless the last one this node wrote says the same.
  async #announce (addresses: PeerAddress[]): Promise<void> {
    const id = this.#node!.peerId.toString()
    const payload = { id, addresses }
    await this.#migrate()
    const encoded = JSON.stringify(payload)
    if (await this.#state.get(EVENT_PEER_KEY) === encoded) return
    await this.#init.announce(payload)
    await this.#state.put(EVENT_PEER_KEY, encoded)
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
      if (connection.direction === 'outbound') void node.services.sync.open(connection)
      try {
        await node.services.sync.ready(peer, either)
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

  /**
   * Connected peers with a sync session. Their `sent` and `received` count
   * since this emitter opened: the sessions that ended, and the running one.
   */
  peers (): PeerInfo[] {
    const node = this.#node
    if (node == null || this.#stopped) return []
    return node.services.sync.peers.map(id => {
      const session = node.services.sync.session(id)
      const counters = this.#counters.get(id)
      const counted = counters?.session
      // a session that replaced the counted one and has not passed its
      // handshake yet: counted too, until the handshake folds the old one
      const newer = session != null && session !== counted ? session : undefined
      const conn = node.getConnections(peerIdFromString(id))[0]
      return {
        id,
        address: conn?.remoteAddr.toString() ?? '',
        synced: this.#synced.has(id),
        sent: (counters?.sent ?? 0) + (counted?.sent ?? 0) + (newer?.sent ?? 0),
        received: (counters?.received ?? 0) + (counted?.received ?? 0) + (newer?.received ?? 0),
        session: { sent: session?.sent ?? 0, received: session?.received ?? 0 }
      }
    })
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

  // The counters of `peer`: a session is counted from its handshake to its end.
  #count (peer: string): PeerCounters {
    let counters = this.#counters.get(peer)
    if (counters == null) {
      counters = new PeerCounters()
      this.#counters.set(peer, counters)
    }
    return counters
  }

  #onSyncEvent (event: SyncEvent): void {
    const status = this.#init.status
    const peer = event.peer.toString()
    switch (event.type) {
      case 'peer:session': {
        const counters = this.#count(peer)
        const session = this.#node?.services.sync.session(peer)
        // a session replaced by this one ends without a session-end event
        if (counters.session !== session) counters.fold()
        counters.session = session
        this.#met.set(peer, Date.now())
        this.#clearRetry(peer)
        const saving = this.#remember(event.peer, event.connection)
        this.#saving.add(saving)
        void saving.finally(() => this.#saving.delete(saving))
        status.emit('peer:connect', { peer })
        break
      }
      case 'peer:session-end':
        this.#counters.get(peer)?.fold()
        this.#met.set(peer, Date.now())
        this.#synced.delete(peer)
        status.emit('peer:disconnect', { peer })
        break
      case 'peer:synced':
        this.#synced.add(peer)
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

  // Saves a peer that speaks the protocol, with the addresses it listens on,
  // and tags it keep-alive so that libp2p redials it.
  async #remember (peer: PeerId, connection: Connection): Promise<void> {
    const node = this.#node
    if (node == null || this.#stopped) return
    try {
      const stored = await node.peerStore.get(peer).catch(() => undefined)
      const addrs = new Set((stored?.addresses ?? []).map(a => a.multiaddr.toString()).filter(a => a.includes('/tcp/')))
      if (connection.direction === 'outbound') addrs.add(connection.remoteAddr.toString().replace(/\/p2p\/.*$/, ''))
      // a peer with no address to dial (it only dialled in) is not redialled
      if (addrs.size === 0 || this.#stopped) return
      await node.peerStore.merge(peer, { tags: KEEP_ALIVE_TAGS })
      await this.#peers.put(peer.toString(), { addrs: [...addrs] })
    } catch (err) {
      if (!this.#stopped) log.error('could not save peer %p: %e', peer, err)
    }
  }

  // libp2p gave up: keep trying, ever more slowly, while the node runs.
  #retryLater (peer: PeerId, delay: number): void {
    const id = peer.toString()
    if (this.#stopped || this.#retries.has(id)) return
    const timer = setTimeout(() => {
      this.#retries.delete(id)
      const node = this.#node
      if (node == null || this.#stopped || node.getConnections(peer).length > 0) return
      node.dial(peer).then(() => node.peerStore.merge(peer, { tags: KEEP_ALIVE_TAGS }), () => {
        const recent = Date.now() - Math.max(this.#met.get(id) ?? 0, this.#startedAt) < RECENT_MS
        this.#retryLater(peer, Math.min(recent ? RECENT_BACKOFF : MAX_BACKOFF, delay * 2))
      }).catch(() => {})
    }, delay)
    timer.unref()
    this.#retries.set(id, timer)
  }

  #clearRetry (peer: string): void {
    const timer = this.#retries.get(peer)
    if (timer != null) clearTimeout(timer)
    this.#retries.delete(peer)
  }

  // Dials the peers that other nodes announce in the log.
  #onCommit (entries: LogEntry[]): void {
    const node = this.#node
    if (node == null || this.#stopped) return
    for (const e of entries) {
      if (e.entry.name !== 'EventPeer' || toHex(e.entry.author) === this.#own) continue
      let announced: { id: string, addresses: PeerAddress[] }
      try {
        announced = this.#init.schema.decode('EventPeer', e.entry.payload) as typeof announced
        const peer = peerIdFromString(announced.id)
        if (peer.equals(node.peerId) || node.getConnections(peer).length > 0) continue
        if (this.#announcedDials >= MAX_ANNOUNCED_DIALS) continue
        const addrs = announced.addresses.map(a => toMultiaddr(a, announced.id))
        if (addrs.length === 0) continue
        this.#announcedDials++
        node.dial(addrs).then(
          (connection) => node.services.sync.open(connection),
          (err) => { log('could not dial announced peer %s: %e', announced.id, err) }
        ).finally(() => { this.#announcedDials-- })
      } catch (err) {
        log('unusable EventPeer: %e', err)
      }
    }
  }

  async stop (): Promise<void> {
    await Promise.all(this.#saving)
    this.#stopped = true
    this.#unsubscribe?.()
    for (const timer of this.#retries.values()) clearTimeout(timer)
    this.#retries.clear()
    const node = this.#starting != null ? await this.#starting.catch(() => undefined) : undefined
    await node?.stop()
  }
}

/** Resolves or rejects as `promise` does, or rejects with the reason of `signal` once it aborts. */
export function abortable<T> (promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal == null) return promise
  if (signal.aborted) {
    promise.catch(() => {})
    return Promise.reject(signal.reason)
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => { reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => { signal.removeEventListener('abort', onAbort) })
  })
}

/** `ip`/`port` pairs of the TCP multiaddrs. */
export function tcpAddresses (addrs: Multiaddr[]): PeerAddress[] {
  const out: PeerAddress[] = []
  for (const ma of addrs) {
    const parts = ma.getComponents()
    const ip = parts.find(p => p.name === 'ip4' || p.name === 'ip6' || p.name === 'dns4' || p.name === 'dns6' || p.name === 'dns')
    const port = parts.find(p => p.name === 'tcp')
    if (ip?.value != null && port?.value != null) out.push({ ip: ip.value, port: Number(port.value) })
  }
  return out
}

/** The multiaddr of an EventPeer address. */
export function toMultiaddr (a: PeerAddress, peer?: string): Multiaddr {
  const proto = /^\d+\.\d+\.\d+\.\d+$/.test(a.ip) ? 'ip4' : a.ip.includes(':') ? 'ip6' : 'dns'
  return multiaddr(`/${proto}/${a.ip}/tcp/${a.port}${peer != null ? `/p2p/${peer}` : ''}`)
}

// a writer is named by its peer id or its hex public key
function writerKey (writer: string): string {
  if (/^[0-9a-f]{64}$/i.test(writer)) return writer.toLowerCase()
  const key = peerIdFromString(writer).publicKey
  if (key == null || key.type !== 'Ed25519') throw new HyperEmitterError(`writer ${writer} is not an Ed25519 peer id`, 'ERR_INVALID_WRITER')
  return toHex(key.raw)
}
