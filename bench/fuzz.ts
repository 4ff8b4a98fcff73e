// Fuzzer of the receiving side of HyperEmitter:
//  (a) the entry validator: Ingester.accept/storeReady on a MemoryLevel log, fed
//      generated entries (fast-check), mutations of valid entries and random
//      bytes, interleaved with a valid multi-author DAG so that the store
//      path runs against real state. Nothing invalid may be stored: every
//      stored entry decodes, passes the schema, is one we built (never a
//      mutation), and log.verify() stays ok.
//  (b) the sync frame decoder: SyncMessage.decode with the limits the
//      session uses, fed generated, mutated and random frames.
//  (c) a live node fed mutated frames over real libp2p streams by hostile
//      peers (test/hostile-peer.ts), across reconnects and blocks; after
//      every fuzz frame a valid probe frame tells whether the session lives.
// `node dist/bench/fuzz.js` runs the full size and prints one JSON line;
// test/fuzz.test.ts runs a CI size of the same code.
import '../src/polyfill.js'
import fc from 'fast-check'
import { MemoryLevel } from 'memory-level'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { HyperEmitter } from '../src/index.js'
import { Log } from '../src/log/log.js'
import { Ingester } from '../src/log/ingest.js'
import { decodeEntry, entryId, toHex, EMPTY } from '../src/log/entry.js'
import { Identity } from '../src/log/identity.js'
import { Schema } from '../src/schema/index.js'
import { SyncMessage } from '../src/pb/sync.js'
import { ProtocolError } from '../src/errors.js'
import { MAX_BATCH_ENTRIES, MAX_HAVE, WINDOW, REFUSE, refuseName } from '../src/sync/constants.js'
import { HostilePeer, type RawStream, hello, entriesMessage, lengthPrefixed } from '../test/hostile-peer.js'
import type { Multiaddr } from '@multiformats/multiaddr'

/** The limits the session passes to the decoder: in the handshake, and after it. */
export const HANDSHAKE_LIMITS = { limits: { hello: { have: MAX_HAVE } } }
export const SESSION_LIMITS = { limits: { entries: { entries: MAX_BATCH_ENTRIES } } }

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
    SyncMessage.encode({ hello: { version: 1, schema: schema.fingerprint as Uint8Array<ArrayBuffer>, topic: '', have: authors.map(a => ({ author: Buffer.from(a, 'hex'), seq: 3 })) } }),
    SyncMessage.encode(entriesMessage(pool.slice(0, 1))),
    SyncMessage.encode(entriesMessage(pool.slice(0, 8))),
    SyncMessage.encode({ ack: { batches: 1 } }),
    SyncMessage.encode({ synced: { length: 42 } }),
    SyncMessage.encode({ refuse: { code: REFUSE.INVALID_ENTRY, reason: '1 entries refused' } }),
    SyncMessage.encode({ refuse: { code: REFUSE.LIMIT, reason: 'no' } })
  ]
  return { schemaText, schema, pool, poolIds, identities, payloads, frames, legit: new Set(poolIds.map(toHex)) }
}

// ---------------------------------------------------------------- protobuf writing

function varintBig (v: bigint): number[] {
  const out: number[] = []
  do {
    let b = Number(v & 0x7fn)
    v >>= 7n
    if (v > 0n) b |= 0x80
    out.push(b)
  } while (v > 0n)
  return out
}

function key (field: number, wire: number): number[] {
  return varintBig(BigInt(field * 8 + wire))
}

function lenField (field: number, bytes: Uint8Array): number[] {
  return [...key(field, 2), ...varintBig(BigInt(bytes.byteLength)), ...bytes]
}

function numField (field: number, v: bigint): number[] {
  return [...key(field, 0), ...varintBig(v)]
}

