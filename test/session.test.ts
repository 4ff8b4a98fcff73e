// The sync session's core driven in-process (test/sync/pair.ts): two cores on
// MemoryLevel logs, frames as bytes through the real framing, a virtual
// clock. No network, no sleeps: each run takes the same steps.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Pair, type Node, type Session, type Seen } from './sync/pair.js'
import { MismatchError, RefusedError } from '../src/errors.js'
import { blocksPeer } from '../src/sync/refusals.js'
import { PrunePolicy } from '../src/sync/prune.js'
import { readEntry, toHex } from '../src/log/entry.js'
import { ACK_ONE, decodeFrame, encodeEntriesFrame, encodeFrame, readEntriesFrame } from '../src/sync/framing.js'
import { WINDOW, REFUSE, READ_BATCH, LIVE_QUEUE, RETRY_MS, MAX_BATCH_ENTRIES } from '../src/sync/constants.js'
import { SyncMessage } from '../src/pb/sync.js'

let pair: Pair
test.before.each(() => { pair = new Pair() })
test.after.each(async () => { await pair.close() })

const kinds = (frames: Array<SyncMessage | undefined>): string[] => frames.map(m => m == null ? 'undecodable' : Object.keys(m).filter(k => m[k as keyof SyncMessage] != null).join('+'))

/** `b` holds every entry `a` holds. */
function holdsAll (b: Node, a: Node): boolean {
  return [...a.log.vector()].every(([author, seq]) => b.log.authorSeq(author) >= seq)
}

/** Ends normally, or by refusing with `code` (a Refuse frame, then a close). */
function assertRefused (s: Session, code: number, remote = false): void {
  assert.ok(s.ending != null, 'the session ended')
  const err = s.ending.error
  assert.ok(err instanceof RefusedError, `a RefusedError, not ${err?.name}`)
  assert.is(err.refuseCode, code)
  assert.is(err.remote, remote)
}

test('handshake, catch-up and live push, as in the example of protocols/README.md §7', async () => {
  const a = await pair.node()
  const b = await pair.node()
  await a.emit(1)
  await a.emit(2) // one group: the first unsigned, the second signed
  assert.is(a.log.length, 3)
  const [sa, sb] = pair.connect(a, b)
  await pair.settle()
  assert.ok(sa.ready && sb.ready, 'both Hellos agree')
  assert.equal(sb.sent[0]?.hello?.have, [], 'B says Hello with an empty vector')
  assert.equal(sa.sent[0]?.hello?.have.map(h => [toHex(h.author), h.seq]), [[a.key, 3]])
  assert.equal(kinds(sa.sent), ['hello', 'entries', 'synced'])
  assert.is(sa.sent[1]?.entries?.entries.length, 3)
  assert.is(sa.sent[2]?.synced?.length, 3)
  assert.equal(kinds(sb.sent), ['hello', 'synced', 'ack'])
  assert.is(sb.sent[2]?.ack?.batches, 1)
  assert.ok(sa.synced && sb.synced, 'each side is synced to the other')
  assert.is(b.log.length, 3)
  // live: A emits; B stores it, acknowledges, and sends nothing back
  await a.emit(1)
  await pair.settle()
  assert.equal(kinds(sa.sent).slice(3), ['entries'])
  assert.equal(kinds(sb.sent).slice(3), ['ack'])
  assert.is(b.log.length, 4)
  assert.is(sb.core.sent, 0, 'no echo')
  assert.is(sb.core.received, 4)
  // and the other way
  await b.emit(2)
  await pair.settle()
  assert.is(a.log.length, 6)
  assert.is(sa.core.sent, 4)
})

