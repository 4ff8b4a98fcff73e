// How the log lies in level: its sublevels, the keys of its single records,
// and the shape of the ops a commit writes.
import type { AbstractBatchOperation, AbstractIteratorOptions } from 'abstract-level'
import { writeSeq } from './keys.js'
import type { AnyLevel, Db, Sub, Sublevels } from './types.js'

/** The one record of the heads sublevel: the ids of the heads, concatenated. */
export const HEADS_KEY = Buffer.from('heads')
/** The meta record of the feed position the run and heads records reflect. */
export const CHECKPOINT_KEY = Buffer.from('checkpoint')
/**
 * The meta record of the name index: the feed position up to which the
 * index is known complete (8 bytes), then its format version (u32). Written
 * with each checkpoint; opening indexes what lies past it (a db of an older
 * version has none: all of it).
 */
export const INDEX_KEY = Buffer.from('name-index')
/**
 * The name index's format: another version in a db is rebuilt. Version 2
 * keys a record by the first feed position of a run of one name (see
 * nameRunValue); version 1 had a record per entry.
 */
export const INDEX_VERSION = 2

/**
 * Binary keys and values: the encodings of every sublevel of the log, and
 * of a classic-level db HyperEmitter opens for it (writeBatch is fastest then).
 */
export const BINARY = { keyEncoding: 'buffer', valueEncoding: 'buffer' } as const

/**
 * The bytes a scan of many records may hold at a time (classic-level's
 * `highWaterMarkBytes`; other dbs ignore it). Its default, 16 KiB, ends a
 * `nextv` after about 6 feed records (100 entries), so a scan of the feed
 * was a round trip through the thread pool per 100 entries. 256 KiB is as
 * fast as 1 MiB and 4 MiB on a log of 1,000,000 events (verify 3.4–3.6 s
 * against 4.6–4.7 s at 16 KiB), with 80 MB less at the peak than 1 MiB.
 */
export const SCAN: AbstractIteratorOptions<Buffer, Buffer> & { highWaterMarkBytes: number } = { highWaterMarkBytes: 256 * 1024 }

/** A sublevel of `db` with binary keys and values, as all of the log's are. */
export function binarySublevel (db: AnyLevel, name: string): Sub {
  return db.sublevel(name, BINARY) as Sub
}

export function sublevels (db: AnyLevel): Sublevels {
  const sub = (name: string): Sub => binarySublevel(db, name)
  return {
    // 'feed' and 'entries' are the layout before version 2, 'feed-v2' before version 3 (migrate.ts)
    ids: sub('ids'),
    feed: sub('feed-v3'),
    heads: sub('heads'),
    runs: sub('runs'),
    cursors: sub('cursors'),
    meta: sub('meta'),
    names: sub('names'),
    keys: sub('keys'),
    floors: sub('floors'),
    cut: sub('cut')
  }
}

// One object shape for every op keeps abstract-level's per-op copy fast; a
// class, not an object literal: see ReadEntry in entry-read.ts. The sublevel is a
// type parameter so that the state can be tested with plain tokens, no db.
export class BatchOp<S = Sub> {
  constructor (readonly type: 'put' | 'del', readonly sublevel: S, readonly key: Buffer, readonly value: Buffer | undefined) {}
}

/**
 * The ops as level's batch() types them: a BatchOp is one class for put and
 * del, not abstract-level's union of two object types.
 */
export type LevelOps = Array<AbstractBatchOperation<Db, Buffer, Buffer>>

export function op<S> (type: 'put' | 'del', sublevel: S, key: Buffer, value: Buffer | undefined): BatchOp<S> {
  return new BatchOp(type, sublevel, key, value)
}

/**
 * Puts of many records of one sublevel in one op: their keys (`keyLength`
 * bytes) and values (`valueLength`) laid one after another in one buffer,
 * each key after the sublevel's `prefix`. A commit's id records wait for the
 * flush so, as bytes: an op and two Buffers a record lived long enough for V8
 * to move them to its old generation, and scavenges copied them on the way.
 * With the prefix in place, a chained batch takes each prefixed key as a
 * view, not a copy made at the flush.
 */
export class PackedPuts<S = Sub> {
  readonly type = 'puts'
  readonly bytes: Buffer
  count = 0
  readonly #stride: number

