// The overlay over libp2p (protocols/README.md §8): runs a node's HyParView
// state machine (hyparview.ts) on the wall clock, carries its messages on
// /hyperemitter/overlay/1.0.0 (one message per stream, dialling the peer when
// there is no connection), turns libp2p's disconnects into failures, and
// closes connections the overlay no longer needs. The sync service opens
// sessions only to the peers this says it wants: the active view, and peers
// that do not speak the overlay protocol (older nodes).
import { peerIdFromString } from '@libp2p/peer-id'
import { pbStream } from '@libp2p/utils'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { HyParView, type HyParViewInit } from './hyparview.js'
import type { OverlayMessage } from './messages.js'
import { OverlayMessage as Wire, type PeerRecord } from '../pb/overlay.js'
import type { ComponentLogger, Connection, Libp2pEvents, Logger, PeerId, PeerStore, Startable, Stream, TypedEventTarget } from '@libp2p/interface'
import type { AddressManager, ConnectionManager, Registrar } from '@libp2p/interface-internal'

export const OVERLAY_PROTOCOL = '/hyperemitter/overlay/1.0.0'
/** Largest overlay message read. */
const MAX_MESSAGE_BYTES = 64 * 1024
/** Most peers in a Shuffle or ShuffleReply, and addresses per peer, that a receiver reads. */
const MAX_PEERS = 64
const MAX_ADDRS = 16
/** Time to dial a peer, open a stream and write one message (or read one). */
const SEND_TIMEOUT = 3000
/** How often connections that no view needs are looked for. */
const REAP_MS = 250
/** A connection no view needs is closed once it has carried no overlay message for this long. */
const LINGER_MS = 500
/** Peers whose last merged addresses are remembered (about the passive view, many times over). */
const MAX_MERGED = 1024
/** Overlay streams a connection takes at once, each way. */
const MAX_STREAMS = 16

export interface OverlayInit extends Omit<HyParViewInit, 'self' | 'random'> {
  /** a peer entered (`up`) or left (`down`) the active view */
  onChange?: (change: { type: 'up' | 'down', peer: string }) => void
}

export interface OverlayComponents {
  peerId: PeerId
  registrar: Registrar
  connectionManager: ConnectionManager
  peerStore: PeerStore
  addressManager: AddressManager
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

/** The membership service: a bounded active view of sync peers, a passive view of known ones. */
export class OverlayService implements Startable {
  readonly #components: OverlayComponents
  readonly #init: OverlayInit
  readonly #log: Logger
  readonly #view: HyParView
  /** whether each identified peer speaks the overlay protocol */
  readonly #speaks = new Map<string, boolean>()
  /** when an overlay message last went to or came from each peer */
  readonly #lastUsed = new Map<string, number>()
  /** sends under way, per peer */
  readonly #sending = new Map<string, number>()
  /**
   * Per peer, the last message sent to it and the last one received from
   * it: HyParView needs the messages between two peers in the order they
   * were sent, and each goes on a stream of its own.
   */
  readonly #outbox = new Map<string, Promise<void>>()
  readonly #inbox = new Map<string, Promise<void>>()
  /** per peer, the addresses last merged into the peer store: the same ones again are not merged */
  readonly #merged = new Map<string, string>()
  #timer: ReturnType<typeof setTimeout> | undefined
  #timerAt: number | undefined
  #reaper: ReturnType<typeof setInterval> | undefined
  #running = false
  readonly #onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const peer = evt.detail.toString()
    if (this.#view.active.has(peer)) {
      this.#view.failed(peer, Date.now())
      this.#pump()
    }
  }