test('an incompatible schema or another topic: each side refuses the other, says why, and closes; nobody is blocked', async () => {
  for (const [what, code, opts, frames] of [
    ['schema', REFUSE.SCHEMA, { schema: 'message Hello { optional int32 from = 1; }' }, ['hello', 'descriptor', 'refuse']],
    ['topic', REFUSE.TOPIC, { topic: 'elsewhere' }, ['hello', 'refuse']]
  ] as const) {
    const a = await pair.node()
    const b = await pair.node(opts)
    await a.emit(1)
    const [sa, sb] = pair.connect(a, b)
    await pair.settle()
    for (const s of [sa, sb]) {
      assertRefused(s, code)
      assert.ok(s.ending?.error instanceof MismatchError, `${what}: a MismatchError`)
      assert.is(s.ending?.error?.name, 'MismatchError')
      assert.is(s.ending?.reset, false, `${what}: closed, not reset`)
      assert.equal(kinds(s.sent), frames)
      assert.is(s.sent.at(-1)?.refuse?.code, code)
      assert.not.ok(blocksPeer(s.ending?.error))
      assert.not.ok(s.ready)
    }
    assert.is(b.log.length, 0, `${what}: nothing stored`)
  }
})

test('the other side\'s mismatch Refuse: a reset and a remote MismatchError; a remote PROTOCOL is echoed; an unknown code is a plain reset', async () => {
  for (const [code, echoed] of [[REFUSE.VERSION, false], [REFUSE.SCHEMA, false], [REFUSE.TOPIC, false], [REFUSE.PROTOCOL, true], [REFUSE.LIMIT, true], [REFUSE.INVALID_ENTRY, true], [99, false]] as const) {
    const [s, p] = pair.script(await pair.node())
    p.send({ refuse: { code, reason: 'no' } })
    await pair.settle()
    const err = s.ending?.error
    assert.ok(err instanceof RefusedError, `${code}: a RefusedError`)
    assert.is(err.remote, true)
    assert.is(err.refuseCode, code === 99 ? REFUSE.UNKNOWN : code)
    assert.is(err instanceof MismatchError, code <= REFUSE.TOPIC)
    assert.is(s.ending?.reset, !echoed, `${code}: ${echoed ? 'closed' : 'reset'}`)
    assert.is(p.of('refuse').length, echoed ? 1 : 0)
    if (echoed) assert.equal(p.of('refuse')[0], { code, reason: 'the peer refused: no' })
    assert.not.ok(blocksPeer(err), 'a refusal received never blocks')
  }
})

test('catch-up: never more than WINDOW frames unacknowledged, each Ack once its frame is stored, the next read under way while frames wait', async () => {
  const a = await pair.node()
  const b = await pair.node()
  // about 600 bytes each: some 800 to a frame, so that a read makes frames that wait for credits
  await a.log.append('Hello', a.schema.encode('Hello', { from: 'first' }))
  const payload = a.schema.encode('Hello', { from: 'x'.repeat(560) })
  await Promise.all(Array.from({ length: READ_BATCH + 1500 }, async () => a.log.append('Hello', payload)))
  const [sa, sb] = pair.connect(a, b)
  let unacked = 0
  let most = 0
  const framesAtB: Seen[] = []
  let acks = 0
  sa.onSend = f => {
    if (f.msg?.entries == null) return
    most = Math.max(most, ++unacked)
  }
  sa.onReceive = f => { if (f.msg?.ack != null) unacked -= f.msg.ack.batches }
  sb.onReceive = f => { if (f.msg?.entries != null) framesAtB.push(f) }
  // an Ack means the frame's store pass ran: its entries are stored, but for
  // an unsigned tail whose signature is in a later frame
  const signed = new Map<string, number>()
  const late: string[] = []
  sb.onSend = f => {
    if (f.msg?.ack == null) return
    const frame = framesAtB[acks++]
    assert.ok(frame != null, 'an Ack for a frame B got')
    for (const e of frame.msg!.entries!.entries.map(bytes => readEntry(bytes))) {
      if (e.signature.byteLength > 0) signed.set(toHex(e.author), Math.max(e.seq, signed.get(toHex(e.author)) ?? 0))
    }
    for (const [author, seq] of signed) if (b.log.authorSeq(author) < seq) late.push(`Ack ${acks}: ${author.slice(0, 8)} stored to ${b.log.authorSeq(author)}, not ${seq}`)
  }
  const reads: Array<{ waiting: number }> = []
  sa.onAction = action => { if (action.type === 'read') reads.push({ waiting: sa.core.sender.waiting }) }
  await pair.settle()
  assert.ok(holdsAll(b, a), 'B holds all of A')
  assert.is(b.log.length, a.log.length)
  assert.is(most, WINDOW, 'the window was used, never exceeded')
  const frames = sa.sent.filter(m => m?.entries != null).length
  assert.ok(frames > 2 * WINDOW, `${frames} Entries frames`)
  assert.is(acks, frames, 'one Ack per frame')
  assert.equal(late, [], 'each Ack once its frame is stored')
  assert.ok(sb.sent.every(m => m?.ack == null || m.ack.batches === 1))
  // the first two reads are small (FIRST_READ, then four times as many), and their frames go at once
  assert.ok(reads.length >= 4, `${reads.length} reads`)
  reads.slice(2).forEach((r, i) => { assert.ok(r.waiting > 0, `read ${i + 3} started while ${r.waiting} frames waited for credits`) })
  assert.ok(sa.synced && sb.synced)
})