const U64 = fc.oneof(
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

const OP: fc.Arbitrary<Op> = fc.oneof(
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

// ---------------------------------------------------------------- (a) validator

export interface ValidatorSummary {
  inputs: number
  byKind: Record<string, { inputs: number, stored: number }>
  batches: number
  epochs: number
  stored: number
  storedFromPool: number
  invalid: number
  /** invalid entries by the first words of their reason (for the report only) */
  reasons: Record<string, number>
  duplicates: number
  /** pending sets dropped as over their bound */
  limits: number
  /** problems found: must stay empty */
  failures: string[]
  ms: number
}

/** Feeds `inputs` generated entries, in batches with pool entries, to Ingesters on fresh logs. */
export async function fuzzValidator (c: Corpus, opts: { inputs: number, seed: number, batch?: number }): Promise<ValidatorSummary> {
  const started = Date.now()
  const validate = (name: string, payload: Uint8Array): void => { c.schema.check(name, payload) }
  const maxBatch = opts.batch ?? 60
  const sum: ValidatorSummary = { inputs: 0, byKind: {}, batches: 0, epochs: 0, stored: 0, storedFromPool: 0, invalid: 0, reasons: {}, duplicates: 0, limits: 0, failures: [], ms: 0 }
  const poolHex = new Set(c.poolIds.map(toHex))
  let log = await Log.open(new MemoryLevel())
  let ingester = new Ingester(log, { validate, maxPendingEntries: 2048 })
  let cursor = 0
  const kindOf = new Map<string, string>()
  const endEpoch = async (): Promise<void> => {
    const report = await log.verify()
    if (!report.ok) sum.failures.push(`verify: ${JSON.stringify(report.problems.slice(0, 3))}`)
    for (const e of await log.read(1, 1_000_000)) {
      const hex = toHex(e.id)
      try {
        const d = decodeEntry(e.bytes)
        c.schema.check(d.entry.name, d.entry.payload)
      } catch (err) {
        sum.failures.push(`stored entry ${hex} does not pass: ${(err as Error).name}`)
      }
      if (toHex(entryId(e.bytes)) !== hex) sum.failures.push(`stored entry ${hex} has another id`)
    }
    await log.close()
    sum.epochs++
  }
  const runs = Math.ceil(opts.inputs / maxBatch)
  await fc.assert(fc.asyncProperty(fc.array(entryInput(c), { minLength: maxBatch, maxLength: maxBatch }), fc.integer({ min: 0, max: 3 }), async (inputs, valid) => {
    const batch: Uint8Array[] = []
    for (const x of inputs) {
      batch.push(x.bytes)
      const hex = toHex(entryId(x.bytes))
      if (x.legit) {
        c.legit.add(hex)
        kindOf.set(hex, x.kind)
      }
      const k = (sum.byKind[x.kind] ??= { inputs: 0, stored: 0 })
      k.inputs++
    }
    sum.inputs += inputs.length
    // the next valid entries of the DAG, spread over the batch in their
    // order: an honest sender's order is causal
    const spots = Math.min(valid, c.pool.length - cursor)
    for (let i = spots; i > 0; i--) {
      batch.splice(Math.floor(i * batch.length / (spots + 1)), 0, c.pool[cursor + i - 1])
    }
    cursor += spots
    sum.batches++
    let accepted
    try {
      accepted = ingester.accept(batch)
    } catch (err) {
      if (err instanceof ProtocolError) {
        // as a session would: the pending set was over its bound; a new session starts
        sum.limits++
        ingester = new Ingester(log, { validate, maxPendingEntries: 2048 })
        return
      }
      sum.failures.push(`accept threw ${(err as Error).name}: ${(err as Error).message}`)
      throw err
    }
    let flushed
    try {
      flushed = await ingester.storeReady()
    } catch (err) {
      sum.failures.push(`storeReady threw ${(err as Error).name}: ${(err as Error).message}`)
      throw err
    }
    sum.duplicates += accepted.duplicates
    for (const err of [...accepted.invalid, ...flushed.invalid]) {
      sum.invalid++
      const reason = reasonKey(err.message)
      sum.reasons[reason] = (sum.reasons[reason] ?? 0) + 1
    }
    for (const e of flushed.stored) {
      const hex = toHex(e.id)
      sum.stored++
      if (poolHex.has(hex)) sum.storedFromPool++
      else if (kindOf.has(hex)) sum.byKind[kindOf.get(hex)!].stored++
      if (!c.legit.has(hex)) {
        sum.failures.push(`stored an entry nobody built: ${Buffer.from(e.bytes).toString('hex')}`)
        throw new Error('an entry that is not legit was stored')
      }
    }
    if (cursor >= c.pool.length) {
      // the DAG is in: check the log, then start over on an empty one
      await endEpoch()
      log = await Log.open(new MemoryLevel())
      ingester = new Ingester(log, { validate, maxPendingEntries: 2048 })
      cursor = 0
    }
  }), { numRuns: runs, seed: opts.seed, endOnFailure: true })
  await endEpoch()
  sum.ms = Date.now() - started
  return sum
}

/** A short name for why an entry was refused (for the summary only: tests assert on names and counts). */
function reasonKey (message: string): string {
  const event = /^event ".*" is not valid: (.*)$/s.exec(message)
  if (event != null) return /^unknown event/.test(event[1]) ? 'event name unknown' : 'payload does not decode'
  return message.replace(/[0-9]+/g, 'N').split(':')[0]
}

// ---------------------------------------------------------------- (b) decoder

function generatedFrame (c: Corpus): fc.Arbitrary<Uint8Array> {
  const entry = fc.oneof(fc.constantFrom(...c.pool), fc.uint8Array({ maxLength: 30 }))
  const have = fc.record({ author: fc.uint8Array({ maxLength: 34 }), seq: U64 }).map(h => Uint8Array.from([...lenField(1, h.author), ...numField(2, h.seq)]))
  const inner = fc.oneof(
    fc.record({ version: U64, schema: fc.oneof(fc.constant(c.schema.fingerprint), fc.uint8Array({ maxLength: 40 })), topic: fc.string({ maxLength: 8 }), have: fc.array(have, { maxLength: 6 }) })
      .map(h => [1, Uint8Array.from([...numField(1, h.version), ...lenField(2, h.schema), ...lenField(3, Buffer.from(h.topic)), ...h.have.flatMap(x => lenField(4, x))])] as const),
    fc.array(entry, { maxLength: 8 }).map(es => [2, Uint8Array.from(es.flatMap(e => lenField(1, e)))] as const),
    // close to the decode limit: empty entries, a few either side of MAX_BATCH_ENTRIES (costly: rare)
    fc.integer({ min: 1, max: 40 }).chain(w => w > 1
      ? fc.constant([2, new Uint8Array(0)] as const)
      : fc.integer({ min: MAX_BATCH_ENTRIES - 2, max: MAX_BATCH_ENTRIES + 2 }).map(n => [2, new Uint8Array(2 * n).map((_, i) => i % 2 === 0 ? 0x0a : 0)] as const)),
    U64.map(v => [3, Uint8Array.from(numField(1, v))] as const),
    U64.map(v => [4, Uint8Array.from(numField(1, v))] as const),
    fc.record({ code: U64, reason: fc.string({ maxLength: 20 }) }).map(r => [5, Uint8Array.from([...numField(1, r.code), ...lenField(2, Buffer.from(r.reason))])] as const)
  )
  return fc.tuple(fc.array(inner, { minLength: 0, maxLength: 3 }), fc.array(fc.record({ field: fc.integer({ min: 1, max: 30 }), data: fc.uint8Array({ maxLength: 12 }) }), { maxLength: 2 }))
    .map(([fields, extra]) => Uint8Array.from([...fields.flatMap(([f, b]) => lenField(f, b)), ...extra.flatMap(x => lenField(x.field, x.data))]))
}

export function frameInput (c: Corpus): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 300 }) },
    { weight: 5, arbitrary: fc.tuple(fc.nat(c.frames.length - 1), fc.array(OP, { minLength: 1, maxLength: 4 })).map(([i, ops]) => mutate(c.frames[i], ops, [...c.frames, ...c.pool])) },
    { weight: 3, arbitrary: generatedFrame(c) }
  )
}

