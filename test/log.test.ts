import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ClassicLevel } from 'classic-level'
import { Log, WAL_NAME } from '../src/log/log.js'
import { Wal } from '../src/log/wal.js'
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import fc from 'fast-check'
import { join } from 'node:path'
import { Ingester } from '../src/log/ingest.js'
import { Entry, encodeEntry, entryId, readEntry, toHex } from '../src/log/entry.js'
import { Identity } from '../src/log/identity.js'
import { Schema } from '../src/schema/index.js'
import { LEVELS, fixture, flipFeedByte, flipStoredByte } from './helpers.js'
import { MemoryLevel } from 'memory-level'
import { sublevels } from '../src/log/level.js'
import { verify } from '../src/log/verify.js'
import { Boundary } from '../src/log/floors.js'
import { idValue, seqKey } from '../src/log/keys.js'
import { readBytes } from '../src/log/reads.js'
import { StorageError } from '../src/errors.js'
import type { VerifyReport } from '../src/log/types.js'

const schema = new Schema(await fixture('basic.proto'))
const payload = (num: number): Uint8Array<ArrayBuffer> => schema.encode('Test1', { num })
const validate = (name: string, bytes: Uint8Array): void => { schema.check(name, bytes) }

async function copyAll (from: Log, to: Ingester, batch = 100): Promise<number> {
  let stored = 0
  for (let pos = 1; pos <= from.length; pos += batch) {
    const chunk = await from.read(pos, batch)
    const res = await to.add(chunk.map(e => e.bytes))
    assert.is(res.invalid.length, 0, res.invalid.map(e => e.message).join())
    stored += res.stored.length
  }
  return stored
}

