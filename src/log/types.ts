// The shapes the log's files share. Everything here is a type, so that any
// of them can import it without an import circle.
import type { AbstractLevel, AbstractSublevel } from 'abstract-level'
import type { Entry } from './entry.js'
import type { RetentionPolicy } from './retention.js'

/**
 * Any abstract-level db (classic-level, memory-level, a sublevel, ...), of
 * any encodings: the log makes its own sublevels. Typed structurally because
 * abstract-level's generics do not let one implementation stand for another.
 */
export interface AnyLevel {
  readonly status: string
  open (): Promise<void>
  close (): Promise<void>
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  sublevel (name: string, options?: any): any
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Db = AbstractLevel<any, any, any>
export type Sub = AbstractSublevel<Db, unknown, Buffer, Buffer>

/** The log's sublevels, all with binary keys and values (see keys.ts). */
export interface Sublevels {
  /** first feed position of a record -> the ids and bytes of its entries (keys.ts packRecords) */
  feed: Sub
  /** entry id -> feed position and Lamport clock (keys.ts idValue) */
  ids: Sub
  /** one record: the ids of the heads at the last checkpoint */
  heads: Sub
  /** author and first seq of a run -> its last seq and first feed position */
  runs: Sub
  /** cursor name -> feed position */
  cursors: Sub
  /** the checkpoint position, the name index's version, and other layers' records */
  meta: Sub
  /** event name (length-prefixed) and feed position -> nothing: the name index */
  names: Sub
  /** emit key -> feed position of the entry stored with it (the idempotency window) */
  keys: Sub
  /** author -> first seq kept and the id of the dropped entry before it (floors.ts) */
  floors: Sub
  /** id -> bytes of a dropped entry that something kept refers to (floors.ts) */
  cut: Sub
}

/** An entry as stored, with its place in the local change feed. */
export interface LogEntry {
  /** position in the local change feed, from 1 */
  seq: number
  id: Uint8Array<ArrayBuffer>
  bytes: Uint8Array
  entry: Entry
}

export interface LogInit {
  /** fsync each commit (survives power loss, not only process crashes) @default false */
  fsync?: boolean
  /** largest local commit group @default MAX_GROUP */
  maxGroup?: number
  /**
   * The write-ahead file, or false for none. By default a db with a folder
   * (classic-level) has one in it, WAL_NAME; other dbs have none, and a
   * commit is durable once level has it.
   */
  wal?: string | false
  /** drop the oldest entries as this says (src/log/README.md, "Retention") @default keep everything */
  retention?: RetentionPolicy
  /** emit keys remembered (see Log.append), the newest first @default KEY_WINDOW */
  keyWindow?: number
}

/** Which entries a filtered read yields: both lists must match when both are given. */
export interface ReadFilter {
  /** event names, exactly as stored */
  names?: readonly string[]
  /** hex public keys of authors */
  authors?: readonly string[]
}

/**
 * What a commit added, in feed order; given to `onCommit` subscribers. `by`
 * is what `Log.store` was given as the one storing (a session's Ingester
 * tells its own store passes from other commits), undefined for appends.
 */
export type CommitListener = (entries: LogEntry[], by?: object) => void

/** An entry a peer lacks: its feed position, author (hex) and author seq. */
export interface Missing {
  seq: number
  author: string
  authorSeq: number
}

/** A problem `verify()` found. */
export interface VerifyProblem {
  seq?: number
  id?: string
  problem: string
}

export interface VerifyReport {
  ok: boolean
  entries: number
  authors: number
  problems: VerifyProblem[]
}
