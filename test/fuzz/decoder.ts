// Fuzz (b): the session's frame decoding (src/sync/framing.ts, with its
// decode limits), fed generated, mutated and random frames.
import fc from 'fast-check'
import { decodeEntry } from '../../src/log/entry.js'
import { decodeFirst, decodeFrame } from '../../src/sync/framing.js'
import { MAX_BATCH_ENTRIES, MAX_FEATURES, MAX_HAVE, refuseName } from '../../src/sync/constants.js'
import { OP, U64, lenField, mutate, numField, type Corpus } from './corpus.js'
import type { SyncMessage } from '../../src/pb/sync.js'

function generatedFrame (c: Corpus): fc.Arbitrary<Uint8Array> {
  const entry = fc.oneof(fc.constantFrom(...c.pool), fc.uint8Array({ maxLength: 30 }))
  const have = fc.record({ author: fc.uint8Array({ maxLength: 34 }), seq: U64 }).map(h => Uint8Array.from([...lenField(1, h.author), ...numField(2, h.seq)]))
  const inner = fc.oneof(
    fc.record({ version: U64, schema: fc.oneof(fc.constant(c.schema.fingerprint), fc.uint8Array({ maxLength: 40 })), topic: fc.string({ maxLength: 8 }), have: fc.array(have, { maxLength: 6 }), features: fc.array(fc.oneof(fc.constant('lazy/1'), fc.string({ maxLength: 70 })), { maxLength: 4 }) })
      .map(h => [1, Uint8Array.from([...numField(1, h.version), ...lenField(2, h.schema), ...lenField(3, Buffer.from(h.topic)), ...h.have.flatMap(x => lenField(4, x)), ...h.features.flatMap(f => lenField(5, Buffer.from(f)))])] as const),
    fc.array(entry, { maxLength: 8 }).map(es => [2, Uint8Array.from(es.flatMap(e => lenField(1, e)))] as const),
    // close to the decode limit: empty entries, a few either side of MAX_BATCH_ENTRIES (costly: rare)
    fc.integer({ min: 1, max: 40 }).chain(w => w > 1
      ? fc.constant([2, new Uint8Array(0)] as const)
      : fc.integer({ min: MAX_BATCH_ENTRIES - 2, max: MAX_BATCH_ENTRIES + 2 }).map(n => [2, new Uint8Array(2 * n).map((_, i) => i % 2 === 0 ? 0x0a : 0)] as const)),
    U64.map(v => [3, Uint8Array.from(numField(1, v))] as const),
    U64.map(v => [4, Uint8Array.from(numField(1, v))] as const),
    fc.record({ code: U64, reason: fc.string({ maxLength: 20 }) }).map(r => [5, Uint8Array.from([...numField(1, r.code), ...lenField(2, Buffer.from(r.reason))])] as const),
    fc.array(fc.uint8Array({ maxLength: 34 }), { maxLength: 4 }).map(as => [6, Uint8Array.from(as.flatMap(a => lenField(1, a)))] as const),
    fc.array(have, { maxLength: 4 }).map(hs => [7, Uint8Array.from(hs.flatMap(h => lenField(1, h)))] as const),
    fc.array(have, { maxLength: 4 }).map(hs => [8, Uint8Array.from(hs.flatMap(h => lenField(1, h)))] as const),
    // close to the decode limits of Prune, Graft, IHave and a Hello's vector: empty items, a few either side of MAX_HAVE (costly: rare)
    fc.integer({ min: 1, max: 60 }).chain(w => w > 1
      ? fc.constant([6, new Uint8Array(0)] as const)
      : fc.tuple(fc.constantFrom(1, 6, 7, 8), fc.integer({ min: MAX_HAVE - 2, max: MAX_HAVE + 2 })).map(([field, n]) => [field, repeated(field === 1 ? 4 : 1, n)] as const)),
    // a Hello's features, a few either side of MAX_FEATURES
    fc.integer({ min: MAX_FEATURES - 2, max: MAX_FEATURES + 2 }).map(n => [1, repeated(5, n)] as const)
  )
  return fc.tuple(fc.array(inner, { minLength: 0, maxLength: 3 }), fc.array(fc.record({ field: fc.integer({ min: 1, max: 30 }), data: fc.uint8Array({ maxLength: 12 }) }), { maxLength: 2 }))
    .map(([fields, extra]) => Uint8Array.from([...fields.flatMap(([f, b]) => lenField(f, b)), ...extra.flatMap(x => lenField(x.field, x.data))]))
}

// `n` empty items of field `field`: 0x<tag> 0x00 each
function repeated (field: number, n: number): Uint8Array {
  return new Uint8Array(2 * n).map((_, i) => i % 2 === 0 ? field * 8 + 2 : 0)
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
  /** most Hello, Prune, Graft or IHave items decoded */
  maxHave: number
  slowestMs: number
  failures: string[]
  ms: number
}

function frameKind (m: SyncMessage): string {
  return m.entries != null ? 'entries' : m.ack != null ? 'ack' : m.synced != null ? 'synced' : m.refuse != null ? `refuse:${refuseName(m.refuse.code)}` : m.prune != null ? 'prune' : m.graft != null ? 'graft' : m.ihave != null ? 'ihave' : m.hello != null ? 'hello' : 'none'
}

/**
 * Decodes `inputs` frames with the session's own decoding (decodeFirst in the
 * handshake, decodeFrame after it) and checks that what decodes is within
 * every limit of protocols/README.md §2.
 */
export function fuzzDecoder (c: Corpus, opts: { inputs: number, seed: number }): DecoderSummary {
  const started = Date.now()
  const sum: DecoderSummary = { inputs: 0, decoded: 0, threw: {}, kinds: {}, maxEntries: 0, maxHave: 0, slowestMs: 0, failures: [], ms: 0 }
  fc.assert(fc.property(frameInput(c), frame => {
    sum.inputs++
    for (const decode of [decodeFirst, decodeFrame]) {
      const t = performance.now()
      let m: SyncMessage
      try {
        m = decode(frame)
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
      const prune = m.prune?.authors.length ?? 0
      const graft = m.graft?.have.length ?? 0
      const ihave = m.ihave?.have.length ?? 0
      const features = m.hello?.features.length ?? 0
      sum.maxEntries = Math.max(sum.maxEntries, entries)
      sum.maxHave = Math.max(sum.maxHave, have, prune, graft, ihave)
      const over = [
        entries > MAX_BATCH_ENTRIES && `${entries} entries, over MAX_BATCH_ENTRIES`,
        have > (decode === decodeFirst ? MAX_HAVE : 0) && `a Hello of ${have} items ${decode === decodeFirst ? 'in' : 'after'} the handshake`,
        prune > MAX_HAVE && `a Prune of ${prune} authors, over MAX_HAVE`,
        graft > MAX_HAVE && `a Graft of ${graft} items, over MAX_HAVE`,
        ihave > MAX_HAVE && `an IHave of ${ihave} items, over MAX_HAVE`,
        features > (decode === decodeFirst ? MAX_FEATURES : 0) && `a Hello of ${features} features ${decode === decodeFirst ? 'in' : 'after'} the handshake`
      ].filter(x => x !== false)
      if (over.length > 0) {
        sum.failures.push(`decoded ${over.join('; ')}`)
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
