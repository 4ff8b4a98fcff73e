// Plumtree on sync sessions (protocols/README.md §5.8): the lazy/1 feature in
// the Hellos, IHave notices instead of entries for pruned authors, LazyRepair
// on its own, and small meshes in memory (test/sync/mesh.ts) under the
// virtual clock: the tree forms, bursts follow it, a notice repairs a cut
// link, and a peer without features still gets everything. Last, the
// service's side on real libp2p nodes: `wanted`, `close(peer)`, and a repair
// on its timer.
import '../src/polyfill.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryLevel } from 'memory-level'
import { multiaddr } from '@multiformats/multiaddr'
import { Pair } from './sync/pair.js'
import { Mesh, type MeshNode } from './sync/mesh.js'
import { hello } from './sync/author.js'
import { lenField, numField } from './fuzz/corpus.js'
import { PrunePolicy, orphanGrafts, parentPrunes, rtoOf, type LinkView } from '../src/sync/prune.js'
import { LazyRepair } from '../src/sync/plumtree.js'
import { WindowedMax } from '../src/sync/windowed-max.js'
import { RttEstimator } from '../src/sync/rtt.js'
import { decodeFirst, decodeFrame } from '../src/sync/framing.js'
import { SyncMessage } from '../src/pb/sync.js'
import { toHex } from '../src/log/entry.js'
import { Log } from '../src/log/log.js'
import { HyperEmitter } from '../src/index.js'
import { Schema } from '../src/schema/index.js'
import { createNode, type HyperNode } from '../src/node/index.js'
import { fixture, until } from './helpers.js'
import { FEATURE_LAZY, GRAFT_RETRY, GRAFT_TIMEOUT, IHAVE_DELAY, LAG_MEMORY, MAX_FEATURES, MAX_HAVE, RECONCILE_MS, REGRAFT_MS } from '../src/sync/constants.js'
import type { Session } from './sync/pair.js'

const pairs: Array<{ close: () => Promise<void> }> = []
test.after.each(async () => { for (const p of pairs.splice(0)) await p.close() })

function newPair (): Pair {
  const p = new Pair()
  pairs.push(p)
  return p
}

function newMesh (): Mesh {
  const m = new Mesh()
  pairs.push(m)
  return m
}

/** The (author hex, seq) items of the IHave frames `s` sent. */
function ihaves (s: Session): Array<Array<[string, number]>> {
  return s.sent.flatMap(m => m?.ihave != null ? [m.ihave.have.map(h => [toHex(h.author), h.seq] as [string, number])] : [])
}

/** The authors (hex) `s` pruned on its peer. */
function pruned (s: Session): string[] {
  return s.sent.flatMap(m => m?.prune?.authors.map(toHex) ?? [])
}

// ---------------------------------------------------------------- negotiation

test('lazy/1 is named in both Hellos and agreed; with a peer whose Hello names no features it is not, on either side', async () => {
  const pair = newPair()
  const a = await pair.node()
  const b = await pair.node()
  const old = await pair.node()
  const [ab, ba] = pair.connect(a, b)
  const [ao, oa] = pair.connect(a, old, { b: { features: [] } })
  await pair.settle()
  assert.equal(ab.sent[0]?.hello?.features, [FEATURE_LAZY])
  assert.equal(ab.core.remoteFeatures, [FEATURE_LAZY])
  assert.ok(ab.core.lazy && ba.core.lazy, 'both lazy')
  assert.equal(oa.sent[0]?.hello?.features, [])
  // no field 5 at all in the old peer's Hello: it is what a peer written before features sends
  assert.not.ok(SyncMessage.encode(oa.sent[0]!).includes(0x2a), 'no features field')
  assert.equal(ao.core.remoteFeatures, [])
  assert.equal(oa.core.remoteFeatures, [FEATURE_LAZY])
  assert.not.ok(ao.core.lazy)
  assert.not.ok(oa.core.lazy, 'a side that does not name lazy/1 is not lazy even if the peer does')
  assert.ok(ao.ready && oa.ready)
})

test('features beyond MAX_FEATURES do not decode; names longer than MAX_FEATURE_LENGTH are ignored; a second Hello with features does not decode', () => {
  const h = (features: string[]): Uint8Array => SyncMessage.encode({ hello: { version: 1, schema: new Uint8Array(32), topic: '', have: [], features } })
  assert.is(decodeFirst(h(Array.from({ length: MAX_FEATURES }, () => 'x'))).hello?.features.length, MAX_FEATURES)
  assert.throws(() => decodeFirst(h(Array.from({ length: MAX_FEATURES + 1 }, () => 'x'))), (err: Error) => err.name === 'MaxLengthError')
  assert.throws(() => decodeFrame(h(['lazy/1'])), (err: Error) => err.name === 'MaxLengthError')
  const items = (n: number): SyncMessage => ({ ihave: { have: Array.from({ length: n }, () => ({ author: new Uint8Array(0), seq: 0 })) } })
  for (const decode of [decodeFirst, decodeFrame]) {
    assert.is(decode(SyncMessage.encode(items(MAX_HAVE))).ihave?.have.length, MAX_HAVE)
    assert.throws(() => decode(SyncMessage.encode(items(MAX_HAVE + 1))), (err: Error) => err.name === 'MaxLengthError')
  }
})

test('a long feature name is ignored, and lazy/1 among others still counts', async () => {
  const pair = newPair()
  const node = await pair.node()
  const [s, p] = pair.script(node)
  p.send(hello(node, [], ['x'.repeat(65), 'other/3', FEATURE_LAZY]))
  await pair.settle()
  assert.equal(s.core.remoteFeatures, ['other/3', FEATURE_LAZY])
  assert.ok(s.core.lazy)
})

// ---------------------------------------------------------------- the sender's IHave