export interface DecoderSummary {
  inputs: number
  decoded: number
  /** errors thrown by the decoder, by name */
  threw: Record<string, number>
  /** frames by the field the session would act on */
  kinds: Record<string, number>
  maxEntries: number
  maxHave: number
  slowestMs: number
  failures: string[]
  ms: number
}

function frameKind (m: SyncMessage): string {
  return m.entries != null ? 'entries' : m.ack != null ? 'ack' : m.synced != null ? 'synced' : m.refuse != null ? `refuse:${refuseName(m.refuse.code)}` : m.hello != null ? 'hello' : 'none'
}

/** Decodes `inputs` frames as the session does, in the handshake and after it. */
export function fuzzDecoder (c: Corpus, opts: { inputs: number, seed: number }): DecoderSummary {
  const started = Date.now()
  const sum: DecoderSummary = { inputs: 0, decoded: 0, threw: {}, kinds: {}, maxEntries: 0, maxHave: 0, slowestMs: 0, failures: [], ms: 0 }
  fc.assert(fc.property(frameInput(c), frame => {
    sum.inputs++
    for (const limits of [HANDSHAKE_LIMITS, SESSION_LIMITS]) {
      const t = performance.now()
      let m: SyncMessage
      try {
        m = SyncMessage.decode(frame, limits as never)
      } catch (err) {
        if (!(err instanceof Error)) {
          sum.failures.push(`decode threw a non-Error: ${String(err)}`)
          return false
        }
        sum.threw[err.name] = (sum.threw[err.name] ?? 0) + 1
        continue
      } finally {
        sum.slowestMs = Math.max(sum.slowestMs, performance.now() - t)
      }
      sum.decoded++
      const k = frameKind(m)
      sum.kinds[k] = (sum.kinds[k] ?? 0) + 1
      const entries = m.entries?.entries.length ?? 0
      const have = m.hello?.have.length ?? 0
      sum.maxEntries = Math.max(sum.maxEntries, entries)
      sum.maxHave = Math.max(sum.maxHave, have)
      if (limits === SESSION_LIMITS && entries > MAX_BATCH_ENTRIES) {
        sum.failures.push(`decoded ${entries} entries, over MAX_BATCH_ENTRIES`)
        return false
      }
      if (limits === HANDSHAKE_LIMITS && have > MAX_HAVE) {
        sum.failures.push(`decoded ${have} have items, over MAX_HAVE`)
        return false
      }
      // what the session then reads of it must not throw either (entries
      // in depth are fuzz (a)'s job: a few of each frame here)
      if (m.refuse != null) refuseName(m.refuse.code)
      for (const e of (m.entries?.entries ?? []).slice(0, 4)) {
        try { decodeEntry(e) } catch (err) {
          if ((err as Error).name !== 'InvalidEntryError') {
            sum.failures.push(`decodeEntry threw ${(err as Error).name}`)
            return false
          }
        }
      }
    }
    return true
  }), { numRuns: opts.inputs, seed: opts.seed, endOnFailure: true })
  sum.ms = Date.now() - started
  return sum
}

