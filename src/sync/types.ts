import type { IngestInit } from '../log/ingest.js'
import type { Log } from '../log/log.js'
import type { RefuseName } from './constants.js'
import type { LocalDescriptor } from './schemas.js'
import type { ComponentLogger, Connection, PeerId, Stream } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'

/** What sync sessions report, by type. */
export interface SyncEvents {
  /** a session passed its handshake */
  'peer:session': { peer: PeerId, connection: Connection }
  /** the peer sent everything this node lacked */
  'peer:synced': { peer: PeerId }
  /** a session ended */
  'peer:session-end': { peer: PeerId }
  /** the peer sent entries that were refused */
  'peer:invalid': { peer: PeerId, count: number, reason: string }
  /** a session was refused, by this side or (remote) by the peer */
  'peer:refused': { peer: PeerId, code: RefuseName, reason: string, remote: boolean }
}

export type SyncEvent = { [K in keyof SyncEvents]: { type: K } & SyncEvents[K] }[keyof SyncEvents]

export interface SyncInit {
  /** the log to sync */
  log: Log
  /** the older fingerprint of the events' schema (protocols/README.md §5.1): peers that send no descriptor are refused unless it is theirs */
  fingerprint: Uint8Array
  /**
   * The schema's canonical descriptor: peers that send one too are refused
   * only when their schema is incompatible with this one. @default none:
   * the fingerprint decides, as before descriptors
   */
  descriptor?: LocalDescriptor
  /** cluster name; peers with another one are refused. @default '' */
  topic: string
  /** ms a peer that broke the protocol or sent invalid entries is kept away. @default BLOCK_MS */
  blockTime?: number
  /** how received entries are checked */
  ingest: IngestInit
  /** receives every session event */
  onEvent?: (event: SyncEvent) => void
  /**
   * Whether this node opens sessions to `peer` (on a new connection it
   * dialled, on one that lost its session, and on `open()`): an overlay
   * keeps its active view this way. Streams the peer opens are accepted
   * whatever it says. @default every peer
   */
  wanted?: (peer: string) => boolean
  /**
   * Name lazy/1 in the Hello, so that peers that name it too follow
   * Plumtree with this node (IHave, grafts on timeout; protocols/README.md
   * §5.8). @default true
   */
  lazy?: boolean
  /** ms from an IHave of entries this node lacks to the graft of its link, when they do not come otherwise. @default GRAFT_TIMEOUT */
  graftTimeout?: number
  /** ms from a graft that brought nothing to the graft of the next announcer. @default GRAFT_RETRY */
  graftRetry?: number
  /**
   * Gives a sync stream a receive window of at least `bytes` where its muxer
   * has one: a session's credits already bound what the remote may send.
   */
  widenWindow?: (stream: Stream, bytes: number) => void
}

/** The node parts the sync service uses. */
export interface SyncComponents {
  peerId: PeerId
  registrar: Registrar
  connectionManager: ConnectionManager
  logger: ComponentLogger
}
