// HeldSet (src/log/held-set.ts), the entries an Ingester holds, against a Map of
// the same entries: any sequence of adds and deletes leaves both holding the
// same entries in the same order, through resizes, compactions behind an
// entry that stays, and ids that share a place in its table.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { HeldSet } from '../src/log/held-set.js'
import { Pending } from '../src/log/held.js'
import { ID_LENGTH, toHex, type DecodedEntry } from '../src/log/entry.js'

const SEED = Number(process.env.HYPEREMITTER_SEED ?? 20240611)

// an id: the multihash prefix, then `n` in the digest's first bytes (what the
// table hashes) unless `same`, which keeps them equal and `n` further on
function id (n: number, same: boolean): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(ID_LENGTH)
  out[0] = 0x12
  out[1] = 0x20
  new DataView(out.buffer).setUint32(same ? 20 : 2, n)
  return out
}

function pending (n: number, same: boolean): Pending {
  const d = { id: id(n, same), bytes: new Uint8Array(1), entry: {} } as unknown as DecodedEntry
  return new Pending(d, 'author', 0, n, false)
}

type Step = { add: number } | { del: number }

function check (steps: Step[], same: boolean): void {
  const held = new HeldSet()
  const model = new Map<string, Pending>()
  for (const step of steps) {
    if ('add' in step) {
      const p = pending(step.add, same)
      if (model.has(p.hex)) continue
      held.add(p)
      model.set(p.hex, p)
    } else {
      const key = id(step.del, same)
      assert.is(held.delete(key), model.delete(toHex(key)))
    }
    assert.is(held.size, model.size)
  }
  assert.equal([...held.values()], [...model.values()], 'the same entries, oldest first')
  assert.is(held.first(), model.values().next().value, 'the oldest first')
  for (let n = 0; n < 300; n++) {
    const key = id(n, same)
    assert.is(held.get(key), model.get(toHex(key)))
    assert.is(held.has(key), model.has(toHex(key)))
  }
}

const steps = fc.array(fc.oneof(
  fc.record({ add: fc.integer({ min: 0, max: 299 }) }),
  fc.record({ del: fc.integer({ min: 0, max: 299 }) })
), { maxLength: 2000 })

test('holds what a Map would, in the same order, whatever the adds and deletes', () => {
  fc.assert(fc.property(steps, s => { check(s, false) }), { seed: SEED, numRuns: 200 })
})

test('ids that share their first digest bytes (one place in the table) are told apart', () => {
  fc.assert(fc.property(steps, s => { check(s, true) }), { seed: SEED, numRuns: 100 })
})

test('an entry that stays while many come and go: the slots are compacted, not grown without end', () => {
  const held = new HeldSet()
  const first = pending(1_000_000, false)
  held.add(first)
  for (let n = 0; n < 100_000; n++) {
    const p = pending(n, false)
    held.add(p)
    assert.ok(held.delete(p.d.id))
  }
  assert.is(held.size, 1)
  assert.ok(held.capacity <= 64, `${held.capacity} slots`)
  assert.is(held.get(first.d.id), first)
  assert.equal([...held.values()], [first])
  held.clear()
  assert.is(held.size, 0)
  assert.is(held.has(first.d.id), false)
})

test.run()