test('to a lazy peer, a pruned author\'s entries go as one IHave per IHAVE_DELAY with the highest seq, not as entries; none for what it has; a Graft brings the entries', async () => {
  const pair = newPair()
  const a = await pair.node()
  const c = await pair.node()
  await c.emit(2)
  await a.emit(1)
  // A holds C's entries too
  pair.connect(c, a)
  await pair.settle()
  assert.is(a.log.length, 3)
  const [s, p] = pair.script(a)
  p.send(hello(a, [], [FEATURE_LAZY]))
  await pair.settle()
  assert.ok(s.core.lazy)
  assert.is(p.of('entries').flatMap(e => e.entries).length, 3, 'catch-up: all three')
  const sent = s.core.sent
  p.send({ ack: { batches: 1 } })
  p.send({ prune: { authors: [Buffer.from(a.key, 'hex'), Buffer.from(c.key, 'hex')] } })
  await pair.advance(IHAVE_DELAY)
  assert.equal(p.of('ihave'), [], 'no IHave for what the remote has')
  // one commit of 5 (a group), then another of 2: one IHave for both,
  // IHAVE_DELAY after the first, with A's highest seq
  await a.emit(5)
  await pair.settle()
  await a.emit(2)
  await pair.advance(IHAVE_DELAY - 1)
  assert.equal(ihaves(s), [], 'none before IHAVE_DELAY')
  await pair.advance(1)
  await c.emit(3)
  await pair.advance(IHAVE_DELAY)
  assert.is(s.core.sent, sent, 'no entries sent')
  assert.equal(p.of('entries').length, 1)
  assert.equal(ihaves(s), [[[a.key, 8]], [[c.key, 5]]])
  // the remote learns of A's entries elsewhere: announced no more
  p.send({ ihave: { have: [{ author: Buffer.from(a.key, 'hex'), seq: 9 }] } })
  await pair.settle()
  await a.emit(1)
  await pair.advance(IHAVE_DELAY)
  assert.is(ihaves(s).length, 2, 'nothing announced: the remote holds A\'s seq 9')
  assert.is(s.core.sender.remoteHave.get(a.key), 9, 'an IHave raises what the remote is known to hold')
  assert.not.ok(s.core.sender.remoteHave.get(c.key) === 5, 'sending an IHave does not')
  // a Graft: C's entries that it lacks come eagerly
  p.send({ graft: { have: [{ author: Buffer.from(c.key, 'hex'), seq: 2 }] } })
  await pair.settle()
  assert.equal(p.of('entries').slice(1).flatMap(e => e.entries).length, 3, 'C\'s seqs 3 to 5')
  assert.is(s.core.sent, sent + 3)
  await c.emit(1)
  await pair.advance(IHAVE_DELAY)
  assert.is(s.core.sent, sent + 4, 'and C\'s next one live')
  assert.is(ihaves(s).length, 2)
})

test('to a peer that is not lazy/1, a pruned author is left out silently, as before features existed', async () => {
  const pair = newPair()
  const a = await pair.node()
  const [s, p] = pair.script(a)
  p.send(hello(a))
  await pair.settle()
  assert.not.ok(s.core.lazy)
  p.send({ prune: { authors: [Buffer.from(a.key, 'hex')] } })
  await pair.settle()
  await a.emit(3)
  await pair.settle()
  assert.equal(p.of('ihave'), [])
  assert.equal(p.of('entries'), [])
  p.send({ graft: { have: [{ author: Buffer.from(a.key, 'hex'), seq: 0 }] } })
  await pair.settle()
  assert.is(p.of('entries').flatMap(e => e.entries).length, 3)
})

test('an IHave is handed to the driver for the authors pruned on its link of which the node lacks entries; of entries it holds, of authors not pruned there and of seq 0, not', async () => {
  const pair = newPair()
  const a = await pair.node()
  const c = await pair.node()
  await a.emit(2)
  await c.emit(1)
  pair.connect(c, a)
  await pair.settle()
  const [s, p] = pair.script(a, { mayPrune: author => author === c.key })
  p.send(hello(a, [], [FEATURE_LAZY]))
  // C's entry again: A prunes C on this link
  const [cEntry] = await c.log.read(1, 1)
  p.send({ entries: { entries: [cEntry.bytes as Uint8Array<ArrayBuffer>], context: [] } })
  await pair.settle()
  assert.equal(s.sent.flatMap(m => m?.prune?.authors.map(toHex) ?? []), [c.key])
  const other = Buffer.alloc(32, 7)
  const have = (author: Uint8Array, seq: bigint): Uint8Array => Uint8Array.from(lenField(1, Uint8Array.from([...lenField(1, author), ...numField(2, seq)])))
  p.sendFrame(Uint8Array.from(lenField(8, Uint8Array.from([
    ...have(Buffer.from(a.key, 'hex'), 2n), ...have(Buffer.from(c.key, 'hex'), 4n), ...have(other, 4n), ...have(Buffer.from(c.key, 'hex'), 0n)
  ]))))
  await pair.settle()
  assert.equal(s.ihaves, [[[c.key, 4]]], 'A holds its own seq 2; the other author is not pruned here; an item of seq 0 is left out')
  assert.is(s.core.sender.remoteHave.get(other.toString('hex')), 4, 'what the peer announced it holds all the same')
  assert.is(s.ending, undefined)
})

// ---------------------------------------------------------------- probes

/** A node `a` with a lazy/1 scripted peer past catch-up, and a node `c` whose entries `a` stores from its own session. */
async function probing (): Promise<{ pair: Pair, a: Awaited<ReturnType<Pair['node']>>, c: Awaited<ReturnType<Pair['node']>>, s: Session, p: ReturnType<Pair['script']>[1], entries: () => number[] }> {
  const pair = newPair()
  const a = await pair.node()
  const c = await pair.node()
  pair.connect(c, a)
  const [s, p] = pair.script(a)
  p.send(hello(a, [], [FEATURE_LAZY]))
  await pair.settle()
  assert.ok(p.of('synced').length === 1, 'caught up')
  // the entries of each Entries frame, as (C's) seqs
  const entries = (): number[] => p.of('entries').map(e => e.entries.length)
  return { pair, a, c, s, p, entries }
}

test('probes: a group of an author the lazy peer has not taken goes as one entry, then to its signed end, then freely; the node\'s own entries are never probed', async () => {
  const { pair, a, c, p, entries } = await probing()
  await c.emit(5) // one group: four unsigned, the last signed
  await pair.settle()
  assert.equal(entries(), [1], 'one entry, unsigned, then nothing until its Ack')
  p.send({ ack: { batches: 1 } })
  await pair.settle()
  assert.equal(entries(), [1, 4], 'the next probe runs to the signed entry')
  p.send({ ack: { batches: 1 } })
  await pair.settle()
  await c.emit(3)
  await pair.settle()
  assert.equal(entries(), [1, 4, 3], 'taken: the next group goes whole')
  await a.emit(4)
  await pair.settle()
  assert.equal(entries(), [1, 4, 3, 4], 'the node\'s own group goes whole, unprobed')
  assert.equal(p.of('ihave'), [])
})

