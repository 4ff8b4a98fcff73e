import { join } from 'node:path'
import { ClosedError, HyperEmitterError, InvalidMessageError, StorageError } from '../errors.js'
import { CommitPipeline, MAX_GROUP, type Adoption } from './commit.js'
import { MAX_ENTRY_BYTES, toHex, type DecodedEntry, type Entry, type Head } from './entry.js'
import type { Identity } from './identity.js'
import { feedBytes, readIdValue, readSeq, seqKey, type AuthorState } from './keys.js'
import { describe, sublevels } from './level.js'
import { readFiltered, type Filtered } from './filter.js'
import { indexNames, loadIdentity, loadState } from './load.js'
import { migrateLayout } from './migrate.js'
import { missing } from './missing.js'
import { feedItems, readBytes, readFeed } from './reads.js'
import { KEY_WINDOW, type LogState } from './state.js'
import type { AnyLevel, CommitListener, Db, LogEntry, LogInit, Missing, ReadFilter, Sub, Sublevels, VerifyReport } from './types.js'
import { expected, verify } from './verify.js'
import { Boundary, type CutEntry } from './floors.js'
import { Compactor, type CompactResult, type RetentionPolicy } from './retention.js'
import { Wal } from './wal.js'

export { MAX_GROUP, KEY_WINDOW }
export type { Filtered }
export type { Adoption } from './commit.js'
export { CutEntry } from './floors.js'
export type { CompactResult, RetentionPolicy } from './retention.js'
export type { AnyLevel, CommitListener, LogEntry, LogInit, Missing, ReadFilter, VerifyProblem, VerifyReport } from './types.js'

/** Largest payload plus event name: the rest of MAX_ENTRY_BYTES is for the other fields and MAX_LINKS links. */
export const MAX_PAYLOAD_BYTES = MAX_ENTRY_BYTES - 4096

/** Longest emit key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 256

/** The write-ahead file of a db with a folder, inside that folder (level leaves files it does not know alone). */
export const WAL_NAME = 'hyperemitter.wal'

/**
 * An entry a peer lacks, with its bytes (Log.missingBytes): a class, one
 * object per entry a catch-up sends, with room for the dropped entries the
 * peer may need along with it (`context`, filled in by the caller).
 */
export class MissingBytes implements Missing {
  context: Uint8Array[] | undefined = undefined
  constructor (readonly seq: number, readonly author: string, readonly authorSeq: number, readonly bytes: Uint8Array) {}
}

/**
 * The hash-linked log on an abstract-level db. Entries are stored only after
 * their parents; local appends are committed in groups (one level batch, one
 * signature per group); every commit is one atomic batch. This class checks
 * calls and hands them on: state.ts holds the state, commit.ts every write,
 * reads.ts, missing.ts and verify.ts the reads (README.md).
 */
export class Log {
  readonly identity: Identity
  readonly #db: Db
  readonly #levels: Sublevels
  readonly #state: LogState<Sub>
  readonly #commits: CommitPipeline
  readonly #boundary: Boundary
  readonly #compactor: Compactor
  #closed = false

  private constructor (db: Db, levels: Sublevels, identity: Identity, state: LogState<Sub>, boundary: Boundary, init: LogInit) {
    this.#db = db
    this.#levels = levels
    this.identity = identity
    this.#state = state
    this.#boundary = boundary
    this.#commits = new CommitPipeline(db, levels, state, boundary, identity, { fsync: init.fsync ?? false, maxGroup: init.maxGroup ?? MAX_GROUP })
    this.#compactor = new Compactor(levels, state, boundary, this.#commits)
  }

  /** Opens (or creates) the log in `db`, which it opens if needed. */
  static async open (db: AnyLevel, init: LogInit = {}): Promise<Log> {
    try {
      await db.open()
    } catch (err) {
      throw new StorageError(`cannot open the db: ${describe(err)}`, { cause: err })
    }
    const identity = await loadIdentity(db)
    const levels = sublevels(db)
    await migrateLayout(db, levels)
    const boundary = await Boundary.load(levels)
    const state = await loadState(levels, boundary, init.keyWindow ?? KEY_WINDOW)
    // before any commit: a commit's checkpoint says the index reaches it
    await indexNames(db as unknown as Db, levels, state.length, boundary.position)
    const self = new Log(db as unknown as Db, levels, identity, state, boundary, init)
    const location = (db as { location?: unknown }).location
    const walPath = init.wal ?? (typeof location === 'string' ? join(location, WAL_NAME) : false)
    if (walPath !== false) {
      const { wal, records } = Wal.open(walPath)
      await self.#commits.useWal(wal, records)
    }
    if (init.retention != null) self.#compactor.start(init.retention)
    return self
  }

