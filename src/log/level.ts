// How the log lies in level: its sublevels, the keys of its single records,
// and the shape of the ops a commit writes.
import type { AnyLevel, Sub, Sublevels } from './types.js'

/** The one record of the heads sublevel: the ids of the heads, concatenated. */
export const HEADS_KEY = Buffer.from('heads')
/** The meta record of the feed position the run and heads records reflect. */
export const CHECKPOINT_KEY = Buffer.from('checkpoint')

export function sublevels (db: AnyLevel): Sublevels {
  const opts = { keyEncoding: 'buffer', valueEncoding: 'buffer' } as const
  return {
    entries: db.sublevel('entries', opts) as Sub,
    feed: db.sublevel('feed', opts) as Sub,
    heads: db.sublevel('heads', opts) as Sub,
    runs: db.sublevel('runs', opts) as Sub,
    cursors: db.sublevel('cursors', opts) as Sub,
    meta: db.sublevel('meta', opts) as Sub,
    floors: db.sublevel('floors', opts) as Sub,
    cut: db.sublevel('cut', opts) as Sub
  }
}

// One object shape for every op keeps abstract-level's per-op copy fast; a
// class, not an object literal: see ReadEntry in entry.ts. The sublevel is a
// type parameter so that the state can be tested with plain tokens, no db.
export class BatchOp<S = Sub> {
  constructor (readonly type: 'put' | 'del', readonly sublevel: S, readonly key: Buffer, readonly value: Buffer | undefined) {}
}

export function op<S> (type: 'put' | 'del', sublevel: S, key: Buffer, value: Buffer | undefined): BatchOp<S> {
  return new BatchOp(type, sublevel, key, value)
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