test('probes: a signed probe that is pruned before its Ack leaves the rest of the author to IHave; a Graft takes the author without a probe', async () => {
  const { pair, c, p, entries } = await probing()
  await c.emit(1)
  await c.emit(1)
  await pair.settle()
  // two commits, each signed: the first goes, the second waits for the probe's Ack
  assert.equal(entries(), [1])
  p.send({ prune: { authors: [Buffer.from(c.key, 'hex')] } })
  p.send({ ack: { batches: 1 } })
  await pair.advance(IHAVE_DELAY)
  assert.equal(entries(), [1], 'no more entries of C')
  assert.equal(p.of('ihave').map(i => i.have.map(h => [toHex(h.author), h.seq])), [[[c.key, 2]]])
  p.send({ graft: { have: [{ author: Buffer.from(c.key, 'hex'), seq: 1 }] } })
  await pair.settle()
  await c.emit(3)
  await pair.settle()
  assert.equal(entries(), [1, 1, 3], 'seq 2 on the Graft, then the group whole')
})

// ---------------------------------------------------------------- LazyRepair

test('LazyRepair: the first announcer is grafted GRAFT_TIMEOUT after the first announcement, then the next every GRAFT_RETRY, then it gives up', () => {
  const r = new LazyRepair()
  const none = (): number => 0
  assert.is(r.timeout, undefined)
  r.announced('p1', 'x', 5, 0, 1000)
  r.announced('p2', 'x', 5, 0, 1100)
  r.announced('p3', 'x', 6, 0, 1150)
  r.announced('p1', 'x', 6, 0, 1160)
  assert.is(r.timeout, 1000 + GRAFT_TIMEOUT)
  assert.equal(r.tick(1000 + GRAFT_TIMEOUT - 1, none), [])
  assert.equal(r.tick(1000 + GRAFT_TIMEOUT, none), [{ peer: 'p1', author: 'x' }])
  assert.is(r.timeout, 1000 + GRAFT_TIMEOUT + GRAFT_RETRY)
  assert.equal(r.tick(1000 + GRAFT_TIMEOUT + GRAFT_RETRY - 1, none), [])
  assert.equal(r.tick(1000 + GRAFT_TIMEOUT + GRAFT_RETRY, none), [{ peer: 'p2', author: 'x' }])
  assert.equal(r.tick(1000 + GRAFT_TIMEOUT + 2 * GRAFT_RETRY, none), [{ peer: 'p3', author: 'x' }])
  assert.equal(r.tick(1000 + GRAFT_TIMEOUT + 3 * GRAFT_RETRY, none), [], 'every announcer tried')
  assert.is(r.size, 0)
  assert.is(r.timeout, undefined)
})

test('LazyRepair: entries stored meanwhile cancel; a tree that delivers late waits again; a graft that brings entries gets another while', () => {
  const r = new LazyRepair({ timeout: 100, retry: 50 })
  let mine = 0
  const seq = (): number => mine
  r.announced('p1', 'x', 5, 0, 0)
  r.announced('p2', 'x', 9, 0, 60)
  mine = 5
  assert.equal(r.tick(100, seq), [], 'seq 5 came')
  assert.ok(r.has('x'))
  assert.is(r.timeout, 200, 'seq 9 lacks, but the tree delivers: a timeout from this look')
  mine = 6
  assert.equal(r.tick(200, seq), [], 'seq 6 came: it still delivers')
  assert.is(r.timeout, 300)
  assert.equal(r.tick(299, seq), [])
  assert.equal(r.tick(300, seq), [{ peer: 'p1', author: 'x' }], 'nothing came for the timeout: the first announcer')
  mine = 7
  assert.equal(r.tick(350, seq), [], 'the graft brings entries')
  assert.is(r.timeout, 400)
  assert.equal(r.tick(400, seq), [{ peer: 'p2', author: 'x' }], 'then nothing more: the next announcer')
  mine = 9
  assert.equal(r.tick(450, seq), [])
  assert.is(r.size, 0)
  // an author with nothing lacking by the first tick is never grafted
  r.announced('p1', 'y', 3, 0, 500)
  assert.equal(r.tick(600, () => 3), [])
  assert.is(r.size, 0)
})

test('LazyRepair: the wait before a first graft follows how late the tree delivers what is announced, between timeout and maxTimeout', () => {
  const r = new LazyRepair({ timeout: 100, maxTimeout: 1000, retry: 50 })
  assert.is(r.wait, 100, 'no sample yet')
  // the tree delivers each announced seq 300 ms after its announcement
  let now = 0
  for (let seq = 1; seq <= 20; seq++) {
    r.announced('p1', 'x', seq, seq - 1, now)
    now += 300
    r.stored('x', seq, now)
  }
  assert.ok(r.wait > 300 && r.wait <= 1000, `a lag of 300 ms waits ${r.wait} ms`)
  assert.is(r.size, 0, 'every announced seq came')
  // a later stall is grafted once nothing came for that long
  r.announced('p1', 'x', 21, 20, now)
  const wait = r.wait
  assert.equal(r.tick(now + wait - 1, () => 20), [])
  assert.equal(r.tick(now + wait, () => 20), [{ peer: 'p1', author: 'x' }])
  // lags over maxTimeout wait maxTimeout; a quick tree brings it back down to the floor
  const q = new LazyRepair({ timeout: 100, maxTimeout: 1000 })
  q.announced('p1', 'y', 1, 0, 0)
  q.stored('y', 1, 60_000)
  assert.is(q.wait, 1000)
  for (let seq = 2; seq < 200; seq++) {
    q.announced('p1', 'y', seq, seq - 1, 60_000 + seq * 1000)
    q.stored('y', seq, 60_000 + seq * 1000 + 1)
  }
  assert.is(q.wait, 100)
  // a lag not sampled for LAG_MEMORY (and at most an eighth more) is forgotten
  const t = new LazyRepair({ timeout: 100, maxTimeout: 1000 })
  t.announced('p1', 'z', 1, 0, 0)
  t.stored('z', 1, 800)
  assert.ok(t.wait > 100)
  t.announced('p1', 'z', 2, 1, 800 + LAG_MEMORY * 9 / 8 + 1)
  assert.is(t.wait, 100)
})

