import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { KEEP_ALIVE, type PeerId, type Connection } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import type { HyperNode } from './index.js'
import type { NetworkRecords } from './records.js'

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
const RECENT_BACKOFF = 1000
/** Time for one of our redials; then the next is tried. */
const REDIAL_TIMEOUT = 3000
/** How long a peer counts as met lately. */
const RECENT_MS = 10 * 60_000

export interface KeepAliveInit {
  node: HyperNode
  records: NetworkRecords
  /** ms between libp2p's redials of a lost peer: our first redial waits as long */
  reconnectTimeout: number
  /** whether a peer is an older node, which does not speak the overlay protocol */
  isLegacy: (peer: string) => boolean
  /** whether the network stopped: nothing more is saved or dialled */
  stopped: () => boolean
}

/**
 * Keeps the node with the peers it met: a peer with a sync session is saved
 * in the db, so that the overlay knows it after a restart. Peers that speak
 * the overlay protocol are dialled again by the overlay (a lost active peer
 * is replaced from the passive view). An older node that does not is
 * tagged keep-alive, so that libp2p redials it after a drop; once libp2p
 * gives up, this goes on redialling it, ever more slowly, while the node runs.
 */
export class KeepAlive {
  readonly #init: KeepAliveInit
  readonly #retries = new Map<string, ReturnType<typeof setTimeout>>()
  /** when each peer's last session started or ended */
  readonly #met = new Map<string, number>()
  #startedAt = 0
  #saved: PeerId[] = []
  /** peers being saved: stop waits for them */
  readonly #saving = new Set<Promise<void>>()

  constructor (init: KeepAliveInit) {
    this.#init = init
    init.node.addEventListener('peer:reconnect-failure', (evt) => { this.#retryLater(evt.detail, init.reconnectTimeout) })
  }

  /**
   * Before the node starts: the saved peers go into its peer store with
   * their addresses. Resolves with their ids, for the overlay.
   */
  async restore (): Promise<string[]> {
    const node = this.#init.node
    for await (const [id, entry] of this.#init.records.peers()) {
      try {
        const peer = peerIdFromString(id)
        await node.peerStore.merge(peer, { multiaddrs: entry.addrs.map(a => multiaddr(a)) })
        this.#saved.push(peer)
      } catch (err) {
        log.error('saved peer %s is unusable: %e', id, err)
      }
    }
    return this.#saved.map(p => p.toString())
  }

  /** Once the node started. */
  started (): void {
    this.#startedAt = Date.now()
  }

  /** A sync session with `peer` began: it is saved, and needs no redial. */
  connected (peer: PeerId, connection: Connection): void {
    const id = peer.toString()
    this.#met.set(id, Date.now())
    this.#clearRetry(id)
    const saving = this.#remember(peer, connection)
    this.#saving.add(saving)
    void saving.finally(() => this.#saving.delete(saving))
  }

  disconnected (peer: string): void {
    this.#met.set(peer, Date.now())
  }

  /** Waits for the peers being saved. */
  async saved (): Promise<void> {
    await Promise.all(this.#saving)
  }

  /** Drops the pending redials. */
  stop (): void {
    for (const timer of this.#retries.values()) clearTimeout(timer)
    this.#retries.clear()
  }

  // Saves a peer that speaks the protocol, with the addresses it listens on,
  // and tags it keep-alive so that libp2p redials it.
  async #remember (peer: PeerId, connection: Connection): Promise<void> {
    const { node, stopped } = this.#init
    if (stopped()) return
    try {
      const stored = await node.peerStore.get(peer).catch(() => undefined)
      const addrs = new Set((stored?.addresses ?? []).map(a => a.multiaddr.toString()).filter(a => a.includes('/tcp/')))
      if (connection.direction === 'outbound') addrs.add(connection.remoteAddr.toString().replace(/\/p2p\/.*$/, ''))
      // a peer with no address to dial (it only dialled in) is not redialled
      if (addrs.size === 0 || stopped()) return
      if (this.#init.isLegacy(peer.toString())) await node.peerStore.merge(peer, { tags: KEEP_ALIVE_TAGS })
      await this.#init.records.savePeer(peer.toString(), { addrs: [...addrs] })
    } catch (err) {
      if (!stopped()) log.error('could not save peer %p: %e', peer, err)
    }
  }

  // libp2p gave up: keep trying, ever more slowly, while the node runs.
  #retryLater (peer: PeerId, delay: number): void {
    const id = peer.toString()
    const { node, stopped } = this.#init
    if (stopped() || this.#retries.has(id) || !this.#init.isLegacy(id)) return
    const timer = setTimeout(() => {
      this.#retries.delete(id)
      if (stopped() || node.getConnections(peer).length > 0) return
      // a dial into a partition waits for TCP's SYN retries (1, 3, 7 s...):
      // a short one, tried again, connects soon after the partition heals
      node.dial(peer, { signal: AbortSignal.timeout(REDIAL_TIMEOUT) }).then(() => node.peerStore.merge(peer, { tags: KEEP_ALIVE_TAGS }), () => {
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
}
