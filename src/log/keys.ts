// Binary keys and values of the log's sublevels. Numbers are 8-byte big-endian
// so that level's byte order is numeric order.

export function seqKey (seq: number): Buffer {
  const key = Buffer.allocUnsafe(8)
  key.writeBigUInt64BE(BigInt(seq))
  return key
}

export function readSeq (bytes: Uint8Array): number {
  return Number(Buffer.from(bytes.buffer, bytes.byteOffset, 8).readBigUInt64BE())
}

/** author (32 bytes) || last seq of the run: runs of one author sort by seq */
export function runKey (author: Uint8Array, lastSeq: number): Buffer {
  const key = Buffer.allocUnsafe(40)
  key.set(author, 0)
  key.writeBigUInt64BE(BigInt(lastSeq), 32)
  return key
}

/** A run record's value: first author seq, then its feed position. */
export const RUN_VALUE_LENGTH = 16

/**
 * One author's newest stored entry, and the run it ends: consecutive author
 * seqs stored at consecutive feed positions, so one record maps a whole
 * commit group from author seq to feed position.
 */
export class AuthorState {
  constructor (
    readonly seq: number,
    readonly feedSeq: number,
    readonly runFirst: number,
    readonly runFeedStart: number,
    readonly id: Uint8Array<ArrayBuffer>
  ) {}

  static next (before: AuthorState | undefined, seq: number, feedSeq: number, id: Uint8Array<ArrayBuffer>): AuthorState {
    if (before != null && seq === before.seq + 1 && feedSeq === before.feedSeq + 1) {
      return new AuthorState(seq, feedSeq, before.runFirst, before.runFeedStart, id)
    }
    return new AuthorState(seq, feedSeq, seq, feedSeq, id)
  }

  encodeRun (): Buffer {
    const out = Buffer.allocUnsafe(RUN_VALUE_LENGTH)
    out.writeBigUInt64BE(BigInt(this.runFirst), 0)
    out.writeBigUInt64BE(BigInt(this.runFeedStart), 8)
    return out
  }

  encode (): Buffer {
    const out = Buffer.allocUnsafe(32 + this.id.byteLength)
    out.writeBigUInt64BE(BigInt(this.seq), 0)
    out.writeBigUInt64BE(BigInt(this.feedSeq), 8)
    out.writeBigUInt64BE(BigInt(this.runFirst), 16)
    out.writeBigUInt64BE(BigInt(this.runFeedStart), 24)
    out.set(this.id, 32)
    return out
  }

  static decode (bytes: Uint8Array): AuthorState {
    const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    return new AuthorState(
      Number(b.readBigUInt64BE(0)), Number(b.readBigUInt64BE(8)),
      Number(b.readBigUInt64BE(16)), Number(b.readBigUInt64BE(24)),
      new Uint8Array(b.subarray(32))
    )
  }
}