  #checkOpen (): void {
    if (this.#closed) throw new ClosedError('the log is closed')
  }

  /** Number of entries in the log: the last position of the change feed. */
  get length (): number {
    return this.#state.length
  }

  get closed (): boolean {
    return this.#closed
  }

  /**
   * The feed position up to which entries were dropped (retention): the
   * feed holds positions after it only. 0 when nothing was dropped.
   */
  get floor (): number {
    return this.#boundary.position
  }

  /** Whether this log holds dropped entries that kept ones refer to (its own or a peer's): sends may need context. */
  get hasCut (): boolean {
    return this.#boundary.cut.size > 0
  }

  /** The first seq of `author` (hex) this log keeps or will keep, and the id of the dropped entry before it; undefined when it starts at 1. */
  authorFloor (author: string): { seq: number, prev: Uint8Array } | undefined {
    return this.#boundary.floors.get(author)
  }

  /**
   * The dropped entries a peer may need to store `entry` from this node
   * (protocols/README.md §5.9): the one before it when it is its author's
   * first kept entry, and those it links to. Undefined when none.
   */
  context (author: string, entry: Entry): CutEntry[] | undefined {
    return this.#boundary.context(author, entry)
  }

  /** Whether a floor after `author`'s entry at `seq` may be taken from a peer: nothing of that author is kept here, and it is beyond what is. */
  mayAdopt (author: string, seq: number): boolean {
    return this.#state.mayAdopt(author, seq)
  }

  /**
   * Drops the oldest entries as `policy` says, now (src/log/README.md,
   * "Retention"); the log's own policy (LogInit.retention) runs by itself.
   */
  async compact (policy: RetentionPolicy): Promise<CompactResult> {
    this.#checkOpen()
    return this.#compactor.compact(policy)
  }