test('LazyRepair: no graft for an author the tree still delivers here, until maxTimeout; PrunePolicy says which it delivers', () => {
  const r = new LazyRepair({ timeout: 100, maxTimeout: 1000, retry: 50 })
  r.announced('p1', 'x', 5, 0, 0)
  r.announced('p1', 'y', 5, 0, 0)
  const delivers = (author: string): boolean => author === 'x'
  assert.equal(r.tick(100, () => 0, false, delivers), [{ peer: 'p1', author: 'y' }], 'y has no parent: grafted after the wait')
  assert.equal(r.tick(999, () => 0, false, delivers), [], 'x is on its way down the tree')
  assert.equal(r.tick(1099, () => 0, false, delivers), [{ peer: 'p1', author: 'x' }], 'but not past maxTimeout (and the wait)')

  const policy = new PrunePolicy('self')
  const running = new Set(['a'])
  const pushes = (peer: string): boolean => running.has(peer)
  assert.ok(policy.delivers('self', pushes), 'its own entries')
  assert.not.ok(policy.delivers('x', pushes), 'nothing of x stored yet')
  policy.stored('a', ['x'], 1)
  assert.ok(policy.delivers('x', pushes), 'a delivered x first and pushes it')
  running.delete('a')
  assert.not.ok(policy.delivers('x', pushes), 'a pushes x no more')
  running.add('a')
  policy.ended('a')
  assert.not.ok(policy.delivers('x', pushes), 'the session that delivered x ended')
})

test('LazyRepair: an author announced as broken here waits `soon` (when shorter than the wait) before its first graft, the retries GRAFT_RETRY as before', () => {
  const r = new LazyRepair({ timeout: 100, retry: 50 })
  r.announced('p1', 'x', 5, 0, 0, 12)
  r.announced('p1', 'y', 5, 0, 0, 500)
  r.announced('p1', 'z', 5, 0, 0)
  assert.is(r.timeout, 12)
  assert.equal(r.tick(11, () => 0), [])
  assert.equal(r.tick(12, () => 0), [{ peer: 'p1', author: 'x' }], 'x: a round trip\'s timeout')
  r.announced('p2', 'x', 5, 0, 20, 12)
  assert.equal(r.tick(61, () => 0), [])
  assert.equal(r.tick(62, () => 0), [{ peer: 'p2', author: 'x' }], 'the next announcer, GRAFT_RETRY later')
  assert.equal(r.tick(100, () => 0), [{ peer: 'p1', author: 'y' }, { peer: 'p1', author: 'z' }], 'y and z: the wait (no longer than it)')
  // an author the tree delivers again waits the whole wait; a timeout under 1 ms waits 1 ms
  const q = new LazyRepair({ timeout: 100 })
  q.announced('p1', 'x', 5, 0, 0, 30)
  q.announced('p1', 'x', 6, 0, 10)
  assert.equal(q.tick(30, () => 0), [])
  assert.equal(q.tick(100, () => 0), [{ peer: 'p1', author: 'x' }])
  const t = new LazyRepair({ timeout: 100 })
  t.announced('p1', 'x', 5, 0, 0, 0)
  assert.is(t.timeout, 1)
})

test('RttEstimator: RFC 6298\'s smoothed round trip and deviation; the timeout is the mean and four deviations', () => {
  const e = new RttEstimator()
  assert.is(e.timeout(0), undefined)
  e.sample(100, 0)
  assert.is(e.srtt, 100)
  assert.is(e.timeout(0), 300, 'first sample: deviation half of it')
  e.sample(100, 1)
  assert.is(e.timeout(1), 100 + 4 * 37.5)
  e.sample(-1, 2)
  e.sample(NaN, 2)
  assert.is(e.srtt, 100, 'no time travel')
  for (let i = 0; i < 100; i++) e.sample(10, 2 + i)
  assert.ok(Math.abs(e.srtt! - 10) < 0.01 && e.timeout(101)! < 11, `follows the link: ${e.timeout(101)!}`)
})

test('RttEstimator: at most three times the last sample; an estimate holds for LAG_MEMORY after its last sample, then the least round trip seen counts, as a first sample; the next sample starts it anew', () => {
  const e = new RttEstimator()
  assert.is(e.memory, LAG_MEMORY)
  e.sample(8, 0)
  for (let i = 1; i < 20; i++) e.sample(3000 + (i % 2) * 2000, i * 100)
  const loaded = e.timeout(1900)!
  assert.ok(loaded > 4000, `a loaded link: ${loaded} ms`)
  assert.is(e.timeout(1900 + LAG_MEMORY), loaded, 'still within the memory')
  const quick = new RttEstimator()
  for (let i = 0; i < 20; i++) quick.sample(3000 + (i % 2) * 2000, i * 100)
  quick.sample(20, 2000)
  assert.is(quick.timeout(2000), 3 * 20, 'a quick last sample after a loaded stretch: three times it, not what the smoothing still holds')
  assert.is(e.timeout(1900 + LAG_MEMORY + 1), 3 * 8, 'too old: the least sample, as a first one')
  e.sample(20, 1900 + LAG_MEMORY + 1)
  assert.is(e.timeout(1900 + LAG_MEMORY + 1), 20 + 4 * 10, 'the first sample after: the burst is forgotten')
})

test('rtoOf: the longest timeout of the links that push the author; 0 when none does; the longest of all when one that pushes has none yet', () => {
  assert.is(rtoOf([{ rto: 900, pushes: false }, { rto: 20, pushes: true }, { rto: 35, pushes: true }]), 35, 'a lazy link\'s stale timeout does not count')
  assert.is(rtoOf([{ rto: 900, pushes: false }, { rto: undefined, pushes: false }]), 0, 'nothing pushes it: graft at once')
  assert.is(rtoOf([{ rto: 900, pushes: false }, { rto: 20, pushes: true }, { rto: undefined, pushes: true }]), 900, 'a new link may be bringing it')
  assert.is(rtoOf([{ rto: undefined, pushes: true }]), undefined, 'no estimate at all: the usual wait')
  assert.is(rtoOf([]), 0)
})

