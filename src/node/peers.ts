import { peerIdFromString } from '@libp2p/peer-id'
import type { HyperNode } from './index.js'

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

/** What a sync session counts. */
export interface Counting {
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

/**
 * What `peers()` says of each peer: whether it has synced, and the entries
 * exchanged with it since the emitter opened, over all its sessions. A
 * session is counted from its handshake to its end.
 */
export class PeerTable {
  readonly #synced = new Set<string>()
  /** by peer id: kept when a session ends, so that peers() counts since open */
  readonly #counters = new Map<string, PeerCounters>()

  /** `session`, the peer's running session, passed its handshake. */
  started (peer: string, session: Counting | undefined): void {
    const counters = this.#count(peer)
    // a session replaced by this one ends without a session-end event
    if (counters.session !== session) counters.fold()
    counters.session = session
  }

  ended (peer: string): void {
    this.#counters.get(peer)?.fold()
    this.#synced.delete(peer)
  }

  synced (peer: string): void {
    this.#synced.add(peer)
  }

  /** The peers of `node` with a sync session. */
  list (node: HyperNode): PeerInfo[] {
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

  #count (peer: string): PeerCounters {
    let counters = this.#counters.get(peer)
    if (counters == null) {
      counters = new PeerCounters()
      this.#counters.set(peer, counters)
    }
    return counters
  }
}
