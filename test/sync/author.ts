// Frames and entries built by hand, byte by byte with the encoder the log
// uses, so that tests can send what an honest node never would: a correct
// Hello, Entries frames, and an author's chain whose entries can be left
// unsigned, given wrong fields, or tampered with afterwards.
import { SyncMessage } from '../../src/pb/sync.js'
import { encodeEntry, entryId, EMPTY, type EntryFields } from '../../src/log/entry.js'
import { Identity } from '../../src/log/identity.js'
import { PROTOCOL_VERSION } from '../../src/sync/constants.js'
import { randomBytes } from 'node:crypto'

/** What a HyperEmitter must offer for a hello and a dial. */
export interface Target {
  schema: { fingerprint: Uint8Array, encode: (name: string, message: unknown) => Uint8Array }
  options: { topic?: string }
}

/**
 * A correct Hello for `emitter`: version 1, its schema and topic, the vector
 * `have` (empty by default), and `features` (none by default: the Hello of a
 * peer written before features existed).
 */
export function hello (emitter: Target, have: Array<{ author: Uint8Array, seq: number }> = [], features: string[] = []): SyncMessage {
  return {
    hello: {
      version: PROTOCOL_VERSION,
      schema: emitter.schema.fingerprint as Uint8Array<ArrayBuffer>,
      topic: emitter.options.topic ?? '',
      have: have.map(h => ({ author: h.author as Uint8Array<ArrayBuffer>, seq: h.seq })),
      features
    }
  }
}

/** An unsigned LEB128 varint, as the frame length prefix. */
export function varint (n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80)
    n = Math.floor(n / 0x80)
  }
  out.push(n)
  return Uint8Array.from(out)
}

/** `uvarint(n) ‖ bytes`: one frame as it goes on the wire. */
export function lengthPrefixed (bytes: Uint8Array): Uint8Array {
  const prefix = varint(bytes.byteLength)
  const out = new Uint8Array(prefix.byteLength + bytes.byteLength)
  out.set(prefix, 0)
  out.set(bytes, prefix.byteLength)
  return out
}

/** The encoded SyncMessage (without its length prefix). */
export function encodeMessage (msg: SyncMessage): Uint8Array {
  return SyncMessage.encode(msg)
}

/** An Entries frame (its body) of these encoded entries. */
export function entriesMessage (entries: Uint8Array[]): SyncMessage {
  return { entries: { entries: entries as Array<Uint8Array<ArrayBuffer>>, context: [] } }
}

export interface Built {
  bytes: Uint8Array
  id: Uint8Array
  seq: number
  clock: number
}

export interface BuildOptions {
  /** sign the entry (default), leave it unsigned (false), or sign with another key */
  sign?: boolean | Identity
  /** ids of other parents, with the highest clock among them */
  links?: Uint8Array[]
  linkClock?: number
  /** fields to put in place of the computed ones (after the signature is made when `after`) */
  fields?: Partial<EntryFields>
  /** do not advance the author's chain */
  dry?: boolean
}

/**
 * One author's chain, built like a local writer does: seq 1, 2, ..., prev
 * the previous id, clock one more than the parents'.
 */
export class Author {
  /** the key pair, or only a public key for an author whose entries are never signed */
  readonly identity: Identity | undefined
  readonly key: Uint8Array
  seq = 0
  prev: Uint8Array = EMPTY
  clock = 0

  constructor (identity: Identity | Uint8Array = Identity.generate()) {
    if (identity instanceof Identity) {
      this.identity = identity
      this.key = identity.publicKey
    } else {
      this.key = identity
    }
  }

  /** An author of 32 random bytes: cheap, for unsigned entries only. */
  static unsigned (): Author {
    return new Author(randomBytes(32))
  }

  get hex (): string {
    return Buffer.from(this.key).toString('hex')
  }

  /** The next entry of the chain: `name` with `payload`. */
  next (name: string, payload: Uint8Array, opts: BuildOptions = {}): Built {
    const seq = this.seq + 1
    const clock = Math.max(this.clock, opts.linkClock ?? 0) + 1
    const fields: EntryFields = {
      author: this.key as Uint8Array<ArrayBuffer>,
      seq,
      prev: this.prev as Uint8Array<ArrayBuffer>,
      links: (opts.links ?? []) as Array<Uint8Array<ArrayBuffer>>,
      clock,
      timestamp: 1_700_000_000_000 + seq,
      name,
      payload: payload as Uint8Array<ArrayBuffer>,
      ...opts.fields
    }
    const sign = opts.sign ?? true
    const signer = sign === true ? this.identity : sign === false ? undefined : sign
    if (sign === true && signer == null) throw new Error('this author has no private key')
    const bytes = encodeEntry(fields, signer)
    const id = entryId(bytes)
    if (opts.dry !== true) {
      this.seq = seq
      this.prev = id
      this.clock = clock
    }
    return { bytes, id, seq, clock }
  }

  /** `n` entries, signed every `signEvery` and at the end, like commit groups. */
  chain (n: number, name: string, payload: (i: number) => Uint8Array, signEvery = 1): Built[] {
    const out: Built[] = []
    for (let i = 0; i < n; i++) {
      out.push(this.next(name, payload(i), { sign: (i + 1) % signEvery === 0 || i === n - 1 }))
    }
    return out
  }
}
