// Issue 14: reads by event name and author, from the name index and the run
// records, against a full scan of the same log: random logs of several
// authors and names, every level implementation, after a restart, after a
// crash before a checkpoint and after one that left commits in the
// write-ahead file only, and on dbs written before the index existed.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { cpSync, rmSync } from 'node:fs'
import { ClassicLevel } from 'classic-level'
import { MemoryLevel } from 'memory-level'
import fc from 'fast-check'
import { HyperEmitter, type Event } from '../src/index.js'
import { Log, WAL_NAME, type ReadFilter } from '../src/log/log.js'
import { Ingester } from '../src/log/ingest.js'
import { toHex } from '../src/log/entry.js'
import { Wal } from '../src/log/wal.js'
import { LEVELS, fixture, logOpener, tempDir } from './helpers.js'
import { join } from 'node:path'

// loaded before any suite runs: uvu starts running the suites registered
// so far at the first pause of the module
const schema = await fixture('messages.proto')

/** Names that a prefix scheme with a separator would confuse: one is the start of another, one holds a NUL. */
const NAMES = ['A', 'AB', 'A\u0000B', 'pkg.Hello', 'Zürich', 'B']

const SEED = Number(process.env.HYPEREMITTER_INDEX_SEED ?? Math.floor(Math.random() * 2 ** 31))
console.log(`# log-index.test: seed ${SEED} (HYPEREMITTER_INDEX_SEED=${SEED} replays it)`)
let rng = SEED >>> 0
function random (): number {
  rng = (rng + 0x6D2B79F5) >>> 0
  let t = rng
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]

/** Every entry of a log as (position, name, author), by a full scan. */
async function scan (log: Log): Promise<Array<{ seq: number, name: string, author: string }>> {
  const out = []
  for (let pos = 1; pos <= log.length; pos += 1000) {
    for (const e of await log.read(pos, 1000)) out.push({ seq: e.seq, name: e.entry.name, author: toHex(e.entry.author) })
  }
  return out
}

/** What a filtered read from `after` on must give: the scan, filtered. */
function expected (all: Array<{ seq: number, name: string, author: string }>, filter: ReadFilter, after: number): number[] {
  return all.filter(e => e.seq > after && (filter.names == null || filter.names.includes(e.name)) && (filter.authors == null || filter.authors.includes(e.author))).map(e => e.seq)
}

/** A filtered read to the end of the log, `limit` at a time; checks each step's promise. */
async function readAll (log: Log, filter: ReadFilter, after: number, limit: number): Promise<number[]> {
  const out: number[] = []
  let scanned = after
  for (let steps = 0; scanned < log.length; steps++) {
    if (steps > log.length + 1) assert.unreachable('the read does not move on')
    const r = await log.readWhere(filter, scanned, limit)
    assert.ok(r.entries.length <= limit, `${r.entries.length} entries for a limit of ${limit}`)
    assert.ok(r.scanned > scanned || r.entries.length > 0, 'a step that neither reads nor moves on')
    assert.ok(r.scanned <= log.length)
    for (const e of r.entries) {
      assert.ok(e.seq > scanned && e.seq <= r.scanned, `entry ${e.seq} outside (${scanned}, ${r.scanned}]`)
      out.push(e.seq)
    }
    scanned = r.scanned
  }
  return out
}

/**
 * A random log in `target`: its own appends, and those of two other logs
 * delivered in random slices, so that authors' runs are long and short.
 */
async function randomLog (target: Log, others: Log[], steps: number): Promise<void> {
  const all = [target, ...others]
  const copied = new Map<Log, number>(others.map(o => [o, 0]))
  const ingest = new Ingester(target, { validate: () => {} })
  for (let i = 0; i < steps; i++) {
    const who = pick(all)
    if (who !== target && random() < 0.5) {
      // deliver some of what that log has to the target
      const from = copied.get(who)!
      const upTo = Math.min(who.length, from + 1 + Math.floor(random() * 20))
      if (upTo > from) {
        const res = await ingest.add((await who.read(from + 1, upTo - from)).map(e => e.bytes))
        assert.is(res.invalid.length, 0)
        copied.set(who, upTo)
      }
      continue
    }
    const n = 1 + Math.floor(random() * (random() < 0.2 ? 60 : 5))
    await Promise.all(Array.from({ length: n }, () => who.append(pick(NAMES), new Uint8Array([Math.floor(random() * 256)]))))
  }
  for (const who of others) {
    const from = copied.get(who)!
    if (who.length > from) await ingest.add((await who.read(from + 1, who.length - from)).map(e => e.bytes))
  }
  ingest.clear()
}