  /** Ids of the entries no other entry links to. */
  heads (): Uint8Array[] {
    return [...this.#state.heads.values()].map(h => h.id)
  }

  /** The version vector: each author's highest stored seq, by hex public key. */
  vector (): Map<string, number> {
    const out = new Map<string, number>()
    for (const [author, state] of this.#state.authors) out.set(author, state.seq)
    return out
  }

  /** The highest stored seq of one author (hex public key), 0 if none. */
  authorSeq (author: string): number {
    return this.#state.authorHead(author).seq
  }

  /** The newest stored entry of `author` (hex): seq, id and clock. */
  authorHead (author: string): Head {
    return this.#state.authorHead(author)
  }

  /** Subscribes to commits; returns the unsubscribe function. */
  onCommit (listener: CommitListener): () => void {
    return this.#commits.onCommit(listener)
  }

  /**
   * Appends a local entry. Concurrent appends are committed together; the
   * promise resolves once the entry is durable, with the stored entry or
   * what `result` makes of it (one promise per append, not two).
   *
   * With an emit `key`: when an entry was stored with the same key and the
   * key is among the last `keyWindow` keys stored, or an append with it is
   * on its way, nothing is stored and the promise resolves with that entry.
   * The key is kept with the entry in the same commit (and write-ahead
   * record): it holds across restarts and crashes. It is this node's only.
   */
  append (name: string, payload: Uint8Array, result?: undefined, key?: string): Promise<LogEntry>
  append<T> (name: string, payload: Uint8Array, result: (entry: LogEntry) => T, key?: string): Promise<T>
  append (name: string, payload: Uint8Array, result?: (entry: LogEntry) => unknown, key?: string): Promise<unknown> {
    if (this.#closed) return Promise.reject(new ClosedError('the log is closed'))
    // peers refuse entries over MAX_ENTRY_BYTES: room is kept for the other fields
    if (payload.byteLength + name.length > MAX_PAYLOAD_BYTES) {
      return Promise.reject(new InvalidMessageError(`a ${name} of ${payload.byteLength} bytes is over the ${MAX_PAYLOAD_BYTES}-byte limit`))
    }
    if (key != null) {
      const bad = checkKey(key)
      if (bad != null) return Promise.reject(bad)
      const seq = this.#state.keyed(key)
      // unless retention dropped that entry meanwhile: then it is stored anew
      if (seq != null) {
        return this.read(seq, 1).then(([e]) => e?.seq !== seq
          ? this.#commits.append(name, payload as Uint8Array<ArrayBuffer>, result, key)
          : result == null ? e : result(e))
      }
    }
    return this.#commits.append(name, payload as Uint8Array<ArrayBuffer>, result, key)
  }

  /**
   * Stores entries that are already validated, in causal order, each one's
   * parents stored before or earlier in the list. Entries whose author seq is
   * already stored are skipped (another peer delivered them first). Runs one
   * at a time with every other write. `by`, the one storing, goes to the
   * commit's listeners.
   */
  async store (entries: DecodedEntry[], adopt?: Adoption, by?: object): Promise<LogEntry[]> {
    this.#checkOpen()
    return this.#commits.store(entries, adopt, by)
  }

  /**
   * Reads up to `limit` entries of the change feed from position `from`
   * (inclusive). Entries before the floor were dropped: a read from behind
   * it starts at the floor (the first entry's `seq` says where).
   */
  async read (from: number, limit: number): Promise<LogEntry[]> {
    this.#checkOpen()
    await this.#commits.flushedTo(Math.min(this.#state.length, from + limit - 1))
    return this.#stable(async () => readFeed(this.#levels, from, limit))
  }

  // A read that a compaction step overtook (it found a feed position whose
  // entry was just dropped) is made again, from the new floor.
  async #stable<T> (read: () => Promise<T>): Promise<T> {
    while (true) {
      const floor = this.#boundary.position
      try {
        return await read()
      } catch (err) {
        if (this.#boundary.position === floor) throw err
      }
    }
  }

  /**
   * Up to `limit` entries after feed position `after` that `filter` matches
   * (a name among `names` and an author among `authors`, when given), in
   * feed order, and how far the read looked: `scanned`, at most the log's
   * length, is past every matching entry not returned. Costs grow with the
   * entries of the names (or, with authors only, of the authors), not with
   * the log.
   */
  async readWhere (filter: ReadFilter, after: number, limit: number): Promise<Filtered> {
    this.#checkOpen()
    const upTo = this.#state.length
    // the current run of each author now: level may lack it, or have an older one
    const authors = new Map<string, AuthorState>()
    if (filter.names == null) {
      for (const author of filter.authors ?? []) {
        const state = this.#state.authors.get(author)
        if (state != null) authors.set(author, state)
      }
    }
    const floors = new Map<string, number>()
    for (const author of authors.keys()) {
      const floor = this.#boundary.floors.get(author)
      if (floor != null) floors.set(author, floor.seq)
    }
    await this.#commits.flushedTo(upTo)
    return this.#stable(async () => readFiltered(this.#levels, filter, authors, after, upTo, limit, floors))
  }

  /** The stored bytes of an entry, if present. */
  async get (id: Uint8Array): Promise<Uint8Array | undefined> {
    const [record] = await this.#idRecords([id])
    if (record == null) return undefined
    const { seq } = readIdValue(record)
    const [value] = await feedItems(this.#levels, [seq])
    if (value != null) return new Uint8Array(feedBytes(value, seq))
    // retention dropped it meanwhile
    if (seq <= this.#boundary.position) return undefined
    throw new StorageError(`feed position ${seq} is missing: the db is damaged`)
  }

  /** The Lamport clocks of the stored entries among `ids` (undefined where not stored). */
  async clocks (ids: Uint8Array[]): Promise<Array<number | undefined>> {
    if (ids.length === 0) return []
    const found = await this.#idRecords(ids)
    // a dropped entry that kept ones link to is in the cut
    return found.map((v, i) => v == null ? this.#boundary.clock(toHex(ids[i])) : readIdValue(v).clock)
  }

  // The id records of `ids`, as level holds them once every commit made
  // before the call is flushed to it.
  async #idRecords (ids: Uint8Array[]): Promise<Array<Buffer | undefined>> {
    const keys = ids.map(id => Buffer.from(id))
    // asked before the read: a flush that lands during the read may or may
    // not be in what it returns
    const behind = this.#commits.flushed < this.#state.length
    let found = await this.#levels.ids.getMany(keys)
    if (found.includes(undefined) && behind) {
      // they may be committed, on their way to level
      await this.#commits.flushedTo(this.#state.length)
      found = await this.#levels.ids.getMany(keys)
    }
    return found
  }

  /**
   * Feed positions of the entries that a peer with version vector `have` lacks,
   * in feed order (a causal order), at most `limit` of them. Costs grow with
   * the number of missing entries and authors, not with the log's length.
   */
  async missing (have: Map<string, number>, limit: number): Promise<Missing[]> {
    // The log as it is now: commits that land while level is read must not
    // count, for a run they end has its record in ops level does not hold
    // yet, and the entries of that run would be left out. (A sender queues
    // the commits after this call, so nothing falls between the two.)
    const authors = new Map(this.#state.authors)
    // ended runs are read from level
    await this.#commits.flushedTo(this.#state.length)
    return missing(this.#levels.runs, authors, have, limit)
  }

  /**
   * The entries that a peer with version vector `have` lacks, as `missing`
   * finds them, with their bytes; found again if a compaction step dropped
   * some of them meanwhile.
   */
  async missingBytes (have: Map<string, number>, limit: number): Promise<MissingBytes[]> {
    return this.#stable(async () => {
      const missing = await this.missing(have, limit)
      const bytes = await this.readBytes(missing.map(m => m.seq))
      return missing.map((m, i) => new MissingBytes(m.seq, m.author, m.authorSeq, bytes[i]))
    })
  }

  /** The stored bytes of the entries at the given feed positions. */
  async readBytes (seqs: number[]): Promise<Uint8Array[]> {
    if (seqs.length === 0) return []
    let last = 0
    for (const seq of seqs) if (seq > last) last = seq
    await this.#commits.flushedTo(last)
    return readBytes(this.#levels, seqs)
  }

  /** The stored position of a named cursor, 0 if unset. */
  async getCursor (name: string): Promise<number> {
    const value = await this.#levels.cursors.get(Buffer.from(name))
    return value == null ? 0 : readSeq(value)
  }

  async setCursor (name: string, seq: number): Promise<void> {
    this.#checkOpen()
    this.#commits.checkWritable()
    await this.#levels.cursors.put(Buffer.from(name), seqKey(seq))
  }

  /** A small key-value store for other layers' records (known peers). */
  get meta (): Sub {
    return this.#levels.meta
  }

  /**
   * Walks the whole log and checks every id, parent link, author chain and
   * signature, and that every unsigned entry is covered by a signed one.
   * `signal` stops the walk between batches; the call rejects with its reason.
   */
  async verify (options: { signal?: AbortSignal } = {}): Promise<VerifyReport> {
    // the state to check against, taken between two commits; the walk reads
    // the feed up to it while commits go on
    // no compaction step while the feed is walked
    const release = this.#compactor.hold()
    try {
      const view = await this.#commits.serialize(() => Promise.resolve(expected(this.#state)))
      await this.#commits.flushedTo(view.length)
      return await verify(this.#levels, view, options.signal, this.#boundary)
    } finally {
      release()
    }
  }

  /** Waits for pending writes, then closes the db. */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#compactor.stop()
    await this.#commits.close()
    await this.#db.close()
  }
}

function checkKey (key: unknown): HyperEmitterError | undefined {
  if (typeof key !== 'string' || key === '' || Buffer.byteLength(key) > MAX_KEY_BYTES) {
    return new HyperEmitterError(`an emit key must be a string of 1 to ${MAX_KEY_BYTES} bytes, not ${typeof key === 'string' ? `one of ${Buffer.byteLength(key)}` : typeof key}`, 'ERR_INVALID_OPTION')
  }
}
