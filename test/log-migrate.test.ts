// A db written in an older layout (version 1: entries: id -> bytes, feed:
// position -> id; version 2: feed-v2: position -> id and bytes) is converted
// when the log opens, whole or from where a crash stopped an earlier
// conversion, and nothing in it changes meaning.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ClassicLevel } from 'classic-level'
import { Log } from '../src/log/log.js'
import { packFeed, PACK_ENTRIES, readSeq, seqKey, unpackFeed } from '../src/log/keys.js'
import { toHex } from '../src/log/entry.js'
import { Schema } from '../src/schema/index.js'
import { LEVELS, fixture } from './helpers.js'

const schema = new Schema(await fixture('basic.proto'))
const payload = (num: number): Uint8Array<ArrayBuffer> => schema.encode('Test1', { num })
const opts = { keyEncoding: 'buffer', valueEncoding: 'buffer' } as const
/** more than one chunk of the conversion (migrate.ts CHUNK) */
const N = 5000

/**
 * Rewrites the feed positions above `keepNew` of a log's db in an older
 * layout: version 1 (feed: position -> id, entries: id -> bytes, no id
 * records) or version 2 (feed-v2: position -> id and bytes).
 */
async function toOldLayout (path: string, keepNew: number, version: 1 | 2): Promise<void> {
  const db = new ClassicLevel<Buffer, Buffer>(path, opts)
  const feed = db.sublevel<Buffer, Buffer>('feed-v3', opts)
  const ids = db.sublevel<Buffer, Buffer>('ids', opts)
  const v2 = db.sublevel<Buffer, Buffer>('feed-v2', opts)
  const oldFeed = db.sublevel<Buffer, Buffer>('feed', opts)
  const oldEntries = db.sublevel<Buffer, Buffer>('entries', opts)
  for await (const [key, value] of feed.iterator()) {
    const kept: Buffer[] = []
    const ops: unknown[] = [{ type: 'del', sublevel: feed, key }]
    unpackFeed(readSeq(key), value, (seq, item) => {
      if (seq <= keepNew) {
        kept.push(item)
        return
      }
      const id = item.subarray(0, 34)
      if (version === 2) {
        ops.push({ type: 'put', sublevel: v2, key: seqKey(seq), value: item })
        return
      }
      ops.push({ type: 'put', sublevel: oldFeed, key: seqKey(seq), value: id },
        { type: 'put', sublevel: oldEntries, key: id, value: item.subarray(34) },
        { type: 'del', sublevel: ids, key: id })
    })
    if (kept.length > 0) ops.push({ type: 'put', sublevel: feed, key, value: packFeed(kept) })
    await db.batch(ops as never)
  }
  await db.close()
}

const cases = [['a whole db', 0, undefined], ['a db a crash left half converted', 2020, undefined], ['a db whose oldest entries retention dropped', 0, 1200]] as const
for (const [version, [what, keepNew, kept]] of [1, 2].flatMap(v => cases.map(c => [v as 1 | 2, c] as const))) {
  test(`layout version ${version}: ${what} is converted at open; reads, heads and verify are as before, and appends go on`, async () => {
    const lv = await LEVELS['classic-level']()
    try {
      const log = await Log.open(lv.db)
      for (let i = 0; i < N; i += 500) await Promise.all(Array.from({ length: 500 }, async (_, k) => log.append('Test1', payload(i + k))))
      if (kept != null) await log.compact({ maxEvents: kept })
      const floor = log.floor
      const before = await log.read(1, N)
      assert.is(before.length, kept ?? N)
      const heads = log.heads().map(toHex)
      await log.close()
      await toOldLayout(lv.path, keepNew, version)
      const again = await Log.open(new ClassicLevel(lv.path))
      try {
        assert.is(again.length, N)
        assert.is(again.floor, floor)
        assert.equal(again.heads().map(toHex), heads)
        const after = await again.read(1, N)
        assert.equal(after.map(e => [e.seq, toHex(e.id), toHex(e.bytes)]), before.map(e => [e.seq, toHex(e.id), toHex(e.bytes)]))
        const last = before[before.length - 1]
        assert.equal(toHex((await again.get(last.id))!), toHex(last.bytes))
        assert.equal(await again.clocks([before[0].id, last.id]), [before[0].entry.clock, last.entry.clock])
        const report = await again.verify()
        assert.ok(report.ok, JSON.stringify(report.problems.slice(0, 3)))
        assert.is(report.entries, before.length)
        const next = await again.append('Test1', payload(N))
        assert.is(next.seq, N + 1)
      } finally {
        await again.close()
      }
      const db = new ClassicLevel<Buffer, Buffer>(lv.path, opts)
      assert.is((await db.sublevel<Buffer, Buffer>('feed', opts).keys().all()).length, 0, 'no old feed record left')
      assert.is((await db.sublevel<Buffer, Buffer>('entries', opts).keys().all()).length, 0, 'no old entry record left')
      assert.is((await db.sublevel<Buffer, Buffer>('feed-v2', opts).keys().all()).length, 0, 'no version 2 feed record left')
      const records = await db.sublevel<Buffer, Buffer>('feed-v3', opts).iterator().all()
      // a record per block of PACK_ENTRIES, and at most two more per group of 500 appends
      assert.ok(records.length <= Math.ceil((kept ?? N) / PACK_ENTRIES) + 2 * N / 500, `records of up to ${PACK_ENTRIES} entries: ${records.length}`)
      await db.close()
    } finally {
      await lv.cleanup()
    }
  })
}

test('verify finds an entry without its id record, and an id record without its entry', async () => {
  const lv = await LEVELS['classic-level']()
  try {
    const log = await Log.open(lv.db)
    for (let i = 0; i < 5; i++) await log.append('Test1', payload(i))
    const [e3] = await log.read(3, 1)
    await log.close()
    const db = new ClassicLevel<Buffer, Buffer>(lv.path, opts)
    const ids = db.sublevel<Buffer, Buffer>('ids', opts)
    const record = (await ids.get(Buffer.from(e3.id)))!
    await ids.del(Buffer.from(e3.id))
    await ids.put(Buffer.alloc(34, 7), record)
    await db.close()
    const again = await Log.open(new ClassicLevel(lv.path))
    const report = await again.verify()
    await again.close()
    assert.not.ok(report.ok)
    assert.ok(report.problems.some(p => /for no entry of the feed/.test(p.problem)), JSON.stringify(report.problems))
    assert.ok(report.problems.some(p => /1 entries of the feed have no id record/.test(p.problem)), JSON.stringify(report.problems))
  } finally {
    await lv.cleanup()
  }
})

test.run()
