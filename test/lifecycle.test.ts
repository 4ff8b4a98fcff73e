// The emitter's one lifecycle: every public call works in every state. While
// opening, calls wait and getters that need the db say NotOpenError; after a
// failed open, calls reject with OpenError; after close(), with ClosedError.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createServer, type Server, type Socket } from 'node:net'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { MemoryLevel } from 'memory-level'
import { ClassicLevel } from 'classic-level'
import { HyperEmitter, type Event } from '../src/index.js'
import { fixture, tempDir, deferred, Cluster } from './helpers.js'
import { HostilePeer, hello, Author } from './hostile-peer.js'

const messages = await fixture('messages.proto')
const cluster = new Cluster()
const dirs: Array<() => Promise<void>> = []
const servers: Array<{ server: Server, sockets: Set<Socket> }> = []

test.after.each(async () => {
  await cluster.closeAll()
  for (const { server, sockets } of servers.splice(0)) {
    for (const socket of sockets) socket.destroy()
    await new Promise(resolve => server.close(resolve))
  }
  for (const cleanup of dirs.splice(0)) await cleanup()
})

function emitter (db: MemoryLevel | ClassicLevel | string = new MemoryLevel()): HyperEmitter {
  return cluster.add(new HyperEmitter(db, messages, { reconnectTimeout: 100 }))
}

async function temp (): Promise<string> {
  const dir = await tempDir()
  dirs.push(dir.cleanup)
  return dir.path
}

/** The error `p` rejects with, or undefined if it resolves; it never rejects. */
async function rejection (p: Promise<unknown>): Promise<Error | undefined> {
  try {
    await p
  } catch (err) {
    return err as Error
  }
  return undefined
}

/** `p`, marked handled: a test that fails before awaiting it does not also leave a stray rejection. */
function handled<T> (p: Promise<T>): Promise<T> {
  p.catch(() => {})
  return p
}

/** The error `fn` throws; fails the test if it returns. */
function thrown (fn: () => unknown): Error {
  try {
    fn()
  } catch (err) {
    return err as Error
  }
  assert.unreachable('it did not throw')
  throw new Error('unreachable')
}

/** The first error a stream emits. */
function streamError (stream: NodeJS.EventEmitter & { resume: () => unknown }): Promise<Error> {
  return new Promise(resolve => {
    stream.once('error', resolve)
    stream.resume()
  })
}

/** A TCP server that accepts connections and says nothing: a dial to it hangs. */
async function silentServer (): Promise<number> {
  const sockets = new Set<Socket>()
  const server = createServer(socket => { sockets.add(socket) })
  servers.push({ server, sockets })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as { port: number }).port
}

