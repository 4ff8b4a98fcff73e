// Catch-up from a node with a floor (protocols/README.md §5.9), on the
// in-memory pair: the sender puts the entries before the floor (and the
// dropped entries that kept ones link to) in the Entries frame as context;
// a receiver that holds nothing of that author takes the floor, one that
// holds part of the chain or ignores the field (an older peer) does not.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Pair } from './sync/pair.js'
import { hello } from './sync/author.js'
import { RefusedError } from '../src/errors.js'
import { toHex } from '../src/log/entry.js'
import { REFUSE } from '../src/sync/constants.js'
import { PENDING_TTL_MS } from '../src/log/ingest.js'

let pair: Pair
test.before.each(() => { pair = new Pair() })
test.after.each(async () => { await pair.close() })

test('an empty node catches up from a node with a floor: one context entry, the floor taken, verify ok on both', async () => {
  const a = await pair.node()
  for (let i = 0; i < 6; i++) await a.emit(50)
  await a.log.compact({ maxEvents: 120 })
  assert.is(a.log.floor, 180)
  const b = await pair.node()
  const [sa, sb] = pair.connect(a, b)
  await pair.settle()
  assert.ok(sb.synced, 'b is synced to a')
  assert.is(b.log.authorSeq(a.key), 300)
  assert.is(b.log.length, 120)
  assert.is(b.log.authorFloor(a.key)?.seq, 181)
  const frames = sa.sent.filter(m => m?.entries != null).map(m => m!.entries!)
  assert.is(frames[0].context.length, 1, 'the entry before the floor goes with it')
  assert.is(frames.slice(1).reduce((n, f) => n + f.context.length, 0), 0)
  for (const n of [a, b]) {
    const report = await n.log.verify()
    assert.ok(report.ok, JSON.stringify(report.problems))
  }
  // live entries after that chain on as usual
  await a.emit(3)
  await pair.settle()
  assert.is(b.log.authorSeq(a.key), 303)
  assert.ok((await b.log.verify()).ok)
})

test('links to dropped entries: the sender sends them as context, the receiver keeps them in its cut', async () => {
  const a = await pair.node()
  const c = await pair.node()
  await a.emit(20)
  await c.emit(10)
  // a links c's head in its next group; then c's entries and a's first ones are dropped
  const [sa1, sc] = pair.connect(a, c)
  await pair.settle()
  sa1.core.close()
  sc.core.close()
  await pair.settle()
  pair.drop(sa1)
  pair.drop(sc)
  await a.emit(20)
  await a.log.compact({ maxEvents: 20 })
  assert.is(a.log.floor, 30)
  assert.ok(a.log.hasCut)
  assert.ok((await a.log.verify()).ok)
  const b = await pair.node()
  const [sa] = pair.connect(a, b)
  await pair.settle()
  for (const [author, seq] of a.log.vector()) assert.is(b.log.authorSeq(author), seq)
  const report = await b.log.verify()
  assert.ok(report.ok, JSON.stringify(report.problems))
  assert.is(report.entries, 20)
  // the entry before a's floor, and c's last entry that a's first kept one links
  assert.is(sa.sent.find(m => m?.entries != null)?.entries?.context.length, 2)
  assert.is(b.log.authorFloor(c.key)?.seq, 11)
})

test('a node that holds part of the chain does not take the floor: the entries wait and expire; it is not an offence', async () => {
  const a = await pair.node()
  const b = await pair.node()
  await a.emit(50)
  const [sa, sb1] = pair.connect(a, b)
  await pair.settle()
  sa.core.close()
  sb1.core.close()
  await pair.settle()
  pair.drop(sa)
  pair.drop(sb1)
  await a.emit(200)
  await a.emit(200)
  await a.log.compact({ maxEvents: 100 })
  const [, sb] = pair.connect(a, b)
  await pair.settle()
  assert.is(b.log.authorSeq(a.key), 50)
  assert.is(sb.ending, undefined, 'the session goes on')
  assert.ok(sb.core.receiver.unacked === 0)
  await pair.advance(2 * PENDING_TTL_MS + 1)
  assert.is(sb.storage.pending, 0, 'held entries expired')
  assert.ok((await b.log.verify()).ok)
})

test('a receiver that ignores the context field (an older peer) holds the floor entry and never stores that chain from this node', async () => {
  const a = await pair.node()
  await a.emit(300)
  await a.log.compact({ maxEvents: 100 })
  const b = await pair.node()
  const [, sb] = pair.connect(a, b)
  // as a peer written before retention: Entries.context is skipped
  const accept = sb.storage.accept.bind(sb.storage)
  sb.storage.accept = (entries, now) => accept(entries, now)
  await pair.settle()
  assert.is(b.log.authorSeq(a.key), 0)
  assert.is(b.log.length, 0)
  assert.ok(sb.storage.pending > 0)
  assert.is(sb.ending, undefined)
  await pair.advance(2 * PENDING_TTL_MS + 1)
  assert.is(sb.storage.pending, 0)
})

test('context that does not decode, or more of it than the entries allow, is a PROTOCOL refusal', async () => {
  for (const context of [[new Uint8Array([0xff, 0xff])], Array.from({ length: 200 }, () => new Uint8Array(0))]) {
    const node = await pair.node()
    const other = await pair.node()
    await other.emit(1)
    const [s, p] = pair.script(node)
    p.send(hello(node))
    await pair.settle()
    const [e] = await other.log.read(1, 1)
    p.send({ entries: { entries: [e.bytes as Uint8Array<ArrayBuffer>], context } })
    await pair.settle()
    const err = s.ending?.error
    assert.ok(err instanceof RefusedError, String(err))
    assert.is(err.refuseCode, REFUSE.PROTOCOL)
    pair.drop(s, p)
  }
})

test('a forged context entry never becomes a floor: the floor entry must chain on it by id', async () => {
  const a = await pair.node()
  await a.emit(300)
  await a.log.compact({ maxEvents: 100 })
  const forger = await pair.node()
  await forger.emit(1)
  const [forged] = await forger.log.read(1, 1)
  const b = await pair.node()
  const [s, p] = pair.script(b)
  p.send(hello(b))
  await pair.settle()
  const kept = await a.log.read(1, 100)
  // a's kept entries, with an entry of another author (and another id) as the entry before the floor
  p.send({ entries: { entries: kept.map(e => e.bytes as Uint8Array<ArrayBuffer>), context: [forged.bytes as Uint8Array<ArrayBuffer>] } })
  await pair.settle()
  assert.is(b.log.authorSeq(a.key), 0)
  assert.is(b.log.authorFloor(a.key), undefined)
  assert.is(s.ending, undefined)
  assert.is(toHex(a.log.identity.publicKey), a.key)
})

test.run()