test('Synced: the peer counts as synced only once what came before the Synced is stored', async () => {
  const a = await pair.node()
  const b = await pair.node()
  await a.emit(3000)
  const [, sb] = pair.connect(a, b)
  let heldAll: boolean | undefined
  sb.onAction = action => { if (action.type === 'synced') heldAll = holdsAll(b, a) }
  await pair.settle()
  assert.is(heldAll, true)
  assert.is(sb.actions.filter(t => t === 'synced').length, 1)
})

test('a commit that lands between a catch-up read and its result is sent live once caught up', async () => {
  const a = await pair.node()
  const b = await pair.node()
  const payload = a.schema.encode('Hello', { from: 'x'.repeat(560) })
  await Promise.all(Array.from({ length: READ_BATCH + 1500 }, async () => a.log.append('Hello', payload)))
  const [sa] = pair.connect(a, b)
  // the last read of catch-up finds nothing; an emit commits before its result is taken
  let emitted: Promise<void> | undefined
  const read = sa.storage.read.bind(sa.storage)
  sa.storage.read = async (have, limit) => {
    const found = await read(have, limit)
    if (found.length === 0 && emitted == null) {
      emitted = a.emit(1)
      await emitted
    }
    return found
  }
  await pair.settle()
  assert.ok(emitted != null)
  assert.is(a.log.length, READ_BATCH + 1501)
  assert.ok(holdsAll(b, a), `B holds ${b.log.length} of ${a.log.length}`)
})

test('more commits than the live queue holds at once: the sender reads them from the log, every one', async () => {
  const a = await pair.node()
  const b = await pair.node()
  pair.connect(a, b)
  await pair.settle()
  // no settling meanwhile: the queue overflows, and more than one read's worth lacks
  await a.emit(READ_BATCH + LIVE_QUEUE)
  await pair.settle()
  assert.is(b.log.length, a.log.length)
  assert.ok(holdsAll(b, a))
})

test('prune and graft: a duplicate path is pruned, and grafted again when the path that delivered ends', async () => {
  const a = await pair.node()
  const b = await pair.node()
  const c = await pair.node()
  await a.emit(3)
  // B's side of pruning, as the service runs it
  const policy = new PrunePolicy(b.key)
  const running = new Set<string>()
  const atB = (peer: Node): { mayPrune: (author: string) => boolean } => ({
    mayPrune: author => policy.mayPrune(peer.key, peer.key, author, p => running.has(p))
  })
  const [, ba] = pair.connect(a, b, { b: atB(a) })
  running.add(a.key)
  ba.onAction = action => { if (action.type === 'stored') policy.stored(a.key, action.authors, pair.now) }
  pair.connect(a, c)
  await pair.settle()
  assert.ok(holdsAll(b, a) && holdsAll(c, a))
  const [cb, bc] = pair.connect(c, b, { b: atB(c) })
  running.add(c.key)
  await pair.settle()
  assert.is(cb.core.sent, 0, 'B has what C has')
  // A emits; C relays it to B, but only once B has it from A: a duplicate
  cb.wire.held = true
  await a.emit(1)
  await pair.settle()
  assert.ok(holdsAll(b, a))
  assert.is(cb.core.sent, 1, 'C relayed it')
  cb.wire.held = false
  await pair.settle()
  assert.equal(bc.sent.flatMap(m => m?.prune?.authors.map(toHex) ?? []), [a.key], 'B prunes author A on C')
  await a.emit(2)
  await pair.settle()
  assert.ok(holdsAll(b, a) && holdsAll(c, a))
  assert.is(cb.core.sent, 1, 'C pushes B nothing more of A')
  // the session with A ends: B grafts A on C, and gets A's entries through C
  ba.core.close()
  running.delete(a.key)
  policy.ended(a.key)
  bc.core.graft()
  await pair.settle()
  assert.equal(bc.sent.flatMap(m => m?.graft?.have.map(h => [toHex(h.author), h.seq]) ?? []), [[a.key, a.log.authorSeq(a.key)]])
  await a.emit(1)
  await pair.settle()
  assert.ok(holdsAll(b, a), 'B gets A\'s new entry through C')
  assert.is(cb.core.sent, 2)
})