test('every public method and getter, called right after the constructor on classic-level, works or waits and then works', async () => {
  const other = emitter()
  const [otherAddr] = await other.listen(0)
  const otherPort = Number(otherAddr.toString().split('/')[4])
  const path = join(await temp(), 'db')

  const e = emitter(path)
  // synchronous: defined at once
  assert.is(e.state, 'opening')
  assert.is(e.closed, false)
  assert.ok(e.messages.Hello != null)
  assert.ok(e.schema != null)
  assert.equal(e.options, { reconnectTimeout: 100 })
  assert.ok(typeof e.status.on === 'function')
  assert.equal(e.peers(), [])
  assert.is(e.node, undefined)
  assert.is(thrown(() => e.id).name, 'NotOpenError')
  assert.is(thrown(() => e.peerId).name, 'NotOpenError')
  assert.is(thrown(() => e.log).name, 'NotOpenError')
  const heard: unknown[] = []
  const onced: unknown[] = []
  const removed = (): void => { assert.unreachable('a removed listener was called') }
  e.on('Hello', m => { heard.push(m) })
  e.addListener('Hello', removed)
  e.removeListener('Hello', removed)
  e.once('Hello', m => { onced.push(m) })
  e.on('Integer', removed)
  e.off('Integer', removed)
  assert.is(e.listenerCount('Hello'), 2)
  assert.is(e.listenerCount('Integer'), 0)

  // asynchronous: each waits for the db, then works
  const fromBeginning = e.stream({ from: 'beginning' })
  const fromNow = e.stream()
  const streamed = handled(new Promise<unknown>((resolve, reject) => {
    fromBeginning.on('data', (d: { name: string }) => { if (d.name === 'Hello') resolve(d) })
    fromBeginning.on('error', reject)
  }))
  const streamedNow = handled(new Promise<unknown>((resolve, reject) => {
    fromNow.on('data', (d: { name: string }) => { if (d.name === 'Hello') resolve(d) })
    fromNow.on('error', reject)
  }))
  const iterated = handled((async () => {
    for await (const ev of e.events()) if (ev.name === 'Hello') return ev
  })())
  const ready = handled(e.ready())
  const emitted = handled(e.emit('Hello', { from: 'early' }))
  const emittedCb = deferred<Error | null>()
  // these two report through their callbacks, which handle the returned promises
  void e.emit('Integer', { value: 1 }, err => { emittedCb.resolve(err) })
  const written = deferred<Error | null | undefined>()
  fromNow.write({ name: 'Integer', payload: { value: 2 } }, err => { written.resolve(err) })
  const listened = handled(e.listen(0))
  const connected = deferred<{ err: Error | null, peer?: string }>()
  void e.connect(otherPort, '127.0.0.1', (err, peer) => { connected.resolve({ err, peer }) })
  const synced = handled(e.synced())
  const verified = handled(e.verify())

  await ready
  assert.is(e.state, 'open')
  assert.match(e.id, /^[0-9a-f]{64}$/)
  assert.match(e.peerId, /^12D3KooW/)
  assert.is(e.log.closed, false)
  const { seq } = await emitted
  assert.ok(seq >= 1 && e.log.length >= seq)
  assert.is(await emittedCb.promise, null)
  assert.not.ok(await written.promise)
  assert.equal(await streamed, { name: 'Hello', payload: { from: 'early', message: '' } })
  assert.equal(await streamedNow, { name: 'Hello', payload: { from: 'early', message: '' } }, "'now' of a stream made while opening: what is stored once open")
  assert.equal((await iterated as Event).payload, { from: 'early', message: '' })
  const addrs = await listened
  assert.match(addrs[0].toString(), /^\/ip4\/127\.0\.0\.1\/tcp\/\d+/)
  const { err, peer } = await connected.promise
  assert.is(err, null)
  assert.is(peer, other.peerId)
  await synced
  assert.ok((await verified).ok)
  await e.synced(other.peerId)
  assert.ok(e.node != null)
  assert.equal(e.peers().map(p => p.id), [other.peerId])
  assert.equal(heard, [{ from: 'early', message: '' }])
  assert.equal(onced, [{ from: 'early', message: '' }])
  fromBeginning.destroy()
  fromNow.destroy()
  await e.close()
  assert.is(e.state, 'closed')
})

