// The fuzzer of test/fuzz/ at a CI size: 100,000 entries at the validator,
// 100,000 frames at the session's decoding, 3,000 sessions at its core
// in-process, 2,000 frames at a live node over real streams (across
// reconnects and blocks). `node dist/bench/fuzz.js`
// runs the full size (1M validator inputs, 1M decoded frames, 100k network
// frames).
//
// Memory bound: the process (fuzzer, fuzzed node and hostile peers) must stay
// under RSS_MAX_MB overall, and what it still holds after a full collection
// at the end must be under HEAP_GROWTH_MB above what it held at the start. (How
// high RSS peaks in between is V8 collecting lazily after 100,000 decodes, not
// what the code keeps: it is printed, not judged.)
// What the node may hold is bounded by its own limits: one hostile session at
// a time, so at most MAX_PENDING_BYTES (16 MiB) of pending entries, WINDOW (4)
// frames of at most MAX_FRAME_BYTES (1 MiB), a 4 MiB stream read buffer, and
// a log of the fuzz DAG (110 entries); the fuzzer draws its inputs in chunks.
// That is under 40 MB, all of it let go once the node closes; a leak that
// grows with the number of inputs (a buffer per frame, a byte of heap per
// byte read) passes HEAP_GROWTH_MB within the run.
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { fixture } from './helpers.js'
import { makeCorpus, fuzzValidator, fuzzDecoder, fuzzCore, fuzzNetwork, mutate, type Corpus } from './fuzz/index.js'
import { SyncMessage } from '../src/pb/sync.js'
import { decodeFirst, decodeFrame } from '../src/sync/framing.js'
import { MAX_BATCH_ENTRIES, MAX_HAVE } from '../src/sync/constants.js'

const HEAP_GROWTH_MB = 64
const RSS_MAX_MB = 768
const SEED = 20_260_101

// a full collection on demand, without a flag on the command line
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
gc()
const heapStart = process.memoryUsage().heapUsed
const rssStart = process.memoryUsage.rss()
let rssPeak = rssStart
const sampler = setInterval(() => { rssPeak = Math.max(rssPeak, process.memoryUsage.rss()) }, 50)
sampler.unref()

let corpus: Corpus

test.before(async () => {
  corpus = await makeCorpus(await fixture('messages.proto'))
})

test('the corpus: a valid DAG of several authors, and mutations that differ from their input', () => {
  assert.ok(corpus.pool.length >= 100, `${corpus.pool.length} valid entries`)
  const m = mutate(corpus.pool[0], [{ k: 'set', pos: 0, v: corpus.pool[0][0] }], corpus.pool)
  assert.not.equal(Buffer.from(m), Buffer.from(corpus.pool[0]))
})

test('the session\'s decoding holds its limits at their edges, in the handshake and after it', () => {
  const tooLong = (err: Error): boolean => err.name === 'MaxLengthError'
  const entries = (n: number): Uint8Array => SyncMessage.encode({ entries: { entries: Array.from({ length: n }, () => new Uint8Array(0)), context: [] } })
  for (const decode of [decodeFirst, decodeFrame]) {
    assert.is(decode(entries(MAX_BATCH_ENTRIES)).entries?.entries.length, MAX_BATCH_ENTRIES)
    assert.throws(() => decode(entries(MAX_BATCH_ENTRIES + 1)), tooLong)
  }
  const items = (n: number): Array<{ author: Uint8Array<ArrayBuffer>, seq: number }> => Array.from({ length: n }, () => ({ author: new Uint8Array(0), seq: 0 }))
  const hello = (n: number): Uint8Array => SyncMessage.encode({ hello: { version: 1, schema: new Uint8Array(32), topic: '', have: items(n), features: [] } })
  assert.is(decodeFirst(hello(MAX_HAVE)).hello?.have.length, MAX_HAVE)
  assert.throws(() => decodeFirst(hello(MAX_HAVE + 1)), tooLong)
  // a second Hello may carry no vector
  assert.is(decodeFrame(hello(0)).hello?.have.length, 0)
  assert.throws(() => decodeFrame(hello(1)), tooLong)
  const prune = (n: number): Uint8Array => SyncMessage.encode({ prune: { authors: Array.from({ length: n }, () => new Uint8Array(0)) } })
  assert.is(decodeFrame(prune(MAX_HAVE)).prune?.authors.length, MAX_HAVE)
  assert.throws(() => decodeFrame(prune(MAX_HAVE + 1)), tooLong)
  const graft = (n: number): Uint8Array => SyncMessage.encode({ graft: { have: items(n) } })
  assert.is(decodeFrame(graft(MAX_HAVE)).graft?.have.length, MAX_HAVE)
  assert.throws(() => decodeFrame(graft(MAX_HAVE + 1)), tooLong)
})

