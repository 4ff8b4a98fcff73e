// The fuzzer's inputs: a valid multi-author DAG (the corpus), mutations of
// bytes, and entries built field by field. Shared by the fuzz parts in this
// folder.
import fc from 'fast-check'
import { MemoryLevel } from 'memory-level'
import { Log } from '../../src/log/log.js'
import { Ingester } from '../../src/log/ingest.js'
import { toHex, EMPTY } from '../../src/log/entry.js'
import { Identity } from '../../src/log/identity.js'
import { Schema } from '../../src/schema/index.js'
import { SyncMessage } from '../../src/pb/sync.js'
import { REFUSE } from '../../src/sync/constants.js'
import { entriesMessage, lengthPrefixed } from '../sync/author.js'

// ---------------------------------------------------------------- corpus

export interface Corpus {
  schemaText: string
  schema: Schema
  /** valid entries of several authors with links, in a causal order */
  pool: Uint8Array[]
  poolIds: Uint8Array[]
  /** keys that sign generated entries: the pool's authors and two more */
  identities: Identity[]
  /** valid (name, payload) pairs */
  payloads: Array<[string, Uint8Array]>
  /** valid SyncMessage encodings of every kind */
  frames: Uint8Array[]
  /** hex ids of every entry we built (pool and generated): the only ones that may be stored */
  legit: Set<string>
}

/**
 * Three logs that write in groups of 1, 3 and 7 and exchange their entries
 * each round, so that the pool holds signed and unsigned entries, chains
 * and links across authors, with correct clocks.
 */
export async function makeCorpus (schemaText: string, rounds = 10): Promise<Corpus> {
  const schema = new Schema(schemaText)
  const payloads: Array<[string, Uint8Array]> = [
    ['Hello', schema.encode('Hello', { from: 'fuzz', message: 'a valid event' })],
    ['Hello', schema.encode('Hello', {})],
    ['Integer', schema.encode('Integer', { value: -5 })],
    ['Integer', schema.encode('Integer', { value: 2 ** 31 - 1 })],
    ['EventPeer', schema.encode('EventPeer', { id: 'peer', addresses: [{ ip: '127.0.0.1', port: 1 }] })]
  ]
  const validate = (name: string, payload: Uint8Array): void => { schema.check(name, payload) }
  const logs = await Promise.all([0, 1, 2].map(async () => Log.open(new MemoryLevel())))
  for (let r = 0; r < rounds; r++) {
    for (const [i, l] of logs.entries()) {
      const k = [1, 3, 7][(r + i) % 3]
      await Promise.all(Array.from({ length: k }, async (_, j) => {
        const [name, payload] = payloads[(r + i + j) % payloads.length]
        return l.append(name, payload)
      }))
    }
    for (const l of logs) {
      for (const o of logs) {
        if (o === l) continue
        const ingester = new Ingester(l, { validate })
        await ingester.add((await o.read(1, 100_000)).map(e => e.bytes))
      }
    }
  }
  const all = await logs[0].read(1, 100_000)
  const pool = all.map(e => e.bytes)
  const poolIds = all.map(e => e.id)
  const identities = [...logs.map(l => l.identity), Identity.generate(), Identity.generate()]
  for (const l of logs) await l.close()
  const authors = [...new Set(all.map(e => toHex(e.entry.author)))]
  const frames = [
    SyncMessage.encode({ hello: { version: 1, schema: schema.fingerprint as Uint8Array<ArrayBuffer>, topic: '', have: authors.map(a => ({ author: Buffer.from(a, 'hex'), seq: 3 })), features: [] } }),
    SyncMessage.encode({ hello: { version: 1, schema: schema.fingerprint as Uint8Array<ArrayBuffer>, topic: '', have: [], features: ['lazy/1'] } }),
    SyncMessage.encode(entriesMessage(pool.slice(0, 1))),
    SyncMessage.encode(entriesMessage(pool.slice(0, 8))),
    SyncMessage.encode({ ack: { batches: 1 } }),
    SyncMessage.encode({ synced: { length: 42 } }),
    SyncMessage.encode({ refuse: { code: REFUSE.INVALID_ENTRY, reason: '1 entries refused' } }),
    SyncMessage.encode({ refuse: { code: REFUSE.LIMIT, reason: 'no' } }),
    SyncMessage.encode({ prune: { authors: authors.slice(0, 2).map(a => Buffer.from(a, 'hex')) } }),
    SyncMessage.encode({ graft: { have: authors.map(a => ({ author: Buffer.from(a, 'hex'), seq: 2 })) } }),
    SyncMessage.encode({ ihave: { have: authors.map((a, i) => ({ author: Buffer.from(a, 'hex'), seq: 2 + i })) } })
  ]
  return { schemaText, schema, pool, poolIds, identities, payloads, frames, legit: new Set(poolIds.map(toHex)) }
}