for (const kind of ['a file', 'locked by another handle']) {
  test(`a db folder that is ${kind}: the open fails with OpenError, which every call then rejects with; close() still works`, async () => {
    const dir = await temp()
    const path = join(dir, 'db')
    let holder: ClassicLevel | undefined
    if (kind === 'a file') {
      await writeFile(path, 'not a db')
    } else {
      await mkdir(path)
      holder = new ClassicLevel(path)
      await holder.open()
    }
    try {
      const e = emitter(path)
      const iterator = e.events()
      const early = rejection(e.emit('Hello', { from: 'x' }))
      const openError = (await rejection(e.ready()))!
      assert.is(openError?.name, 'OpenError')
      assert.is((openError as Error & { code: string }).code, 'ERR_OPEN')
      assert.is((openError.cause as Error).name, 'StorageError')
      assert.is(e.state, 'closed')
      assert.is(e.closed, false, 'close() was not called')
      const calls: Array<[string, Promise<Error | undefined>]> = [
        ['emit made while opening', early],
        ['emit', rejection(e.emit('Hello', { from: 'x' }))],
        ['listen', rejection(e.listen(0))],
        ['connect', rejection(e.connect(1, '127.0.0.1'))],
        ['synced', rejection(e.synced())],
        ['verify', rejection(e.verify())],
        ['ready', rejection(e.ready())],
        ['events', rejection(iterator.next())],
        ['events after', rejection(e.events().next())],
        ['stream', streamError(e.stream({ from: 'beginning' }))],
        ['HyperEmitter.open', rejection(HyperEmitter.open(path, messages))]
      ]
      for (const [what, call] of calls) assert.is((await call)?.name, 'OpenError', what)
      const cb = deferred<Error | null>()
      // the callback gets the outcome: with a callback, the returned promise is handled
      void e.listen(0, '127.0.0.1', err => { cb.resolve(err) })
      assert.is((await cb.promise)?.name, 'OpenError')
      for (const getter of ['id', 'peerId', 'log'] as const) assert.is(thrown(() => e[getter]).name, 'OpenError', getter)
      assert.equal(e.peers(), [])
      assert.is(e.node, undefined)
      await e.close()
      assert.is(e.state, 'closed')
      assert.is((await rejection(e.emit('Hello', {})))?.name, 'ClosedError', 'after close(), ClosedError')
      if (holder != null) {
        // the failed emitter left the db to its holder, and holds no lock of its own
        await holder.close()
        holder = undefined
        const again = cluster.add(await HyperEmitter.open(path, messages))
        assert.is(again.state, 'open')
      }
    } finally {
      await holder?.close()
    }
  })
}

test('after close() every call rejects with ClosedError; getters stay readable', async () => {
  const path = join(await temp(), 'db')
  const e = emitter(path)
  await e.listen(0)
  const id = e.id
  const peerId = e.peerId
  const reading = e.stream({ from: 'beginning' })
  const ended = new Promise<void>((resolve, reject) => { reading.on('end', resolve).on('error', reject).resume() })
  const closing = e.close()
  assert.is(e.state, 'closing')
  assert.is(e.closed, true)
  assert.is((await rejection(e.emit('Hello', {})))?.name, 'ClosedError', 'emit while closing')
  await closing
  assert.is(e.state, 'closed')
  await ended
  const calls: Array<[string, Promise<Error | undefined>]> = [
    ['emit', rejection(e.emit('Hello', { from: 'x' }))],
    ['listen', rejection(e.listen(0))],
    ['listen multiaddr', rejection(e.listen('/ip4/127.0.0.1/tcp/0'))],
    ['connect', rejection(e.connect(1, '127.0.0.1'))],
    ['synced', rejection(e.synced())],
    ['synced peer', rejection(e.synced(peerId))],
    ['verify', rejection(e.verify())],
    ['ready', rejection(e.ready())],
    ['events', rejection(e.events({ from: 'beginning' }).next())],
    ['stream', streamError(e.stream({ from: 'beginning' }))]
  ]
  for (const [what, call] of calls) assert.is((await call)?.name, 'ClosedError', what)
  for (const form of ['emit', 'listen', 'connect'] as const) {
    const cb = deferred<Error | null>()
    const done = (err: Error | null): void => { cb.resolve(err) }
    // the callback gets the error; the returned promise's copy of it is dropped
    if (form === 'emit') void e.emit('Hello', {}, done).catch(() => {})
    if (form === 'listen') void e.listen(0, '127.0.0.1', done).catch(() => {})
    if (form === 'connect') void e.connect(1, '127.0.0.1', done).catch(() => {})
    assert.is((await cb.promise)?.name, 'ClosedError', `${form} with a callback`)
  }
  const writer = e.stream()
  const writeError = new Promise<Error>(resolve => { writer.once('error', resolve) })
  writer.write({ name: 'Hello', payload: {} })
  assert.is((await writeError).name, 'ClosedError', 'a write to a stream')
  // the identity is known, and the log is the closed one
  assert.is(e.id, id)
  assert.is(e.peerId, peerId)
  assert.ok(e.log.closed)
  assert.equal(e.peers(), [])
  e.on('Hello', () => {})
  assert.is(e.listenerCount('Hello'), 1)
  await e.close()
  const cb = deferred<Error | null>()
  await e.close(err => { cb.resolve(err) })
  assert.is(await cb.promise, null, 'close() again is fine')
})