// One suite, run on every level implementation and again on a sublevel.
for (const [kind, make] of Object.entries(LEVELS)) {
  for (const nested of [false, true]) {
    const t = suite(`log on ${kind}${nested ? ' (sublevel)' : ''}`)
    // what a test opened is closed and removed after it, even when an
    // assertion failed half-way (closing twice is harmless)
    const opened: Array<{ log: Log, cleanup: () => Promise<void> }> = []
    const open = async () => {
      const lv = await make()
      const db = nested ? lv.db.sublevel('inner') : lv.db
      const handle = { log: await Log.open(db), ...lv, db }
      opened.push(handle)
      return handle
    }
    t.after.each(async () => {
      for (const { log, cleanup } of opened.splice(0)) {
        await log.close().catch(() => {})
        await cleanup()
      }
    })

    t('append stores entries whose id is the hash of their bytes', async () => {
      const { log, cleanup } = await open()
      const a = await log.append('Test1', payload(1))
      const b = await log.append('Test1', payload(2))
      assert.is(log.length, 2)
      assert.equal(toHex(entryId(a.bytes)), toHex(a.id))
      assert.equal(await log.get(b.id), b.bytes)
      assert.equal(log.heads().map(toHex), [toHex(b.id)])
      assert.equal(toHex(b.entry.prev), toHex(a.id))
      assert.is(b.entry.seq, 2)
      assert.ok(b.entry.clock > a.entry.clock)
      const read = await log.read(1, 10)
      assert.equal(read.map(e => toHex(e.id)), [toHex(a.id), toHex(b.id)])
      await log.close(); await cleanup()
    })

    t('an entry is found once its append resolves, while level catches up', async () => {
      const { log, cleanup } = await open()
      for (let i = 0; i < 200; i++) {
        const e = await log.append('Test1', payload(i))
        assert.ok(await log.get(e.id), `get after append ${i}`)
        const f = await log.append('Test1', payload(i))
        assert.equal(await log.clocks([f.id]), [f.entry.clock], `clocks after append ${i}`)
      }
      await log.close(); await cleanup()
    })

    t('verify() stops its walk when its signal aborts, and rejects with the reason', async () => {
      const { log, cleanup } = await open()
      await Promise.all(Array.from({ length: 3000 }, (_, i) => log.append('Test1', payload(i))))
      const controller = new AbortController()
      const reason = new Error('enough')
      const walking = log.verify({ signal: controller.signal })
      controller.abort(reason)
      await walking.then(() => assert.unreachable('the walk ran to its end'), (err: Error) => { assert.is(err, reason) })
      assert.ok((await log.verify()).ok)
      await log.close(); await cleanup()
    })

    t('concurrent appends commit as groups with one signature each', async () => {
      const { log, cleanup } = await open()
      const stored = await Promise.all(Array.from({ length: 500 }, (_, i) => log.append('Test1', payload(i))))
      const signed = stored.filter(e => Entry.decode(e.bytes).signature.byteLength > 0)
      assert.ok(signed.length >= 1 && signed.length < 10, `${signed.length} signatures`)
      assert.ok(Entry.decode(stored[stored.length - 1].bytes).signature.byteLength > 0, 'the newest entry is signed')
      const report = await log.verify()
      assert.ok(report.ok, JSON.stringify(report.problems))
      assert.is(report.entries, 500)
      await log.close(); await cleanup()
    })

    t('ingest copies a log: same heads, verify passes, nothing twice', async () => {
      const a = await open()
      const b = await open()
      for (let i = 0; i < 3; i++) await Promise.all(Array.from({ length: 50 }, (_, j) => a.log.append('Test1', payload(i * 100 + j))))
      await b.log.append('Test2', schema.encode('Test2', { id: 1 }))
      const ing = new Ingester(b.log, { validate })
      assert.is(await copyAll(a.log, ing, 7), 150)
      assert.is(await copyAll(a.log, ing, 7), 0, 'a second copy stores nothing')
      assert.is(b.log.length, 151)
      assert.is(b.log.authorSeq(toHex(a.log.identity.publicKey)), 150)
      const report = await b.log.verify()
      assert.ok(report.ok, JSON.stringify(report.problems))
      // a's entries are missing from a peer that has only b's
      const missing = await b.log.missing(new Map([[toHex(b.log.identity.publicKey), 1]]), 1000)
      assert.is(missing.length, 150)
      const none = await b.log.missing(b.log.vector(), 1000)
      assert.is(none.length, 0)
      await a.log.close(); await b.log.close(); await a.cleanup(); await b.cleanup()
    })

    t('commit listeners are told who stored: what store() was given, nothing for appends', async () => {
      const a = await open()
      const b = await open()
      const told: Array<[number, object | undefined]> = []
      a.log.onCommit((entries, by) => { told.push([entries.length, by]) })
      const session = {}
      await a.log.store([await b.log.append('Test1', payload(0))], undefined, session)
      await a.log.append('Test1', payload(1))
      assert.equal(told, [[1, session], [1, undefined]])
      assert.ok(told[0][1] === session)
      await a.log.close(); await b.log.close(); await a.cleanup(); await b.cleanup()
    })

    t('missing() answers for the log as it was when called, while commits end runs', async () => {
      const a = await open()
      const b = await open()
      const me = toHex(a.log.identity.publicKey)
      await a.log.store([await b.log.append('Test1', payload(0))])
      for (let round = 0; round < 20; round++) {
        // a run of this node's entries, then, while missing() reads, a remote
        // entry that ends the run and a local one that starts the next
        await a.log.append('Test1', payload(1))
        const seq = a.log.authorSeq(me)
        const length = a.log.length
        const asked = a.log.missing(new Map([[me, seq - 1], [toHex(b.log.identity.publicKey), Infinity]]), 1000)
        const remote = await b.log.append('Test1', payload(round))
        const later = Promise.all([a.log.store([remote]), a.log.append('Test1', payload(2))])
        const got = await asked
        await later
        assert.equal(got.map(m => [m.seq, m.authorSeq]), [[length, seq]], `round ${round}: the entry the peer lacks, at its feed position`)
      }
      await a.log.close(); await b.log.close(); await a.cleanup(); await b.cleanup()
    })

    t('forged and invalid entries are refused, never stored', async () => {
      const a = await open()
      const b = await open()
      await Promise.all([1, 2, 3].map(i => a.log.append('Test1', payload(i))))
      const good = (await a.log.read(1, 3)).map(e => e.bytes)
      const ing = new Ingester(b.log, { validate, pendingTtl: 60_000 })
      const mallory = Identity.generate()
      const base = Entry.decode(good[0])
      const fields = { author: base.author, seq: 1, prev: new Uint8Array(0), links: [], clock: 1, timestamp: 1, name: 'Test1', payload: payload(9) }
      // signed by mallory, claiming a's authorship
      const forged = encodeEntry(fields, mallory)
      // a's signed entry with a flipped payload byte
      const tampered = new Uint8Array(good[2]); tampered[tampered.length - 70] ^= 1
      const unknown = encodeEntry({ ...fields, author: mallory.publicKey, name: 'Nope' }, mallory)
      const undecodable = encodeEntry({ ...fields, author: mallory.publicKey, payload: new Uint8Array([0xff, 0xff]) }, mallory)
      const missingRequired = encodeEntry({ ...fields, author: mallory.publicKey, payload: new Uint8Array(0) }, mallory)
      const garbage = new Uint8Array([1, 2, 3, 4, 5])
      const res = await ing.add([forged, tampered, unknown, undecodable, missingRequired, garbage])
      assert.is(res.invalid.length, 6, res.invalid.map(e => e.message).join(' | '))
      assert.ok(res.invalid.every(e => e.name === 'InvalidEntryError'))
      assert.is(b.log.length, 0)
      // unsigned entries with no signed successor wait, then the real one arrives
      const r1 = await ing.add([good[0], good[1]])
      assert.is(r1.stored.length, 0)
      assert.is(r1.pending, 2)
      const r2 = await ing.add([good[2]])
      assert.is(r2.stored.length, 3)
      assert.ok((await b.log.verify()).ok)
      await a.log.close(); await b.log.close(); await a.cleanup(); await b.cleanup()
    })

    t('an unsigned entry whose bytes were changed is never covered', async () => {
      const a = await open()
      const b = await open()
      await Promise.all([1, 2].map(i => a.log.append('Test1', payload(i))))
      const [first, second] = (await a.log.read(1, 2)).map(e => e.bytes)
      const changed = encodeEntry({ ...Entry.decode(first), payload: payload(666) })
      const ing = new Ingester(b.log, { validate })
      const res = await ing.add([changed, second])
      assert.is(res.stored.length, 0)
      assert.is(b.log.length, 0)
      await a.log.close(); await b.log.close(); await a.cleanup(); await b.cleanup()
    })

    t('writers: entries by other authors are refused', async () => {
      const a = await open()
      const b = await open()
      await a.log.append('Test1', payload(1))
      const ing = new Ingester(b.log, { validate, accept: () => false })
      const res = await ing.add((await a.log.read(1, 1)).map(e => e.bytes))
      assert.is(res.refused, 1, 'left out by policy')
      assert.is(res.invalid.length, 0, 'not counted against the relay')
      assert.is(b.log.length, 0)
      await a.log.close(); await b.log.close(); await a.cleanup(); await b.cleanup()
    })

    t('an entry whose clock is not one more than its parents is refused', async () => {
      const a = await open()
      const b = await open()
      const mallory = Identity.generate()
      const fields = { author: mallory.publicKey, seq: 1, prev: new Uint8Array(0), links: [], clock: Number.MAX_SAFE_INTEGER, timestamp: 1, name: 'Test1', payload: payload(1) }
      const ing = new Ingester(b.log, { validate })
      const res = await ing.add([encodeEntry(fields, mallory)])
      assert.is(res.invalid.length, 1)
      assert.match(res.invalid[0].message, /clock/)
      assert.is(b.log.length, 0)
      // a correct one from the same author goes in, and local entries follow it
      const ok = await ing.add([encodeEntry({ ...fields, clock: 1 }, mallory)])
      assert.is(ok.stored.length, 1)
      const local = await b.log.append('Test1', payload(2))
      assert.is(local.entry.clock, 2)
      assert.ok((await b.log.verify()).ok)
      await a.log.close(); await b.log.close(); await a.cleanup(); await b.cleanup()
    })

    t('a log opened after a crash (no checkpoint) replays the feed to the same state', async () => {
      const a = await open()
      const b = await open()
      await b.log.append('Test2', schema.encode('Test2', { id: 1 }))
      for (let i = 0; i < 5; i++) await a.log.append('Test1', payload(i))
      const ing = new Ingester(a.log, { validate })
      await ing.add((await b.log.read(1, 1)).map(e => e.bytes))
      for (let i = 0; i < 5; i++) await a.log.append('Test1', payload(10 + i))
      const heads = a.log.heads().map(toHex)
      const vector = [...a.log.vector()]
      // a second Log on the same open db, as a process would after a crash:
      // the first never wrote its close-time checkpoint
      const again = await Log.open(a.db)
      assert.is(again.length, 11)
      assert.equal(again.heads().map(toHex), heads)
      assert.equal([...again.vector()], vector)
      assert.is((await again.missing(new Map(), 100)).length, 11)
      const next = await again.append('Test1', payload(99))
      assert.is(next.entry.seq, 11)
      assert.is(next.entry.clock, 11)
      assert.ok((await again.verify()).ok)
      await again.close(); await b.log.close(); await a.cleanup(); await b.cleanup()
    })

    t('an oversized local entry is refused before it is stored', async () => {
      const { log, cleanup } = await open()
      try {
        await log.append('Test1', new Uint8Array(100_000))
        assert.unreachable()
      } catch (err) {
        assert.is((err as Error).name, 'InvalidMessageError')
      }
      assert.is(log.length, 0)
      await log.close(); await cleanup()
    })

    t('unsigned entries wait while the signed one covering them waits for a link', async () => {
      const b = await open()
      const alice = Identity.generate()
      const bob = Identity.generate()
      const base = { links: [], timestamp: 1, name: 'Test1', payload: payload(1) }
      const bob1 = encodeEntry({ ...base, author: bob.publicKey, seq: 1, prev: new Uint8Array(0), clock: 1 }, bob)
      const a1 = encodeEntry({ ...base, author: alice.publicKey, seq: 1, prev: new Uint8Array(0), clock: 1 })
      // a2 is signed and links bob1, which has not arrived
      const a2 = encodeEntry({ ...base, author: alice.publicKey, seq: 2, prev: entryId(a1), links: [entryId(bob1)], clock: 2 }, alice)
      const ing = new Ingester(b.log, { validate })
      const r1 = await ing.add([a1, a2])
      assert.is(r1.stored.length, 0, 'a1 is not stored without a2')
      assert.is(r1.pending, 2)
      const r2 = await ing.add([bob1])
      assert.is(r2.stored.length, 3)
      assert.ok((await b.log.verify()).ok)
      await b.log.close(); await b.cleanup()
    })

    t('the pending set is bounded', async () => {
      const a = await open()
      const b = await open()
      await Promise.all(Array.from({ length: 20 }, (_, i) => a.log.append('Test1', payload(i))))
      const unsigned = (await a.log.read(1, 19)).map(e => e.bytes)
      const ing = new Ingester(b.log, { validate, maxPendingEntries: 10 })
      try {
        await ing.add(unsigned)
        assert.unreachable()
      } catch (err) {
        assert.is((err as Error).name, 'ProtocolError')
      }
      assert.is(ing.pending, 0)
      assert.is(b.log.length, 0)
      await a.log.close(); await b.log.close(); await a.cleanup(); await b.cleanup()
    })

    t.run()
  }
}

