import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryLevel } from 'memory-level'
import { ClassicLevel } from 'classic-level'
import { join } from 'node:path'
import { HyperEmitter, hyperEmitter } from '../src/index.js'
import { fixture, tempDir, deferred, until, Cluster } from './helpers.js'

const basic = await fixture('basic.proto')
const messages = await fixture('messages.proto')
const cluster = new Cluster()
const dirs: Array<() => Promise<void>> = []

// emitters and folders go even when an assertion fails
test.after.each(async () => {
  await cluster.closeAll()
  for (const cleanup of dirs.splice(0)) await cleanup()
})

function track<T extends HyperEmitter> (e: T): T {
  return cluster.add(e)
}

async function temp (): Promise<string> {
  const dir = await tempDir()
  dirs.push(dir.cleanup)
  return dir.path
}

test('standalone emit reaches a one-argument listener', async () => {
  const e = track(new HyperEmitter(new MemoryLevel(), basic))
  const got = deferred<unknown>()
  e.on('Test1', msg => { got.resolve(msg) })
  await e.emit('Test1', { foo: 'hello', num: 42 })
  assert.equal(await got.promise, { foo: 'hello', num: 42 })
  await e.close()
})

test('a two-argument listener holds the next event until done', async () => {
  const e = track(hyperEmitter(new MemoryLevel(), basic))
  const seen: number[] = []
  const all = deferred()
  let inside = false
  e.on('Test1', (msg: { num: number }, done: () => void) => {
    assert.not.ok(inside, 'delivery overlapped')
    inside = true
    setTimeout(() => {
      seen.push(msg.num)
      inside = false
      done()
      if (seen.length === 3) all.resolve()
    }, 5)
  })
  await Promise.all([1, 2, 3].map(num => e.emit('Test1', { num })))
  await all.promise
  assert.equal(seen, [1, 2, 3])
  await e.close()
})

test('emit takes a callback too', async () => {
  const e = track(new HyperEmitter(new MemoryLevel(), basic))
  const done = deferred<unknown>()
  // the callback gets the outcome: with a callback, the returned promise is handled
  void e.emit('Test1', { num: 1 }, (err) => { done.resolve(err) })
  assert.is(await done.promise, null)
  const bad = deferred<Error>()
  void e.emit('Nope', { num: 1 }, (err) => { bad.resolve(err as Error) })
  assert.is((await bad.promise).name, 'UnknownEventError')
  await e.close()
})

test('decoded messages have defaults filled in', async () => {
  const e = track(await HyperEmitter.open(new MemoryLevel(), messages))
  const got = deferred<unknown>()
  e.on('Hello', msg => { got.resolve(msg) })
  await e.emit('Hello', { from: 'Matteo' })
  assert.equal(await got.promise, { from: 'Matteo', message: '' })
  await e.close()
})

test('removeListener stops delivery; an unknown listener is a no-op', async () => {
  const e = track(new HyperEmitter(new MemoryLevel(), basic))
  let calls = 0
  const listener = (): void => { calls++ }
  e.on('Test1', listener)
  e.removeListener('Test1', listener)
  e.removeListener('Test1', () => {})
  e.off('Test2', listener)
  const after = deferred()
  e.on('Test2', () => { after.resolve() })
  await e.emit('Test1', { num: 1 })
  await e.emit('Test2', { id: 1 })
  await after.promise
  assert.is(calls, 0)
  assert.is(e.listenerCount('Test1'), 0)
  await e.close()
})

test('once delivers one event', async () => {
  const e = track(new HyperEmitter(new MemoryLevel(), basic))
  const got: number[] = []
  e.once('Test1', (m: { num: number }) => { got.push(m.num) })
  const last = deferred()
  e.on('Test2', () => { last.resolve() })
  await e.emit('Test1', { num: 1 })
  await e.emit('Test1', { num: 2 })
  await e.emit('Test2', { id: 3 })
  await last.promise
  assert.equal(got, [1])
  await e.close()
})

test('once next to on with the same function removes only the once', async () => {
  const e = track(new HyperEmitter(new MemoryLevel(), basic))
  const got: number[] = []
  const f = (m: { num: number }): void => { got.push(m.num) }
  e.on('Test1', f)
  e.once('Test1', f)
  const last = deferred()
  e.on('Test2', () => { last.resolve() })
  await e.emit('Test1', { num: 1 })
  await e.emit('Test1', { num: 2 })
  await e.emit('Test2', { id: 3 })
  await last.promise
  assert.equal(got, [1, 1, 2])
  assert.is(e.listenerCount('Test1'), 1)
  await e.close()
})

test('async listeners are awaited in order', async () => {
  const e = track(new HyperEmitter(new MemoryLevel(), basic))
  const log: string[] = []
  const all = deferred()
  e.on('Test1', async (m: { num: number }) => {
    log.push(`start ${m.num}`)
    await new Promise(resolve => setTimeout(resolve, 2))
    log.push(`end ${m.num}`)
    if (m.num === 2) all.resolve()
  })
  await Promise.all([e.emit('Test1', { num: 1 }), e.emit('Test1', { num: 2 })])
  await all.promise
  assert.equal(log, ['start 1', 'end 1', 'start 2', 'end 2'])
  await e.close()
})

