// The hostile peer of hostile.test.ts sends bad entries: forged, malformed,
// invalid when stored, unsigned or with parents that never come (the pending
// set's bounds), and floods. Each test checks what the node must do and that
// it then still serves an honest HyperEmitter.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryLevel } from 'memory-level'
import { randomBytes } from 'node:crypto'
import { HyperEmitter } from '../src/index.js'
import { Log } from '../src/log/log.js'
import { Ingester, MAX_PENDING_BYTES } from '../src/log/ingest.js'
import { SyncMessage } from '../src/pb/sync.js'
import { MAX_FRAME_BYTES, MAX_INVALID, WINDOW, MAX_BATCH_ENTRIES, REFUSE, SESSION_MAX_PENDING } from '../src/sync/constants.js'
import { collect } from './helpers.js'
import { Author, entriesMessage, varint, lengthPrefixed, newIdentity } from './hostile-peer.js'
import {
  FAST, HELLO, cluster, gc, messages, schema, sleep, target, track, assertRefusedWith, session, sync, servesHonest, assertKeptAway
} from './hostile-target.js'

test.after.each(async () => { await cluster.closeAll() })

// ---------------------------------------------------------------- invalid entries

test('invalid entries are refused with INVALID_ENTRY and reported by peer:invalid; nothing is stored', async () => {
  const { e, addr, base } = await target()
  const { p, s } = await session(e, addr)
  const reports: Array<{ peer: string, count: number }> = []
  e.status.on('peer:invalid', (ev: { peer: string, count: number }) => { reports.push(ev) })
  const own = (): Author => new Author(p.identity)
  const tampered = own().next('Hello', HELLO).bytes
  tampered[tampered.byteLength - 66 - 2] ^= 0x01 // a byte of the payload text: the id and the signature no longer match
  const forged = own().next('Hello', HELLO).bytes
  forged.set(randomBytes(64), forged.byteLength - 64)
  const kinds: Array<[string, Uint8Array]> = [
    ['tampered byte', tampered],
    ['forged signature', forged],
    ['author is not the signer', own().next('Hello', HELLO, { sign: newIdentity() }).bytes],
    ['an event name no schema can define', own().next('no such event', HELLO).bytes],
    ['payload that does not decode', own().next('Hello', Uint8Array.from([0x0f, 0x01])).bytes],
    ['seq 0', own().next('Hello', HELLO, { fields: { seq: 0 } }).bytes],
    ['author of 31 bytes', own().next('Hello', HELLO, { sign: false, fields: { author: new Uint8Array(31) } }).bytes],
    ['over 64 KiB', own().next('Hello', schema.encode('Hello', { from: 'x'.repeat(70_000) }), { sign: false }).bytes]
  ]
  let frames = 0
  for (const [what, bytes] of kinds) {
    const refusals = s.frames.filter(f => f.refuse != null).length
    await s.send(entriesMessage([bytes]))
    frames++
    await s.waitFor(() => s.acks >= frames || s.ending != null, 3000)
    const now = s.frames.filter(f => f.refuse != null)
    assert.is(now.length, refusals + 1, `${what}: one Refuse`)
    assert.is(now[now.length - 1].refuse!.code, REFUSE.INVALID_ENTRY, `${what}: INVALID_ENTRY`)
    assert.is(reports.length, frames, `${what}: peer:invalid`)
    assert.equal({ peer: reports[frames - 1].peer, count: reports[frames - 1].count }, { peer: p.peerId, count: 1 })
  }
  assert.is(s.ending, undefined, 'below MAX_INVALID the session goes on')
  assert.not.ok(sync(e).isBlocked(p.peerId))
  // an unsigned entry tampered with, then the signed one that covers the original
  const a = own()
  const [first, second] = [a.next('Hello', HELLO, { sign: false }).bytes, a.next('Hello', HELLO).bytes]
  first[first.byteLength - 2] ^= 0x01
  await s.send(entriesMessage([first, second]))
  frames++
  await s.waitFor(() => s.acks >= frames, 3000)
  assert.is(e.log.length, base, 'nothing stored')
  assert.ok((await e.verify()).ok)
  await servesHonest(e, addr)
})