  readonly #onIdentify = (evt: Libp2pEvents['peer:identify']): void => {
    const { peerId, protocols } = evt.detail
    this.#speaks.set(peerId.toString(), protocols.includes(OVERLAY_PROTOCOL))
  }

  constructor (components: OverlayComponents, init: OverlayInit = {}) {
    this.#components = components
    this.#init = init
    this.#log = components.logger.forComponent('hyperemitter:overlay')
    this.#view = new HyParView({ ...init, self: components.peerId.toString() })
  }

  readonly [Symbol.toStringTag] = '@hyperemitter/overlay'

  async start (): Promise<void> {
    await this.#components.registrar.handle(OVERLAY_PROTOCOL, (stream, connection) => { this.#inOrder(this.#inbox, connection.remotePeer.toString(), async () => { await this.#receive(stream, connection) }) }, {
      maxInboundStreams: MAX_STREAMS,
      maxOutboundStreams: MAX_STREAMS
    })
    this.#components.events.addEventListener('peer:disconnect', this.#onDisconnect)
    this.#components.events.addEventListener('peer:identify', this.#onIdentify)
    this.#running = true
    this.#reaper = setInterval(() => { this.#reap() }, REAP_MS)
    this.#reaper.unref?.()
    this.#pump()
  }

  async stop (): Promise<void> {
    this.#running = false
    clearTimeout(this.#timer)
    clearInterval(this.#reaper)
    this.#components.events.removeEventListener('peer:disconnect', this.#onDisconnect)
    this.#components.events.removeEventListener('peer:identify', this.#onIdentify)
    await this.#components.registrar.unhandle(OVERLAY_PROTOCOL)
  }

  /** The active view: the peers this node keeps sync sessions with. */
  get active (): string[] {
    return [...this.#view.active]
  }

  /** The passive view: known peers to replace active ones from. */
  get passive (): string[] {
    return [...this.#view.passive]
  }

  /**
   * Whether the sync service should open a session to `peer`: it is in the
   * active view, or it does not speak the overlay protocol (an older node,
   * kept as it was: a session on every connection it has).
   */
  wanted (peer: string): boolean {
    return this.#view.active.has(peer) || this.#speaks.get(peer) === false
  }

  /** Whether a Join or Neighbor sent to `peer` awaits its answer. */
  awaits (peer: string): boolean {
    return this.#view.awaits(peer)
  }

  /** Whether `peer` is known not to speak the overlay protocol. */
  isLegacy (peer: string): boolean {
    return this.#speaks.get(peer) === false
  }

  /** Joins the overlay through `peer` (its addresses in the peer store or connected). */
  join (peer: string): void {
    if (!this.#running) return
    this.#view.join(peer, Date.now())
    this.#pump()
  }

  /** Peers heard of (mDNS, EventPeer, saved), with their addresses in the peer store: into the passive view. */
  learn (peers: string[]): void {
    if (!this.#running) return
    const self = this.#components.peerId.toString()
    this.#view.learn(peers.filter(p => p !== self && this.#speaks.get(p) !== false), Date.now())
    this.#pump()
  }

  #pump (): void {
    if (!this.#running) return
    for (let action = this.#view.poll(); action != null; action = this.#view.poll()) {
      switch (action.type) {
        case 'send': {
          const { to, message } = action
          this.#inOrder(this.#outbox, to, async () => { await this.#send(to, message) })
          break
        }
        case 'up':
          this.#lastUsed.set(action.peer, Date.now())
          this.#init.onChange?.({ type: 'up', peer: action.peer })
          break
        case 'down':
          this.#lastUsed.set(action.peer, Date.now())
          this.#init.onChange?.({ type: 'down', peer: action.peer })
          break
      }
    }
    const at = this.#view.timeout
    if (at === this.#timerAt) return
    clearTimeout(this.#timer)
    this.#timerAt = at
    if (at == null) return
    this.#timer = setTimeout(() => {
      this.#timerAt = undefined
      this.#view.tick(Date.now())
      this.#pump()
    }, Math.max(1, at - Date.now()))
    this.#timer.unref?.()
  }

  // Runs `job` after the last one queued for `peer`.
  #inOrder (queues: Map<string, Promise<void>>, peer: string, job: () => Promise<void>): void {
    const next = (queues.get(peer) ?? Promise.resolve()).then(job).catch(() => {})
    queues.set(peer, next)
    void next.then(() => { if (queues.get(peer) === next) queues.delete(peer) })
  }

  // One message on a stream of its own; the peer is dialled when there is no
  // connection. A peer that cannot be reached, or does not speak the
  // protocol, has failed. An active peer whose connection stays open has
  // not: a send into a short partition times out, and the connection (with
  // its session) carries on after the heal; if it is dead, libp2p closes it.
  async #send (to: string, message: OverlayMessage): Promise<void> {
    this.#sending.set(to, (this.#sending.get(to) ?? 0) + 1)
    this.#lastUsed.set(to, Date.now())
    let stream: Stream | undefined
    try {
      const signal = AbortSignal.timeout(SEND_TIMEOUT)
      const wire = await this.#encode(message)
      const peer = peerIdFromString(to)
      const connection = this.#components.connectionManager.getConnections(peer).find(c => c.status === 'open') ??
        await this.#components.connectionManager.openConnection(peer, { signal })
      stream = await connection.newStream(OVERLAY_PROTOCOL, { signal })
      await pbStream(stream).pb(Wire).write(wire, { signal })
      await stream.close({ signal })
    } catch (err) {
      stream?.abort(err as Error)
      const unsupported = (err as Error).name === 'UnsupportedProtocolError'
      if (unsupported) this.#speaks.set(to, false)
      this.#log('could not send %s to %s: %e', message.type, to, err)
      const linked = this.#view.active.has(to) && this.#components.connectionManager.getConnections(peerIdFromString(to)).some(c => c.status === 'open')
      if (this.#running && (unsupported || !linked)) {
        this.#view.failed(to, Date.now())
        this.#pump()
      }
    } finally {
      const n = (this.#sending.get(to) ?? 1) - 1
      if (n === 0) this.#sending.delete(to)
      else this.#sending.set(to, n)
      this.#lastUsed.set(to, Date.now())
    }
  }

  async #receive (stream: Stream, connection: Connection): Promise<void> {
    const from = connection.remotePeer.toString()
    this.#speaks.set(from, true)
    this.#lastUsed.set(from, Date.now())
    let wire: Wire
    try {
      const signal = AbortSignal.timeout(SEND_TIMEOUT)
      wire = await pbStream(stream, { maxDataLength: MAX_MESSAGE_BYTES }).pb(Wire).read({
        signal,
        limits: {
          addrs: MAX_ADDRS,
          forwardJoin: { peer: { addrs: MAX_ADDRS } },
          shuffle: { origin: { addrs: MAX_ADDRS }, peers: MAX_PEERS, peers$: { addrs: MAX_ADDRS } },
          shuffleReply: { peers: MAX_PEERS, peers$: { addrs: MAX_ADDRS } }
        }
      })
      await stream.close({ signal })
    } catch (err) {
      this.#log('bad overlay message from %s: %e', from, err)
      stream.abort(err as Error)
      return
    }
    if (!this.#running) return
    const message = await this.#decode(from, wire)
    if (message == null) {
      this.#log('overlay message from %s with no known field', from)
      return
    }
    this.#view.receive(from, message, Date.now())
    this.#pump()
  }

  async #encode (message: OverlayMessage): Promise<Wire> {
    const wire: Wire = { addrs: this.#ownAddrs() }
    switch (message.type) {
      case 'join': wire.join = {}; break
      case 'forward-join': wire.forwardJoin = { peer: await this.#record(message.peer), ttl: message.ttl }; break
      case 'neighbor': wire.neighbor = { high: message.high }; break
      case 'neighbor-reply': wire.neighborReply = { accept: message.accept }; break
      case 'disconnect': wire.disconnect = {}; break
      case 'shuffle':
        wire.shuffle = { origin: await this.#record(message.origin), ttl: message.ttl, peers: await Promise.all(message.peers.map(async p => await this.#record(p))) }
        break
      case 'shuffle-reply': wire.shuffleReply = { peers: await Promise.all(message.peers.map(async p => await this.#record(p))) }; break
    }
    return wire
  }

  // The message the state machine takes; the addresses it carries go into
  // the peer store, for the dials that follow. Unusable peer records are left out.
  async #decode (from: string, wire: Wire): Promise<OverlayMessage | undefined> {
    await this.#remember(from, wire.addrs)
    const peers = async (records: PeerRecord[]): Promise<string[]> => {
      const out: string[] = []
      for (const r of records) if (await this.#remember(r.id, r.addrs)) out.push(r.id)
      return out
    }
    if (wire.join != null) return { type: 'join' }
    if (wire.forwardJoin?.peer != null) {
      const [peer] = await peers([wire.forwardJoin.peer])
      return peer == null ? undefined : { type: 'forward-join', peer, ttl: wire.forwardJoin.ttl }
    }
    if (wire.neighbor != null) return { type: 'neighbor', high: wire.neighbor.high }
    if (wire.neighborReply != null) return { type: 'neighbor-reply', accept: wire.neighborReply.accept }
    if (wire.disconnect != null) return { type: 'disconnect' }
    if (wire.shuffle?.origin != null) {
      const [origin] = await peers([wire.shuffle.origin])
      return origin == null ? undefined : { type: 'shuffle', origin, ttl: wire.shuffle.ttl, peers: await peers(wire.shuffle.peers) }
    }
    if (wire.shuffleReply != null) return { type: 'shuffle-reply', peers: await peers(wire.shuffleReply.peers) }
    return undefined
  }

  async #record (id: string): Promise<PeerRecord> {
    const stored = await this.#components.peerStore.get(peerIdFromString(id)).catch(() => undefined)
    const addrs = (stored?.addresses ?? []).map(a => a.multiaddr).filter(isDialable).slice(0, MAX_ADDRS)
    return { id, addrs: addrs.map(a => a.bytes) }
  }

  // Whether `id` is a usable peer id; its dialable addresses are merged into the peer store.
  async #remember (id: string, addrs: Uint8Array[]): Promise<boolean> {
    let peer: PeerId
    try {
      peer = peerIdFromString(id)
    } catch {
      return false
    }
    if (peer.type !== 'Ed25519') return false
    if (peer.equals(this.#components.peerId)) return true
    // every overlay message carries its sender's addresses, and shuffles
    // carry the same peers again and again: a merge reads, decodes, writes
    // and announces the peer's record, so the same addresses again are left alone
    const key = Buffer.concat(addrs).toString('latin1')
    if (addrs.length === 0 || this.#merged.get(id) === key) return true
    const multiaddrs: Multiaddr[] = []
    for (const bytes of addrs) {
      try {
        const addr = multiaddr(bytes)
        if (isDialable(addr)) multiaddrs.push(addr)
      } catch {
        // not a multiaddr: left out
      }
    }
    if (multiaddrs.length === 0) return true
    if (this.#merged.size >= MAX_MERGED) this.#merged.clear()
    this.#merged.set(id, key)
    await this.#components.peerStore.merge(peer, { multiaddrs }).catch(() => { this.#merged.delete(id) })
    return true
  }

  #ownAddrs (): Array<Uint8Array<ArrayBuffer>> {
    return this.#components.addressManager.getAddresses()
      .map(a => a.decapsulateCode(421))
      .filter(isDialable)
      .slice(0, MAX_ADDRS)
      .map(a => a.bytes)
  }

  // Closes connections to peers that speak the overlay and that no view
  // needs any more: not active, no answer awaited from it, nothing being
  // sent, quiet for LINGER_MS.
  // Of two connections to an active peer (both dialled at once), the one
  // that carries no stream goes.
  #reap (): void {
    const now = Date.now()
    const seen = new Set<string>()
    for (const connection of this.#components.connectionManager.getConnections()) {
      const peer = connection.remotePeer.toString()
      if (this.#speaks.get(peer) !== true || this.#sending.has(peer) || this.#view.awaits(peer) || now - connection.timeline.open < LINGER_MS) continue
      if (this.#view.active.has(peer)) {
        if (seen.has(peer)) continue
        seen.add(peer)
        const connections = this.#components.connectionManager.getConnections(connection.remotePeer)
        if (connections.length < 2) continue
        const idle = connections.filter(c => c.streams.length === 0 && now - c.timeline.open >= LINGER_MS)
        for (const c of idle.slice(0, connections.length - 1)) void c.close().catch(() => {})
        continue
      }
      if (now - (this.#lastUsed.get(peer) ?? 0) < LINGER_MS) continue
      this.#log('closing the connection to %s: no view needs it', peer)
      void connection.close().catch(() => {})
    }
    for (const [peer, at] of this.#lastUsed) if (now - at > 10 * LINGER_MS && !this.#view.active.has(peer)) this.#lastUsed.delete(peer)
  }
}

function isDialable (addr: Multiaddr): boolean {
  return addr.toString().includes('/tcp/')
}

/** The overlay service, for libp2p's `services`. */
export function hyperOverlay (init: OverlayInit = {}): (components: OverlayComponents) => OverlayService {
  return (components) => new OverlayService(components, init)
}