test('a session measures the round trip of its Entries frames to their Acks on the clock its driver passes', async () => {
  const pair = newPair()
  const a = await pair.node()
  const b = await pair.node()
  const [ab, ba] = pair.connect(a, b)
  await pair.settle()
  assert.is(ab.core.rto(pair.now), undefined, 'nothing sent yet')
  ba.wire.held = true
  await a.emit(1)
  await pair.settle()
  await pair.advance(30)
  ba.wire.held = false
  await pair.settle()
  assert.is(ab.core.rto(pair.now), 30 + 4 * 15, 'one sample of 30 ms')
  assert.is(ba.core.rto(pair.now), undefined, 'b sent nothing')
  await pair.advance(LAG_MEMORY + 1)
  assert.is(ab.core.rto(pair.now), 3 * 30, 'none lately: the least, as a first sample')
})

test('WindowedMax: the largest sample of the window (in slots of an eighth of it), and none older', () => {
  let seed = 7
  const random = (): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648 }
  const window = 800
  const w = new WindowedMax(window)
  const samples: Array<{ at: number, value: number }> = []
  let now = 0
  for (let i = 0; i < 5000; i++) {
    now += Math.floor(random() * 120)
    if (random() < 0.8) {
      const value = random() < 0.05 ? 1000 + random() * 9000 : random() * 500
      w.add(value, now)
      samples.push({ at: now, value })
    }
    const got = w.get(now)
    const max = (age: number): number | undefined => {
      const values = samples.filter(s => now - s.at <= age).map(s => s.value)
      return values.length > 0 ? Math.max(...values) : undefined
    }
    // every sample of the last `window` counts; none older than a window and a slot
    const least = max(window)
    if (least !== undefined) assert.ok(got !== undefined && got >= least)
    const most = max(window + window / 8)
    assert.ok(got === undefined || (most !== undefined && got <= most))
  }
  // a spike counts for the window, then no more
  const spike = new WindowedMax(800)
  spike.add(10, 0)
  spike.add(5000, 150)
  spike.add(20, 250)
  assert.is(spike.get(950), 5000)
  assert.is(spike.get(1000), 20)
  assert.is(spike.get(1200), undefined)
})

test('LazyRepair: a peer gone is grafted no more; bounds on authors and announcers; the same calls give the same grafts', () => {
  const r = new LazyRepair({ timeout: 10, retry: 10, maxAuthors: 2, maxAnnouncers: 2 })
  r.announced('p1', 'x', 1, 0, 0)
  r.announced('p2', 'x', 1, 0, 0)
  r.announced('p3', 'x', 1, 0, 0)
  r.announced('p1', 'y', 1, 0, 0)
  r.announced('p1', 'z', 1, 0, 0)
  assert.is(r.size, 2, 'z is over maxAuthors')
  assert.not.ok(r.has('z'))
  r.peerGone('p1')
  assert.not.ok(r.has('y'), 'y had no other announcer')
  assert.equal(r.tick(10, () => 0), [{ peer: 'p2', author: 'x' }], 'p3 was over maxAnnouncers, p1 is gone')
  assert.equal(r.tick(20, () => 0), [])
  assert.is(r.size, 0)
  // a grafted peer that goes: the next announcer follows at the retry
  const run = (): string[] => {
    const q = new LazyRepair({ timeout: 10, retry: 5 })
    const out: string[] = []
    for (let i = 0; i < 20; i++) q.announced(`p${i % 3}`, `a${i % 7}`, i, Math.min(i - 1, i % 7), i)
    for (let now = 0; now < 100; now++) {
      if (now === 25) q.peerGone('p1')
      for (const g of q.tick(now, author => Number(author.slice(1)))) out.push(`${now}:${g.peer}:${g.author}`)
    }
    return out
  }
  const first = run()
  assert.ok(first.length > 0)
  assert.equal(run(), first)
  assert.ok(first.every(g => Number(g.split(':')[0]) < 25 || !g.includes(':p1:')), 'p1 is not grafted once gone')
})

// ---------------------------------------------------------------- meshes

/** `ms` of virtual time in steps, so that timers fire on the way. */
async function emitAndSettle (m: Mesh, n: MeshNode, count: number): Promise<void> {
  await n.node.emit(count)
  await m.settle()
}

/**
 * A square with one diagonal: a-b, b-c, c-d, d-a, b-d. The author a reaches
 * b and d directly, and c through b or d: the tree has to choose.
 */
async function square (m: Mesh, opts: { old?: string } = {}): Promise<Record<'a' | 'b' | 'c' | 'd', MeshNode>> {
  const [a, b, c, d] = await Promise.all(['a', 'b', 'c', 'd'].map(async name => m.node(name, opts.old === name ? { features: [] } : {})))
  m.link(a, b)
  m.link(b, c)
  m.link(c, d)
  m.link(d, a)
  m.link(b, d)
  await m.settle()
  return { a, b, c, d }
}

test('mesh: the tree forms after the first duplicates; then every entry reaches every node once, and a burst follows the tree', async () => {
  const m = newMesh()
  const { a, b, c, d } = await square(m)
  assert.ok(m.pair.sessions.every(s => s.core.lazy))
  let before = m.sent
  for (let i = 0; i < 3; i++) await emitAndSettle(m, a, 1)
  const first = m.sent - before
  assert.ok(m.converged)
  // c prunes one of its paths to a; b and d prune each other for a
  const cPruned = [m.session(c, b), m.session(c, d)].filter(s => pruned(s).includes(a.key))
  assert.is(cPruned.length, 1, 'c keeps one path to a')
  assert.ok(pruned(m.session(b, d)).includes(a.key) || pruned(m.session(d, b)).includes(a.key))
  before = m.sent
  const ihavesBefore = m.ihaves
  for (let i = 0; i < 10; i++) await emitAndSettle(m, a, 1)
  assert.ok(m.converged)
  assert.is(m.sent - before, 10 * 3, `after the tree formed: 3 sends per entry (${first} for the first 3)`)
  await m.advance(IHAVE_DELAY)
  assert.ok(m.ihaves > ihavesBefore, 'the lazy links carry IHave notices')
  // a burst after the tree formed: once per node
  before = m.sent
  await emitAndSettle(m, a, 1000)
  assert.ok(m.converged)
  const perNeeded = (m.sent - before) / (1000 * 3)
  assert.ok(perNeeded <= 1.01, `${perNeeded.toFixed(3)} sends per needed delivery`)
  // quiet: no regraft undoes the tree, no Graft at all
  await m.advance(5 * REGRAFT_MS)
  assert.ok(m.pair.sessions.every(s => s.sent.every(msg => msg?.graft == null)), 'no Graft between lazy peers')
  before = m.sent
  await emitAndSettle(m, a, 1000)
  assert.is(m.sent - before, 3000, 'still the tree')
  assert.ok([b, c, d].every(n => n.grafts.length === 0))
})