test('a peer that keeps sending invalid entries is dropped after MAX_INVALID and kept away', async () => {
  const { e, addr, base } = await target()
  const { p, s } = await session(e, addr)
  let counted = 0
  e.status.on('peer:invalid', (ev: { peer: string, count: number }) => { counted += ev.count })
  for (let i = 0; i <= MAX_INVALID && s.ending == null; i++) {
    await s.send(entriesMessage([new Author(p.identity).next('no such event', HELLO).bytes]))
    await s.waitFor(() => s.frames.filter(f => f.refuse != null).length > i || s.ending != null, 3000)
  }
  await assertRefusedWith(e, p, s, 'INVALID_ENTRY')
  assert.is(counted, MAX_INVALID + 1)
  const notices = s.frames.filter(f => f.refuse != null)
  // a notice for each, and a final one (which the connection close may drop)
  assert.ok(notices.length >= MAX_INVALID, `${notices.length} Refuse frames`)
  assert.ok(notices.every(f => f.refuse!.code === REFUSE.INVALID_ENTRY))
  await assertKeptAway(e, addr, p)
  assert.is(e.log.length, base)
  await servesHonest(e, addr)
})

test('invalid entries found while storing (a wrong Lamport clock) count toward MAX_INVALID too', async () => {
  const { e, addr, base } = await target()
  const { p, s } = await session(e, addr)
  let counted = 0
  e.status.on('peer:invalid', (ev: { peer: string, count: number }) => { counted += ev.count })
  // well formed and signed, but clock 5 on a first entry: refused in the store pass
  const batch = Array.from({ length: MAX_INVALID + 1 }, () => new Author().next('Hello', HELLO, { fields: { clock: 5 } }).bytes)
  await s.send(entriesMessage(batch))
  await s.waitEnd(3000)
  assert.is(counted, MAX_INVALID + 1)
  assert.is(e.log.length, base)
  assert.ok(s.ending != null, 'the stream ended')
  // with a final Refuse{INVALID_ENTRY}, and kept away, as when they are found at checking
  await assertRefusedWith(e, p, s, 'INVALID_ENTRY')
  assert.ok(sync(e).isBlocked(p.peerId), 'the peer is kept away')
})

// ---------------------------------------------------------------- pending

test('unsigned entries that no signature covers: the pending set is bounded, the session ends with LIMIT', async () => {
  const { e, addr, base } = await target()
  const { p, s } = await session(e, addr)
  let sent = 0
  for (let f = 0; s.ending == null && sent <= SESSION_MAX_PENDING + MAX_BATCH_ENTRIES; f++) {
    const batch = Array.from({ length: MAX_BATCH_ENTRIES }, () => Author.unsigned().next('Hello', HELLO, { sign: false }).bytes)
    await s.waitFor(() => f - s.acks < WINDOW || s.ending != null, 5000)
    if (!(await s.send(entriesMessage(batch)))) break
    sent += batch.length
  }
  await s.waitEnd(5000)
  await assertRefusedWith(e, p, s, 'LIMIT')
  assert.ok(sent > SESSION_MAX_PENDING, `${sent} sent`)
  assert.ok(sync(e).isBlocked(p.peerId))
  assert.is(e.log.length, base)
  await servesHonest(e, addr)
})

test('signed entries whose links never arrive: the pending set is bounded, LIMIT', async () => {
  const { e, addr, base } = await target()
  const { p, s } = await session(e, addr)
  for (let f = 0; s.ending == null && f * MAX_BATCH_ENTRIES <= SESSION_MAX_PENDING + MAX_BATCH_ENTRIES; f++) {
    // a chain whose first (signed) entry links an id nobody sends; signed at its tip
    const a = new Author()
    const ghost = new Uint8Array(34)
    ghost.set([0x12, 0x20], 0)
    ghost.set(randomBytes(32), 2)
    const batch = [a.next('Hello', HELLO, { links: [ghost], linkClock: 7 }).bytes]
    for (let i = 1; i < MAX_BATCH_ENTRIES; i++) batch.push(a.next('Hello', HELLO, { sign: i === MAX_BATCH_ENTRIES - 1 }).bytes)
    await s.waitFor(() => f - s.acks < WINDOW || s.ending != null, 5000)
    if (!(await s.send(entriesMessage(batch)))) break
  }
  await s.waitEnd(5000)
  await assertRefusedWith(e, p, s, 'LIMIT')
  assert.ok(sync(e).isBlocked(p.peerId))
  assert.is(e.log.length, base)
  await servesHonest(e, addr)
})