test('held entries are stored RETRY_MS after a commit brings their parent through another session', async () => {
  const a = await pair.node()
  const b = await pair.node()
  const c = await pair.node()
  await a.emit(1)
  const [ac] = pair.connect(a, c)
  await pair.settle()
  ac.core.close()
  await pair.settle()
  await c.emit(1) // links A's entry, and A does not get it
  const [last] = await c.log.read(c.log.length, 1)
  assert.ok(last.entry.links.length > 0, 'C\'s entry links A\'s')
  // a peer that sends B only C's entry: it waits for its link
  const [s, p] = pair.script(b)
  p.send({ hello: { version: 1, schema: b.schema.fingerprint as Uint8Array<ArrayBuffer>, topic: '', have: [], features: [] } })
  p.send({ entries: { entries: [last.bytes as Uint8Array<ArrayBuffer>], context: [] } })
  await pair.settle()
  assert.is(s.storage.verified, 1, 'held, verified, waiting for its link')
  assert.is(b.log.length, 0)
  pair.connect(a, b)
  await pair.settle()
  assert.is(b.log.length, 1, 'A\'s entry came through A')
  assert.is(s.core.timeout, pair.now + RETRY_MS, 'a retry is due')
  await pair.advance(RETRY_MS - 1)
  assert.is(b.log.length, 1, 'not before RETRY_MS')
  await pair.advance(1)
  assert.is(b.log.length, 2, 'C\'s entry is stored by the retry')
  assert.is(s.storage.pending, 0)
})

test('a session\'s own store pass schedules no retry; another session\'s commit does', async () => {
  const a = await pair.node()
  const b = await pair.node()
  for (let i = 0; i < 3; i++) await a.emit(1) // three groups, each entry signed
  const [e1, e2, e3] = (await a.log.read(1, 3)).map(e => e.bytes as Uint8Array<ArrayBuffer>)
  const hello = { hello: { version: 1, schema: b.schema.fingerprint as Uint8Array<ArrayBuffer>, topic: '', have: [], features: [] } }
  // one peer sends B the second entry: verified, it waits for the first
  const [s, p] = pair.script(b)
  p.send(hello)
  p.send({ entries: { entries: [e2], context: [] } })
  await pair.settle()
  assert.is(s.storage.verified, 1, 'held, verified, waiting for its prev')
  assert.is.not(s.core.timeout, pair.now + RETRY_MS, 'nothing is due but its expiry')
  // another sends the first and the third: it stores the first, and holds the third
  const [t, q] = pair.script(b)
  q.send(hello)
  q.send({ entries: { entries: [e1, e3], context: [] } })
  await pair.settle()
  assert.is(b.log.length, 1)
  assert.is(t.storage.verified, 1, 'the third waits for the second')
  assert.is(s.core.timeout, pair.now + RETRY_MS, 'another session\'s commit: a retry is due')
  assert.is.not(t.core.timeout, pair.now + RETRY_MS, 'its own: none, though it holds a verified entry')
  await pair.advance(RETRY_MS)
  assert.is(b.log.length, 2, 'the first session\'s retry stored the second entry')
  assert.is(t.core.timeout, pair.now + RETRY_MS, 'which is another session\'s commit for the second')
  await pair.advance(RETRY_MS)
  assert.is(b.log.length, 3)
  assert.is(s.storage.pending + t.storage.pending, 0)
})

