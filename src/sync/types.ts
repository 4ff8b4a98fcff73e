import type { IngestInit } from '../log/ingest.js'
import type { Log } from '../log/log.js'
import type { RefuseName } from './constants.js'
import type { ComponentLogger, Connection, PeerId } from '@libp2p/interface'
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
  /** fingerprint of the events' schema; peers with another one are refused */
  fingerprint: Uint8Array
  /** cluster name; peers with another one are refused. @default '' */
  topic: string
  /** ms a peer that broke the protocol or sent invalid entries is kept away. @default BLOCK_MS */
  blockTime?: number
  /** how received entries are checked */
  ingest: IngestInit
  /** receives every session event */
  onEvent?: (event: SyncEvent) => void
}

/** The node parts the sync service uses. */
export interface SyncComponents {
  peerId: PeerId
  registrar: Registrar
  connectionManager: ConnectionManager
  logger: ComponentLogger
}