test('large unsigned entries past MAX_PENDING_BYTES: LIMIT', async () => {
  const { e, addr, base } = await target()
  const { p, s } = await session(e, addr)
  const payload = schema.encode('Hello', { from: 'x'.repeat(60_000) })
  let bytes = 0
  for (let f = 0; s.ending == null && bytes <= MAX_PENDING_BYTES + MAX_FRAME_BYTES; f++) {
    const batch = Array.from({ length: 16 }, () => Author.unsigned().next('Hello', payload, { sign: false }).bytes)
    await s.waitFor(() => f - s.acks < WINDOW || s.ending != null, 5000)
    if (!(await s.send(entriesMessage(batch)))) break
    bytes += batch.reduce((n, b) => n + b.byteLength, 0)
  }
  await s.waitEnd(5000)
  await assertRefusedWith(e, p, s, 'LIMIT')
  assert.ok(sync(e).isBlocked(p.peerId))
  assert.is(e.log.length, base)
})

test('pending entries keep only their own bytes, not the whole frame they came in', async () => {
  const { e, addr, base } = await target()
  const { s } = await session(e, addr)
  const frames = 48
  const pad = new Uint8Array(1000 * 1000)
  // what earlier tests left behind goes first
  for (let i = 0; i < 3; i++) {
    await sleep(150)
    gc()
  }
  const before = process.memoryUsage().arrayBuffers
  for (let i = 0; i < frames && s.ending == null; i++) {
    // one small unsigned entry, which waits, and a megabyte of a field the decoder skips
    const body = SyncMessage.encode(entriesMessage([Author.unsigned().next('Hello', HELLO, { sign: false }).bytes]))
    const frame = Buffer.concat([body, Uint8Array.from([0x7a]), varint(pad.byteLength), pad])
    await s.waitFor(() => i - s.acks < WINDOW || s.ending != null, 5000)
    await s.sendFrame(frame)
  }
  await s.waitFor(() => s.acks >= frames || s.ending != null, 5000)
  await sleep(200)
  gc()
  await sleep(50)
  gc()
  const held = process.memoryUsage().arrayBuffers - before
  assert.is(e.log.length, base)
  assert.ok(held < 8 * 1024 * 1024, `${frames} pending entries of ~100 bytes hold ${(held / 1e6).toFixed(1)} MB of buffers`)
})

test('pending entries expire after pendingTtl at the next batch; a late signature then stores nothing', async () => {
  const log = await Log.open(new MemoryLevel())
  const ingester = new Ingester(log, { validate: (name, payload) => { schema.check(name, payload) }, pendingTtl: 150 })
  const a = new Author()
  const unsigned = a.next('Hello', HELLO, { sign: false }).bytes
  const signed = a.next('Hello', HELLO).bytes
  let res = await ingester.add([unsigned])
  assert.is(res.pending, 1)
  assert.is(res.stored.length, 0)
  await sleep(300)
  res = await ingester.add([signed])
  assert.is(res.stored.length, 0, 'the expired entry is gone, so its successor cannot be stored')
  assert.is(res.pending, 1, 'only the late signed entry waits')
  assert.is(log.length, 0)
  await sleep(300)
  res = await ingester.add([])
  assert.is(res.pending, 0)
  await log.close()
})

test('pending entries expire after pendingTtl even when the peer goes quiet', async () => {
  const log = await Log.open(new MemoryLevel())
  const ingester = new Ingester(log, { validate: (name, payload) => { schema.check(name, payload) }, pendingTtl: 150 })
  const res = await ingester.add(Array.from({ length: 100 }, () => Author.unsigned().next('Hello', HELLO, { sign: false }).bytes))
  assert.is(res.pending, 100)
  await sleep(500)
  assert.is(ingester.pending, 0, 'a peer that parks entries and then says nothing does not keep them alive')
  await log.close()
})

test('entries that arrive before their parents do not stall their author\'s chain for the rest of the session', async () => {
  const log = await Log.open(new MemoryLevel())
  const ingester = new Ingester(log, { validate: (name, payload) => { schema.check(name, payload) } })
  const a = new Author()
  // a commit group of three: two unsigned entries, then the signed one
  const [one, two, three] = a.chain(3, 'Hello', () => HELLO, 3).map(b => b.bytes)
  // the middle one comes early (out of order, or as a replay); then the group, in order
  await ingester.add([two])
  const res = await ingester.add([one, two, three])
  assert.is(res.stored.length + (await ingester.add([])).stored.length, 3, 'the group is stored once all of it is there')
  assert.is(log.length, 3)
  assert.is(ingester.pending, 0)
  await log.close()
})

