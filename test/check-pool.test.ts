// The check pool (src/log/check-pool.ts): entries hashed and their
// signatures checked on worker threads, and a session's receiver that takes
// what it found for Entries frames of signed entries.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { CheckPool, FAILED, UNSIGNED, VALID, type Checked } from '../src/log/check-pool.js'
import { entryId } from '../src/log/entry.js'
import { Identity } from '../src/log/identity.js'
import { CHECK_FROM, REFUSE } from '../src/sync/constants.js'
import { Pair } from './sync/pair.js'
import { Author, entriesMessage, hello } from './sync/author.js'

const payload = new Uint8Array([0x0a, 0x01, 0x78])

/** `n` entries of one author, each signed. */
function chain (n: number, author = new Author()): Uint8Array[] {
  return Array.from({ length: n }, () => author.next('Hello', payload).bytes)
}

test('each entry\'s id and the verdict on its signature, in order, over two workers; a pool closed fails the checks under way and starts again', async () => {
  const pool = new CheckPool(2)
  try {
    const a = new Author()
    const entries: Uint8Array[] = []
    const expected: number[] = []
    for (let i = 0; i < 700; i++) {
      const signed = i % 3 !== 0
      const bytes = a.next('Hello', payload, { sign: signed }).bytes
      if (i === 100) bytes[10] ^= 0x01
      if (i === 200) bytes[bytes.byteLength - 1] ^= 0x01
      entries.push(bytes)
      expected.push(!signed ? UNSIGNED : i === 100 || i === 200 ? FAILED : VALID)
    }
    // signed by another key than its author's
    entries.push(new Author(Identity.generate()).next('Hello', payload, { sign: Identity.generate() }).bytes)
    expected.push(FAILED)
    // bytes that do not decode
    entries.push(Uint8Array.from([0xff, 0xff, 0xff]))
    expected.push(FAILED)
    const assertChecked = (checked: Checked): void => {
      assert.is(checked.length, entries.length)
      assert.equal([...checked.signatures], expected)
      entries.forEach((e, i) => { assert.equal(checked.id(i), entryId(e), `the id of entry ${i}`) })
      const part = checked.slice(650, 702)
      assert.equal(part.id(1), entryId(entries[651]))
      assert.is(part.signatures[51], FAILED)
    }
    assertChecked(await pool.check(entries))
    await pool.close()
    assertChecked(await pool.check(entries))
    // a check under way when the workers go fails, and none hangs; the next one starts new workers
    const under = pool.check(entries).then(() => 'done', (err: Error) => err.message)
    await pool.close()
    assert.match(await under, /closed/)
    assertChecked(await pool.check(entries))
  } finally {
    await pool.close()
  }
})

test('a frame of signed entries is checked on the pool: stored as without it; a forged signature is refused for its reason; a failed check leaves the frame to this thread', async () => {
  const pair = new Pair()
  const pool = new CheckPool(2)
  try {
    const node = await pair.node()
    const [s, p] = pair.script(node, { checks: pool })
    p.send(hello(node))
    await pair.settle()
    const good = chain(CHECK_FROM + 8)
    const forged = new Author().next('Hello', payload).bytes
    forged[forged.byteLength - 5] ^= 0x01
    p.send(entriesMessage([...good, forged]))
    await pair.settle()
    assert.is(s.actions.filter(a => a === 'check').length, 1, 'the frame went to the pool')
    assert.is(node.log.length, good.length)
    assert.equal(s.invalid, [{ count: 1, reason: 'entry signature does not verify' }])
    assert.is(p.of('refuse')[0].code, REFUSE.INVALID_ENTRY)
    assert.is(p.of('ack').length, 1)
    // a frame of unsigned entries, or with fewer signed ones, stays on this thread
    const a = Author.unsigned()
    p.send(entriesMessage(Array.from({ length: CHECK_FROM + 8 }, () => a.next('Hello', payload, { sign: false }).bytes)))
    await pair.settle()
    assert.is(s.actions.filter(a => a === 'check').length, 1, 'no check for unsigned entries')
    // a pool whose check fails
    const [s2, p2] = pair.script(node, { checks: new FailingPool() })
    p2.send(hello(node))
    await pair.settle()
    const more = chain(CHECK_FROM)
    p2.send(entriesMessage(more))
    await pair.settle()
    assert.is(s2.actions.filter(a => a === 'check').length, 1)
    assert.is(node.log.length, good.length + more.length, 'checked here instead')
    assert.is(s2.ending, undefined)
  } finally {
    await pair.close()
    await pool.close()
  }
})

/** A pool whose workers always fail. */
class FailingPool extends CheckPool {
  override async check (): Promise<Checked> {
    return await Promise.reject(new Error('a worker failed'))
  }
}

test.run()