test('close() while opening: calls made meanwhile reject with ClosedError, and the db is released', async () => {
  const path = join(await temp(), 'db')
  const e = emitter(path)
  const early = rejection(e.emit('Hello', { from: 'x' }))
  const ready = rejection(e.ready())
  const closing = e.close()
  assert.is(e.state, 'closing')
  assert.is((await early)?.name, 'ClosedError')
  assert.is((await ready)?.name, 'ClosedError')
  await closing
  assert.is(e.state, 'closed')
  const again = cluster.add(await HyperEmitter.open(path, messages))
  assert.is(again.log.length, 0)
})

test('a call that waits when close() comes rejects with ClosedError', async () => {
  const e = emitter()
  await e.ready()
  const port = await silentServer()
  const connecting = rejection(e.connect(port, '127.0.0.1'))
  await new Promise(resolve => setTimeout(resolve, 200))
  const started = Date.now()
  await e.close()
  assert.is((await connecting)?.name, 'ClosedError')
  assert.ok(Date.now() - started < 5000)
})

test('connect, listen, synced, verify and ready take a signal: an abort rejects with its reason', async () => {
  // while opening
  const opening = emitter(join(await temp(), 'db'))
  const ac = new AbortController()
  const reason = new Error('given up')
  const waits: Array<[string, Promise<Error | undefined>]> = [
    ['ready', rejection(opening.ready({ signal: ac.signal }))],
    ['synced', rejection(opening.synced({ signal: ac.signal }))],
    ['verify', rejection(opening.verify({ signal: ac.signal }))],
    ['listen', rejection(opening.listen(0, { signal: ac.signal }))],
    ['listen with a host', rejection(opening.listen(0, '127.0.0.1', { signal: ac.signal }))],
    ['connect', rejection(opening.connect(1, '127.0.0.1', { signal: ac.signal }))],
    ['connect a multiaddr', rejection(opening.connect('/ip4/127.0.0.1/tcp/1', { signal: ac.signal }))]
  ]
  ac.abort(reason)
  for (const [what, wait] of waits) assert.is(await wait, reason, what)
  await opening.ready()
  assert.is(opening.state, 'open', 'the emitter opened all the same')

  // an aborted signal
  const e = emitter()
  await e.ready()
  const aborted = AbortSignal.abort(reason)
  assert.is(await rejection(e.synced({ signal: aborted })), reason)
  assert.is(await rejection(e.verify({ signal: aborted })), reason)

  // a dial that hangs
  const port = await silentServer()
  const dial = new AbortController()
  const connecting = rejection(e.connect(port, '127.0.0.1', { signal: dial.signal }))
  setTimeout(() => { dial.abort(reason) }, 200)
  assert.is(await connecting, reason)

  // with a callback too
  const cb = deferred<Error | null>()
  // the callback gets the error; the returned promise's copy of it is dropped
  void e.connect(port, '127.0.0.1', { signal: aborted }, err => { cb.resolve(err) }).catch(() => {})
  assert.is(await cb.promise, reason)
})

test('synced() that would wait forever (a peer that never sends what it has) rejects with the abort reason, or ClosedError at close()', async () => {
  const e = emitter()
  const [addr] = await e.listen(0)
  const p = await HostilePeer.create()
  cluster.add({ close: async () => { await p.stop() } })
  const s = await p.open(addr)
  // it says it has 5 entries of an author, and never sends them
  assert.ok(await s.send(hello(e, [{ author: Author.unsigned().key, seq: 5 }])))
  assert.ok(await s.remoteHello() != null)
  const forever = rejection(e.synced(p.peerId))
  const ac = new AbortController()
  const reason = new Error('waited enough')
  const waiting = rejection(e.synced(p.peerId, { signal: ac.signal }))
  const all = rejection(e.synced({ signal: ac.signal }))
  setTimeout(() => { ac.abort(reason) }, 300)
  assert.is(await waiting, reason)
  assert.is(await all, reason)
  await e.close()
  assert.is((await forever)?.name, 'ClosedError')
})

test.run()
