import type { RetentionPolicy } from './log/retention.js'
import type { FloorNotice } from './reader.js'

/** What `new HyperEmitter(db, schema, options)` takes; each is optional. */
export interface HyperEmitterOptions {
  /**
   * Open even when the schema cannot decode events already in the db (an
   * incompatible change of the schema): listeners skip those events, and
   * readers yield them as unknown, with their raw payload. Without it the
   * open fails with UndecodableEventsError. @default false
   */
  force?: boolean
  /** fsync every commit: survive power loss, not only crashes. @default false */
  fsync?: boolean
  /**
   * The log's write-ahead file (a path), or false for none: an emit is
   * durable once appended to it, before level has it. @default `hyperemitter.wal`
   * in the db's folder; none for dbs without a folder
   */
  wal?: string | false
  /**
   * Drop the oldest events so that the disk stays bounded: at most
   * `maxEvents` of them, none older than `maxAge` ms (by their author's
   * timestamp, in feed order). The log stays verifiable; peers that catch
   * up from this node start at its floor. See the README, "Retention".
   * @default keep everything
   */
  retention?: RetentionPolicy
  /** ms between libp2p's first redials of a lost older peer (one that does not speak the overlay); then the emitter redials every second (every 60 s once a peer has not been met for 10 minutes). @default 1000 */
  reconnectTimeout?: number
  /** ms a peer that broke the protocol or sent invalid entries is kept away. @default 60000 */
  blockTime?: number
  /** discover peers on the LAN by mDNS (into the overlay's passive view). @default false */
  mdns?: boolean
  /** cluster name: peers with another topic are refused, and mDNS only finds this one. @default '' */
  topic?: string
  /** peer ids (or hex public keys) whose entries are accepted; the node's own always are. @default anyone */
  writers?: string[]
  /**
   * Peers this node keeps sync sessions with: its active view in the overlay
   * (protocols/README.md §8). A cluster larger than this is not a full mesh:
   * entries travel along a broadcast tree. @default 6
   */
  activePeers?: number
  /**
   * How many emit keys this node remembers: an emit with `{ key }` of one of
   * the newest this many keys it stored stores nothing and resolves with the
   * first entry. Each costs about 100 bytes of memory (a 36-character key)
   * and a record in the db. @default 100000
   */
  idempotencyWindow?: number
  /** Known peers kept in reserve to replace active ones that fail (the passive view). @default 30 */
  passivePeers?: number
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
  /** a reader or cursor resumed at the log's floor: what it was to read next was dropped (retention) */
  'read:floor': FloorNotice
}

/** What `emit(name, message, options)` takes. */
export interface EmitOptions {
  /**
   * An idempotency key (a string of 1 to 256 UTF-8 bytes): when this node
   * stored an event with the same key among its newest `idempotencyWindow`
   * keys, or one with it is being stored, the emit stores nothing and
   * resolves with that event's `{ id, seq }`, whatever its name and message.
   * Kept in this node's db with the entry, atomically: it holds across
   * restarts and crashes. Per node: another node does not know it, and the
   * key travels to no peer.
   */
  key?: string
}
