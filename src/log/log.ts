import { logger } from '@libp2p/logger'
import { ClosedError, InvalidMessageError, StorageError } from '../errors.js'
import { authorHex, decodeEntry, readEntry, encodeEntry, entryId, equalBytes, follows, EMPTY, ID_LENGTH, MAX_LINKS, MAX_ENTRY_BYTES, NO_HEAD, toHex, type DecodedEntry, type Entry, type Head } from './entry.js'
import { Identity } from './identity.js'
import { seqKey, readSeq, AuthorState, runKey, decodeRun, RUN_VALUE_LENGTH, type Run } from './keys.js'
import { Wal, type WalRecord } from './wal.js'
import { join } from 'node:path'
import type { AbstractLevel, AbstractSublevel } from 'abstract-level'

const log = logger('hyperemitter:log')

/** The one record of the heads sublevel: the ids of the heads, concatenated. */
const HEADS_KEY = Buffer.from('heads')

/** Largest payload plus event name: the rest of MAX_ENTRY_BYTES is for the other fields and MAX_LINKS links. */
export const MAX_PAYLOAD_BYTES = MAX_ENTRY_BYTES - 4096

/**
 * Run and heads records are written at checkpoints, not at every commit (an
 * awaited emit then writes two records, not four); opening replays the feed
 * from the last checkpoint. A checkpoint is due after this many entries...
 */
const CHECKPOINT_ENTRIES = 4096
/** ...or this many commits. */
const CHECKPOINT_COMMITS = 256
const CHECKPOINT_KEY = Buffer.from('checkpoint')

/** Most local emits committed in one group: one signature covers them all. */
export const MAX_GROUP = 1024

/** The write-ahead file of a db with a folder, inside that folder (level leaves files it does not know alone). */
export const WAL_NAME = 'hyperemitter.wal'
/** Committed entry bytes not yet in level: a commit over it waits for level. */
const MAX_UNFLUSHED_BYTES = 4 * 1024 * 1024
/** The write-ahead file is emptied when level has all of it and it is this big... */
const WAL_RESET_BYTES = 64 * 1024
/**
 * ...and a commit waits for level to have all of it when it is this big: the
 * file takes disk space twice (it and level's log) and time to reopen.
 */
const WAL_MAX_BYTES = 1024 * 1024

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
type Db = AbstractLevel<any, any, any>
type Sub = AbstractSublevel<Db, unknown, Buffer, Buffer>

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
}

/** A commit ready to write: its level ops and the in-memory state after it. */
interface Prepared {
  ops: BatchOp[]
  stored: LogEntry[]
  heads: Map<string, { id: Uint8Array<ArrayBuffer>, clock: number }>
  authors: Map<string, AuthorState>
  length: number
  clock: number
  checkpoint: boolean
  /** entry bytes */
  bytes: number
}

interface FlushWaiter { upTo: number, resolve: () => void, reject: (err: Error) => void }

/** What a commit added, in feed order; given to `onCommit` subscribers. */
export type CommitListener = (entries: LogEntry[]) => void

interface PendingAppend {
  name: string
  payload: Uint8Array<ArrayBuffer>
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  resolve: (value: any) => void
  reject: (err: Error) => void
  result: ((entry: LogEntry) => unknown) | undefined
}

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

/**
 * The hash-linked log on an abstract-level db. Entries are stored only after
 * their parents; local appends are committed in groups (one level batch, one
 * signature per group); every commit is one atomic batch.
 */
export class Log {
  readonly identity: Identity
  readonly #db: Db
  readonly #entries: Sub
  readonly #feed: Sub
  readonly #heads: Sub
  readonly #runs: Sub
  readonly #cursors: Sub
  readonly #meta: Sub
  readonly #fsync: boolean
  readonly #maxGroup: number

  #length = 0
  #clock = 0
  /** feed position the stored run and heads records reflect */
  #checkpoint = 0
  #commitsSinceCheckpoint = 0
  /** authors whose current run record is older than their state */
  readonly #dirty = new Set<string>()
  readonly #headIds = new Map<string, { id: Uint8Array<ArrayBuffer>, clock: number }>()
  readonly #authorStates = new Map<string, AuthorState>()
  readonly #listeners = new Set<CommitListener>()
  #queue: PendingAppend[] = []
  /** index of the first appends not yet taken: splicing a long queue per group would be quadratic */
  #queueHead = 0
  #flushScheduled = false
  #tail: Promise<unknown> = Promise.resolve()
  #closed = false
  /** set by a write the db failed: leveldb may have logged part of it, so nothing more is written */
  #failed: StorageError | undefined
  #wal: Wal | undefined
  /** feed position up to which level holds the log (the rest is in the write-ahead file) */
  #flushed = 0
  /** level ops committed to the write-ahead file, not yet given to level */
  #unflushed: BatchOp[] = []
  #unflushedBytes = 0
  /** entry bytes in the level batch being written */
  #pendingBytes = 0
  #draining = false
  #flushWaiters: FlushWaiter[] = []

