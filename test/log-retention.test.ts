// Retention (src/log/retention.ts, floors.ts): a log drops a prefix of its
// feed and stays verifiable, across restarts, on every level implementation.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ClassicLevel } from 'classic-level'
import { MemoryLevel } from 'memory-level'
import { join } from 'node:path'
import { Log } from '../src/log/log.js'
import { Ingester } from '../src/log/ingest.js'
import { decodeEntry, toHex } from '../src/log/entry.js'
import { context } from '../src/sync/storage.js'
import { Schema } from '../src/schema/index.js'
import { LEVELS, fixture, logOpener, tempDir, until } from './helpers.js'
import { Child } from './child.js'

const schema = new Schema(await fixture('basic.proto'))
const payload = (num: number): Uint8Array<ArrayBuffer> => schema.encode('Test1', { num })
const validate = (name: string, bytes: Uint8Array): void => { schema.check(name, bytes) }

async function emit (log: Log, n: number, from = 0): Promise<void> {
  await Promise.all(Array.from({ length: n }, async (_, i) => log.append('Test1', payload(from + i))))
}

/** What `to` lacks of `from`, given to it as a peer would send it: in feed order, with context. */
async function sync (from: Log, to: Log, batch = 200): Promise<number> {
  const ingester = new Ingester(to, { validate })
  let stored = 0
  const missing = await from.missingBytes(to.vector(), Infinity)
  for (let i = 0; i < missing.length; i += batch) {
    const part = missing.slice(i, i + batch)
    const ctx = part.flatMap(m => context(from, m.author, m.bytes) ?? []).map(bytes => decodeEntry(bytes, { verify: false }))
    const accepted = ingester.accept(part.map(m => m.bytes), Date.now(), ctx)
    assert.is(accepted.invalid.length, 0, accepted.invalid.map(e => e.message).join())
    stored += (await ingester.storeReady()).stored.length
  }
  ingester.clear()
  return stored
}