const enc = suite('entry encoding')

const bytes = (max: number): fc.Arbitrary<Uint8Array<ArrayBuffer>> => fc.uint8Array({ maxLength: max }).map(b => new Uint8Array(b))
/** any entry's fields, within the ranges the encoding takes */
const entryFields = fc.record({
  author: bytes(40),
  seq: fc.maxSafeNat(),
  prev: bytes(40),
  links: fc.array(bytes(40), { maxLength: 4 }),
  clock: fc.oneof(fc.nat(300), fc.maxSafeNat()),
  timestamp: fc.oneof(fc.constant(0), fc.maxSafeNat()),
  name: fc.string({ unit: 'binary', maxLength: 20 }),
  payload: bytes(300)
})

enc('encodeEntry writes the bytes protons writes, for any fields; signed, it appends field 15 over them', () => {
  const signer = Identity.generate()
  fc.assert(fc.property(entryFields, fields => {
    const protons = toHex(Entry.encode({ ...fields, signature: new Uint8Array(0) }))
    assert.is(toHex(encodeEntry(fields)), protons)
    const signed = encodeEntry(fields, signer)
    const signature = signer.sign(Buffer.from(protons, 'hex'))
    assert.is(toHex(signed), protons + '7a40' + toHex(signature))
  }), { numRuns: 500 })
})