/** Random filters and start points checked against the scan. */
async function checkReads (log: Log, rounds: number, what: string): Promise<void> {
  const all = await scan(log)
  const authors = [...new Set(all.map(e => e.author))]
  for (let i = 0; i < rounds; i++) {
    const kind = pick(['names', 'authors', 'both'] as const)
    const filter: ReadFilter = {}
    if (kind !== 'authors') filter.names = NAMES.filter(() => random() < 0.35).concat(random() < 0.1 ? ['Nothing'] : [])
    if (kind !== 'names') filter.authors = authors.filter(() => random() < 0.5)
    const after = random() < 0.3 ? 0 : Math.floor(random() * (log.length + 2))
    const limit = pick([1, 2, 7, 64, 256])
    const got = await readAll(log, filter, after, limit)
    const want = expected(all, filter, after)
    assert.equal(got, want, `${what}: ${JSON.stringify({ ...filter, authors: filter.authors?.map(a => a.slice(0, 6)) })} after ${after}, limit ${limit}`)
  }
}

for (const [kind, make] of Object.entries(LEVELS)) {
  const t = suite(`reads by name and author on ${kind}`)
  const open = logOpener(t, make)

  t('a random log of three authors: reads by names, authors and both equal the filtered scan', async () => {
    const [a, b, c] = await Promise.all([open(), open(), open()])
    await randomLog(a.log, [b.log, c.log], 150)
    assert.ok(a.log.length > 300, `only ${a.log.length} entries`)
    await checkReads(a.log, 60, 'random log')
    // from every position: each author's first entries after it, from its
    // runs (found by a binary search), and each name's
    const all = await scan(a.log)
    for (const filter of [...[a, b, c].map(x => ({ authors: [toHex(x.log.identity.publicKey)] })), { names: ['A', 'A\u0000B'] }]) {
      for (let after = 0; after <= a.log.length; after++) {
        const r = await a.log.readWhere(filter, after, 3)
        const want = expected(all, filter, after)
        assert.equal(r.entries.map(e => e.seq), want.slice(0, 3), `${JSON.stringify(filter).slice(0, 30)} after ${after}`)
        // it looked at least that far, and found all there is up to where it looked
        assert.ok(r.scanned >= (want.length >= 3 ? want[2] : a.log.length) && r.scanned <= a.log.length, `scanned ${r.scanned}`)
        assert.equal(want.filter(p => p <= r.scanned), r.entries.map(e => e.seq))
      }
    }
  })

  t('live: reads after the end see each new entry once; one name of several', async () => {
    const { log } = await open()
    await log.append('A', new Uint8Array([1]))
    let scanned = log.length
    const seen: number[] = []
    for (let round = 0; round < 20; round++) {
      await Promise.all(Array.from({ length: 1 + Math.floor(random() * 10) }, () => log.append(pick(NAMES), new Uint8Array(1))))
      const r = await log.readWhere({ names: ['A', 'pkg.Hello'] }, scanned, 256)
      assert.is(r.scanned, log.length)
      scanned = r.scanned
      seen.push(...r.entries.map(e => e.seq))
    }
    assert.equal(seen, expected(await scan(log), { names: ['A', 'pkg.Hello'] }, 1))
  })

  t('a crash before any checkpoint (a second Log on the same db): the index is whole, reads match the scan', async () => {
    const [a, b] = await Promise.all([open(), open()])
    await randomLog(a.log, [b.log], 60)
    // not closed: the next open replays the feed past the last checkpoint
    const again = await Log.open(a.db)
    try {
      assert.is(again.length, a.log.length)
      await checkReads(again, 20, 'reopened without a checkpoint')
      await again.append('B', new Uint8Array(1))
      await checkReads(again, 10, 'and after one more')
    } finally {
      await again.close()
    }
  })

  t.run()
}

const t = suite('the name index across restarts and crashes')

t('a restart keeps the index; appends after it are indexed', async () => {
  const lv = await LEVELS['classic-level']()
  try {
    const log = await Log.open(lv.db)
    const other = await Log.open(new MemoryLevel())
    await randomLog(log, [other], 80)
    await log.close()
    await other.close()
    const again = await Log.open(new ClassicLevel(lv.path))
    await checkReads(again, 20, 'after a restart')
    await Promise.all(Array.from({ length: 30 }, (_, i) => again.append(NAMES[i % NAMES.length], new Uint8Array(1))))
    await checkReads(again, 20, 'after a restart and more appends')
    await again.close()
  } finally {
    await lv.cleanup()
  }
})

