// What passes between a session's core (core.ts) and whatever drives it: the
// libp2p adapter (session.ts) or an in-memory pair in the tests.
import type { Uint8ArrayList } from 'uint8arraylist'
import type { InvalidEntryError } from '../errors.js'
import type { Ingester } from '../log/ingest.js'
import type { DecodedEntry } from '../log/entry.js'
import type { LogEntry } from '../log/log.js'
import type { Checked } from '../log/check-pool.js'
import type { EntryList } from './framing.js'

/** An entry to send: its bytes, author (hex) and author seq. */
export interface Outgoing {
  bytes: Uint8Array
  author: string
  authorSeq: number
  /** dropped entries a peer may need to store it: sent along as context (protocols/README.md §5.9) */
  context?: Uint8Array[]
}

/** What a store pass stored, and the entries it found invalid. */
export interface StoreResult {
  stored: LogEntry[]
  invalid: InvalidEntryError[]
  /** authors of entries held here that another session's store pass stored (Ingester.storeReady) */
  lent?: Set<string>
}

/** What checking a part of a frame gave. */
export type Accepted = ReturnType<Ingester['accept']>

/**
 * Something for the driver to do, in the order given. Storage actions start
 * work whose result the driver hands back: `read` to `core.readDone`,
 * `store` to `core.storeDone` (or a failure to `core.storageFailed`),
 * `check` to `core.checkDone`.
 */
export type Action =
  /** write these bytes (whole frames) to the peer */
  | { type: 'send', bytes: Uint8ArrayList }
  /** read the entries the remote lacks given `have` (author hex to seq), at most `limit`, in feed order */
  | { type: 'read', have: Map<string, number>, limit: number }
  /** a store pass over the held entries of the parts accepted up to `upTo`; `detach` once their frame is done with */
  | { type: 'store', upTo: number, detach: boolean }
  /** hash the entries of Entries frame number `frame` and check their signatures off this thread (CoreStorage.wantsCheck) */
  | { type: 'check', frame: number, entries: Uint8Array[] }
  /** the handshake passed */
  | { type: 'ready' }
  /** the remote has sent everything this node lacked, and it is stored */
  | { type: 'synced' }
  /** the remote sent `count` invalid entries */
  | { type: 'invalid', count: number, reason: string }
  /** a store pass stored entries of these authors (hex) */
  | { type: 'stored', authors: Set<string> }
  /**
   * The remote (lazy/1) holds entries of these authors (hex) up to these
   * seqs, which this node lacks, and does not push them: this side pruned
   * them on this session. The driver grafts them if they do not come by
   * another path (LazyRepair).
   */
  | { type: 'ihave', have: Array<[string, number]> }
  /**
   * The session is over. Close the stream after the bytes sent before (a
   * Refuse among them when this side refused), or reset it. `error` is why,
   * if it did not end normally.
   */
  | { type: 'end', error: Error | undefined, reset: boolean }

/**
 * What the core reads and checks synchronously: the log's in-memory state
 * and the session's Ingester. Whatever takes time (reads, store passes) is
 * an Action instead.
 */
export interface CoreStorage {
  /** each author's highest stored seq, by hex key */
  vector: () => Map<string, number>
  /** entries stored */
  readonly length: number
  authorSeq: (author: string) => number
  /** checks a part of a frame and holds its valid entries, with what a `check` action found for it if one did; throws ProtocolError past the pending bounds */
  accept: (entries: Uint8Array[], now: number, context?: DecodedEntry[], checked?: Checked) => Accepted
  /** Whether an Entries frame is given to a `check` action before it is accepted. @default none is */
  wantsCheck?: (entries: EntryList) => boolean
  /** held entries whose signature is in place: they wait for parents only */
  readonly verified: number
  /** held entries */
  readonly pending: number
  /** ms a held entry may wait */
  readonly pendingTtl: number
  /** drops the held entries older than pendingTtl */
  expire: (now: number) => void
  /** drops every held entry (the session ended) */
  clear: () => void
  /** the dropped entries a peer may need to store `e` (retention), sent along with it */
  context?: (author: string, e: LogEntry) => Uint8Array[] | undefined
}