const same = (a: Entry, b: Entry): string => JSON.stringify([a, b].map(e => ({ ...e, author: toHex(e.author), prev: toHex(e.prev), links: e.links.map(toHex), payload: toHex(e.payload), signature: toHex(e.signature) })))

enc('readEntry reads what protons reads from any encoded entry, and from random bytes it reads nothing protons would read otherwise', () => {
  const signer = Identity.generate()
  fc.assert(fc.property(entryFields, fc.boolean(), (fields, signed) => {
    const encoded = encodeEntry(fields, signed ? signer : undefined)
    const [a, b] = [readEntry(encoded), Entry.decode(encoded)]
    const pair = JSON.parse(same(a, b)) as unknown[]
    assert.equal(pair[0], pair[1])
  }), { numRuns: 500 })
  let read = 0
  fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), raw => {
    let a: Entry
    try {
      a = readEntry(raw)
    } catch {
      return
    }
    read++
    const pair = JSON.parse(same(a, Entry.decode(raw))) as unknown[]
    assert.equal(pair[0], pair[1])
  }), { numRuns: 3000 })
  assert.ok(read > 100, `only ${read} random byte strings read`)
  // stricter than protons
  for (const [bad, why] of [
    [[0x10, 0x81, 0x00], 'a varint not in its shortest form'],
    [[0x12, 0x01, 0x05], 'seq with wire type 2'],
    [[0x78, 0x01], 'a signature with wire type 0'],
    [[0x40, 0x01], 'a payload with wire type 0'],
    [[0x0a, 0x05, 0x01], 'bytes past the end'],
    [[0x1b], 'a group'],
    [[0x3a, 0x02, 0xc3, 0x28], 'a name that is not UTF-8'],
    [[0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], 'a varint over 2^53']
  ] as Array<[number[], string]>) {
    assert.throws(() => readEntry(new Uint8Array(bad)), undefined, why)
  }
  const links = encodeEntry({ author: signer.publicKey, seq: 2, prev: new Uint8Array(34), links: Array.from({ length: 65 }, () => new Uint8Array(34)), clock: 2, timestamp: 1, name: 'Test1', payload: new Uint8Array(0) })
  assert.throws(() => readEntry(links), /links/)
})

