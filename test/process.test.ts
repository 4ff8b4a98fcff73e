// Issue 3: emitters in separate OS processes (test/child-emitter.ts), over
// TCP on 127.0.0.1.
//
// 1. A child listens, this process connects; events emitted on either side
//    reach the other, each once, in order, and the two logs converge.
// 2. A child catching up 20,000 events from this process is SIGKILLed half
//    way, restarted on the same dir, and finishes: its log then holds exactly
//    this process's entries, with no gap and no duplicate.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { join } from 'node:path'
import { MemoryLevel } from 'memory-level'
import { ClassicLevel } from 'classic-level'
import { HyperEmitter, Log, Schema } from '../src/index.js'
import { fixture, tempDir, until } from './helpers.js'
import { Child, children, type Line } from './child.js'

const schema = await fixture('messages.proto')
const codec = new Schema(schema)




interface Stored { id: string, author: string, authorSeq: number }

async function snapshot (log: Log): Promise<Stored[]> {
  const out: Stored[] = []
  for (let from = 1; from <= log.length; from += 4096) {
    for (const le of await log.read(from, 4096)) {
      if (le.seq !== out.length + 1) assert.unreachable(`feed position ${le.seq} after ${out.length}`)
      // decodes: the payload is intact
      codec.decode(le.entry.name, le.entry.payload)
      out.push({ id: Buffer.from(le.id).toString('hex'), author: Buffer.from(le.entry.author).toString('hex'), authorSeq: le.entry.seq })
    }
  }
  return out
}

function headsOf (log: Log): string[] {
  return log.heads().map(h => Buffer.from(h).toString('hex')).sort()
}

test.after.each(async () => {
  await Promise.all([...children].map(async c => { await c.kill() }))
})