// ---------------------------------------------------------------- protobuf writing

export function varintBig (v: bigint): number[] {
  const out: number[] = []
  do {
    let b = Number(v & 0x7fn)
    v >>= 7n
    if (v > 0n) b |= 0x80
    out.push(b)
  } while (v > 0n)
  return out
}

export function key (field: number, wire: number): number[] {
  return varintBig(BigInt(field * 8 + wire))
}

export function lenField (field: number, bytes: Uint8Array): number[] {
  return [...key(field, 2), ...varintBig(BigInt(bytes.byteLength)), ...bytes]
}

export function numField (field: number, v: bigint): number[] {
  return [...key(field, 0), ...varintBig(v)]
}

export const U64 = fc.oneof(
  fc.constantFrom(0n, 1n, 2n, 3n, 2n ** 31n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n),
  fc.bigInt({ min: 0n, max: 1000n }),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })
)

// ---------------------------------------------------------------- mutation

export type Op =
  | { k: 'flip', pos: number, bit: number }
  | { k: 'set', pos: number, v: number }
  | { k: 'cut', pos: number }
  | { k: 'insert', pos: number, b: Uint8Array }
  | { k: 'delete', pos: number, n: number }
  | { k: 'dup', pos: number, n: number }
  | { k: 'splice', other: number, pos: number, pos2: number }
  | { k: 'varint', pos: number, v: bigint }