enc.run()

const t = suite('log on classic-level, across reopen')

t('state survives a reopen and verify finds a tampered entry', async () => {
  const lv = await LEVELS['classic-level']()
  const log = await Log.open(lv.db)
  await Promise.all(Array.from({ length: 20 }, (_, i) => log.append('Test1', payload(i))))
  const heads = log.heads().map(toHex)
  const author = toHex(log.identity.publicKey)
  await log.close()
  const again = await Log.open(new ClassicLevel(lv.path))
  assert.is(again.length, 20)
  assert.equal(again.heads().map(toHex), heads)
  assert.is(toHex(again.identity.publicKey), author)
  const next = await again.append('Test1', payload(99))
  assert.is(next.entry.seq, 21)
  assert.ok((await again.verify()).ok)
  // flip one payload byte of entry 5 in place
  await again.close()
  await flipStoredByte(lv.path, 5)
  const check = await Log.open(new ClassicLevel(lv.path))
  const report = await check.verify()
  assert.not.ok(report.ok)
  assert.ok(report.problems.some(p => p.seq === 5 && /id does not match/.test(p.problem)), JSON.stringify(report.problems))
  await check.close()
  await lv.cleanup()
})

t('a run of positions read from a feed with a record missing, or cut short, is a damaged db', async () => {
  const db = new MemoryLevel<Buffer, Buffer>({ keyEncoding: 'buffer', valueEncoding: 'buffer' })
  const log = await Log.open(db)
  await Promise.all(Array.from({ length: 200 }, (_, i) => log.append('Test1', payload(i))))
  await log.read(200, 1)
  const { feed } = sublevels(db)
  const run = Array.from({ length: 40 }, (_, i) => 50 + i)
  assert.is((await readBytes({ feed }, run)).length, 40)
  const record = (await feed.get(seqKey(65)))!
  await feed.put(seqKey(65), record.subarray(0, record.byteLength - 1))
  const damaged = async (seqs: number[], message: RegExp): Promise<void> => {
    await readBytes({ feed }, seqs).then(() => assert.unreachable('read'), (err: Error) => {
      assert.instance(err, StorageError)
      assert.match(err.message, message)
    })
  }
  await damaged(run, /the feed record at position 65 is cut short: the db is damaged/)
  await feed.del(seqKey(65))
  await damaged(run, /feed position 65 is missing: the db is damaged/)
  // not a run: read by position, as before
  await damaged([...run, 60], /feed position 65 is missing: the db is damaged/)
  await log.close()
})