t('commits that only the write-ahead file held (a crash before level had them) are indexed when recovered', async () => {
  const lv = await LEVELS['classic-level']()
  const copy = `${lv.path}-copy`
  try {
    const log = await Log.open(lv.db)
    for (let i = 0; i < 10; i++) await log.append(NAMES[i % 3], new Uint8Array([i]))
    await log.close()
    // a copy goes further: what a crash would have left in the file only
    cpSync(lv.path, copy, { recursive: true })
    const ahead = await Log.open(new ClassicLevel(copy))
    const more = await Promise.all(Array.from({ length: 12 }, (_, i) => ahead.append(NAMES[(i * 5) % NAMES.length], new Uint8Array([i]))))
    await ahead.close()
    const { wal } = Wal.open(join(lv.path, WAL_NAME))
    wal.append(more[0].seq, more.map(e => e.bytes), false)
    wal.close()
    const again = await Log.open(new ClassicLevel(lv.path))
    assert.is(again.length, 22)
    await checkReads(again, 30, 'recovered from the write-ahead file')
    for (const name of NAMES) {
      const r = await again.readWhere({ names: [name] }, 10, 100)
      assert.equal(r.entries.map(e => e.seq), more.filter(e => e.entry.name === name).map(e => e.seq), name)
    }
    await again.close()
  } finally {
    rmSync(copy, { recursive: true, force: true })
    await lv.cleanup()
  }
})

t('a db written before the index (no index record) gets it built at open; another version is rebuilt; a record behind the feed is caught up', async () => {
  const lv = await LEVELS['classic-level']()
  try {
    const log = await Log.open(lv.db)
    const other = await Log.open(new MemoryLevel())
    await randomLog(log, [other], 60)
    const length = log.length
    await log.close()
    await other.close()
    const sub = (db: ClassicLevel, name: string): ReturnType<ClassicLevel['sublevel']> => db.sublevel(name, { keyEncoding: 'buffer', valueEncoding: 'buffer' }) as never
    // as an older version left it: no index records, no index record in meta
    let db = new ClassicLevel(lv.path)
    await sub(db, 'names').clear()
    await sub(db, 'meta').del(Buffer.from('name-index') as never)
    await db.close()
    let again = await Log.open(new ClassicLevel(lv.path))
    assert.is(again.length, length)
    await checkReads(again, 20, 'index built at open')
    await again.close()
    // another version of the index: its records go, the index is rebuilt
    db = new ClassicLevel(lv.path)
    const mark = Buffer.alloc(12)
    mark.writeUInt32BE(99, 8)
    await sub(db, 'meta').put(Buffer.from('name-index') as never, mark as never)
    // a record of name Q at feed position 3
    await sub(db, 'names').put(Buffer.from([0, 1, 81, 0, 0, 0, 0, 0, 0, 0, 3]) as never, Buffer.alloc(0) as never)
    await db.close()
    again = await Log.open(new ClassicLevel(lv.path))
    await checkReads(again, 20, 'index of another version rebuilt')
    assert.is((await again.readWhere({ names: ['Q'] }, 0, 100)).entries.length, 0, 'the other version\'s record is gone')
    await again.close()
    // entries past the index record without index records (an older
    // version appended them): they are indexed at open
    db = new ClassicLevel(lv.path)
    const half = Math.floor(length / 2)
    const cut = Buffer.alloc(12)
    cut.writeUInt32BE(Math.floor(half / 2 ** 32), 0)
    cut.writeUInt32BE(half % 2 ** 32, 4)
    cut.writeUInt32BE(1, 8)
    await sub(db, 'meta').put(Buffer.from('name-index') as never, cut as never)
    const names = sub(db, 'names')
    const late: Buffer[] = []
    for await (const key of names.keys()) if ((key as Buffer).readUInt32BE((key as Buffer).byteLength - 4) > half) late.push(key as Buffer)
    assert.ok(late.length > 0)
    await names.batch(late.map(key => ({ type: 'del' as const, key: key as never })))
    await db.close()
    again = await Log.open(new ClassicLevel(lv.path))
    await checkReads(again, 20, 'index caught up from its record')
    await again.close()
  } finally {
    await lv.cleanup()
  }
})

t.run()

const ev = suite('events({ names, authors })')

async function collect (it: AsyncIterable<Event>, until?: (e: Event) => boolean): Promise<Event[]> {
  const out: Event[] = []
  for await (const e of it) {
    out.push(e)
    if (until?.(e) === true) break
  }
  return out
}

