import { peerIdFromString } from '@libp2p/peer-id'
import { logger } from '@libp2p/logger'
import { toHex } from '../log/entry.js'
import { toMultiaddr, type PeerAddress } from './address.js'
import type { HyperNode } from './index.js'
import type { NetworkRecords } from './records.js'
import type { LogEntry } from '../log/log.js'
import type { Schema } from '../schema/index.js'

const log = logger('hyperemitter:network')

/** An EventPeer event: a node's peer id and the addresses it listens on. */
export interface EventPeer {
  id: string
  addresses: PeerAddress[]
}

export interface AnnouncerInit {
  node: HyperNode
  schema: Schema
  records: NetworkRecords
  /** hex public key of this node: its own EventPeer is not dialled */
  own: string
  /** appends the node's EventPeer announcement */
  announce: (payload: EventPeer) => Promise<unknown>
  /** whether the network stopped: announced peers are no longer dialled */
  stopped: () => boolean
}

/**
 * EventPeer, the log as the cluster's address book: a node writes where it
 * listens, and learns the peers that others write about.
 */
export class Announcer {
  readonly #init: AnnouncerInit

  constructor (init: AnnouncerInit) {
    this.#init = init
  }

  /** Writes an EventPeer entry, unless the last one this node wrote says the same. */
  async announce (addresses: PeerAddress[]): Promise<void> {
    const id = this.#init.node.peerId.toString()
    const payload = { id, addresses }
    const encoded = JSON.stringify(payload)
    if (await this.#init.records.lastAnnouncement() === encoded) return
    await this.#init.announce(payload)
    await this.#init.records.setLastAnnouncement(encoded)
  }

  /**
   * The peers that other nodes announce in `entries` go into the peer store
   * with their addresses, and into the overlay's passive view: the overlay
   * decides which to dial.
   */
  learnAnnounced (entries: LogEntry[]): void {
    const { node, stopped } = this.#init
    if (stopped()) return
    // by index: every stored entry passes here, in code V8 may not have
    // optimized yet, where a for-of makes two objects a step
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]
      if (e.entry.name !== 'EventPeer' || toHex(e.entry.author) === this.#init.own) continue
      try {
        const announced = this.#init.schema.decode('EventPeer', e.entry.payload) as unknown as EventPeer
        const peer = peerIdFromString(announced.id)
        if (peer.equals(node.peerId)) continue
        const multiaddrs = announced.addresses.map(a => toMultiaddr(a))
        if (multiaddrs.length === 0) continue
        node.peerStore.merge(peer, { multiaddrs }).then(
          () => { if (!stopped()) node.services.overlay.learn([announced.id]) },
          (err) => { log('could not store announced peer %s: %e', announced.id, err) }
        )
      } catch (err) {
        log('unusable EventPeer: %e', err)
      }
    }
  }
}
