import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type protobuf from 'protobufjs'
import { wireCheck } from '../src/schema/wire-check.js'
import { parseSchema } from '../src/schema/parse.js'
import { Schema } from '../src/schema/index.js'
import { Prng } from './chaos/prng.js'
import { mutate, randomMessage, randomSchema, render } from './schema/random.js'

function decodes (type: protobuf.Type, bytes: Uint8Array): boolean {
  try {
    type.decode(bytes)
    return true
  } catch {
    return false
  }
}

// a few ways to break bytes: a byte changed, cut, inserted, removed, or a
// span copied elsewhere
function damage (rng: Prng, bytes: Uint8Array): Uint8Array {
  const out = [...bytes]
  const at = rng.int(out.length + 1)
  switch (rng.int(6)) {
    case 0: if (out.length > 0) out[Math.min(at, out.length - 1)] = rng.int(256); break
    case 1: out.length = at; break
    case 2: out.splice(at, 0, rng.int(256)); break
    case 3: out.splice(at, 1); break
    case 4: out.splice(at, 0, 0x80 | rng.int(128), 0x80 | rng.int(128), 0x80 | rng.int(128), 0x80 | rng.int(128), rng.int(128)); break
    default: out.splice(at, 0, ...out.slice(rng.int(out.length + 1), rng.int(out.length + 1)))
  }
  return Uint8Array.from(out)
}

test('says yes to what protobufjs encodes, and yes only to what it decodes', () => {
  const rng = new Prng(7)
  let yes = 0
  let unsure = 0
  let broken = 0
  let brokenYes = 0
  for (let s = 0; s < 300; s++) {
    const model = randomSchema(rng)
    const type = parseSchema(render(model)).lookupType('t.Ev')
    // the same bytes read by a changed schema: fields of other wire types, unknown ones
    const other = parseSchema(render(mutate(rng, model, 1 + rng.int(3)).schema)).lookupType('t.Ev')
    const [check, otherCheck] = [wireCheck(type), wireCheck(other)]
    for (let m = 0; m < 10; m++) {
      const message = randomMessage(rng, type)
      const bytes = type.encode(type.fromObject(message)).finish()
      // maps and required enums are left to protobufjs
      const leftToDecode = type.fieldsArray.some(f => f.map && message[f.name] != null) || render(model).includes('required Color')
      if (check(bytes)) yes++
      else {
        assert.ok(leftToDecode, `unsure of a valid message: ${render(model)} ${JSON.stringify(message)}`)
        unsure++
      }
      if (otherCheck(bytes)) assert.ok(decodes(other, bytes), 'the changed schema decodes what the check says yes to')
      for (let d = 0; d < 20; d++) {
        const bad = damage(rng, bytes)
        const ok = decodes(type, bad)
        if (!ok) broken++
        if (check(bad)) {
          assert.ok(ok, `yes to bytes protobufjs does not decode: ${render(model)} ${Buffer.from(bad).toString('hex')}`)
          if (bad.byteLength !== bytes.byteLength || !Buffer.from(bad).equals(bytes)) brokenYes++
        }
      }
    }
  }
  // the property is not empty on either side
  assert.ok(yes > 1500, `${yes} valid messages checked quickly`)
  assert.ok(unsure > 0, 'maps and required enums are left to protobufjs')
  assert.ok(broken > 10_000, `${broken} damaged payloads protobufjs refuses`)
  assert.ok(brokenYes > 1000, `${brokenYes} damaged payloads that still decode pass the quick check`)
})

test('leaves to protobufjs what it cannot be sure of', () => {
  const proto3 = parseSchema('syntax = "proto3"; message A { string s = 1; }').lookupType('A')
  const proto2 = parseSchema('message B { optional string s = 1; required int32 n = 2; }').lookupType('B')
  const notUtf8 = Uint8Array.from([0x0a, 0x02, 0xc3, 0x28])
  assert.is(wireCheck(proto3)(notUtf8), false)
  assert.is(decodes(proto3, notUtf8), false, 'proto3 refuses a string that is not UTF-8')
  const withN = Uint8Array.from([...notUtf8, 0x10, 0x01])
  assert.is(wireCheck(proto2)(withN), false)
  assert.is(decodes(proto2, withN), true, 'proto2 reads it loosely')
  assert.is(wireCheck(proto2)(Uint8Array.from([0x0a, 0x01, 0x61])), false, 'a required field is missing')
  assert.is(wireCheck(proto2)(Uint8Array.from([0x10, 0x01])), true)
  // a tag in more bytes than it needs, and an unknown field of each wire type
  assert.is(wireCheck(proto2)(Uint8Array.from([0x90, 0x00, 0x01, 0x18, 0x05, 0x21, 1, 2, 3, 4, 5, 6, 7, 8, 0x2d, 1, 2, 3, 4, 0x32, 0x00])), true)
  assert.is(wireCheck(proto2)(Uint8Array.from([0x10, 0x01, 0x03])), false, 'a group')
  assert.is(wireCheck(proto2)(Uint8Array.from([0x10, 0x01, 0x00])), false, 'field number 0')
})

test('Schema.check: the quick check, and protobufjs where it is unsure', () => {
  const schema = new Schema('syntax = "proto3"; message A { string s = 1; map<string, int32> m = 2; repeated sint64 v = 3; }')
  const good = schema.encode('A', { s: 'é', m: { k: 1 }, v: [-1, 2] })
  schema.check('A', good)
  assert.throws(() => { schema.check('A', good.subarray(0, good.byteLength - 1)) })
  assert.throws(() => { schema.check('A', Uint8Array.from([0x0a, 0x01, 0xff])) }, /invalid|utf/i)
})

test.run()