t('the feed in records of up to PACK_ENTRIES entries: reads from any position, by position and by id, across records of a group and of single emits; a floor inside a record', async () => {
  const lv = await LEVELS['classic-level']()
  const log = await Log.open(lv.db)
  try {
    // one group of 200 (records of a block of PACK_ENTRIES each), then single commits
    await Promise.all(Array.from({ length: 200 }, (_, i) => log.append('Test1', payload(i))))
    for (let i = 200; i < 210; i++) await log.append('Test1', payload(i))
    const all = await log.read(1, 1000)
    assert.equal(all.map(e => e.seq), Array.from({ length: 210 }, (_, i) => i + 1))
    for (const [from, limit] of [[1, 1], [64, 3], [70, 5], [193, 20], [205, 100], [211, 5]]) {
      assert.equal((await log.read(from, limit)).map(e => e.seq), all.slice(from - 1, from - 1 + limit).map(e => e.seq), `read(${from}, ${limit})`)
    }
    const seqs = [150, 3, 64, 65, 210, 1, 129, 150, 201]
    assert.equal((await log.readBytes(seqs)).map(b => toHex(b)), seqs.map(s => toHex(all[s - 1].bytes)))
    // over 16 positions: the records at block starts, then those at the first of each run not found (the single commits)
    const many = [...seqs, 209, 202, 203, 205, 206, 207, 2, 33, 34, 100, 208, 17]
    assert.equal((await log.readBytes(many)).map(b => toHex(b)), many.map(s => toHex(all[s - 1].bytes)))
    // runs of consecutive positions: one walk of their records, from inside a block, across blocks, into single commits
    for (const [from, to] of [[1, 17], [60, 130], [190, 210], [1, 210]]) {
      const span = Array.from({ length: to - from + 1 }, (_, i) => from + i)
      assert.equal((await log.readBytes(span)).map(b => toHex(b)), span.map(s => toHex(all[s - 1].bytes)), `${from} to ${to}`)
    }
    for (const seq of [1, 100, 193, 206]) assert.equal(toHex((await log.get(all[seq - 1].id))!), toHex(all[seq - 1].bytes))
    // retention to a floor inside a record (100 is not the end of a block): the rest of it is kept under 101
    await log.compact({ maxEvents: 110 })
    assert.is(log.floor, 100)
    assert.equal((await log.read(1, 3)).map(e => e.seq), [101, 102, 103])
    assert.equal((await log.readBytes([128, 101])).map(b => toHex(b)), [toHex(all[127].bytes), toHex(all[100].bytes)])
    const after = Array.from({ length: 40 }, (_, i) => 101 + i)
    assert.equal((await log.readBytes(after)).map(b => toHex(b)), after.map(s => toHex(all[s - 1].bytes)))
    const kept = Array.from({ length: 20 }, (_, i) => 101 + i * 5)
    assert.equal((await log.readBytes(kept)).map(b => toHex(b)), kept.map(s => toHex(all[s - 1].bytes)))
    assert.is(await log.get(all[99].id), undefined)
    const report = await log.verify()
    assert.ok(report.ok, JSON.stringify(report.problems))
    assert.is(report.entries, 110)
  } finally {
    await log.close()
    await lv.cleanup()
  }
})