export const OP: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: fc.constant('flip' as const), pos: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('set' as const), pos: fc.nat(), v: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x00, 0x01, 0x7f, 0x80, 0xff, 0x0a, 0x12, 0x1a, 0x22, 0x28, 0x3a, 0x42, 0x7a, 0x40)) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('cut' as const), pos: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('insert' as const), pos: fc.nat(), b: fc.uint8Array({ minLength: 1, maxLength: 12 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('delete' as const), pos: fc.nat(), n: fc.integer({ min: 1, max: 12 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('dup' as const), pos: fc.nat(), n: fc.integer({ min: 1, max: 40 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('splice' as const), other: fc.nat(), pos: fc.nat(), pos2: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('varint' as const), pos: fc.nat(), v: U64 }) }
)

/** Applies `ops` to a copy of `bytes`; `others` are what `splice` takes a tail from. */
export function mutate (bytes: Uint8Array, ops: Op[], others: Uint8Array[]): Uint8Array {
  let b = Array.from(bytes)
  for (const op of ops) {
    const at = (p: number): number => b.length === 0 ? 0 : p % (b.length + 1)
    switch (op.k) {
      case 'flip': if (b.length > 0) b[op.pos % b.length] ^= 1 << op.bit; break
      case 'set': if (b.length > 0) b[op.pos % b.length] = op.v; break
      case 'cut': b = b.slice(0, at(op.pos)); break
      case 'insert': b.splice(at(op.pos), 0, ...op.b); break
      case 'delete': b.splice(at(op.pos), op.n); break
      case 'dup': { const p = at(op.pos); b.splice(p, 0, ...b.slice(p, p + op.n)); break }
      case 'splice': {
        const other = others[op.other % others.length]
        b = [...b.slice(0, at(op.pos)), ...other.subarray(op.pos2 % (other.byteLength + 1))]
        break
      }
      case 'varint': { const p = at(op.pos); b.splice(p, 0, ...varintBig(op.v)); break }
    }
  }
  // a mutation that gives back the input is not one
  if (b.length === bytes.byteLength && b.every((x, i) => x === bytes[i])) b.push(0)
  return Uint8Array.from(b)
}

// ---------------------------------------------------------------- entry inputs

export interface EntryInput {
  bytes: Uint8Array
  /** built by us (may be stored if valid); mutations and random bytes are not */
  legit: boolean
  kind: 'random' | 'mutated' | 'generated' | 'signed'
}

/** Entries built field by field: any order, repeats, unknown fields, any values. */
function generatedEntry (c: Corpus): fc.Arbitrary<EntryInput> {
  const keys = c.identities.map(i => i.publicKey)
  const idLike = fc.oneof(
    fc.constant(EMPTY as Uint8Array),
    fc.constantFrom(...c.poolIds),
    fc.uint8Array({ minLength: 32, maxLength: 32 }).map(d => Uint8Array.from([0x12, 0x20, ...d])),
    fc.uint8Array({ maxLength: 40 })
  )
  return fc.record({
    author: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...keys) }, { weight: 1, arbitrary: fc.uint8Array({ minLength: 0, maxLength: 40 }) }),
    // who signs: mostly nobody (a signature costs ~0.6 ms to make)
    signer: fc.oneof({ weight: 12, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.nat(c.identities.length - 1) }),
    seq: fc.oneof(fc.constantFrom(1n, 2n, 3n), U64),
    prev: idLike,
    links: fc.array(idLike, { maxLength: 3 }),
    clock: fc.oneof(fc.constantFrom(1n, 2n), U64),
    timestamp: U64,
    name: fc.oneof(fc.constantFrom('Hello', 'Integer', 'EventPeer', '', 'NoSuchEvent', 'Hello\u0000', 'héllo'), fc.string({ maxLength: 12 })),
    payload: fc.oneof(fc.constantFrom(...c.payloads.map(p => p[1])), fc.uint8Array({ maxLength: 40 })),
    signature: fc.option(fc.uint8Array({ minLength: 0, maxLength: 70 }), { freq: 3 }),
    order: fc.oneof({ weight: 4, arbitrary: fc.constant<number[]>([]) }, { weight: 1, arbitrary: fc.shuffledSubarray([0, 1, 2, 3, 4, 5, 6, 7], { minLength: 8, maxLength: 8 }) }),
    extra: fc.array(fc.record({ field: fc.integer({ min: 1, max: 40 }), wire: fc.constantFrom(0, 1, 2, 5), data: fc.uint8Array({ maxLength: 10 }) }), { maxLength: 2 })
  }).map(g => {
    const fields: number[][] = [
      g.author.byteLength > 0 ? lenField(1, g.author) : [],
      g.seq > 0n ? numField(2, g.seq) : [],
      g.prev.byteLength > 0 ? lenField(3, g.prev) : [],
      g.links.flatMap(l => lenField(4, l)),
      g.clock > 0n ? numField(5, g.clock) : [],
      g.timestamp > 0n ? numField(6, g.timestamp) : [],
      g.name.length > 0 ? lenField(7, Buffer.from(g.name)) : [],
      g.payload.byteLength > 0 ? lenField(8, g.payload) : []
    ]
    const ordered = g.order.length === 8 ? g.order.map(i => fields[i]) : fields
    const extra = g.extra.flatMap(x => {
      if (x.wire === 0) return [...key(x.field, 0), ...varintBig(BigInt(x.data.byteLength))]
      if (x.wire === 1) return [...key(x.field, 1), ...new Uint8Array(8)]
      if (x.wire === 5) return [...key(x.field, 5), ...new Uint8Array(4)]
      return lenField(x.field, x.data)
    })
    const body = Uint8Array.from([...ordered.flat(), ...extra])
    let bytes: Uint8Array
    let kind: EntryInput['kind'] = 'generated'
    if (g.signer >= 0) {
      bytes = Uint8Array.from([...body, 0x7a, 0x40, ...c.identities[g.signer].sign(body)])
      kind = 'signed'
    } else if (g.signature != null) {
      bytes = Uint8Array.from([...body, ...lenField(15, g.signature)])
    } else {
      bytes = body
    }
    return { bytes, legit: true, kind }
  })
}