  private constructor (db: AnyLevel, identity: Identity, init: LogInit) {
    this.#db = db as unknown as Db
    this.identity = identity
    const opts = { keyEncoding: 'buffer', valueEncoding: 'buffer' } as const
    this.#entries = db.sublevel('entries', opts) as unknown as Sub
    this.#feed = db.sublevel('feed', opts) as unknown as Sub
    this.#heads = db.sublevel('heads', opts) as unknown as Sub
    this.#runs = db.sublevel('runs', opts) as unknown as Sub
    this.#cursors = db.sublevel('cursors', opts) as unknown as Sub
    this.#meta = db.sublevel('meta', opts) as unknown as Sub
    this.#fsync = init.fsync ?? false
    this.#maxGroup = init.maxGroup ?? MAX_GROUP
  }

  /** Opens (or creates) the log in `db`, which it opens if needed. */
  static async open (db: AnyLevel, init: LogInit = {}): Promise<Log> {
    try {
      await db.open()
    } catch (err) {
      throw new StorageError(`cannot open the db: ${describe(err)}`, { cause: err })
    }
    const meta = db.sublevel('meta', { keyEncoding: 'utf8', valueEncoding: 'buffer' })
    let seed = await meta.get('key' as never) as Buffer | undefined
    if (seed == null) {
      seed = Buffer.from(Identity.generate().seed)
      await meta.put('key' as never, seed as never)
    }
    const self = new Log(db, new Identity(new Uint8Array(seed)), init)
    await self.#loadState()
    const location = (db as { location?: unknown }).location
    const walPath = init.wal ?? (typeof location === 'string' ? join(location, WAL_NAME) : false)
    if (walPath !== false) {
      const { wal, records } = Wal.open(walPath)
      try {
        await self.#recover(records)
        wal.reset()
      } catch (err) {
        wal.close()
        throw err
      }
      self.#wal = wal
    }
    return self
  }