test('PrunePolicy: a copy that came first over a link pruned here proves no path: the link that still pushes is not pruned for it', () => {
  const policy = new PrunePolicy('self')
  const pushing = new Set(['u'])
  const pushes = (peer: string): boolean => pushing.has(peer)
  // u delivered x first; then a copy that was on its way over p (pruned) arrived first
  policy.stored('u', ['x'], 0)
  assert.ok(policy.mayPrune('p', 'pkey', 'x', pushes), 'a copy from p while u pushes: p may be pruned')
  policy.stored('p', ['x'], 10)
  assert.not.ok(policy.mayPrune('u', 'ukey', 'x', pushes), 'u is the only link that pushes x here: never pruned for it')
  pushing.add('p')
  assert.ok(policy.mayPrune('u', 'ukey', 'x', pushes), 'once p pushes again (a graft), u may be')
  assert.not.ok(policy.mayPrune('u', 'x', 'x', pushes), 'never the author on the link from it')
  assert.ok(policy.mayPrune('u', 'ukey', 'self', () => false), 'this node\'s own entries: always')
})

test('parentPrunes: an author grafted away from a first deliverer that still runs and pushes it is pruned there; not on the link to the author, nor where it is pruned already, nor without a deliverer', () => {
  const link = (peer: string, remoteKey: string, pruned: string[]): LinkView => ({ peer, remoteKey, pruned: a => pruned.includes(a) })
  const links = [link('p1', 'k1', []), link('p2', 'k2', ['y']), link('p3', 'z', []), link('p4', 'k4', [])]
  const first = new Map([['w', 'p1'], ['x', 'p1'], ['y', 'p2'], ['z', 'p3'], ['v', 'gone'], ['u', 'p4']])
  const grafts = [
    { peer: 'p2', author: 'w' }, // p1 pushes w: pruned there
    { peer: 'p4', author: 'x' }, // the same parent, another author
    { peer: 'p1', author: 'y' }, // p2 pruned y already: its tree was broken here
    { peer: 'p1', author: 'z' }, // p3 is z itself
    { peer: 'p1', author: 'v' }, // its deliverer's session is gone
    { peer: 'p4', author: 'u' }, // grafted on its own first deliverer
    { peer: 'p1', author: 't' } // none stored yet
  ]
  assert.equal([...parentPrunes(grafts, links, a => first.get(a))].map(([p, a]) => [p, [...a]]), [['p1', ['w', 'x']]])
})

test('mesh: a first burst crosses only the links from the author, but for one probe entry on each other link (the others have it from the author)', async () => {
  const m = newMesh()
  const nodes = await Promise.all(['a', 'b', 'c', 'd'].map(async name => m.node(name)))
  m.full()
  await m.settle()
  const [a] = nodes
  const before = m.sent
  // 20 emits at once: one commit group, signed at its end
  await Promise.all(Array.from({ length: 20 }, async () => { await a.node.emit(1) }))
  await m.settle()
  assert.ok(m.converged)
  // 3 links from a, 60 needed deliveries; 6 links between the others, one probe each
  assert.ok(m.sent - before <= 60 + 6, `${m.sent - before} sends for 60 needed`)
})

test('mesh: when the tree link is cut, the IHave of a lazy link (IHAVE_DELAY later) grafts it after GRAFT_TIMEOUT, and everything arrives', async () => {
  const m = newMesh()
  const { a, b, c, d } = await square(m)
  for (let i = 0; i < 3; i++) await emitAndSettle(m, a, 1)
  const [tree, lazy] = pruned(m.session(c, d)).includes(a.key) ? [b, d] : [d, b]
  assert.ok(pruned(m.session(c, lazy)).includes(a.key))
  // the tree link to c stops delivering
  m.session(tree, c).wire.held = true
  await emitAndSettle(m, a, 5)
  assert.ok(c.node.log.authorSeq(a.key) < a.node.log.authorSeq(a.key), 'c lacks them')
  await m.advance(IHAVE_DELAY)
  const announced = m.now
  assert.ok(ihaves(m.session(lazy, c)).some(items => items.some(([author, seq]) => author === a.key && seq === a.node.log.authorSeq(a.key))), 'the lazy link announced them')
  await m.advance(GRAFT_TIMEOUT - 1)
  assert.ok(c.node.log.authorSeq(a.key) < a.node.log.authorSeq(a.key), 'not before GRAFT_TIMEOUT')
  await m.advance(1)
  assert.is(c.node.log.authorSeq(a.key), a.node.log.authorSeq(a.key), 'grafted and delivered at GRAFT_TIMEOUT')
  assert.equal(c.grafts, [{ peer: lazy.name, author: a.key, at: announced + GRAFT_TIMEOUT }])
  assert.ok(m.converged)
  // the tree link comes back: what it held is a duplicate, and c prunes it
  m.session(tree, c).wire.held = false
  await m.settle()
  assert.ok(pruned(m.session(c, tree)).includes(a.key), 'c prunes the old path')
  const before = m.sent
  for (let i = 0; i < 5; i++) await emitAndSettle(m, a, 1)
  assert.is(m.sent - before, 15, 'a tree again')
  assert.ok(m.converged)
})