ev('events() and stream() by name and author match a filtered full read, from any position; live readers get the new ones; unknown names are read when named', async () => {
  const dir = await tempDir()
  const a = await HyperEmitter.open(join(dir.path, 'a'), schema)
  const b = await HyperEmitter.open(new MemoryLevel(), schema)
  try {
    for (let i = 0; i < 400; i++) {
      const e = random() < 0.3 ? b : a
      if (random() < 0.2) await e.emit('Hello', { from: `h${i}` })
      else await e.emit('Integer', { value: i })
    }
    // b's events reach a as a peer's would: its log, ingested
    const ingest = new Ingester(a.log, { validate: () => {} })
    await ingest.add((await b.log.read(1, b.log.length)).map(e => e.bytes))
    // and an event of a name a's schema does not define
    await a.log.append('other.Farewell', new Uint8Array([8, 1]))
    ingest.clear()
    const all = await collect(a.events({ from: 'beginning', live: false }))
    assert.is(all.length, a.log.length)
    for (const filter of [{ names: ['Hello'] }, { names: ['Integer', 'other.Farewell'] }, { authors: [b.id] }, { authors: [a.peerId] }, { names: ['Hello'], authors: [b.peerId] }, { names: ['other.Farewell'] }]) {
      for (const from of ['beginning', 17, 200, a.log.length] as const) {
        const got = await collect(a.events({ ...filter, from, live: false }))
        const want = all.filter(e => (from === 'beginning' || e.seq > from) &&
          (filter.names == null || filter.names.includes(e.name)) &&
          (filter.authors == null || filter.authors.map(x => x === a.peerId ? a.id : x === b.peerId ? b.id : x).includes(e.author)))
        assert.equal(got.map(e => [e.seq, e.name, e.author]), want.map(e => [e.seq, e.name, e.author]), `${JSON.stringify(filter)} from ${from}`)
      }
    }
    const unknown = await collect(a.events({ names: ['other.Farewell'], from: 'beginning', live: false }))
    assert.is(unknown.length, 1)
    assert.is(unknown[0].unknown, true)
    // stream() takes the same options
    const streamed: Array<{ name: string }> = []
    for await (const e of a.stream({ names: ['Hello'], from: 'beginning', live: false })) streamed.push(e as { name: string })
    assert.is(streamed.length, all.filter(e => e.name === 'Hello').length)
    assert.ok(streamed.every(e => e.name === 'Hello'))

    // live, from now: only the named ones, in order, while others are emitted
    const live = a.events({ names: ['Hello'] })
    const reading = collect(live, e => (e.payload as { from?: string }).from === 'last')
    for (let i = 0; i < 50; i++) await a.emit('Integer', { value: -i })
    await a.emit('Hello', { from: 'one' })
    await Promise.all(Array.from({ length: 100 }, (_, i) => a.emit('Integer', { value: i })))
    await a.emit('Hello', { from: 'last' })
    assert.equal((await reading).map(e => (e.payload as { from: string }).from), ['one', 'last'])

    // a cursor with a filter resumes after the last event taken
    const first = await collect(a.events({ names: ['Hello'], cursor: 'hellos', from: 'beginning' }), () => true)
    const rest = await collect(a.events({ names: ['Hello'], cursor: 'hellos', live: false }))
    assert.is(rest[0].seq > first[0].seq, true)
    assert.equal([...first, ...rest].map(e => e.seq), (await collect(a.events({ names: ['Hello'], from: 'beginning', live: false }))).map(e => e.seq))
    assert.is(await a.log.getCursor('hellos'), rest[rest.length - 1].seq)

    // bad options throw at once
    assert.throws(() => a.events({ names: 'Hello' as unknown as string[] }), (err: Error & { code?: string }) => err.code === 'ERR_INVALID_OPTION')
    assert.throws(() => a.events({ authors: ['nobody'] }), (err: Error & { code?: string }) => err.code === 'ERR_INVALID_OPTION')
  } finally {
    await a.close()
    await b.close()
    await dir.cleanup()
  }
})

ev('property: for any log of names and any filter, events() by name equals the full read filtered', async () => {
  await fc.assert(fc.asyncProperty(
    fc.array(fc.constantFrom('Hello', 'Integer', 'EventPeer'), { minLength: 0, maxLength: 60 }),
    fc.subarray(['Hello', 'Integer', 'EventPeer']),
    fc.nat(70),
    async (names, wanted, from) => {
      const e = await HyperEmitter.open(new MemoryLevel(), schema)
      try {
        for (const name of names) await e.emit(name, name === 'Integer' ? { value: 1 } : name === 'Hello' ? { from: 'x' } : { id: 'x', addresses: [] })
        const all = await collect(e.events({ from, live: false }))
        const got = await collect(e.events({ from, live: false, names: wanted }))
        assert.equal(got.map(x => x.seq), all.filter(x => wanted.includes(x.name)).map(x => x.seq))
      } finally {
        await e.close()
      }
    }), { numRuns: 40 })
})

ev.run()