  async #loadState (): Promise<void> {
    for await (const key of this.#feed.keys({ reverse: true, limit: 1 })) this.#length = readSeq(key)
    this.#flushed = this.#length
    // each author's newest run, by a skip scan from the last author down
    let below: Buffer | undefined
    while (true) {
      let run: Run | undefined
      const range = below == null ? { reverse: true, limit: 1 } : { reverse: true, limit: 1, lt: below }
      for await (const [key, value] of this.#runs.iterator(range)) run = decodeRun(key, value)
      if (run == null) break
      const feedSeq = run.feedStart + run.last - run.first
      const id = await this.#feed.get(seqKey(feedSeq))
      const bytes = id == null ? undefined : await this.#entries.get(id)
      if (id == null || bytes == null) throw new StorageError(`feed position ${feedSeq} is missing: the db is damaged`)
      const clock = readEntry(bytes).clock
      this.#authorStates.set(toHex(run.author), new AuthorState(run.last, feedSeq, run.first, run.feedStart, new Uint8Array(id), clock))
      below = runKey(run.author, 0)
    }
    const stored = await this.#heads.get(HEADS_KEY)
    const headIds: Buffer[] = []
    for (let i = 0; stored != null && i < stored.byteLength; i += ID_LENGTH) headIds.push(stored.subarray(i, i + ID_LENGTH))
    const headBytes = await this.#entries.getMany(headIds)
    headIds.forEach((id, i) => {
      const bytes = headBytes[i]
      if (bytes == null) throw new StorageError(`head ${toHex(id)} has no entry: the db is damaged`)
      const clock = readEntry(bytes).clock
      this.#headIds.set(toHex(id), { id: new Uint8Array(id), clock })
      this.#clock = Math.max(this.#clock, clock)
    })
    const checkpoint = await this.#meta.get(CHECKPOINT_KEY)
    this.#checkpoint = checkpoint == null ? 0 : readSeq(checkpoint)
    await this.#replay()
    log('opened log of %d entries, %d heads, %d authors', this.#length, this.#headIds.size, this.#authorStates.size)
  }

  // Applies the feed after the checkpoint to the states and heads loaded from
  // it: the feed is the truth, the records a cache of it.
  async #replay (): Promise<void> {
    for (let pos = this.#checkpoint + 1; pos <= this.#length; pos += 1024) {
      for (const e of await this.read(pos, 1024)) {
        const author = toHex(e.entry.author)
        const state = this.#authorStates.get(author)
        if (state == null || e.entry.seq > state.seq) {
          this.#authorStates.set(author, AuthorState.next(state, e.entry.seq, e.seq, e.id, e.entry.clock))
          this.#dirty.add(author)
        }
        if (e.entry.prev.byteLength > 0) this.#headIds.delete(toHex(e.entry.prev))
        for (const link of e.entry.links) this.#headIds.delete(toHex(link))
        this.#headIds.set(toHex(e.id), { id: e.id, clock: e.entry.clock })
        if (e.entry.clock > this.#clock) this.#clock = e.entry.clock
      }
    }
    this.#commitsSinceCheckpoint = this.#length > this.#checkpoint ? CHECKPOINT_COMMITS : 0
  }

  #checkOpen (): void {
    if (this.#closed) throw new ClosedError('the log is closed')
  }

  #checkWritable (): void {
    if (this.#failed != null) throw new StorageError(`the db failed a write (${this.#failed.message}): close and reopen it`, { cause: this.#failed })
  }

  /** Number of entries in the log: the last position of the change feed. */
  get length (): number {
    return this.#length
  }

  get closed (): boolean {
    return this.#closed
  }

  /** Ids of the entries no other entry links to. */
  heads (): Uint8Array[] {
    return [...this.#headIds.values()].map(h => h.id)
  }

  /** The version vector: each author's highest stored seq, by hex public key. */
  vector (): Map<string, number> {
    const out = new Map<string, number>()
    for (const [author, state] of this.#authorStates) out.set(author, state.seq)
    return out
  }

  /** The highest stored seq of one author (hex public key), 0 if none. */
  authorSeq (author: string): number {
    return this.#authorStates.get(author)?.seq ?? 0
  }

  /** The newest stored entry of `author` (hex): seq, id and clock. */
  authorHead (author: string): Head {
    return this.#authorStates.get(author) ?? NO_HEAD
  }

  /** Subscribes to commits; returns the unsubscribe function. */
  onCommit (listener: CommitListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /**
   * Appends a local entry. Concurrent appends are committed together; the
   * promise resolves once the entry is durable, with the stored entry or
   * what `result` makes of it (one promise per append, not two).
   */
  append (name: string, payload: Uint8Array): Promise<LogEntry>
  append<T> (name: string, payload: Uint8Array, result: (entry: LogEntry) => T): Promise<T>
  append (name: string, payload: Uint8Array, result?: (entry: LogEntry) => unknown): Promise<unknown> {
    if (this.#closed) return Promise.reject(new ClosedError('the log is closed'))
    // peers refuse entries over MAX_ENTRY_BYTES: room is kept for the other fields
    if (payload.byteLength + name.length > MAX_PAYLOAD_BYTES) {
      return Promise.reject(new InvalidMessageError(`a ${name} of ${payload.byteLength} bytes is over the ${MAX_PAYLOAD_BYTES}-byte limit`))
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ name, payload: payload as Uint8Array<ArrayBuffer>, resolve, reject, result })
      if (!this.#flushScheduled) {
        this.#flushScheduled = true
        void this.#serialize(() => this.#flush())
      }
    })
  }

  async #flush (): Promise<void> {
    const end = Math.min(this.#queue.length, this.#queueHead + this.#maxGroup)
    const group = this.#queue.slice(this.#queueHead, end)
    this.#queueHead = end
    if (end === this.#queue.length) {
      this.#queue = []
      this.#queueHead = 0
    }
    if (this.#queue.length > 0) {
      void this.#serialize(() => this.#flush())
    } else {
      this.#flushScheduled = false
    }
    if (group.length === 0) return
    let entries: DecodedEntry[]
    try {
      entries = this.#buildGroup(group)
    } catch (err) {
      for (const item of group) item.reject(err as Error)
      return
    }
    try {
      const stored = await this.#commit(entries)
      group.forEach((item, i) => item.resolve(item.result == null ? stored[i] : item.result(stored[i])))
    } catch (err) {
      for (const item of group) item.reject(err as Error)
    }
  }

  #buildGroup (group: PendingAppend[]): DecodedEntry[] {
    const author = this.identity.publicKey
    const head = this.authorHead(toHex(author))
    let seq = head.seq
    let prev = head.id as Uint8Array<ArrayBuffer>
    const prevHex = toHex(prev)
    // the first entry of a group links every head; the rest chain on prev
    let heads = [...this.#headIds.entries()].filter(([hex]) => hex !== prevHex).map(([, h]) => h)
    if (heads.length > MAX_LINKS) heads = heads.slice(0, MAX_LINKS)
    let links: Array<Uint8Array<ArrayBuffer>> = heads.map(h => h.id)
    // Lamport: one more than the highest parent
    let clock = Math.max(head.clock, ...heads.map(h => h.clock))
    const timestamp = Date.now()
    const out: DecodedEntry[] = []
    const last = group.length - 1
    for (let i = 0; i <= last; i++) {
      const item = group[i]
      const entry: Entry = { author, seq: ++seq, prev, links, clock: ++clock, timestamp, name: item.name, payload: item.payload, signature: EMPTY }
      const bytes = encodeEntry(entry, i === last ? this.identity : undefined)
      const id = entryId(bytes)
      out.push({ id, bytes, entry })
      prev = id
      links = []
    }
    return out
  }

  /**
   * Stores entries that are already validated, in causal order, each one's
   * parents stored before or earlier in the list. Entries whose author seq is
   * already stored are skipped (another peer delivered them first). Runs one
   * at a time with every other write.
   */
  async store (entries: DecodedEntry[]): Promise<LogEntry[]> {
    this.#checkOpen()
    return this.#serialize(async () => {
      const fresh: DecodedEntry[] = []
      const heads = new Map<string, Head>()
      const hexOf = authorHex()
      for (const d of entries) {
        const author = hexOf(d.entry.author)
        // stored already, or a fork of what is stored: the first one stays
        if (!follows(d.entry, heads.get(author) ?? this.authorHead(author))) continue
        heads.set(author, { seq: d.entry.seq, id: d.id, clock: d.entry.clock })
        fresh.push(d)
      }
      return fresh.length === 0 ? [] : this.#commit(fresh)
    })
  }

  #serialize<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(fn)
    this.#tail = run.catch(() => {})
    return run
  }