  constructor (readonly sublevel: S, readonly prefix: Uint8Array, readonly keyLength: number, readonly valueLength: number, capacity: number) {
    this.#stride = prefix.byteLength + keyLength + valueLength
    this.bytes = Buffer.allocUnsafe(capacity * this.#stride)
  }

  /** Room for one more record, its prefix written: where its key goes, its value right after. */
  add (): number {
    const at = this.count++ * this.#stride
    this.bytes.set(this.prefix, at)
    return at + this.prefix.byteLength
  }

  key (i: number): Buffer {
    const at = i * this.#stride + this.prefix.byteLength
    return this.bytes.subarray(at, at + this.keyLength)
  }

  /** The key after its sublevel's prefix: a key of the sublevel's db. */
  prefixedKey (i: number): Buffer {
    const at = i * this.#stride
    return this.bytes.subarray(at, at + this.prefix.byteLength + this.keyLength)
  }

  value (i: number): Buffer {
    const at = i * this.#stride + this.prefix.byteLength + this.keyLength
    return this.bytes.subarray(at, at + this.valueLength)
  }

  /** Its records as single puts. */
  ops (): Array<BatchOp<S>> {
    return Array.from({ length: this.count }, (_, i) => op('put', this.sublevel, this.key(i), this.value(i)))
  }
}

/** An op of a batch: one record, or many puts at once. */
export type Op<S = Sub> = BatchOp<S> | PackedPuts<S>

/** The ops with packed puts spread into single ones. */
export function single<S> (ops: Array<Op<S>>): Array<BatchOp<S>> {
  return ops.flatMap(o => o instanceof PackedPuts ? o.ops() : [o])
}

/**
 * Writes `ops` in one atomic batch. On a db whose keys and values are
 * buffers by default (HyperEmitter opens classic-level so), it is a chained
 * batch of keys prefixed here, which costs about half of an array batch:
 * abstract-level copies and checks every op of an array, and classic-level
 * reads each op's properties one by one. Any other db gets the array.
 */
export async function writeBatch (db: Db, ops: Op[], sync: boolean): Promise<void> {
  const options = sync ? SYNC : NO_SYNC
  if (!takesBuffers(db)) {
    await db.batch(single(ops) as unknown as LevelOps, options)
    return
  }
  const batch = db.batch()
  for (const o of ops) {
    if (o.type === 'puts') {
      for (let i = 0; i < o.count; i++) batch.put(o.prefixedKey(i), o.value(i))
      continue
    }
    const key = o.sublevel.prefixKey(o.key, 'buffer', true)
    if (o.type === 'put') batch.put(key, o.value)
    else batch.del(key)
  }
  await batch.write(options)
}

/** The key prefix of a sublevel of the log's db, as writeBatch puts its keys: see PackedPuts. */
export function keyPrefix (sublevel: Sub): Buffer {
  return sublevel.prefixKey(EMPTY_KEY, 'buffer', true)
}

const EMPTY_KEY = Buffer.alloc(0)

/** classic-level's fsync option, which abstract-level's batch options lack. */
const SYNC = { sync: true }
const NO_SYNC = {}
const buffersByDefault = new WeakMap<Db, boolean>()

function takesBuffers (db: Db): boolean {
  let takes = buffersByDefault.get(db)
  if (takes === undefined) {
    takes = db.keyEncoding().commonName === 'buffer' && db.valueEncoding().commonName === 'buffer'
    buffersByDefault.set(db, takes)
  }
  return takes
}

/** The value of the name index record: where the index is complete, and its version. */
export function indexMark (upTo: number): Buffer {
  const value = Buffer.allocUnsafe(12)
  writeSeq(value, upTo, 0)
  value.writeUInt32BE(INDEX_VERSION, 8)
  return value
}

/** A Buffer over the same memory: level copies on write, so no copy here. */
export function view (bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** A plain Uint8Array over a Buffer's memory: what the log gives out is of one type. */
export function plain (bytes: Buffer): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength)
}

/** A level error's code and message, for the StorageError that wraps it. */
export function describe (err: unknown): string {
  const e = err as { code?: string, message?: string, cause?: { message?: string } }
  return [e.code, e.cause?.message ?? e.message].filter(Boolean).join(': ')
}