test('the same payload emitted twice is delivered twice', async () => {
  const e = track(new HyperEmitter(new MemoryLevel(), basic))
  let count = 0
  const two = deferred()
  e.on('Test1', () => { if (++count === 2) two.resolve() })
  await e.emit('Test1', { foo: 'same', num: 1 })
  await e.emit('Test1', { foo: 'same', num: 1 })
  await two.promise
  assert.is(e.log.length, 2)
  await e.close()
})

test('unknown events and bad messages are refused and nothing is stored', async () => {
  const e = track(await HyperEmitter.open(new MemoryLevel(), basic))
  const cases: Array<[string, unknown, string, string | undefined]> = [
    ['Missing', { num: 1 }, 'UnknownEventError', undefined],
    ['Test1', { foo: 'x' }, 'InvalidMessageError', 'num'],
    ['Test1', { num: 'twelve' }, 'InvalidMessageError', 'num'],
    ['Test1', { num: 1.5 }, 'InvalidMessageError', 'num'],
    ['Test1', { num: 1, foo: 7 }, 'InvalidMessageError', 'foo'],
    ['Test1', { num: 1, nope: true }, 'InvalidMessageError', 'nope'],
    ['Test1', null, 'InvalidMessageError', undefined],
    ['Test1', 'string', 'InvalidMessageError', undefined]
  ]
  for (const [name, msg, errName, field] of cases) {
    try {
      await e.emit(name, msg)
      assert.unreachable(`${name} ${JSON.stringify(msg)} was accepted`)
    } catch (err) {
      const error = err as { name: string, field?: string, code: string }
      assert.is(error.name, errName, JSON.stringify(msg))
      if (field != null) assert.is(error.field, field)
      assert.ok(error.code.startsWith('ERR_'))
    }
  }
  assert.is(e.log.length, 0)
  await e.emit('Test1', { num: 1 })
  assert.is(e.log.length, 1)
  await e.close()
})

test('a bad schema is a SchemaError', () => {
  assert.throws(() => new HyperEmitter(new MemoryLevel(), 'message { nope'), (err: Error) => err.name === 'SchemaError')
})

test('proto3 schemas and packages work; messages exposes encode and decode', async () => {
  const e = track(new HyperEmitter(new MemoryLevel(), 'syntax = "proto3"; package shop; message Order { int64 id = 1; repeated string items = 2; }'))
  const bytes = e.messages.Order.encode({ id: 5, items: ['a'] })
  assert.equal(e.messages.Order.decode(bytes), { id: 5, items: ['a'] })
  assert.ok(e.messages['shop.Order'] != null)
  assert.ok(e.messages.EventPeer != null)
  const got = deferred<unknown>()
  e.on('Order', m => { got.resolve(m) })
  await e.emit('Order', { id: 7 })
  assert.equal(await got.promise, { id: 7, items: [] })
  await e.close()
})

test('emit after close rejects with ClosedError', async () => {
  const e = track(new HyperEmitter(new MemoryLevel(), basic))
  await e.close()
  try {
    await e.emit('Test1', { num: 1 })
    assert.unreachable()
  } catch (err) {
    assert.is((err as Error).name, 'ClosedError')
  }
  const cb = deferred<Error | null>()
  await e.close((err) => { cb.resolve(err) })
  assert.is(await cb.promise, null)
})

test('old events are not delivered again after reopening; the log persists on classic-level', async () => {
  const path = join(await temp(), 'db')
  const e1 = track(new HyperEmitter(new ClassicLevel(path), basic))
  await e1.emit('Test1', { num: 1 })
  await e1.emit('Test1', { num: 2 })
  const id = e1.id
  await e1.close()
  const e2 = track(new HyperEmitter(path, basic))
  const seen: number[] = []
  const got = deferred()
  e2.on('Test1', (m: { num: number }) => { seen.push(m.num); got.resolve() })
  await e2.ready()
  assert.is(e2.id, id, 'identity survives a restart')
  assert.is(e2.log.length, 2)
  await e2.emit('Test1', { num: 3 })
  await got.promise
  assert.equal(seen, [3])
  const all = []
  for await (const ev of e2.events({ from: 'beginning', live: false })) if (ev.unknown !== true) all.push(ev.payload.num)
  assert.equal(all, [1, 2, 3])
  const report = await e2.verify()
  assert.ok(report.ok, JSON.stringify(report.problems))
  await e2.close()
})

test('stream: the readable side gives events from now on', async () => {
  const e = track(new HyperEmitter(new MemoryLevel(), basic))
  await e.emit('Test1', { num: 0 })
  const stream = e.stream()
  const got = deferred<unknown>()
  stream.once('data', d => { got.resolve(d) })
  await new Promise(resolve => setTimeout(resolve, 20))
  await e.emit('Test1', { num: 1 })
  assert.equal(await got.promise, { name: 'Test1', payload: { foo: '', num: 1 } })
  stream.destroy()
  await e.close()
})