t('commits that only the write-ahead file holds (a crash before level had them) are stored at the next open; a torn record at its end is dropped', async () => {
  const lv = await LEVELS['classic-level']()
  const log = await Log.open(lv.db)
  for (let i = 0; i < 10; i++) await log.append('Test1', payload(i))
  await log.close()
  // the same log on a copy goes 5 entries further: those are what a crash
  // would have left in the write-ahead file only
  const copy = `${lv.path}-copy`
  cpSync(lv.path, copy, { recursive: true })
  const ahead = await Log.open(new ClassicLevel(copy))
  const more = await Promise.all(Array.from({ length: 5 }, (_, i) => ahead.append('Test1', payload(10 + i))))
  const heads = ahead.heads().map(toHex)
  await ahead.close()
  const walPath = join(lv.path, WAL_NAME)
  const { wal } = Wal.open(walPath)
  wal.append(more[0].seq, more.map(e => e.bytes), false)
  wal.close()
  appendFileSync(walPath, Buffer.from([0, 0, 1, 0, 9, 9]))

  const again = await Log.open(new ClassicLevel(lv.path))
  assert.is(again.length, 15)
  assert.equal(again.heads().map(toHex), heads)
  assert.equal((await again.read(11, 5)).map(e => toHex(e.id)), more.map(e => toHex(e.id)))
  assert.ok((await again.verify()).ok)
  assert.is(statSync(walPath).size, 0, 'emptied once level has it')
  assert.is((await again.append('Test1', payload(99))).seq, 16)
  await again.close()
  rmSync(copy, { recursive: true, force: true })
  await lv.cleanup()
})

t('the write-ahead file keeps its good records, drops a torn end, and appends after it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hyperemitter-wal-'))
  const path = join(dir, 'wal')
  const bytes = (n: number): Uint8Array => new Uint8Array(n).fill(n)
  let { wal, records } = Wal.open(path)
  assert.equal(records, [])
  wal.append(1, [bytes(3), bytes(5)], false)
  wal.append(3, [bytes(7)], true)
  wal.close()
  const good = statSync(path).size
  // a record cut short, then garbage
  appendFileSync(path, Buffer.from([0, 0, 0, 40, 1, 2, 3, 4, 0, 0]))
  ;({ wal, records } = Wal.open(path))
  assert.equal(records.map(r => [r.firstSeq, r.entries.map(e => e.byteLength)]), [[1, [3, 5]], [3, [7]]])
  assert.is(statSync(path).size, good, 'the torn end is cut off')
  wal.append(4, [bytes(9)], false)
  wal.close()
  // a flipped byte inside a record ends the file there
  const data = readFileSync(path)
  ;({ wal, records } = Wal.open(path))
  assert.equal(records.map(r => r.firstSeq), [1, 3, 4])
  wal.reset()
  assert.is(wal.size, 0)
  wal.close()
  data[good + 20] ^= 1
  writeFileSync(path, data)
  ;({ wal, records } = Wal.open(path))
  assert.equal(records.map(r => r.firstSeq), [1, 3])
  wal.close()
  rmSync(dir, { recursive: true, force: true })
})

t.run()