// ---------------------------------------------------------------- (c) live node

type Plan =
  | { kind: 'valid', n: number }
  | { kind: 'entries', entries: EntryInput[] }
  | { kind: 'message', msg: 'ack' | 'synced' | 'notice' | 'refuse', value: number }
  | { kind: 'hello' }
  | { kind: 'frame', bytes: Uint8Array }
  | { kind: 'random', bytes: Uint8Array }
  | { kind: 'wire', bytes: Uint8Array }

function planInput (c: Corpus): fc.Arbitrary<Plan> {
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

/** What happened to a fuzz frame, as the next probe shows. */
export type Outcome = 'stored' | 'notice' | 'survived' | `ended:${string}` | 'slow' | 'hung'

export interface NetworkSummary {
  frames: number
  probes: number
  sessions: number
  /** hostile peer ids used: a new one after each block */
  peers: number
  blocked: number
  outcomes: Record<string, Record<string, number>>
  stored: number
  storedFromPool: number
  failures: string[]
  /** probes not answered: by the kinds of the frame before and of this one, and whether the answer came later */
  hung: Record<string, number>
  honest: boolean
  rssStartMB: number
  rssPeakMB: number
  ms: number
}

/** One hostile peer that sends plans, one frame at a time, each followed by a probe. */
class Driver {
  readonly #c: Corpus
  readonly #e: HyperEmitter
  readonly #addr: Multiaddr
  readonly #sum: NetworkSummary
  #p: HostilePeer | undefined
  #s: RawStream | undefined
  #sentEntries = 0
  #cursor = 0

  constructor (c: Corpus, e: HyperEmitter, addr: Multiaddr, sum: NetworkSummary) {
    this.#c = c
    this.#e = e
    this.#addr = addr
    this.#sum = sum
  }

  async #session (): Promise<RawStream> {
    const sync = this.#e.node!.services.sync
    for (let attempt = 0; ; attempt++) {
      if (this.#s != null && this.#s.ending == null) return this.#s
      this.#s?.abort()
      this.#s = undefined
      if (this.#p != null && (sync.isBlocked(this.#p.peerId) || attempt > 0)) {
        await this.#p.stop()
        this.#p = undefined
      }
      if (this.#p == null) {
        this.#p = await HostilePeer.create()
        this.#sum.peers++
      }
      try {
        const s = await this.#p.open(this.#addr, 3000)
        await s.send(hello(this.#e))
        if (await s.remoteHello(3000) == null) throw new Error('no Hello')
        this.#s = s
        this.#sentEntries = 0
        this.#sum.sessions++
        // resume the DAG where the node's log stops
        this.#cursor = 0
        while (this.#cursor < this.#c.pool.length && await this.#e.log.get(this.#c.poolIds[this.#cursor]) != null) this.#cursor++
        return s
      } catch {
        if (attempt > 5) throw new Error('cannot open a session with the node')
      }
    }
  }

  async #sendEntries (s: RawStream, frame: Uint8Array): Promise<boolean> {
    await s.waitFor(() => this.#sentEntries - s.acks < WINDOW || s.ending != null, 2000)
    this.#sentEntries++
    return s.sendFrame(frame)
  }

  #last = 'start'

  async run (plan: Plan): Promise<Outcome> {
    const outcome = await this.#run(plan)
    this.#last = plan.kind
    return outcome
  }

  async #run (plan: Plan): Promise<Outcome> {
    const s = await this.#session()
    const c = this.#c
    const length = this.#e.log.length
    const notices = s.frames.filter(f => f.refuse != null).length
    switch (plan.kind) {
      case 'valid': {
        const from = this.#cursor >= c.pool.length ? 0 : this.#cursor
        const entries = c.pool.slice(from, from + plan.n)
        this.#cursor = from + entries.length
        await this.#sendEntries(s, SyncMessage.encode(entriesMessage(entries)))
        break
      }
      case 'entries':
        for (const x of plan.entries) if (x.legit) c.legit.add(toHex(entryId(x.bytes)))
        await this.#sendEntries(s, SyncMessage.encode(entriesMessage(plan.entries.map(x => x.bytes))))
        break
      case 'message': {
        const msg: SyncMessage = plan.msg === 'ack'
          ? { ack: { batches: plan.value } }
          : plan.msg === 'synced'
            ? { synced: { length: plan.value } }
            : { refuse: { code: plan.msg === 'notice' ? REFUSE.INVALID_ENTRY : plan.value, reason: 'fuzz' } }
        await s.send(msg)
        break
      }
      case 'hello': await s.send(hello(this.#e)); break
      case 'frame': case 'random': {
        // an Entries frame costs a window credit even when it is mangled
        if (plan.bytes[0] === 0x12) await this.#sendEntries(s, plan.bytes)
        else await s.sendFrame(plan.bytes)
        break
      }
      case 'wire': await s.sendRaw(plan.bytes); break
    }
    // the probe: a valid frame (the DAG's first entry, a duplicate once
    // stored); its Ack says the fuzz frame before it was read and survived
    const acks = s.acks
    await this.#sendEntries(s, SyncMessage.encode(entriesMessage([c.pool[0]])))
    this.#sum.probes++
    // raw wire bytes may leave the node inside a frame: wait less, and
    // start a new stream after them in any case
    const wire = plan.kind === 'wire'
    const answered = await s.waitFor(() => s.acks > acks || s.ending != null, wire ? 300 : 1000)
    if (s.ending != null) {
      // the last Refuse is the one that ended the session (earlier ones are notices)
      const last = s.frames.filter(f => f.refuse != null).at(-1)?.refuse
      const code = last != null && s.frames.filter(f => f.refuse != null).length > notices ? refuseName(last.code) : 'reset'
      if (this.#p != null && this.#e.node!.services.sync.isBlocked(this.#p.peerId)) this.#sum.blocked++
      return `ended:${code}`
    }
    if (!answered) {
      // a busy node answers late; a node that waits for the rest of a frame
      // that never comes (legitimate) does not: start over
      const late = await s.waitFor(() => s.acks > acks || s.ending != null, wire ? 200 : 1000)
      const key = `${this.#last}>${plan.kind}:${late ? 'late' : 'never'}`
      this.#sum.hung[key] = (this.#sum.hung[key] ?? 0) + 1
      s.abort()
      return late ? 'slow' : 'hung'
    }
    if (wire) s.abort()
    if (this.#e.log.length > length) return 'stored'
    if (s.frames.filter(f => f.refuse != null).length > notices) return 'notice'
    return 'survived'
  }

  async stop (): Promise<void> {
    this.#s?.abort()
    await this.#p?.stop()
  }
}

/**
 * Runs `frames` fuzz frames against a live node from `peers` hostile peers at
 * once; checks the node's log and that an honest peer is still served.
 */
export async function fuzzNetwork (c: Corpus, opts: { frames: number, seed: number, peers?: number, onProgress?: (done: number) => void }): Promise<NetworkSummary> {
  const started = Date.now()
  const rssStart = process.memoryUsage.rss()
  let rssPeak = rssStart
  const sampler = setInterval(() => { rssPeak = Math.max(rssPeak, process.memoryUsage.rss()) }, 50)
  const sum: NetworkSummary = { frames: 0, probes: 0, sessions: 0, peers: 0, blocked: 0, outcomes: {}, stored: 0, storedFromPool: 0, failures: [], hung: {}, honest: false, rssStartMB: 0, rssPeakMB: 0, ms: 0 }
  // a fuzzer reconnects far faster than libp2p's default 5 connections a second per host
  const e = new HyperEmitter(new MemoryLevel(), c.schemaText, { inboundConnectionThreshold: 10_000, maxConnections: 1000 })
  const [addr] = await e.listen(0)
  const base = e.log.length
  // plans are drawn in chunks, each with its own seed, so that memory stays flat
  const arb = planInput(c)
  let chunk: Plan[] = []
  let chunks = 0
  let drawn = 0
  const nextPlan = (): Plan | undefined => {
    if (drawn >= opts.frames) return undefined
    if (chunk.length === 0) chunk = fc.sample(arb, { numRuns: 500, seed: opts.seed + chunks++ }).reverse()
    drawn++
    return chunk.pop()
  }
  const drivers = Array.from({ length: opts.peers ?? 1 }, () => new Driver(c, e, addr, sum))
  try {
    await Promise.all(drivers.map(async d => {
      for (let plan = nextPlan(); plan != null; plan = nextPlan()) {
        let outcome: Outcome
        try {
          outcome = await d.run(plan)
        } catch (err) {
          sum.failures.push(`driver: ${(err as Error).name}: ${(err as Error).message}`)
          return
        }
        sum.frames++
        const byKind = (sum.outcomes[plan.kind] ??= {})
        byKind[outcome] = (byKind[outcome] ?? 0) + 1
        if (sum.frames % 1000 === 0) opts.onProgress?.(sum.frames)
      }
    }))
    await Promise.all(drivers.map(async d => { await d.stop() }))
    // the node's log: consistent, and nothing in it that we did not build
    const report = await e.verify()
    if (!report.ok) sum.failures.push(`verify: ${JSON.stringify(report.problems.slice(0, 3))}`)
    const poolHex = new Set(c.poolIds.map(toHex))
    const own = toHex(e.log.identity.publicKey)
    for (const x of await e.log.read(base + 1, 10_000_000)) {
      const hex = toHex(x.id)
      sum.stored++
      if (poolHex.has(hex)) sum.storedFromPool++
      if (!c.legit.has(hex) && toHex(x.entry.author) !== own) sum.failures.push(`stored an entry nobody built: ${hex}`)
    }
    // and the node still serves an honest peer
    const honest = new HyperEmitter(new MemoryLevel(), c.schemaText, { reconnectTimeout: 100 })
    try {
      await honest.connect(addr)
      const got = new Promise<boolean>(resolve => {
        const timer = setTimeout(() => { resolve(false) }, 10_000)
        e.on('Integer', (m: { value: number }) => { if (m.value === 99) { clearTimeout(timer); resolve(true) } })
      })
      await honest.emit('Integer', { value: 99 })
      sum.honest = await got
    } finally {
      await honest.close()
    }
  } finally {
    clearInterval(sampler)
    await e.close()
  }
  sum.rssStartMB = Math.round(rssStart / 1048576)
  sum.rssPeakMB = Math.round(Math.max(rssPeak, process.memoryUsage.rss()) / 1048576)
  sum.ms = Date.now() - started
  return sum
}

// ---------------------------------------------------------------- script

async function main (): Promise<void> {
  const arg = (name: string, fallback: number): number => {
    const a = process.argv.find(x => x.startsWith(`--${name}=`))
    return a == null ? fallback : Number(a.split('=')[1])
  }
  const seed = arg('seed', 20_260_101)
  const schemaText = await readFile(new URL('../../test/fixtures/messages.proto', import.meta.url), 'utf8')
  const corpus = await makeCorpus(schemaText)
  const log = (what: string): void => { process.stderr.write(`${new Date().toISOString()} ${what}\n`) }
  log(`corpus: ${corpus.pool.length} valid entries`)
  const validator = await fuzzValidator(corpus, { inputs: arg('validator', 1_000_000), seed })
  log(`validator: ${validator.inputs} inputs in ${validator.ms} ms`)
  const decoder = fuzzDecoder(corpus, { inputs: arg('decoder', 1_000_000), seed })
  log(`decoder: ${decoder.inputs} frames in ${decoder.ms} ms`)
  const network = await fuzzNetwork(corpus, { frames: arg('network', 100_000), seed, peers: arg('peers', 4), onProgress: n => { log(`network: ${n} frames`) } })
  const failures = [...validator.failures, ...decoder.failures, ...network.failures, ...(network.honest ? [] : ['the node no longer served an honest peer'])]
  console.log(JSON.stringify({ name: 'fuzz', seed, ok: failures.length === 0, failures: failures.slice(0, 20), validator, decoder, network }))
  process.exitCode = failures.length === 0 ? 0 : 1
}

if (process.argv[1] != null && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch(err => {
    console.error(err)
    process.exit(1)
  })
}