for (const [kind, make] of Object.entries(LEVELS)) {
  const t = suite(`retention on ${kind}`)
  const open = logOpener(t, make)

  t('compact({ maxEvents }) drops a feed prefix; reads, missing and verify agree with what is kept', async () => {
    const { log } = await open()
    for (let i = 0; i < 10; i++) await emit(log, 100, i * 100)
    const before = await log.read(1, 2000)
    const res = await log.compact({ maxEvents: 250 })
    assert.equal(res, { dropped: 750, floor: 750 })
    assert.is(log.length, 1000)
    assert.is(log.floor, 750)
    // a read from behind the floor starts at it
    const kept = await log.read(1, 2000)
    assert.is(kept.length, 250)
    assert.is(kept[0].seq, 751)
    assert.equal(kept.map(e => toHex(e.id)), before.slice(750).map(e => toHex(e.id)))
    // what a peer that has nothing lacks: exactly the kept entries
    const missing = await log.missing(new Map(), Infinity)
    assert.equal(missing.map(m => m.seq), kept.map(e => e.seq))
    // a peer that has part of it
    const author = toHex(log.identity.publicKey)
    const partial = await log.missing(new Map([[author, 900]]), Infinity)
    assert.equal(partial.map(m => m.authorSeq), kept.filter(e => e.entry.seq > 900).map(e => e.entry.seq))
    assert.equal(log.authorFloor(author)?.seq, 751)
    const report = await log.verify()
    assert.ok(report.ok, JSON.stringify(report.problems))
    assert.is(report.entries, 250)
    // the chain goes on
    await emit(log, 10, 5000)
    assert.ok((await log.verify()).ok)
  })

  t('an author all of whose entries were dropped keeps its chain: its next entry chains on the dropped one', async () => {
    const { log } = await open()
    await emit(log, 50)
    await log.compact({ maxEvents: 1 })
    assert.is(log.floor, 49)
    const head = log.authorHead(toHex(log.identity.publicKey))
    assert.is(head.seq, 50)
    // maxAge drops everything older than now
    await new Promise(resolve => setTimeout(resolve, 5))
    await log.compact({ maxAge: 1 })
    assert.is(log.floor, 50)
    assert.is((await log.read(1, 10)).length, 0)
    assert.is(log.authorHead(toHex(log.identity.publicKey)).seq, 50)
    const next = await log.append('Test1', payload(1))
    assert.is(next.entry.seq, 51)
    assert.equal(toHex(next.entry.prev), toHex(head.id))
    assert.is(next.entry.clock, head.clock + 1)
    const report = await log.verify()
    assert.ok(report.ok, JSON.stringify(report.problems))
  })

  t('a node that catches up from a log with a floor takes the floor (context), and both verify', async () => {
    const { log: a } = await open()
    const { log: b } = await open()
    const { log: c } = await open()
    // b and a both write; a links b's entries
    await emit(b, 30)
    assert.is(await sync(b, a), 30)
    await emit(a, 100)
    await emit(b, 20, 100)
    await sync(b, a)
    await emit(a, 100, 200)
    await a.compact({ maxEvents: 120 })
    assert.ok(a.floor > 0)
    assert.ok((await a.verify()).ok)
    // c has nothing: it catches up from a, from a's floors
    await sync(a, c)
    for (const [author, seq] of a.vector()) assert.is(c.authorSeq(author), seq, 'c holds what a holds')
    const report = await c.verify()
    assert.ok(report.ok, JSON.stringify(report.problems))
    assert.is(report.entries, 120)
    assert.equal(c.authorFloor(toHex(a.identity.publicKey))?.seq, a.authorFloor(toHex(a.identity.publicKey))?.seq)
    // and goes on: new entries of both authors
    await emit(b, 5, 500)
    await sync(b, a)
    await emit(a, 5, 600)
    await sync(a, c)
    assert.ok((await c.verify()).ok)
    assert.is(c.authorSeq(toHex(a.identity.publicKey)), a.authorSeq(toHex(a.identity.publicKey)))
  })

  t('a log that holds part of an author\'s chain does not take a floor for it: those entries wait', async () => {
    const { log: a } = await open()
    const { log: b } = await open()
    await emit(a, 100)
    await sync(a, b)
    await emit(a, 100, 100)
    await emit(a, 100, 200)
    await a.compact({ maxEvents: 50 })
    // b lacks 101..250 of a, and a only has 251..300
    assert.is(await sync(a, b), 0)
    assert.is(b.authorSeq(toHex(a.identity.publicKey)), 100)
    assert.ok((await b.verify()).ok)
  })

  t('compaction drops the name index records and the emit keys of what it drops; filtered reads from behind the floor start there', async () => {
    const { log } = await open()
    const author = toHex(log.identity.publicKey)
    const first = await log.append('Test1', payload(1), undefined, 'key-1')
    await emit(log, 99)
    await log.append('Test2', schema.encode('Test2', { bar: 'x', id: 1 }))
    await log.append('Test1', payload(2), undefined, 'key-2')
    await log.compact({ maxEvents: 50 })
    // an index record of a dropped entry would be read, and its entry found missing
    const byName = await log.readWhere({ names: ['Test1'] }, 0, 1000)
    assert.is(byName.entries.length, 49)
    assert.is(byName.entries[0].seq, log.floor + 1)
    assert.is((await log.readWhere({ names: ['Test2'] }, 0, 1000)).entries.length, 1)
    const byAuthor = await log.readWhere({ authors: [author] }, 0, 1000)
    assert.equal(byAuthor.entries.map(e => e.seq), Array.from({ length: 50 }, (_, i) => log.floor + 1 + i))
    // key-1's entry was dropped: the same key stores anew; key-2's was kept
    const again = await log.append('Test1', payload(1), undefined, 'key-1')
    assert.ok(again.seq > first.seq)
    const kept = await log.append('Test1', payload(2), undefined, 'key-2')
    assert.is(kept.seq, 102)
    assert.ok((await log.verify()).ok)
  })

  if (kind === 'classic-level') {
    t('retention across restarts: the floor, floors, cut and runs come back, and the policy runs by itself', async () => {
      const dir = await tempDir()
      try {
        const path = join(dir.path, 'db')
        let log = await Log.open(new ClassicLevel(path), { retention: { maxEvents: 500 } })
        for (let i = 0; i < 40; i++) await emit(log, 100, i * 100)
        // over maxEvents + slack (1000) it compacts down to maxEvents
        await until(() => log.length - log.floor <= 1500, 10_000, 'compaction')
        // the policy compacts a step at a time, and close() lets only the
        // current step finish: once a compaction of the same policy returns,
        // the one under way is done and the floor holds
        await log.compact({ maxEvents: 500 })
        const floor = log.floor
        assert.ok(floor >= 2500, `floor ${floor}`)
        const vector = log.vector()
        const heads = log.heads().map(toHex)
        await log.close()
        log = await Log.open(new ClassicLevel(path))
        assert.is(log.floor, floor)
        assert.is(log.length, 4000)
        assert.equal(log.vector(), vector)
        assert.equal(log.heads().map(toHex), heads)
        const report = await log.verify()
        assert.ok(report.ok, JSON.stringify(report.problems))
        assert.equal((await log.missing(new Map(), Infinity)).length, 4000 - floor)
        await emit(log, 10)
        assert.ok((await log.verify()).ok)
        await log.close()
      } finally {
        await dir.cleanup()
      }
    })

    t('SIGKILL while emitting with retention: verify ok at every restart, the newest acknowledged events are there', async () => {
      const dir = await tempDir()
      const db = join(dir.path, 'db')
      try {
        let last = 0
        for (let round = 0; round < 4; round++) {
          const child = new Child(`retention round ${round}`, { db, verify: true, options: { retention: { maxEvents: 2000 } }, emit: { base: (round + 1) * 10_000_000, concurrency: 64 } })
          const open = await child.waitFor('open', 20_000)
          const verify = await child.waitFor('verify', 30_000)
          assert.ok(verify.ok, `round ${round}: ${JSON.stringify(verify.problems)}`)
          assert.ok((open.length as number) >= last, `round ${round}: length ${String(open.length)} < ${last}`)
          await child.waitFor('a', 10_000)
          await new Promise(resolve => setTimeout(resolve, 300 + round * 150))
          await child.kill()
          last = child.lines.filter(l => l.t === 'a').length > 0 ? (open.length as number) : last
        }
        // a burst at full speed may outrun compaction; the policy catches up once opened again
        const log = await Log.open(new ClassicLevel(db), { retention: { maxEvents: 2000 } })
        await until(() => log.length - log.floor === 2000, 10_000, 'compaction after the restart')
        const report = await log.verify()
        assert.ok(report.ok, JSON.stringify(report.problems))
        await log.close()
      } finally {
        await dir.cleanup()
      }
    })
  }

  t.run()
}

const m = suite('retention, memory-level only')
m('a read racing a compaction step is made again from the new floor', async () => {
  const log = await Log.open(new MemoryLevel())
  await emit(log, 3000)
  const reads = Array.from({ length: 20 }, async (_, i) => log.read(1 + i * 100, 500))
  const compacting = log.compact({ maxEvents: 10 })
  for (const r of await Promise.all(reads)) assert.ok(r.every((e, i) => i === 0 || e.seq === r[i - 1].seq + 1))
  await compacting
  assert.ok((await log.verify()).ok)
  await log.close()
})
m.run()