const v = suite('verify against the state')

v('the heads are the entries no later one names as prev or link; other heads, or a seq the feed does not end at, are problems', async () => {
  const dbA = new MemoryLevel()
  const dbB = new MemoryLevel()
  const a = await Log.open(dbA)
  const b = await Log.open(dbB)
  for (let i = 0; i < 3; i++) await a.append('Test1', payload(i))
  await copyAll(a, new Ingester(b, { validate }))
  // b's first entry links a's head; b's second has it as prev
  await b.append('Test1', payload(10))
  await b.append('Test1', payload(11))
  const [aHead] = a.heads().map(toHex)
  const [bFirst, bHead] = (await b.read(4, 2)).map(e => toHex(e.id))
  assert.equal(b.heads().map(toHex), [bHead])
  const aKey = toHex(a.identity.publicKey)
  const bKey = toHex(b.identity.publicKey)
  const view = { length: 5, seqs: new Map([[aKey, 3], [bKey, 2]]), heads: [bHead] }
  const levels = sublevels(dbB)
  const ok = await verify(levels, view)
  assert.ok(ok.ok, JSON.stringify(ok.problems))
  assert.is(ok.entries, 5)
  assert.is(ok.authors, 2)
  for (const heads of [[aHead, bHead].sort(), [bFirst, bHead].sort(), []]) {
    const report = await verify(levels, { ...view, heads })
    assert.not.ok(report.ok)
    assert.ok(report.problems.some(p => p.problem.startsWith(`the heads are ${heads.join(', ')}; the feed says ${bHead}`)), JSON.stringify(report.problems))
  }
  const report = await verify(levels, { ...view, seqs: new Map([[aKey, 3], [bKey, 3]]) })
  assert.ok(report.problems.some(p => p.problem === `author ${bKey} index says seq 3, the feed 2`), JSON.stringify(report.problems))
  await a.close()
  await b.close()
})

v('on a worker thread, verify finds just what it finds in this thread: a damaged entry, missing, wrong and extra id records, after retention', async () => {
  const db = new MemoryLevel()
  const log = await Log.open(db)
  try {
    await Promise.all(Array.from({ length: 200 }, (_, i) => log.append('Test1', payload(i))))
    for (let i = 200; i < 210; i++) await log.append('Test1', payload(i))
    await log.compact({ maxEvents: 110 })
    const levels = sublevels(db)
    const view = { length: log.length, seqs: new Map([[toHex(log.identity.publicKey), log.length]]), heads: log.heads().map(toHex).sort() }
    const boundary = await Boundary.load(levels)
    const both = async (): Promise<VerifyReport> => {
      const here = await verify(levels, view, undefined, boundary, Infinity)
      assert.equal(await verify(levels, view, undefined, boundary, 0), here)
      return here
    }
    assert.ok((await both()).ok)
    const entries = await log.read(101, 110)
    const at = (seq: number): Uint8Array => entries[seq - 101].id
    // a flipped byte in the entry at 150
    await flipFeedByte(levels.feed, 150)
    // no id record for 160, a wrong clock in 170's, and one more for position 180
    await levels.ids.del(Buffer.from(at(160)))
    await levels.ids.put(Buffer.from(at(170)), idValue(170, entries[69].entry.clock + 5))
    await levels.ids.put(Buffer.from(at(190)).fill(7, 2), idValue(180, entries[79].entry.clock))
    const report = await both()
    const problems = report.problems.map(p => `${p.seq ?? ''} ${p.problem}`)
    for (const problem of ['150 id does not match the entry bytes', ` its id record says clock ${entries[69].entry.clock + 5}`, ' an id record (feed position 180) for no entry of the feed', ' an id record (feed position 150) for no entry of the feed']) {
      assert.ok(problems.some(p => p.endsWith(problem)), `${problem} in ${JSON.stringify(problems)}`)
    }
    assert.ok(problems.some(p => / entries of the feed have no id record$/.test(p)), JSON.stringify(problems))
  } finally {
    await log.close()
  }
})

v.run()