test('two emitters in two processes: events emitted on each side reach the other, once, in order', async () => {
  const b = new Child('b', { db: 'memory', listen: true, report: true })
  const a = new HyperEmitter(new MemoryLevel(), schema, { reconnectTimeout: 100 })
  try {
    const ready = await b.waitFor('ready', 20_000)
    const [addr] = ready.addrs as string[]
    assert.match(addr, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//)
    await a.ready()
    const atA: Array<{ name: string, payload: Record<string, unknown> }> = []
    a.on('Hello', payload => { atA.push({ name: 'Hello', payload }) })
    a.on('Integer', payload => { atA.push({ name: 'Integer', payload }) })
    const peer = await a.connect(addr)
    assert.is(peer, ready.peerId)

    // a few single events each way, then a burst each way at the same time
    for (let i = 0; i < 3; i++) {
      await a.emit('Hello', { from: 'a', message: `a${i}` })
      b.send({ cmd: 'emit', name: 'Hello', msg: { from: 'b', message: `b${i}` }, tag: `b${i}` })
    }
    await Promise.all(Array.from({ length: 200 }, (_, i) => a.emit('Integer', { value: i })))
    b.send({ cmd: 'burst', name: 'Integer', count: 200, base: 1000, tag: 'burst' })

    const fromA = (): Line[] => b.all('event', l => (l.name === 'Hello' && (l.payload as { from: string }).from === 'a') || (l.name === 'Integer' && ((l.payload as { value: number }).value ?? 0) < 1000))
    const fromB = (): Array<{ name: string, payload: Record<string, unknown> }> => atA.filter(e => (e.name === 'Hello' && e.payload.from === 'b') || (e.name === 'Integer' && (e.payload.value as number) >= 1000))
    await b.until(() => fromA().length >= 203, 20_000, 'b to get a\'s 203 events')
    await until(() => fromB().length >= 203, 20_000, `a to get b's 203 events (has ${fromB().length})`)
    await new Promise(resolve => setTimeout(resolve, 200))

    // each once, in the order emitted
    assert.equal(fromA().filter(l => l.name === 'Hello').map(l => (l.payload as { message: string }).message), ['a0', 'a1', 'a2'])
    assert.equal(fromA().filter(l => l.name === 'Integer').map(l => (l.payload as { value: number }).value), Array.from({ length: 200 }, (_, i) => i))
    assert.equal(fromB().filter(e => e.name === 'Hello').map(e => e.payload.message), ['b0', 'b1', 'b2'])
    assert.equal(fromB().filter(e => e.name === 'Integer').map(e => e.payload.value), Array.from({ length: 200 }, (_, i) => 1000 + i))
    // b's own emits resolved
    assert.ok(b.find('emitted', l => l.tag === 'burst'), b.transcript)

    // the two logs converge: same length, same heads, both verify
    await until(async () => {
      const tag = String(Date.now())
      b.send({ cmd: 'state', tag })
      const s = await b.waitFor('state', 10_000, l => l.tag === tag)
      return s.length === a.log.length && JSON.stringify(s.heads) === JSON.stringify(headsOf(a.log))
    }, 10_000, 'the same log on both sides')
    const state = b.lines.filter(l => l.t === 'state').at(-1)!
    assert.ok((state.verify as { ok: boolean }).ok, JSON.stringify(state.verify))
    assert.ok((await a.verify()).ok)
    assert.is(a.log.length, 406 + 1, 'a 3 + 200, b 3 + 200, and b\'s EventPeer')
    assert.equal((state.peers as Array<{ id: string }>).map(p => p.id), [a.peerId])

    await b.stop()
    assert.is(b.exitCode, 0, b.transcript)
    assert.ok(b.find('closed'), b.transcript)
  } finally {
    await b.kill()
    await a.close()
  }
})

test('a peer SIGKILLed mid catch-up and restarted resumes: no gap, no duplicate', async () => {
  const N = 20_000
  const dir = await tempDir()
  const dbB = join(dir.path, 'b')
  const a = new HyperEmitter(join(dir.path, 'a'), schema, { reconnectTimeout: 100 })
  const started = Date.now()
  try {
    await a.ready()
    for (let i = 0; i < N; i += 1000) await Promise.all(Array.from({ length: 1000 }, (_, j) => a.emit('Integer', { value: i + j })))
    const [addr] = await a.listen(0, '127.0.0.1')
    const total = a.log.length
    assert.is(total, N + 1, 'N events and the EventPeer')

    // B catches up, and is killed once it has some, not all
    const first = new Child('b (first run)', { db: dbB, connect: addr.toString(), progress: 1000 })
    await first.waitFor('p', 30_000, l => (l.length as number) >= 1000)
    await first.kill()
    assert.is(first.signal, 'SIGKILL')
    const progress = first.all('p')
    const atKill = progress[progress.length - 1].length as number
    assert.not.ok(first.find('synced'), `b had caught up before the kill\n${first.transcript}`)
    assert.ok(atKill < total, `b had all ${total} entries at the kill`)

    // restarted on the same dir: it reconnects (explicitly, and to its saved
    // peer) and finishes
    const second = new Child('b (restart)', { db: dbB, preverify: true, connect: addr.toString(), progress: 1000 })
    const verify = await second.waitFor('verify', 30_000)
    assert.ok(verify.ok, `verify after the kill: ${JSON.stringify(verify.problems)}`)
    const resumedAt = verify.length as number
    assert.ok(resumedAt >= atKill && resumedAt < total, `restarted with ${resumedAt} entries (${atKill} reported before the kill, ${total} in all)`)
    const synced = await second.waitFor('synced', 30_000)
    assert.is(synced.length, total, second.transcript)
    // a sent b only what it lacked, in the session after the restart (peers()
    // counts since a opened, so `sent` holds the first session's too)
    const sent = a.peers().reduce((sum, p) => sum + p.session.sent, 0)
    assert.ok(sent <= total - resumedAt, `a sent ${sent} entries to a peer that lacked ${total - resumedAt}`)
    await second.stop()
    assert.is(second.exitCode, 0, second.transcript)
    assert.ok(second.find('closed'), second.transcript)

    // b's db, opened here as a bare log (nothing goes online)
    const b = await Log.open(new ClassicLevel(dbB))
    try {
      const v = await b.verify()
      assert.ok(v.ok, JSON.stringify(v.problems.slice(0, 5)))
      assert.is(v.entries, total)
      const [sa, sb] = [await snapshot(a.log), await snapshot(b)]
      assert.is(sb.length, sa.length, 'same length')
      assert.is(new Set(sb.map(s => s.id)).size, sb.length, 'no duplicate ids')
      const idsA = new Set(sa.map(s => s.id))
      assert.is(sb.filter(s => !idsA.has(s.id)).length, 0, 'no id that a lacks')
      assert.equal(new Set(sb.map(s => s.author)), new Set([a.id]), 'a is the only author')
      const seqs = sb.map(s => s.authorSeq).sort((x, y) => x - y)
      seqs.forEach((n, i) => { if (n !== i + 1) assert.unreachable(`author seq ${n} at rank ${i + 1}: a gap or a duplicate`) })
      assert.equal(b.vector(), a.log.vector())
      assert.equal(headsOf(b), headsOf(a.log))
      console.log(`# killed at ${atKill} of ${total}, restarted with ${resumedAt}, a sent ${sent} more; ${((Date.now() - started) / 1000).toFixed(1)} s`)
    } finally {
      await b.close()
    }
  } finally {
    for (const c of children) await c.kill()
    await a.close()
    await dir.cleanup()
  }
})

test.run()