test('mesh: a relay leaves; the node it fed grafts at once, on one lazy link, the author no link pushes it any more, and the next entries come without a wait', async () => {
  const m = newMesh()
  const { a, b, c, d } = await square(m)
  for (let i = 0; i < 3; i++) await emitAndSettle(m, a, 1)
  const [tree, lazy] = pruned(m.session(c, d)).includes(a.key) ? [b, d] : [d, b]
  m.session(c, tree).core.close()
  await m.settle()
  const grafts = m.pair.sessions.flatMap(s => s.sent.filter(msg => msg?.graft != null))
  assert.is(grafts.length, 1, 'one Graft when the session ended, not one on every link')
  assert.equal(grafts[0]!.graft!.have.map(h => toHex(h.author)), [a.key])
  assert.ok(m.session(c, lazy).sent.some(msg => msg?.graft != null), 'by c, on its lazy link')
  await emitAndSettle(m, a, 2)
  assert.ok(m.converged, 'delivered without waiting for an IHave and GRAFT_TIMEOUT')
  assert.equal(c.grafts, [], 'no repair graft was needed')
})

test('mesh: a relay leaves and a link that never delivered the author still pushes it (no orphan graft); the next entry\'s IHave grafts after a round trip\'s timeout, not GRAFT_TIMEOUT', async () => {
  const m = newMesh()
  const { a, b, c, d } = await square(m)
  for (let i = 0; i < 3; i++) await emitAndSettle(m, a, 1)
  const [tree, lazy] = pruned(m.session(c, d)).includes(a.key) ? [b, d] : [d, b]
  // e hangs off c: it takes a from c and never sends it back, so c never prunes it there
  const e = await m.node('e')
  m.link(c, e)
  await m.settle()
  await emitAndSettle(m, a, 1)
  assert.not.ok(pruned(m.session(c, e)).includes(a.key))
  m.session(c, tree).core.close()
  await m.settle()
  assert.not.ok(m.session(c, lazy).sent.some(msg => msg?.graft != null), 'e still pushes a: no orphan graft')
  assert.ok(c.rto(a.key) !== undefined, 'c measured its links')
  await a.node.emit(1)
  await m.settle()
  assert.ok(c.node.log.authorSeq(a.key) < a.node.log.authorSeq(a.key), 'c lacks it')
  await m.advance(IHAVE_DELAY)
  const announced = m.now
  await m.advance(Math.max(1, Math.ceil(c.rto(a.key)!)))
  assert.is(c.node.log.authorSeq(a.key), a.node.log.authorSeq(a.key), 'grafted and delivered')
  assert.equal(c.grafts, [{ peer: lazy.name, author: a.key, at: announced + Math.max(1, Math.ceil(c.rto(a.key)!)) }])
  await m.settle()
  assert.ok(m.converged)
})

test('orphanGrafts: an author no other link pushes goes to the link to its author if there is one, else the first; none for one still pushed, none without links', () => {
  const link = (peer: string, remoteKey: string, pruned: string[]): LinkView => ({ peer, remoteKey, pruned: a => pruned.includes(a) })
  const links = [link('p1', 'k1', ['x', 'y', 'z']), link('p2', 'y', ['x', 'y', 'z']), link('p3', 'k3', ['x', 'y'])]
  assert.equal([...orphanGrafts(['x', 'y', 'z'], links)].map(([p, a]) => [p, [...a]]), [['p1', ['x']], ['p2', ['y']]])
  assert.equal([...orphanGrafts(['x'], [])], [])
  const policy = new PrunePolicy('self')
  policy.stored('p1', ['x', 'y'], 1)
  policy.stored('p2', ['z'], 2)
  assert.is(policy.first('z'), 'p2')
  assert.equal(policy.ended('p1'), ['x', 'y'], 'the authors it delivered first')
  assert.equal(policy.ended('p1'), [])
  assert.is(policy.first('x'), undefined, 'its session ended')
})

test('mesh: a node whose Hello names no features never gets IHave, and still gets everything (regrafts, as before)', async () => {
  const m = newMesh()
  const { a, b, c, d } = await square(m, { old: 'c' })
  for (const s of [m.session(c, b), m.session(c, d)]) assert.not.ok(s.core.lazy)
  for (let i = 0; i < 3; i++) await emitAndSettle(m, a, 1)
  assert.ok(m.converged)
  const [tree] = pruned(m.session(c, d)).includes(a.key) ? [b, d] : [d, b]
  assert.ok(pruned(m.session(c, b)).includes(a.key) !== pruned(m.session(c, d)).includes(a.key), 'c, old, prunes too')
  // the tree link to c stops: c has no notice, but its blind regraft comes within REGRAFT_MS
  m.session(tree, c).wire.held = true
  await emitAndSettle(m, a, 3)
  assert.not.ok(m.converged)
  await m.advance(2 * REGRAFT_MS)
  assert.ok(m.converged, 'c got everything by a regraft')
  m.session(tree, c).wire.held = false
  for (let i = 0; i < 5; i++) await emitAndSettle(m, a, 1)
  assert.ok(m.converged)
  for (const s of [m.session(c, b), m.session(c, d)]) assert.equal(s.inbox.frames.filter(f => f.msg?.ihave != null), [], 'no IHave to c')
  assert.ok(m.session(b, d).core.lazy, 'the others are lazy among themselves')
})

// ---------------------------------------------------------------- the service, on libp2p

/** A libp2p node with the sync service and nothing that dials by itself, listening on localhost. */
interface SyncNode {
  node: HyperNode
  log: Log
  schema: Schema
  id: string
  /** the peers it opens sessions to (SyncInit.wanted) */
  wants: Set<string>
  emit: () => Promise<void>
}

const messages = await fixture('messages.proto')

/** `legacy`: a node as written before lazy/1 and the overlay: no features, no overlay protocol, a session with every peer. */
async function syncNode (opts: { legacy?: boolean } = {}): Promise<SyncNode> {
  const log = await Log.open(new MemoryLevel())
  const schema = new Schema(messages)
  const wants = new Set<string>()
  const node = await createNode({
    identity: log.identity,
    sync: {
      log,
      fingerprint: schema.fingerprint,
      topic: '',
      ingest: { validate: (name, payload) => { schema.check(name, payload) } },
      wanted: peer => opts.legacy === true || wants.has(peer),
      lazy: opts.legacy !== true,
      graftTimeout: 100
    },
    overlay: false
  })
  await node.start()
  await node.services.listener.listen([multiaddr('/ip4/127.0.0.1/tcp/0')])
  const n = {
    node,
    log,
    schema,
    id: node.peerId.toString(),
    wants,
    emit: async () => { await log.append('Hello', schema.encode('Hello', { from: n.id })) }
  }
  pairs.push({ close: async () => { await node.stop(); await log.close() } })
  return n
}