  // Writes one commit and only then updates the in-memory state, so a failed
  // write leaves the log exactly as it was. With a write-ahead file the commit
  // is durable once appended to it, and level gets it in a later batch.
  async #commit (entries: DecodedEntry[]): Promise<LogEntry[]> {
    this.#checkWritable()
    const wal = this.#wal
    if (wal == null) {
      const c = this.#prepare(entries)
      await this.#write(c.ops)
      this.#apply(c)
      this.#flushed = c.length
      this.#notify(c.stored)
      return c.stored
    }
    await this.#room(wal)
    this.#checkWritable()
    const c = this.#prepare(entries)
    wal.append(c.stored[0].seq, entries.map(d => d.bytes), this.#fsync)
    this.#apply(c)
    for (const o of c.ops) this.#unflushed.push(o)
    this.#unflushedBytes += c.bytes
    this.#drain()
    this.#notify(c.stored)
    return c.stored
  }

  // The level ops of a commit and the in-memory state after it.
  #prepare (entries: DecodedEntry[]): Prepared {
    const ops: BatchOp[] = []
    const heads = new Map(this.#headIds)
    const authors = new Map<string, AuthorState>()
    let length = this.#length
    let clock = this.#clock
    let bytes = 0
    const stored: LogEntry[] = []
    // The newest entry is a head until an entry links to it. In a chain (a
    // commit group, a run from one author) the next entry's prev is it, so
    // it never enters the heads map and its hex is never made.
    let tip: DecodedEntry | undefined
    let lastAuthor: Uint8Array | undefined
    let hex = ''
    let state: AuthorState | undefined
    for (const d of entries) {
      const seq = ++length
      const id = view(d.id)
      ops.push(op('put', this.#entries, id, view(d.bytes)))
      ops.push(op('put', this.#feed, seqKey(seq), id))
      bytes += d.bytes.byteLength
      const { prev, links } = d.entry
      if (tip != null && !(prev.byteLength > 0 && equalBytes(prev, tip.id))) {
        heads.set(toHex(tip.id), { id: tip.id, clock: tip.entry.clock })
        if (prev.byteLength > 0) heads.delete(toHex(prev))
      } else if (tip == null && prev.byteLength > 0) {
        heads.delete(toHex(prev))
      }
      for (const link of links) heads.delete(toHex(link))
      tip = d
      if (d.entry.clock > clock) clock = d.entry.clock
      if (lastAuthor == null || !equalBytes(lastAuthor, d.entry.author)) {
        if (state != null) authors.set(hex, state)
        lastAuthor = d.entry.author
        hex = toHex(lastAuthor)
        state = authors.get(hex) ?? this.#authorStates.get(hex)
      }
      const after = AuthorState.next(state, d.entry.seq, seq, d.id, d.entry.clock)
      // a run record is written when it ends and at the end of the commit
      if (state != null && after.runFirst !== state.runFirst) {
        ops.push(op('put', this.#runs, runKey(d.entry.author, state.runFirst), state.encodeRun()))
      }
      state = after
      stored.push(new StoredEntry(seq, d.id, d.bytes, d.entry))
    }
    if (state != null) authors.set(hex, state)
    if (tip != null) heads.set(toHex(tip.id), { id: tip.id, clock: tip.entry.clock })
    const checkpoint = length - this.#checkpoint >= CHECKPOINT_ENTRIES || this.#commitsSinceCheckpoint + 1 >= CHECKPOINT_COMMITS
    if (checkpoint) this.#checkpointOps(ops, authors, heads, length)
    return { ops, stored, heads, authors, length, clock, checkpoint, bytes }
  }

  #apply (c: Prepared): void {
    this.#length = c.length
    this.#clock = c.clock
    if (c.checkpoint) {
      this.#checkpoint = c.length
      this.#commitsSinceCheckpoint = 0
      this.#dirty.clear()
    } else {
      this.#commitsSinceCheckpoint++
      for (const author of c.authors.keys()) this.#dirty.add(author)
    }
    this.#headIds.clear()
    for (const [hex, head] of c.heads) this.#headIds.set(hex, head)
    for (const [hex, state] of c.authors) this.#authorStates.set(hex, state)
  }

  #notify (stored: LogEntry[]): void {
    for (const listener of this.#listeners) {
      try {
        listener(stored)
      } catch (err) {
        log.error('commit listener threw: %e', err)
      }
    }
  }

  /** One atomic level batch; a failure that may leave part of it behind stops all writes. */
  async #write (ops: BatchOp[]): Promise<void> {
    try {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      await this.#db.batch(ops as any, this.#fsync ? { sync: true } as any : undefined)
    } catch (err) {
      const failure = new StorageError(`cannot write to the db: ${describe(err)}`, { cause: err })
      // after an IO error leveldb may hold part of the batch in its write-ahead
      // log, and what it writes after that is lost when it is reopened; with
      // our write-ahead file, the batch held acknowledged entries
      if ((err as { code?: string }).code === 'LEVEL_IO_ERROR' || this.#wal != null) this.#failed = failure
      throw failure
    }
  }

  // Writes what the write-ahead file holds and level does not yet, in one
  // batch, then the ops committed meanwhile in the next.
  #drain (): void {
    if (this.#draining || this.#unflushed.length === 0) return
    const ops = this.#unflushed
    const bytes = this.#unflushedBytes
    const upTo = this.#length
    this.#unflushed = []
    this.#unflushedBytes = 0
    this.#pendingBytes += bytes
    this.#draining = true
    this.#write(ops).then(() => {
      this.#draining = false
      this.#pendingBytes -= bytes
      this.#flushed = upTo
      this.#wakeFlushWaiters()
      if (this.#unflushed.length > 0) this.#drain()
      else if (this.#wal != null && this.#wal.size >= WAL_RESET_BYTES) this.#resetWal(this.#wal)
    }, () => {
      this.#draining = false
      this.#wakeFlushWaiters()
    })
  }

  /** Resolves once level holds the feed up to `upTo`. */
  #flushedTo (upTo: number): Promise<void> {
    if (upTo <= this.#flushed) return Promise.resolve()
    if (this.#failed != null) return Promise.reject(this.#failed)
    return new Promise((resolve, reject) => { this.#flushWaiters.push({ upTo, resolve, reject }) })
  }

  #wakeFlushWaiters (): void {
    const waiting = this.#flushWaiters
    this.#flushWaiters = []
    for (const w of waiting) {
      if (this.#failed != null) w.reject(this.#failed)
      else if (w.upTo <= this.#flushed) w.resolve()
      else this.#flushWaiters.push(w)
    }
  }

  // Bounds what waits for level (memory) and the write-ahead file (time to
  // reopen): a commit over either bound waits for level to catch up.
  async #room (wal: Wal): Promise<void> {
    if (this.#unflushedBytes + this.#pendingBytes < MAX_UNFLUSHED_BYTES && wal.size < WAL_MAX_BYTES) return
    await this.#flushedTo(this.#length)
    if (wal.size >= WAL_RESET_BYTES) this.#resetWal(wal)
  }

  // Empties the write-ahead file once level holds all of it. A failure here
  // loses nothing: its records are skipped on reopen.
  #resetWal (wal: Wal): void {
    try {
      wal.reset()
    } catch (err) {
      log.error('%e', err)
    }
  }

  // Stores what the write-ahead file holds beyond the feed: commits
  // acknowledged before a crash and not yet in level.
  async #recover (records: WalRecord[]): Promise<void> {
    const entries: DecodedEntry[] = []
    let next = this.#length + 1
    for (const record of records) {
      record.entries.forEach((bytes, i) => {
        const seq = record.firstSeq + i
        if (seq < next) return
        if (seq > next) throw new StorageError(`the write-ahead file skips from feed position ${next} to ${seq}: it is damaged`)
        let entry: Entry
        try {
          entry = readEntry(bytes)
        } catch (err) {
          throw new StorageError(`entry ${seq} of the write-ahead file does not decode: it is damaged`, { cause: err })
        }
        entries.push({ id: entryId(bytes), bytes, entry })
        next++
      })
    }
    for (let i = 0; i < entries.length; i += MAX_GROUP) {
      const c = this.#prepare(entries.slice(i, i + MAX_GROUP))
      await this.#write(c.ops)
      this.#apply(c)
    }
    this.#flushed = this.#length
    if (entries.length > 0) log('recovered %d entries from the write-ahead file', entries.length)
  }

  // The records a checkpoint writes: every changed author's current run, the
  // heads, and the feed position they reflect.
  #checkpointOps (ops: BatchOp[], authors: Map<string, AuthorState>, heads: Map<string, { id: Uint8Array }>, length: number): void {
    const changed = new Set([...this.#dirty, ...authors.keys()])
    for (const author of changed) {
      const state = authors.get(author) ?? this.#authorStates.get(author)
      if (state != null) ops.push(op('put', this.#runs, runKey(Buffer.from(author, 'hex'), state.runFirst), state.encodeRun()))
    }
    ops.push(op('put', this.#heads, HEADS_KEY, Buffer.concat([...heads.values()].map(h => h.id))))
    ops.push(op('put', this.#meta, CHECKPOINT_KEY, seqKey(length)))
  }

  /** Reads up to `limit` entries of the change feed from position `from` (inclusive). */
  async read (from: number, limit: number): Promise<LogEntry[]> {
    this.#checkOpen()
    await this.#flushedTo(Math.min(this.#length, from + limit - 1))
    const seqs: number[] = []
    const ids: Buffer[] = []
    for await (const [key, id] of this.#feed.iterator({ gte: seqKey(Math.max(1, from)), limit })) {
      seqs.push(readSeq(key))
      ids.push(id)
    }
    return this.#load(seqs, ids)
  }

  async #load (seqs: number[], ids: Buffer[]): Promise<LogEntry[]> {
    const found = await this.#entries.getMany(ids)
    return ids.map((id, i) => {
      const b = found[i]
      if (b == null) throw new StorageError(`entry ${toHex(id)} at ${seqs[i]} is missing: the db is damaged`)
      const bytes = plain(b)
      return { seq: seqs[i], id: plain(id), bytes, entry: readEntry(bytes) }
    })
  }

  /** The stored bytes of an entry, if present. */
  async get (id: Uint8Array): Promise<Uint8Array | undefined> {
    // what level held when the read began: a drain that ends meanwhile does
    // not make a miss final
    const flushed = this.#flushed
    let bytes = await this.#entries.get(Buffer.from(id))
    if (bytes == null && flushed < this.#length) {
      // it may be committed, on its way to level
      await this.#flushedTo(this.#length)
      bytes = await this.#entries.get(Buffer.from(id))
    }
    return bytes == null ? undefined : new Uint8Array(bytes)
  }

  /** The Lamport clocks of the stored entries among `ids` (undefined where not stored). */
  async clocks (ids: Uint8Array[]): Promise<Array<number | undefined>> {
    if (ids.length === 0) return []
    const keys = ids.map(id => Buffer.from(id))
    const flushed = this.#flushed
    let found = await this.#entries.getMany(keys)
    if (found.includes(undefined) && flushed < this.#length) {
      await this.#flushedTo(this.#length)
      found = await this.#entries.getMany(keys)
    }
    return found.map(b => b == null ? undefined : readEntry(b).clock)
  }

  /**
   * Feed positions of the entries that a peer with version vector `have` lacks,
   * in feed order (a causal order), at most `limit` of them. Costs grow with
   * the number of missing entries and authors, not with the log's length.
   */
  async missing (have: Map<string, number>, limit: number): Promise<Missing[]> {
    // ended runs are read from level
    await this.#flushedTo(this.#length)
    // [first feed position, last feed position, author, author seq at first]
    const ranges: Array<[number, number, string, number]> = []
    for (const [hex, state] of this.#authorStates) {
      const from = (have.get(hex) ?? 0) + 1
      if (from > state.seq) continue
      const author = Buffer.from(hex, 'hex')
      let wanted = limit
      const take = (run: Run): void => {
        if (run.last < from || !author.equals(run.author)) return
        const skip = Math.max(0, from - run.first)
        const start = run.feedStart + skip
        const end = run.feedStart + (run.last - run.first)
        ranges.push([start, end, hex, run.first + skip])
        wanted -= end - start + 1
      }
      // the current run is in memory (its record may be older or absent);
      // the ended ones are in the db: the one holding `from`, then later ones
      const current: Run = { author, first: state.runFirst, last: state.seq, feedStart: state.runFeedStart }
      const fromDb = (key: Buffer, value: Buffer): void => {
        if (value.byteLength !== RUN_VALUE_LENGTH) throw new StorageError('damaged run record')
        const run = decodeRun(key, value)
        if (run.first < current.first) take(run)
      }
      if (from < current.first) {
        for await (const [key, value] of this.#runs.iterator({ reverse: true, limit: 1, lte: runKey(author, from) })) fromDb(key, value)
        for await (const [key, value] of this.#runs.iterator({ gt: runKey(author, from), lt: runKey(author, current.first) })) {
          if (wanted <= 0) break
          fromDb(key, value)
        }
      }
      if (wanted > 0) take(current)
    }
    // runs are disjoint: in order of their first position, the first `limit`
    // positions of the union are those of the first runs
    ranges.sort((a, b) => a[0] - b[0])
    const out: Missing[] = []
    for (const [start, end, author, authorSeq] of ranges) {
      for (let s = start; s <= end && out.length < limit; s++) out.push({ seq: s, author, authorSeq: authorSeq + s - start })
      if (out.length >= limit) break
    }
    return out
  }

  /** The stored bytes of the entries at the given feed positions. */
  async readBytes (seqs: number[]): Promise<Uint8Array[]> {
    if (seqs.length === 0) return []
    let last = 0
    for (const seq of seqs) if (seq > last) last = seq
    await this.#flushedTo(last)
    const ids = await this.#feed.getMany(seqs.map(seqKey))
    ids.forEach((id, i) => { if (id == null) throw new StorageError(`feed position ${seqs[i]} is missing: the db is damaged`) })
    const bytes = await this.#entries.getMany(ids as Buffer[])
    return bytes.map((b, i) => {
      if (b == null) throw new StorageError(`entry at feed position ${seqs[i]} is missing: the db is damaged`)
      return b
    })
  }

  /** The stored position of a named cursor, 0 if unset. */
  async getCursor (name: string): Promise<number> {
    const value = await this.#cursors.get(Buffer.from(name))
    return value == null ? 0 : readSeq(value)
  }

  async setCursor (name: string, seq: number): Promise<void> {
    this.#checkOpen()
    this.#checkWritable()
    await this.#cursors.put(Buffer.from(name), seqKey(seq))
  }

  /** A small key-value store for other layers' records (known peers). */
  get meta (): Sub {
    return this.#meta
  }

  /**
   * Walks the whole log and checks every id, parent link, author chain and
   * signature, and that every unsigned entry is covered by a signed one.
   */
  async verify (): Promise<VerifyReport> {
    // the state to check against, taken between two commits; the walk reads
    // the feed up to it while commits go on
    const view = await this.#serialize(async () => ({
      length: this.#length,
      seqs: new Map([...this.#authorStates].map(([a, st]) => [a, st.seq])),
      heads: [...this.#headIds.keys()].sort()
    }))
    await this.#flushedTo(view.length)
    const problems: VerifyProblem[] = []
    // clock of each entry seen, by hex id
    const clocks = new Map<string, number>()
    const heads = new Set<string>()
    const chains = new Map<string, { seq: number, id: Uint8Array, clock: number, unsigned: number }>()
    let count = 0
    const check = (seq: number, id: Buffer, bytes: Buffer | undefined): void => {
      count++
      if (seq !== count) problems.push({ seq, problem: `feed position ${seq} follows ${count - 1}` })
      const hex = toHex(id)
      if (bytes == null) { problems.push({ seq, id: hex, problem: 'entry missing' }); return }
      let d: DecodedEntry | undefined
      let bad: unknown
      try {
        d = decodeEntry(new Uint8Array(bytes))
      } catch (err) {
        bad = err
      }
      if (!equalBytes(d?.id ?? entryId(bytes), id)) { problems.push({ seq, id: hex, problem: 'id does not match the entry bytes' }); return }
      if (d == null) { problems.push({ seq, id: hex, problem: (bad as Error).message }); return }
      const author = toHex(d.entry.author)
      const chain = chains.get(author) ?? { seq: 0, id: new Uint8Array(0), clock: 0, unsigned: 0 }
      if (d.entry.seq !== chain.seq + 1) problems.push({ seq, id: hex, problem: `author seq ${d.entry.seq} follows ${chain.seq}` })
      if (!equalBytes(d.entry.prev, chain.id)) problems.push({ seq, id: hex, problem: 'prev is not the author\'s previous entry' })
      heads.delete(toHex(d.entry.prev))
      let parentClock = chain.clock
      for (const link of d.entry.links) {
        const linkHex = toHex(link)
        const linked = clocks.get(linkHex)
        heads.delete(linkHex)
        if (linked == null) problems.push({ seq, id: hex, problem: `link ${linkHex} is not stored before the entry` })
        else parentClock = Math.max(parentClock, linked)
      }
      if (d.entry.clock !== parentClock + 1) problems.push({ seq, id: hex, problem: `clock ${d.entry.clock} is not one more than its parents' ${parentClock}` })
      chains.set(author, { seq: d.entry.seq, id: d.id, clock: d.entry.clock, unsigned: d.entry.signature.byteLength === 0 ? chain.unsigned + 1 : 0 })
      clocks.set(hex, d.entry.clock)
      heads.add(hex)
    }
    const seqs: number[] = []
    const ids: Buffer[] = []
    const flush = async (): Promise<void> => {
      const bytes = await this.#entries.getMany(ids)
      seqs.forEach((seq, i) => { check(seq, ids[i], bytes[i]) })
      seqs.length = 0
      ids.length = 0
    }
    for await (const [key, id] of this.#feed.iterator({ lte: seqKey(view.length) })) {
      seqs.push(readSeq(key))
      ids.push(id)
      if (ids.length === 1024) await flush()
    }
    await flush()
    if (count !== view.length) problems.push({ problem: `the feed holds ${count} entries, the log says ${view.length}` })
    for (const [author, chain] of chains) {
      if (chain.unsigned > 0) problems.push({ problem: `the last ${chain.unsigned} entries of author ${author} are not covered by a signature` })
      const seq = view.seqs.get(author)
      if (seq !== chain.seq) problems.push({ problem: `author ${author} index says seq ${seq}, the feed ${chain.seq}` })
    }
    if ([...heads].sort().join() !== view.heads.join()) problems.push({ problem: `the heads are ${view.heads.join(', ')}; the feed says ${[...heads].sort().join(', ')}` })
    return { ok: problems.length === 0, entries: count, authors: chains.size, problems }
  }

  /** Waits for pending writes, then closes the db. */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const queued = this.#queue.slice(this.#queueHead)
    this.#queue = []
    this.#queueHead = 0
    for (const item of queued) item.reject(new ClosedError('the log was closed before this emit was stored'))
    await this.#tail
    this.#listeners.clear()
    await this.#flushedTo(this.#length).catch(() => {})
    if (this.#length > this.#checkpoint && this.#failed == null) {
      const ops: BatchOp[] = []
      this.#checkpointOps(ops, new Map(), this.#headIds, this.#length)
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      await this.#db.batch(ops as any).catch((err: unknown) => { log.error('checkpoint at close failed: %e', err) })
    }
    if (this.#wal != null) {
      // after a failed write level lacks some of it: the next open recovers it
      if (this.#failed == null) this.#resetWal(this.#wal)
      this.#wal.close()
    }
    await this.#db.close()
  }
}

// one object shape for every op keeps abstract-level's per-op copy fast; a
// class, not an object literal: see ReadEntry in entry.ts
class BatchOp {
  constructor (readonly type: 'put' | 'del', readonly sublevel: Sub, readonly key: Buffer, readonly value: Buffer | undefined) {}
}

function op (type: 'put' | 'del', sublevel: Sub, key: Buffer, value: Buffer | undefined): BatchOp {
  return new BatchOp(type, sublevel, key, value)
}

class StoredEntry implements LogEntry {
  constructor (readonly seq: number, readonly id: Uint8Array<ArrayBuffer>, readonly bytes: Uint8Array, readonly entry: Entry) {}
}

/** A Buffer over the same memory: level copies on write, so no copy here. */
function view (bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** A plain Uint8Array over a Buffer's memory: what the log gives out is of one type. */
function plain (bytes: Buffer): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength)
}

function describe (err: unknown): string {
  const e = err as { code?: string, message?: string, cause?: { message?: string } }
  return [e.code, e.cause?.message ?? e.message].filter(Boolean).join(': ')
}