test('stream: the writable side emits', async () => {
  const e = track(new HyperEmitter(new MemoryLevel(), basic))
  const got = deferred<unknown>()
  e.on('Test2', m => { got.resolve(m) })
  const stream = e.stream()
  stream.write({ name: 'Test2', payload: { id: 9, bar: 'b' } })
  assert.equal(await got.promise, { bar: 'b', id: 9 })
  stream.destroy()
  await e.close()
})

test('stream: a bad write is an error on the stream and stores nothing', async () => {
  const e = track(new HyperEmitter(new MemoryLevel(), basic))
  await e.ready()
  const stream = e.stream()
  const err = deferred<Error>()
  stream.on('error', er => { err.resolve(er) })
  stream.write({ name: 'Test2', payload: { id: 'no' } })
  assert.is((await err.promise).name, 'InvalidMessageError')
  assert.is(e.log.length, 0)
  await e.close()
})

test('stream started inside a listener starts after that event', async () => {
  const e = track(new HyperEmitter(new MemoryLevel(), basic))
  const got = deferred<unknown>()
  e.once('Test1', () => {
    const stream = e.stream()
    stream.once('data', d => { got.resolve(d); stream.destroy() })
  })
  await e.emit('Test1', { num: 1 })
  await e.emit('Test2', { id: 2 })
  assert.equal(await got.promise, { name: 'Test2', payload: { bar: '', id: 2 } })
  await e.close()
})

/** Reads `stream({ from: 'beginning' })` of `e` until the Test1 and Test2 that the tests emit first. */
async function firstTwoFromTheBeginning (e: HyperEmitter): Promise<void> {
  const stream = e.stream({ from: 'beginning' })
  const seen: unknown[] = []
  const two = deferred()
  stream.on('data', d => { seen.push(d); if (seen.length === 2) two.resolve() })
  await two.promise
  assert.equal(seen, [{ name: 'Test1', payload: { foo: '', num: 1 } }, { name: 'Test2', payload: { bar: '', id: 2 } }])
  stream.destroy()
}

test('stream from the beginning', async () => {
  const e = track(new HyperEmitter(new MemoryLevel(), basic))
  await e.emit('Test1', { num: 1 })
  await e.emit('Test2', { id: 2 })
  await firstTwoFromTheBeginning(e)
  await e.close()
})

test('stream from the beginning, made right after the constructor on a db folder, waits for the open', async () => {
  const path = join(await temp(), 'db')
  const e1 = track(new HyperEmitter(path, basic))
  await e1.emit('Test1', { num: 1 })
  await e1.emit('Test2', { id: 2 })
  await e1.close()
  // no 'error' listener: an error here would end the process
  await firstTwoFromTheBeginning(track(new HyperEmitter(path, basic)))
})

test('a named cursor resumes after what the consumer took, across restarts', async () => {
  const path = join(await temp(), 'db')
  const e1 = track(new HyperEmitter(path, basic))
  for (let i = 1; i <= 5; i++) await e1.emit('Test1', { num: i })
  const first: number[] = []
  for await (const ev of e1.events({ cursor: 'reader', from: 'beginning' })) {
    if (ev.unknown !== true) first.push(ev.payload.num as number)
    if (first.length === 3) break
  }
  assert.equal(first, [1, 2, 3])
  await e1.close()
  const e2 = track(new HyperEmitter(path, basic))
  await e2.emit('Test1', { num: 6 })
  const rest: number[] = []
  for await (const ev of e2.events({ cursor: 'reader', live: false })) if (ev.unknown !== true) rest.push(ev.payload.num as number)
  assert.equal(rest, [4, 5, 6])
  await e2.close()
})

test('1,000 concurrent emits are all delivered, in commit order', async () => {
  const e = track(new HyperEmitter(new MemoryLevel(), basic))
  const seen: number[] = []
  const all = deferred()
  e.on('Test1', (m: { num: number }) => { seen.push(m.num); if (seen.length === 1000) all.resolve() })
  const results = await Promise.all(Array.from({ length: 1000 }, (_, num) => e.emit('Test1', { num })))
  await all.promise
  const bySeq = results.map((r, num) => ({ seq: r.seq, num })).sort((a, b) => a.seq - b.seq).map(r => r.num)
  assert.equal(seen, bySeq)
  assert.equal(new Set(results.map(r => r.seq)).size, 1000)
  assert.ok((await e.verify()).ok)
  await e.close()
})

test('events() stops when its signal aborts', async () => {
  const e = track(new HyperEmitter(new MemoryLevel(), basic))
  const ac = new AbortController()
  const done = (async () => { for await (const _ of e.events({ signal: ac.signal })) { /* none */ } })()
  await until(() => true)
  ac.abort()
  await done
  await e.close()
})

test.run()
