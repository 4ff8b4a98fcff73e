// Issue 14: idempotent emits. An emit with the key of one this node stored
// within its window stores nothing and resolves with the first entry; the
// key is kept with the entry in the same commit, so it holds across
// restarts, across a crash that left the commit in the write-ahead file only,
// and across kill -9 between two tries.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { MemoryLevel } from 'memory-level'
import { HyperEmitter, type Emitted } from '../src/index.js'
import { Log, WAL_NAME } from '../src/log/log.js'
import { toHex } from '../src/log/entry.js'
import { Wal } from '../src/log/wal.js'
import { Child, children } from './child.js'
import { LEVELS, fixture, logOpener, tempDir, type OpenedLog } from './helpers.js'

const schema = await fixture('messages.proto')
const bytes = (n: number): Uint8Array => new Uint8Array([8, n])

/** The emit key records in level: key -> feed position. */
async function keyRecords (db: ClassicLevel | MemoryLevel): Promise<Map<string, number>> {
  const keys = (db as unknown as MemoryLevel<Buffer, Buffer>).sublevel<Buffer, Buffer>('keys', { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  const out = new Map<string, number>()
  for await (const [key, value] of keys.iterator()) out.set(key.toString(), value.readUInt32BE(4))
  return out
}

for (const [kind, make] of Object.entries(LEVELS)) {
  const t = suite(`emit keys in the log on ${kind}`)
  const openLog = logOpener(t, make)
  const open = async (keyWindow?: number): Promise<OpenedLog> => await openLog({ keyWindow })

  t('a key stored before: nothing is stored, the first entry comes back', async () => {
    const { log } = await open()
    const a = await log.append('Integer', bytes(1), undefined, 'k1')
    const b = await log.append('Integer', bytes(2), undefined, 'k1')
    assert.is(log.length, 1)
    assert.is(b.seq, a.seq)
    assert.is(toHex(b.id), toHex(a.id))
    // whatever the name and payload of the second try
    const c = await log.append('Hello', bytes(3), e => e.seq, 'k1')
    assert.is(c, 1)
    const d = await log.append('Integer', bytes(1), undefined, 'k2')
    assert.is(d.seq, 2)
    assert.is((await log.append('Integer', bytes(1))).seq, 3, 'no key: stored again')
    assert.ok((await log.verify()).ok)
  })

  t('tries made while the first is on its way get its entry: one stored per key, in one group or across groups', async () => {
    const { log } = await open()
    const tries = Array.from({ length: 600 }, (_, i) => log.append('Integer', bytes(i % 200), undefined, `k${i % 200}`))
    const got = await Promise.all(tries)
    assert.is(log.length, 200)
    for (let i = 0; i < 600; i++) assert.is(toHex(got[i].id), toHex(got[i % 200].id), `try ${i}`)
    // and the ones that come after, from the stored keys
    const again = await Promise.all(Array.from({ length: 200 }, (_, i) => log.append('Integer', bytes(0), undefined, `k${i}`)))
    assert.equal(again.map(e => e.seq), got.slice(0, 200).map(e => e.seq))
    assert.is(log.length, 200)
  })

  t('the window: the oldest keys go, and are stored again after; level holds the window only', async () => {
    const { log, db } = await open(3)
    const first = await Promise.all(['a', 'b', 'c', 'd'].map(k => log.append('Integer', bytes(1), undefined, k)))
    assert.is(log.length, 4)
    assert.is((await log.append('Integer', bytes(1), undefined, 'd')).seq, first[3].seq, 'd is in the window')
    assert.is((await log.append('Integer', bytes(1), undefined, 'b')).seq, first[1].seq)
    const a = await log.append('Integer', bytes(1), undefined, 'a')
    assert.is(a.seq, 5, 'a fell out of the window: stored again')
    // the window now: c, d, a (b went when a came back)
    assert.is((await log.append('Integer', bytes(1), undefined, 'b')).seq, 6)
    // a read waits for level to have what it reads
    await log.read(6, 1)
    assert.equal([...(await keyRecords(db))].sort(), [['a', 5], ['b', 6], ['d', 4]])
    // more keys in one group than the window: the newest stay
    await Promise.all(['p', 'q', 'r', 's', 't'].map(k => log.append('Integer', bytes(1), undefined, k)))
    await log.read(log.length, 1)
    assert.equal([...(await keyRecords(db)).keys()].sort(), ['r', 's', 't'])
  })

  t('a bad key is refused and stores nothing; a failed commit lets its key go', async () => {
    const { log } = await open()
    for (const key of ['', 'x'.repeat(257), 7 as unknown as string]) {
      await log.append('Integer', bytes(1), undefined, key).then(() => assert.unreachable('stored'), (err: Error & { code?: string }) => { assert.is(err.code, 'ERR_INVALID_OPTION') })
    }
    assert.is(log.length, 0)
    assert.is((await log.append('Integer', bytes(1), undefined, 'é'.repeat(128))).seq, 1, '256 bytes is the limit')
    // appends queued at close are refused, with the tries waiting on their key
    const queued = log.append('Integer', bytes(1), undefined, 'late')
    const same = log.append('Integer', bytes(1), undefined, 'late')
    const closing = log.close()
    const results = await Promise.allSettled([queued, same])
    await closing
    for (const r of results) {
      if (r.status === 'rejected') assert.is((r.reason as Error).name, 'ClosedError')
    }
    assert.is(results[0].status, results[1].status, 'the second try ends as the first')
  })

  t('a second Log on the same db (a crash after level had the commit) knows the keys', async () => {
    const { log, db } = await open()
    const first = await Promise.all(Array.from({ length: 50 }, (_, i) => log.append('Integer', bytes(i), undefined, `k${i}`)))
    // what level has: wait for the flush through a read
    await log.read(50, 1)
    const again = await Log.open(db)
    try {
      const retried = await Promise.all(Array.from({ length: 60 }, (_, i) => again.append('Integer', bytes(i), undefined, `k${i}`)))
      assert.equal(retried.slice(0, 50).map(e => toHex(e.id)), first.map(e => toHex(e.id)))
      assert.is(again.length, 60)
    } finally {
      await again.close()
    }
  })

  t.run()
}

const t = suite('emit keys across restarts and crashes')

t('a restart keeps the keys; a smaller window on reopen drops the oldest', async () => {
  const lv = await LEVELS['classic-level']()
  try {
    let log = await Log.open(lv.db)
    const first = await Promise.all(Array.from({ length: 20 }, (_, i) => log.append('Integer', bytes(i), undefined, `k${i}`)))
    await log.close()
    log = await Log.open(new ClassicLevel(lv.path))
    const again = await Promise.all(Array.from({ length: 20 }, (_, i) => log.append('Integer', bytes(i), undefined, `k${i}`)))
    assert.equal(again.map(e => toHex(e.id)), first.map(e => toHex(e.id)))
    assert.is(log.length, 20)
    await log.close()
    const db = new ClassicLevel(lv.path)
    log = await Log.open(db, { keyWindow: 5 })
    assert.equal([...(await keyRecords(db)).keys()].sort(), ['k15', 'k16', 'k17', 'k18', 'k19'])
    assert.is((await log.append('Integer', bytes(0), undefined, 'k19')).seq, 20)
    assert.is((await log.append('Integer', bytes(0), undefined, 'k0')).seq, 21)
    await log.close()
  } finally {
    await lv.cleanup()
  }
})

t('keys of commits that only the write-ahead file held are recovered with them', async () => {
  const lv = await LEVELS['classic-level']()
  const copy = `${lv.path}-copy`
  try {
    const log = await Log.open(lv.db)
    for (let i = 0; i < 5; i++) await log.append('Integer', bytes(i), undefined, `old${i}`)
    await log.close()
    // a copy goes further: what a crash would have left in the file only
    cpSync(lv.path, copy, { recursive: true })
    const ahead = await Log.open(new ClassicLevel(copy))
    const more = await Promise.all(Array.from({ length: 6 }, (_, i) => ahead.append('Integer', bytes(i), undefined, i % 2 === 0 ? `new${i}` : undefined)))
    await ahead.close()
    const { wal } = Wal.open(join(lv.path, WAL_NAME))
    wal.append(more[0].seq, more.map(e => e.bytes), false, more.map((_, i) => i % 2 === 0 ? `new${i}` : undefined))
    wal.close()
    const db = new ClassicLevel(lv.path)
    const again = await Log.open(db)
    assert.is(again.length, 11)
    for (let i = 0; i < 6; i += 2) {
      const retry = await again.append('Integer', bytes(99), undefined, `new${i}`)
      assert.is(toHex(retry.id), toHex(more[i].id), `new${i}`)
    }
    assert.is((await again.append('Integer', bytes(99), undefined, 'old0')).seq, 1)
    assert.is(again.length, 11)
    await again.close()
    const check = new ClassicLevel(lv.path)
    assert.is((await keyRecords(check)).size, 8)
    await check.close()
  } finally {
    rmSync(copy, { recursive: true, force: true })
    await lv.cleanup()
  }
})

t('the write-ahead file: a commit without keys is written as before; one with keys reads back; a keys part of another version ends the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hyperemitter-wal-keys-'))
  const path = join(dir, 'wal')
  try {
    const { wal } = Wal.open(path)
    wal.append(1, [bytes(1), bytes(2)], false)
    // header 8, body header 12, two entries of 4 + 2 bytes
    assert.is(wal.size, 8 + 12 + 12, 'no keys: the old format, byte for byte')
    wal.append(3, [bytes(3), bytes(4), bytes(5)], false, [undefined, 'ké', undefined])
    wal.close()
    const opened = Wal.open(path)
    opened.wal.close()
    assert.is(opened.records.length, 2)
    assert.is(opened.records[0].keys, undefined)
    assert.equal(opened.records[1].keys, [undefined, 'ké', undefined])
    assert.equal(opened.records[1].entries.map(e => e[1]), [3, 4, 5])
    // the second record's keys part says version 9, under a good checksum
    const data = readFileSync(path)
    const body = data.subarray(32 + 8)
    body[12 + 3 * 6] = 9
    createHash('sha256').update(body).digest().copy(data, 32 + 4, 0, 4)
    writeFileSync(path, data)
    const after = Wal.open(path)
    after.wal.close()
    assert.is(after.records.length, 1)
    assert.is(statSync(path).size, 32)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

t.run()

const em = suite('emit(name, message, { key })')

em('the emitter: a second emit with the key resolves with the first Emitted, listeners get one event; callbacks and streams take keys', async () => {
  const e = await HyperEmitter.open(new MemoryLevel(), schema)
  try {
    const heard: unknown[] = []
    e.on('Hello', m => { heard.push(m) })
    const a = await e.emit('Hello', { from: 'a' }, { key: 'order-1' })
    const b = await e.emit('Hello', { from: 'a' }, { key: 'order-1' })
    assert.equal(b.toJSON(), a.toJSON())
    const viaCallback = await new Promise<Emitted>((resolve, reject) => { void e.emit('Hello', { from: 'a' }, { key: 'order-1' }, (err, r) => { if (err != null) reject(err); else resolve(r!) }) })
    assert.equal(viaCallback.toJSON(), a.toJSON())
    const plain = await new Promise<Emitted>((resolve, reject) => { void e.emit('Hello', { from: 'b' }, (err, r) => { if (err != null) reject(err); else resolve(r!) }) })
    assert.is(plain.seq, 2)
    // a bad message is refused before its key is looked at
    await e.emit('Hello', { nope: 1 }, { key: 'order-1' }).then(() => assert.unreachable(), (err: Error) => { assert.is(err.name, 'InvalidMessageError') })
    await e.emit('Hello', { from: 'a' }, { key: '' }).then(() => assert.unreachable(), (err: Error & { code?: string }) => { assert.is(err.code, 'ERR_INVALID_OPTION') })
    const stream = e.stream()
    await new Promise<void>((resolve, reject) => { stream.write({ name: 'Hello', payload: { from: 'c' }, key: 'order-2' }, err => { if (err != null) reject(err); else resolve() }) })
    await new Promise<void>((resolve, reject) => { stream.write({ name: 'Hello', payload: { from: 'c' }, key: 'order-2' }, err => { if (err != null) reject(err); else resolve() }) })
    stream.destroy()
    assert.is(e.log.length, 3)
    await e.emit('Integer', { value: 1 })
    assert.equal(heard, [{ from: 'a', message: '' }, { from: 'b', message: '' }, { from: 'c', message: '' }])
  } finally {
    await e.close()
  }
  assert.throws(() => new HyperEmitter(new MemoryLevel(), schema, { idempotencyWindow: 0 }), (err: Error & { code?: string }) => err.code === 'ERR_INVALID_OPTION')
  const small = await HyperEmitter.open(new MemoryLevel(), schema, { idempotencyWindow: 1 })
  try {
    const x = await small.emit('Hello', {}, { key: 'x' })
    await small.emit('Hello', {}, { key: 'y' })
    assert.is.not((await small.emit('Hello', {}, { key: 'x' })).seq, x.seq, 'x left the window of one')
  } finally {
    await small.close()
  }
})

em.run()

const kill = suite('emit keys and kill -9')
kill.after.each(async () => { await Promise.all([...children].map(async c => { await c.kill() })) })

kill('a keyed emit acknowledged from the write-ahead file only, then kill -9: the retry gets the same entry and stores nothing', async () => {
  const dir = await tempDir()
  const db = join(dir.path, 'db')
  try {
    // level never gets the commits of this one: they are in the file only
    const first = new Child('first try', { db, stallWrites: true })
    await first.waitFor('ready', 20_000)
    first.send({ cmd: 'emit', name: 'Hello', msg: { from: 'once' }, key: 'payment-42', tag: 'one' })
    first.send({ cmd: 'emit', name: 'Integer', msg: { value: 7 }, tag: 'two' })
    const one = await first.waitFor('emitted', 10_000, l => l.tag === 'one')
    await first.waitFor('emitted', 10_000, l => l.tag === 'two')
    await first.kill()
    assert.is(first.signal, 'SIGKILL')
    const second = new Child('second try', { db, verify: true })
    const open = await second.waitFor('open', 20_000)
    assert.is(open.length, 2, 'both recovered from the write-ahead file')
    assert.ok((await second.waitFor('verify', 20_000)).ok)
    second.send({ cmd: 'emit', name: 'Hello', msg: { from: 'once' }, key: 'payment-42', tag: 'retry' })
    const retry = await second.waitFor('emitted', 10_000, l => l.tag === 'retry')
    assert.is(retry.id, one.id)
    assert.is(retry.seq, one.seq)
    assert.is(retry.length, 2, 'nothing stored')
    await second.stop()
  } finally {
    await dir.cleanup()
  }
})

kill('kill -9 at random moments while emitting keyed events, each run retrying from the first: every value stored once, every acknowledgement of a key names the same entry', async () => {
  const CONCURRENCY = 32
  const ROUNDS = 4
  const dir = await tempDir()
  const db = join(dir.path, 'db')
  const ids = new Map<number, string>()
  try {
    let highest = -1
    for (let round = 0; round < ROUNDS; round++) {
      const child = new Child(`round ${round}`, { db, emit: { base: 0, concurrency: CONCURRENCY, keyed: true } })
      await child.waitFor('emitting', 20_000)
      // past what earlier rounds stored: new values are being stored now
      await child.until(() => child.all('a').some(l => (l.v as number) > highest + 50), 20_000, 'new values')
      await new Promise(resolve => setTimeout(resolve, 20 + Math.floor(Math.random() * 150)))
      await child.kill()
      assert.not.ok(child.find('emit-error'), child.transcript)
      for (const l of child.all('a')) {
        const v = l.v as number
        const known = ids.get(v)
        if (known != null) assert.is(l.id, known, `value ${v}: acknowledged as ${String(l.id)} in round ${round}, as ${known} before`)
        else ids.set(v, l.id as string)
        highest = Math.max(highest, v)
      }
    }
    const e = await HyperEmitter.open(db, schema)
    try {
      assert.ok((await e.verify()).ok)
      // the producer's last retry, of every value it may have tried (a
      // child may have stored values whose acknowledgement it did not get
      // to print)
      let tried = highest
      for await (const ev of e.events({ from: 'beginning', live: false })) tried = Math.max(tried, (ev.payload as { value: number }).value)
      tried += CONCURRENCY
      for (let v = 0; v <= tried; v += 256) {
        const results = await Promise.all(Array.from({ length: Math.min(256, tried - v + 1) }, (_, i) => e.emit('Integer', { value: v + i }, { key: `v${v + i}` })))
        results.forEach((r, i) => {
          const known = ids.get(v + i)
          if (known != null) assert.is(r.id, known, `value ${v + i} on the last retry`)
        })
      }
      const stored = new Map<number, string[]>()
      for await (const ev of e.events({ from: 'beginning', live: false, names: ['Integer'] })) {
        const v = (ev.payload as { value: number }).value
        stored.set(v, [...(stored.get(v) ?? []), ev.id])
      }
      for (const [v, list] of stored) assert.is(list.length, 1, `value ${v} stored ${list.length} times`)
      for (const [v, id] of ids) assert.equal(stored.get(v), [id], `value ${v}`)
      assert.is(stored.size, tried + 1)
      assert.is(e.log.length, tried + 1, 'nothing else stored')
      console.log(`# kill -9 x${ROUNDS}: ${ids.size} values acknowledged, ${stored.size} stored, each once`)
    } finally {
      await e.close()
    }
  } finally {
    await dir.cleanup()
  }
})

kill.run()