export function entryInput (c: Corpus): fc.Arbitrary<EntryInput> {
  return fc.oneof(
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 200 }).map(bytes => ({ bytes, legit: false, kind: 'random' as const })) },
    {
      weight: 5,
      arbitrary: fc.tuple(fc.nat(c.pool.length - 1), fc.array(OP, { minLength: 1, maxLength: 4 }))
        .map(([i, ops]) => ({ bytes: mutate(c.pool[i], ops, c.pool), legit: false, kind: 'mutated' as const }))
    },
    { weight: 3, arbitrary: generatedEntry(c) }
  )
}

// ---------------------------------------------------------------- sessions

/** One step of a hostile peer after its Hello: a frame to send, or raw wire bytes. */
export type Plan =
  | { kind: 'valid', n: number }
  | { kind: 'entries', entries: EntryInput[] }
  | { kind: 'message', msg: 'ack' | 'synced' | 'notice' | 'refuse', value: number }
  | { kind: 'hello' }
  | { kind: 'frame', bytes: Uint8Array }
  | { kind: 'random', bytes: Uint8Array }
  | { kind: 'wire', bytes: Uint8Array }

/** The frame a 'message' step sends. */
export function planMessage (plan: { msg: 'ack' | 'synced' | 'notice' | 'refuse', value: number }): SyncMessage {
  if (plan.msg === 'ack') return { ack: { batches: plan.value } }
  if (plan.msg === 'synced') return { synced: { length: plan.value } }
  return { refuse: { code: plan.msg === 'notice' ? REFUSE.INVALID_ENTRY : plan.value, reason: 'fuzz' } }
}

export function planInput (c: Corpus): fc.Arbitrary<Plan> {
  const small = fc.nat(5)
  return fc.oneof(
    { weight: 20, arbitrary: fc.integer({ min: 1, max: 4 }).map(n => ({ kind: 'valid' as const, n })) },
    { weight: 40, arbitrary: fc.array(entryInput(c), { minLength: 1, maxLength: 3 }).map(entries => ({ kind: 'entries' as const, entries })) },
    { weight: 12, arbitrary: fc.tuple(fc.constantFrom('ack' as const, 'synced' as const, 'notice' as const, 'refuse' as const), small).map(([msg, value]) => ({ kind: 'message' as const, msg, value })) },
    { weight: 1, arbitrary: fc.constant({ kind: 'hello' as const }) },
    { weight: 15, arbitrary: fc.tuple(fc.nat(c.frames.length - 1), fc.array(OP, { minLength: 1, maxLength: 3 })).map(([i, ops]) => ({ kind: 'frame' as const, bytes: mutate(c.frames[i], ops, c.pool) })) },
    { weight: 6, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 200 }).map(bytes => ({ kind: 'random' as const, bytes })) },
    { weight: 2, arbitrary: fc.tuple(fc.nat(c.frames.length - 1), fc.array(OP, { minLength: 1, maxLength: 2 })).map(([i, ops]) => ({ kind: 'wire' as const, bytes: mutate(lengthPrefixed(c.frames[i]), ops, c.pool) })) }
  )
}