/** `from` dials `to` (so `from` opens the session, if it wants `to`). */
async function dial (from: SyncNode, to: SyncNode): Promise<void> {
  await from.node.dial(to.node.getMultiaddrs()[0])
}

function sessionsOf (n: SyncNode): string[] {
  return n.node.services.sync.peers.filter(p => n.node.services.sync.session(p)?.closed === false)
}

test('service: sessions are opened only to wanted peers; close(peer) ends one cleanly, without a block, and it is opened again once wanted', async () => {
  const [a, b] = [await syncNode(), await syncNode()]
  await dial(b, a)
  await new Promise(resolve => setTimeout(resolve, 2 * RECONCILE_MS))
  assert.equal(sessionsOf(b), [], 'b does not want a: no session, though it dialled')
  assert.equal(sessionsOf(a), [])
  b.wants.add(a.id)
  await until(() => sessionsOf(b).length === 1 && sessionsOf(a).length === 1, 5000, 'the session once wanted')
  await until(() => b.node.services.sync.lazyPeers.includes(a.id) && a.node.services.sync.lazyPeers.includes(b.id), 5000, 'lazy/1 agreed on both sides')
  b.wants.delete(a.id)
  b.node.services.sync.close(a.id)
  await until(() => sessionsOf(b).length === 0 && sessionsOf(a).length === 0, 5000, 'the close')
  await new Promise(resolve => setTimeout(resolve, 2 * RECONCILE_MS))
  assert.equal(sessionsOf(b), [], 'not opened again while not wanted')
  assert.not.ok(b.node.services.sync.isBlocked(a.id))
  assert.not.ok(a.node.services.sync.isBlocked(b.id))
  assert.is(b.node.getConnections(a.node.peerId).length, 1, 'the connection stays')
  b.wants.add(a.id)
  await until(() => sessionsOf(b).length === 1, 2 * RECONCILE_MS + 2000, 'the session again, with no backoff')
  await a.emit()
  await until(() => b.log.length === a.log.length, 5000, 'a\'s entry at b')
})

test('service: in a square of lazy/1 nodes, when the node that fed the far corner stops, a lazy link is grafted on its IHave and everything arrives', async () => {
  const [a, b, c, d] = [await syncNode(), await syncNode(), await syncNode(), await syncNode()]
  // a-b, b-c, c-d, d-a: c hears a through b or d
  for (const [x, y] of [[b, a], [b, c], [d, c], [d, a]]) {
    x.wants.add(y.id)
    await dial(x, y)
  }
  await until(() => [a, b, c, d].every(n => n.node.services.sync.lazyPeers.length === 2), 10_000, 'four lazy sessions')
  const received = (): Record<string, number> => Object.fromEntries([b, d].map(n => [n.id, c.node.services.sync.session(n.id)?.received ?? 0]))
  for (let i = 0; i < 5; i++) {
    await a.emit()
    await until(() => c.log.authorSeq(toHex(a.log.identity.publicKey)) === i + 1, 5000, `entry ${i + 1} at c`)
  }
  // the tree: the link to c that still brings a's entries
  const before = received()
  for (let i = 0; i < 3; i++) {
    await a.emit()
    await until(() => c.log.length === a.log.length, 5000, 'a\'s entry at c')
  }
  const after = received()
  const feeding = [b, d].filter(n => after[n.id] > before[n.id])
  assert.is(feeding.length, 1, `one link feeds c: ${JSON.stringify([before, after])}`)
  const [tree] = feeding
  const other = tree === b ? d : b
  await tree.node.stop()
  await until(() => c.node.services.sync.peers.length === 1, 5000, 'c to lose the tree link')
  await a.emit()
  // usually grafted after the graft timeout; sooner when the other link had
  // not pruned a's author yet: arrival is what is asserted
  await until(() => c.log.length === a.log.length, 5000, 'a\'s entry at c through the lazy link')
  const got = c.node.services.sync.session(other.id)?.received ?? 0
  await a.emit()
  await until(() => c.log.length === a.log.length, 5000, 'and the next one')
  assert.ok((c.node.services.sync.session(other.id)?.received ?? 0) > got, 'the grafted link is the tree now')
})

test('a peer written before lazy/1 and the overlay syncs with new emitters, catch-up and live both ways; they keep it, and the overlay among themselves', async () => {
  const old = await syncNode({ legacy: true })
  await old.emit()
  const nodes = [new HyperEmitter(new MemoryLevel(), messages, { reconnectTimeout: 100 }), new HyperEmitter(new MemoryLevel(), messages, { reconnectTimeout: 100 })]
  pairs.push({ close: async () => { for (const n of nodes) await n.close() } })
  const [x, y] = nodes
  await x.listen(0, '127.0.0.1')
  await y.listen(0, '127.0.0.1')
  await x.connect(old.node.getMultiaddrs()[0])
  await y.connect(x.node!.getMultiaddrs()[0])
  await y.connect(old.node.getMultiaddrs()[0])
  await until(() => nodes.every(n => n.log.authorSeq(toHex(old.log.identity.publicKey)) === 1), 5000, 'the old node\'s entry at both (catch-up)')
  await until(() => old.log.length === 3, 5000, 'both EventPeer entries at the old node (catch-up)')
  const heard: string[] = []
  for (const n of nodes) n.on('Hello', (m: { from: string }) => { heard.push(m.from) })
  await old.emit()
  await x.emit('Hello', { from: 'x' })
  await until(() => heard.filter(f => f === old.id).length === 2 && heard.includes('x') && old.log.length === 5, 5000, 'live both ways')
  for (const n of nodes) assert.ok(n.node!.services.overlay.isLegacy(old.id), 'the old node is known as one that does not speak the overlay')
  assert.ok(x.node!.services.overlay.active.includes(y.peerId) && y.node!.services.overlay.active.includes(x.peerId), 'x and y are in each other\'s active view')
  assert.not.ok(old.node.services.sync.lazyPeers.length > 0, 'the old node runs no lazy/1 session')
})

test.run()
