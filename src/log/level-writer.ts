// The log's writes to the db, and to the write-ahead file in front of it. A
// commit is durable once the write-ahead file has it (or, with none, once
// level has it); level gets the file's commits in a later batch, the flush,
// and reads wait for the flush to reach what they read. A write that level
// may have taken in part stops every write after it.
import { logger } from '@libp2p/logger'
import { StorageError } from '../errors.js'
import { describe, INDEX_KEY, indexMark, op, writeBatch, type Op } from './level.js'
import type { Db, Sub } from './types.js'
import type { Wal } from './wal.js'

const log = logger('hyperemitter:log')

/** Committed entry bytes not yet in level: a commit over it waits for level. */
const MAX_UNFLUSHED_BYTES = 4 * 1024 * 1024
/** The write-ahead file is emptied when level has all of it and it is this big... */
const WAL_RESET_BYTES = 64 * 1024
/**
 * ...and a commit waits for level to have all of it when it is this big: the
 * file takes disk space twice (it and level's log) and time to reopen.
 */
const WAL_MAX_BYTES = 1024 * 1024

interface FlushWaiter { upTo: number, resolve: () => void, reject: (err: Error) => void }

export class LevelWriter {
  readonly #db: Db
  readonly #meta: Sub
  readonly #fsync: boolean
  /** set by a write the db failed: leveldb may have logged part of it, so nothing more is written */
  #failed: StorageError | undefined
  #wal: Wal | undefined
  /** feed position up to which level holds the log (the rest is in the write-ahead file) */
  #flushed: number
  /** level ops committed to the write-ahead file, not yet given to level, and the feed position they reach */
  #unflushed: Op[] = []
  #unflushedBytes = 0
  #unflushedUpTo = 0
  /** entry bytes in the level batch being written */
  #flushingBytes = 0
  #flushing = false
  /** when the level batch being written was started (performance.now()) */
  #flushStarted = 0
  #flushWaiters: FlushWaiter[] = []

  /** `meta`: the sublevel of the name index's mark; `flushed`: the feed position level holds. */
  constructor (db: Db, meta: Sub, fsync: boolean, flushed: number) {
    this.#db = db
    this.#meta = meta
    this.#fsync = fsync
    this.#flushed = flushed
  }

  /** The write-ahead file commits go through, once it is in use. */
  get wal (): Wal | undefined {
    return this.#wal
  }

  /** Commits go through `wal` from now on: level holds every record it had. */
  useWal (wal: Wal): void {
    this.#wal = wal
  }

  /** Whether a level batch has been under way for over `ms`. */
  flushingFor (ms: number): boolean {
    return this.#flushing && performance.now() - this.#flushStarted > ms
  }

  checkWritable (): void {
    if (this.#failed != null) throw new StorageError(`the db failed a write (${this.#failed.message}): close and reopen it`, { cause: this.#failed })
  }

  /** Whether a write failed: nothing was written since. */
  get failed (): boolean {
    return this.#failed != null
  }

  /** One atomic level batch; a failure that may leave part of it behind stops all writes. */
  async write (ops: Op[]): Promise<void> {
    try {
      await writeBatch(this.#db, ops, this.#fsync)
    } catch (err) {
      const failure = new StorageError(`cannot write to the db: ${describe(err)}`, { cause: err })
      // after an IO error leveldb may hold part of the batch in its write-ahead
      // log, and what it writes after that is lost when it is reopened; with
      // our write-ahead file, the batch held acknowledged entries
      if ((err as { code?: string }).code === 'LEVEL_IO_ERROR' || this.#wal != null) this.#failed = failure
      throw failure
    }
  }

  /**
   * Commit ops up to feed position `upTo`, with the name index's mark moved
   * to it in the same batch: the name records a commit writes are runs, and
   * an index that is rebuilt past its mark on open must not hold them already.
   */
  indexed (ops: Op[], upTo: number): Op[] {
    ops.push(op('put', this.#meta, INDEX_KEY, indexMark(upTo)))
    return ops
  }

  /**
   * Bounds what waits for level (memory) and the write-ahead file (time to
   * reopen): over either bound, waits for level to hold the feed up to
   * `upTo` (all that is committed).
   */
  async room (upTo: number): Promise<void> {
    const wal = this.#wal
    if (wal == null || (this.#unflushedBytes + this.#flushingBytes < MAX_UNFLUSHED_BYTES && wal.size < WAL_MAX_BYTES)) return
    await this.flushedTo(upTo)
    if (wal.size >= WAL_RESET_BYTES) this.#resetWal(wal)
  }

  /** Appends a commit's entries to the write-ahead file: durable from then on. Throws StorageError. */
  append (firstSeq: number, entries: Uint8Array[], keys?: ReadonlyArray<string | undefined>): void {
    this.#wal!.append(firstSeq, entries, this.#fsync, keys)
  }

  /** The level ops of a commit in the write-ahead file, up to feed position `upTo`: level gets them in a flush. */
  queue (ops: Op[], bytes: number, upTo: number): void {
    for (const o of ops) this.#unflushed.push(o)
    this.#unflushedBytes += bytes
    this.#unflushedUpTo = upTo
    this.#flush()
  }

  // Writes what the write-ahead file holds and level does not yet, in one
  // batch, then the ops committed meanwhile in the next: commits go on while
  // level writes.
  #flush (): void {
    if (this.#flushing || this.#unflushed.length === 0) return
    const ops = this.#unflushed
    const bytes = this.#unflushedBytes
    const upTo = this.#unflushedUpTo
    this.#unflushed = []
    this.#unflushedBytes = 0
    this.#flushingBytes += bytes
    this.#flushing = true
    this.#flushStarted = performance.now()
    this.write(this.indexed(ops, upTo)).then(() => {
      this.#flushing = false
      this.#flushingBytes -= bytes
      this.flushedUpTo(upTo)
      if (this.#unflushed.length > 0) this.#flush()
      else if (this.#wal != null && this.#wal.size >= WAL_RESET_BYTES) this.#resetWal(this.#wal)
    }, () => {
      this.#flushing = false
      this.#wakeFlushWaiters()
    })
  }

  /** Feed position up to which level holds the log. */
  get flushed (): number {
    return this.#flushed
  }

  /** Resolves once level holds the feed up to `upTo`. */
  flushedTo (upTo: number): Promise<void> {
    if (upTo <= this.#flushed) return Promise.resolve()
    if (this.#failed != null) return Promise.reject(this.#failed)
    return new Promise((resolve, reject) => { this.#flushWaiters.push({ upTo, resolve, reject }) })
  }

  /** The one place the watermark moves: level took a batch up to `upTo`. */
  flushedUpTo (upTo: number): void {
    this.#flushed = upTo
    this.#wakeFlushWaiters()
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

  // Empties the write-ahead file once level holds all of it. A failure here
  // loses nothing: its records are skipped on reopen.
  #resetWal (wal: Wal): void {
    try {
      wal.reset()
    } catch (err) {
      log.error('%e', err)
    }
  }

  /** Closes the write-ahead file; empties it first unless a write failed (level then lacks some of it: the next open recovers it). */
  closeWal (): void {
    if (this.#wal == null) return
    if (this.#failed == null) this.#resetWal(this.#wal)
    this.#wal.close()
  }
}