test('the Ack of one frame, whose bytes are made once, is the frame protons makes of it', () => {
  assert.equal(encodeFrame(ACK_ONE).subarray(), encodeFrame({ ack: { batches: 1 } }).subarray())
  assert.equal(decodeFrame(encodeFrame(ACK_ONE).subarray(1)).ack, { batches: 1 })
})

test('encodeEntriesFrame writes the bytes protons writes, entries and context of every varint length', () => {
  const bytes = (n: number, fill: number): Uint8Array<ArrayBuffer> => new Uint8Array(n).fill(fill)
  const lengths = [0, 1, 127, 128, 300, 16_383, 16_384, 70_000]
  for (const [entries, context] of [
    [[], []],
    [lengths.map((n, i) => bytes(n, i)), []],
    [[bytes(135, 1), bytes(200, 2)], [bytes(127, 3), bytes(128, 4)]],
    [Array.from({ length: 3000 }, (_, i) => bytes(130 + (i % 7), i)), [bytes(140, 9)]]
  ]) {
    const ours = encodeEntriesFrame(entries, context).subarray()
    assert.equal(ours, encodeFrame({ entries: { entries, context } }).subarray())
  }
})

test('readEntriesFrame finds what decodeFrame finds in a frame of entries alone, and leaves every other frame to it', () => {
  const bytes = (n: number, fill: number): Uint8Array<ArrayBuffer> => new Uint8Array(n).fill(fill)
  const body = (msg: SyncMessage): Uint8Array => SyncMessage.encode(msg)
  for (const entries of [
    [],
    [bytes(0, 0)],
    [0, 1, 127, 128, 300, 16_383, 16_384, 70_000].map((n, i) => bytes(n, i)),
    Array.from({ length: MAX_BATCH_ENTRIES }, (_, i) => bytes(120 + (i % 13), i))
  ]) {
    // within a larger buffer, as a frame cut from a stream is
    const frame = body({ entries: { entries, context: [] } })
    const within = new Uint8Array(frame.byteLength + 10)
    within.set(frame, 5)
    const read = readEntriesFrame(within.subarray(5, 5 + frame.byteLength))
    assert.ok(read != null)
    assert.equal(read.slice(0).map(e => [...e]), decodeFrame(frame).entries!.entries.map(e => [...e]))
  }
  const one = body({ entries: { entries: [bytes(3, 7)], context: [] } })
  for (const [why, frame] of [
    ['context', body({ entries: { entries: [bytes(3, 1)], context: [bytes(3, 2)] } })],
    ['another message', body({ ack: { batches: 1 } })],
    ['a field after the entries', Uint8Array.from([...one, ...body({ ack: { batches: 1 } })])],
    ['a length not in its shortest form', Uint8Array.from([0x12, 3, 0x0a, 0x81, 0x00])],
    ['a field of another kind among the entries', Uint8Array.from([0x12, 4, 0x0a, 0, 0x18, 1])],
    ['an entry past the end', Uint8Array.from([0x12, 3, 0x0a, 5, 1])],
    ['a body shorter than it says', Uint8Array.from([0x12, 9, 0x0a, 1, 1])],
    ['more than MAX_BATCH_ENTRIES', body({ entries: { entries: Array.from({ length: MAX_BATCH_ENTRIES + 1 }, () => bytes(1, 1)), context: [] } })]
  ] as const) {
    assert.is(readEntriesFrame(frame), undefined, why)
  }
})

test('the frame reader takes bytes in any chunks: one byte at a time, the same session', async () => {
  const a = await pair.node()
  const b = await pair.node()
  await a.emit(MAX_BATCH_ENTRIES + 10)
  const [sa, sb] = pair.connect(a, b)
  sa.wire.chunk = 1
  sb.wire.chunk = 7
  await pair.settle()
  assert.ok(holdsAll(b, a))
  assert.ok(sb.synced)
})

test('a session closed by one side ends normally on both', async () => {
  const a = await pair.node()
  const b = await pair.node()
  const [sa, sb] = pair.connect(a, b)
  await pair.settle()
  sa.core.close()
  await pair.settle()
  assert.equal(sa.ending, { error: undefined, reset: false })
  assert.equal(sb.ending, { error: undefined, reset: false })
})

test.run()