test('(a) the entry validator: 100,000 generated, mutated and random entries; nothing invalid is stored', async () => {
  const sum = await fuzzValidator(corpus, { inputs: 100_000, seed: SEED })
  console.log(`  validator: ${JSON.stringify({ inputs: sum.inputs, stored: sum.stored, storedFromPool: sum.storedFromPool, invalid: sum.invalid, duplicates: sum.duplicates, limits: sum.limits, epochs: sum.epochs, ms: sum.ms })}`)
  assert.equal(sum.failures, [])
  assert.ok(sum.inputs >= 100_000)
  // every input was judged: refused, duplicate, left pending or stored; the
  // only entries stored are those of the valid DAG and ones we signed
  assert.is(sum.stored, sum.storedFromPool + Object.values(sum.byKind).reduce((n, k) => n + k.stored, 0))
  assert.is(sum.byKind.mutated.stored, 0, 'no mutation of a valid entry is ever stored')
  assert.is(sum.byKind.random.stored, 0)
  // the store path ran: most of the DAG went in, epoch after epoch
  assert.ok(sum.storedFromPool > sum.epochs * corpus.pool.length / 2, `${sum.storedFromPool} DAG entries stored over ${sum.epochs} epochs`)
  assert.ok(sum.invalid > sum.inputs / 2)
})

test('(b) the frame decoder with the session\'s limits: 100,000 frames; no crash, limits hold', () => {
  const sum = fuzzDecoder(corpus, { inputs: 100_000, seed: SEED })
  console.log(`  decoder: ${JSON.stringify({ inputs: sum.inputs, decoded: sum.decoded, threw: sum.threw, maxEntries: sum.maxEntries, slowestMs: Math.round(sum.slowestMs), ms: sum.ms })}`)
  assert.equal(sum.failures, [])
  assert.is(sum.inputs, 100_000)
  assert.ok(sum.decoded > 0 && Object.keys(sum.threw).length > 0, 'both decoded and refused frames')
  assert.ok(Object.keys(sum.threw).every(name => ['RangeError', 'Error', 'MaxLengthError'].includes(name)), `decoder errors: ${Object.keys(sum.threw).join(', ')}`)
  assert.ok(sum.slowestMs < 1000, `slowest decode ${sum.slowestMs} ms`)
})

test('(c) a live node fed 2,000 mutated frames over real streams: survives, stores nothing invalid, still serves', async () => {
  const sum = await fuzzNetwork(corpus, { frames: 2000, seed: SEED, peers: 2 })
  console.log(`  network: ${JSON.stringify({ frames: sum.frames, sessions: sum.sessions, peers: sum.peers, blocked: sum.blocked, stored: sum.stored, rssStartMB: sum.rssStartMB, rssPeakMB: sum.rssPeakMB, ms: sum.ms })}`)
  console.log(`  outcomes: ${JSON.stringify(sum.outcomes)}`)
  assert.equal(sum.failures, [])
  assert.is(sum.frames, 2000)
  assert.ok(sum.honest, 'an honest peer\'s event reached the fuzzed node')
  assert.ok(sum.sessions > 10 && sum.blocked > 0, 'sessions were ended and peers blocked on the way')
  assert.ok(sum.stored >= sum.storedFromPool)
})

test('(d) the session core in-process: 3,000 sessions of mutated frames; it never throws, stores nothing invalid', async () => {
  const sum = await fuzzCore(corpus, { inputs: 3000, seed: SEED })
  console.log(`  core: ${JSON.stringify({ inputs: sum.inputs, frames: sum.frames, stored: sum.stored, storedFromPool: sum.storedFromPool, ms: sum.ms })}`)
  console.log(`  outcomes: ${JSON.stringify(sum.outcomes)}`)
  assert.equal(sum.failures, [])
  assert.is(sum.inputs, 3000)
  assert.ok(sum.outcomes['sent:PROTOCOL'] > 0 && sum.outcomes.open > 0, 'sessions refused and sessions that went on')
  assert.ok(sum.storedFromPool > 0, 'the valid DAG was stored on the way')
})

test('memory stayed bounded over the whole run', () => {
  rssPeak = Math.max(rssPeak, process.memoryUsage.rss())
  gc()
  const heapGrowth = (process.memoryUsage().heapUsed - heapStart) / 1048576
  console.log(`  rss: start ${Math.round(rssStart / 1048576)} MB, peak ${Math.round(rssPeak / 1048576)} MB; heap after a full collection: ${heapGrowth.toFixed(1)} MB above the start`)
  assert.ok(heapGrowth < HEAP_GROWTH_MB, `the heap still holds ${heapGrowth.toFixed(0)} MB more than at the start`)
  assert.ok(rssPeak / 1048576 < RSS_MAX_MB, `RSS peaked at ${(rssPeak / 1048576).toFixed(0)} MB`)
})

test.run()