// ---------------------------------------------------------------- floods

test('a flood of valid signed entries at the window\'s pace: an honest peer\'s event still arrives within seconds', async () => {
  const { e, addr } = await target()
  const honest = track(new HyperEmitter(new MemoryLevel(), messages, FAST))
  await honest.connect(addr)
  const { p, s } = await session(e, addr)
  const a = new Author(p.identity)
  let frames = 0
  let stop = false
  const flood = (async () => {
    while (!stop && s.ending == null) {
      await s.waitFor(() => frames - s.acks < WINDOW || s.ending != null, 10_000)
      // a commit group: one signature covers the frame
      if (!(await s.send(entriesMessage(a.chain(MAX_BATCH_ENTRIES, 'Hello', () => HELLO, MAX_BATCH_ENTRIES).map(b => b.bytes))))) break
      frames++
    }
  })()
  await sleep(800)
  const started = Date.now()
  const got = collect<{ value: number }>(e, 'Integer', 1, 8000)
  await honest.emit('Integer', { value: 42 })
  assert.is((await got)[0].value, 42)
  const latency = Date.now() - started
  // the flood goes on meanwhile, at the pace of the node's store
  await s.waitFor(() => s.acks >= WINDOW || s.ending != null, 5000)
  stop = true
  await flood
  assert.ok(latency < 5000, `the honest event took ${latency} ms`)
  assert.ok(s.acks >= WINDOW, `the flood went on (${s.acks} frames acknowledged)`)
  assert.is(s.refused, undefined, 'a sender that keeps to the window is not refused')
  assert.ok(e.log.length > s.acks * MAX_BATCH_ENTRIES / 2, 'the flood was stored')
})

test('a peer that ignores the window (more Entries frames than WINDOW without Acks) is refused with LIMIT', async () => {
  const { e, addr } = await target()
  const { p, s } = await session(e, addr)
  const a = new Author(p.identity)
  // small frames, all within one yamux receive window: the transport hands
  // them over at once (large ones it paces by window updates, and the node
  // would acknowledge each before the next came)
  const frames = Array.from({ length: 2 * WINDOW + 1 }, () => lengthPrefixed(SyncMessage.encode(entriesMessage(a.chain(20, 'Hello', () => HELLO, 20).map(b => b.bytes)))))
  // all at once, without reading a single Ack
  await s.sendRaw(Buffer.concat(frames))
  await s.waitEnd(5000)
  await assertRefusedWith(e, p, s, 'LIMIT')
  assert.ok(sync(e).isBlocked(p.peerId))
  await servesHonest(e, addr)
})

test('replayed signed entries are not verified again: a duplicate costs far less than a signature check', async () => {
  const log = await Log.open(new MemoryLevel())
  const ingester = new Ingester(log, { validate: (name, payload) => { schema.check(name, payload) } })
  const a = new Author()
  const signed = a.next('Hello', HELLO).bytes
  assert.is((await ingester.add([signed])).stored.length, 1)
  // an unsigned fork of the stored entry: also a duplicate, but nothing to verify
  const fork = new Author(a.identity).next('Hello', schema.encode('Hello', { from: 'fork' }), { sign: false }).bytes
  const time = (bytes: Uint8Array): number => {
    const batch = new Array<Uint8Array>(MAX_BATCH_ENTRIES).fill(bytes)
    let best = Infinity
    for (let i = 0; i < 3; i++) {
      const t = performance.now()
      const res = ingester.accept(batch)
      best = Math.min(best, performance.now() - t)
      assert.is(res.duplicates, MAX_BATCH_ENTRIES)
    }
    return best
  }
  const unsigned = time(fork)
  const replayed = time(signed)
  assert.ok(replayed < 4 * unsigned + 20, `${MAX_BATCH_ENTRIES} replays of a stored signed entry took ${replayed.toFixed(0)} ms, ${MAX_BATCH_ENTRIES} unsigned duplicates ${unsigned.toFixed(0)} ms`)
  await log.close()
})

test.run()
