import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { describe } from '../src/schema/descriptor.js'
import { compare, type Comparison } from '../src/schema/compat.js'
import { parseSchema } from '../src/schema/parse.js'
import { Prng } from './chaos/prng.js'
import { crossRead, mutate, randomMessage, randomSchema, render } from './schema/random.js'

/** compare(a, b), after checking that compare(b, a) decides the same. */
function diff (a: string, b: string): Comparison {
  const [da, db] = [describe(parseSchema(a)), describe(parseSchema(b))]
  const there = compare(da, db)
  const back = compare(db, da)
  assert.is(back.compatible, there.compatible, 'the decision is the same both ways round')
  return there
}

function compatible (a: string, b: string, changes: string[]): void {
  const result = diff(a, b)
  assert.equal(result.compatible ? [] : result.reasons.map(r => r.text), [], 'no reasons')
  assert.equal(result.changes.map(c => c.text), changes)
}

function incompatible (a: string, b: string, reasons: string[], changes: string[] = []): void {
  const result = diff(a, b)
  assert.equal(result.compatible ? [] : result.reasons.map(r => r.text), reasons)
  assert.equal(result.changes.map(c => c.text), changes)
}

const P3 = 'syntax = "proto3";\n'
const P2 = 'syntax = "proto2";\n'

test('identical schemas: compatible, no changes', () => {
  compatible(P3 + 'message A { int32 x = 1; }', P3 + 'message A { int32 x = 1; }', [])
})

test('an added event type, message or enum is compatible', () => {
  compatible(P3 + 'message A { int32 x = 1; }', P3 + 'message A { int32 x = 1; message N {} enum E { Z = 0; } } message B {}', [
    'enum A.E added',
    'event B added',
    'message A.N added'
  ])
})

test('a removed event type is compatible: the other side refuses it as unknown, it misreads nothing', () => {
  compatible(P3 + 'package p; message A {} message B {}', P3 + 'package p; message A {}', ['event p.B removed'])
})

test('an added optional or repeated field, and a removed one, are compatible', () => {
  compatible(P2 + 'message A { optional int32 x = 1; optional string gone = 3; }', P2 + 'message A { optional int32 x = 1; repeated string y = 2; }', [
    'A.gone: field 3 (string) removed',
    'A.y: field 2 (string) added'
  ])
})

test('a field renamed with the same number and type is compatible', () => {
  compatible(P3 + 'message A { int32 x = 1; }', P3 + 'message A { int32 y = 1; }', ['A.x: field 1 renamed to y'])
})

test('a number removed and reused with another type is a type change', () => {
  incompatible(P3 + 'message Hello { string from = 1; }', P3 + 'message Hello { int32 count = 1; }',
    ['Hello.from: field 1 changed type from string to int32 (wire type LENGTH_DELIMITED → VARINT)'],
    ['Hello.from: field 1 renamed to count'])
})

test('a field name moved to another number is a removal and an addition', () => {
  compatible(P3 + 'message A { int32 count = 2; }', P3 + 'message A { reserved 2; int64 count = 5; }', [
    'A.count: field 2 (int32) removed',
    'A.count: field 5 (int64) added'
  ])
})

test('integer types are not interchangeable, even on the same wire type', () => {
  for (const [a, b] of [['int32', 'uint32'], ['int32', 'int64'], ['int32', 'sint32'], ['uint64', 'bool'], ['int32', 'E']]) {
    incompatible(P3 + `enum E { Z = 0; } message A { ${a} x = 1; }`, P3 + `enum E { Z = 0; } message A { ${b} x = 1; }`,
      [`A.x: field 1 changed type from ${a} to ${b} (both VARINT: the same bytes read as another value)`])
  }
})

test('string, bytes and messages are not interchangeable', () => {
  incompatible(P3 + 'message A { string x = 1; }', P3 + 'message A { bytes x = 1; }',
    ['A.x: field 1 changed type from string to bytes (both LENGTH_DELIMITED: the same bytes read as another value)'])
  incompatible(P3 + 'message A { bytes x = 1; } message M {}', P3 + 'message A { M x = 1; } message M {}',
    ['A.x: field 1 changed type from bytes to M (both LENGTH_DELIMITED: the same bytes read as another value)'])
  incompatible(P3 + 'message A { fixed32 x = 1; }', P3 + 'message A { double x = 1; }',
    ['A.x: field 1 changed type from fixed32 to double (wire type FIXED32 → FIXED64)'])
})

test('singular and repeated are not interchangeable', () => {
  incompatible(P3 + 'message A { int32 x = 1; }', P3 + 'message A { repeated int32 x = 1; }',
    ['A.x: field 1 changed from optional to repeated (a singular reader keeps only the last value, and reads no packed ones)'])
})

test('packed and unpacked, proto3 optional and singular: the same descriptor', () => {
  compatible(P2 + 'message A { repeated int32 x = 1 [packed = true]; }', P2 + 'message A { repeated int32 x = 1; }', [])
  compatible(P3 + 'message A { optional int32 x = 1; }', P3 + 'message A { int32 x = 1; }', [])
})

test('a message type is compared field by field, through every field both sides know', () => {
  incompatible(P3 + 'message A { repeated N n = 1; } message N { int32 v = 1; }', P3 + 'message A { repeated N n = 1; } message N { string v = 1; }',
    ['N.v: field 1 changed type from int32 to string (wire type VARINT → LENGTH_DELIMITED)'])
  incompatible(P3 + 'message A { map<string, N> n = 1; } message N { int32 v = 1; }', P3 + 'message A { map<string, N> n = 1; } message N { repeated int32 v = 1; }',
    ['N.v: field 1 changed from optional to repeated (a singular reader keeps only the last value, and reads no packed ones)'])
})

test('a message type renamed with the same fields is compatible; its name is not on the wire', () => {
  compatible(P3 + 'message A { N n = 1; } message N { int32 v = 1; }', P3 + 'message A { M n = 1; } message M { int32 v = 1; }', [
    'A.n: field 1 has type N here, M there',
    'event M added',
    'event N removed'
  ])
})

test('a type that no field both sides know uses may change: its changes move no bytes', () => {
  compatible(P3 + 'message A { N n = 1; message N { int32 v = 1; } }', P3 + 'message A { N m = 2; message N { string v = 1; } }', [
    'A.N.v: field 1 changed type from int32 to string (wire type VARINT → LENGTH_DELIMITED); no field both sides know has this type',
    'A.m: field 2 (A.N) added',
    'A.n: field 1 (A.N) removed'
  ])
})

test('enum values: added and removed ones are compatible, a number named otherwise is not', () => {
  compatible(P3 + 'message A { E e = 1; } enum E { Z = 0; ONE = 1; TWO = 2; }', P3 + 'message A { E e = 1; } enum E { Z = 0; ONE = 1; THREE = 3; }', [
    'E.THREE: value 3 added',
    'E.TWO: value 2 removed'
  ])
  incompatible(P3 + 'message A { E e = 1; } enum E { Z = 0; RED = 1; }', P3 + 'message A { E e = 1; } enum E { Z = 0; BLUE = 1; RED = 2; }',
    ['E: value 1 is RED here, BLUE there (a reader would see another value than the writer wrote)'],
    ['E.BLUE: value 1 added', 'E.RED: value 1 removed', 'E.RED: value 2 added'])
})

test('enum values: a rename through an alias kept for one version is compatible', () => {
  const v1 = P3 + 'message A { E e = 1; } enum E { Z = 0; RED = 1; }'
  const v2 = P3 + 'message A { E e = 1; } enum E { option allow_alias = true; Z = 0; RED = 1; CRIMSON = 1; }'
  const v3 = P3 + 'message A { E e = 1; } enum E { Z = 0; CRIMSON = 1; }'
  compatible(v1, v2, ['E.CRIMSON: value 1 added'])
  compatible(v2, v3, ['E.RED: value 1 removed'])
  incompatible(v1, v3, ['E: value 1 is RED here, CRIMSON there (a reader would see another value than the writer wrote)'],
    ['E.CRIMSON: value 1 added', 'E.RED: value 1 removed'])
})

test('proto2 required: added, removed or made so is incompatible', () => {
  const base = P2 + 'message A { optional int32 x = 1; }'
  incompatible(base, P2 + 'message A { optional int32 x = 1; required string id = 2; }',
    ['A.id: required field 2 (string) added (the side without it never writes it, and the other requires it)'])
  incompatible(P2 + 'message A { optional int32 x = 1; required string id = 2; }', base,
    ['A.id: required field 2 removed (the side without it never writes it, and the other requires it)'])
  incompatible(base, P2 + 'message A { required int32 x = 1; }',
    ['A.x: field 1 changed from optional to required (a writer may leave out what the reader requires)'])
})

test('proto2 required enum field: both enums must define the same numbers', () => {
  incompatible(P2 + 'message A { required E e = 1; } enum E { A = 0; B = 1; }', P2 + 'message A { required E e = 1; } enum E { A = 0; B = 1; C = 2; }',
    ['A.e: required field 1 has enum values 2 there only (a reader drops a value its enum lacks, and then misses the field)'],
    ['E.C: value 2 added'])
})

test('oneof: fields both sides know must share a oneof on both sides or on neither', () => {
  incompatible(P3 + 'message A { int32 a = 1; string b = 2; }', P3 + 'message A { oneof k { int32 a = 1; string b = 2; } }',
    ['A.a: field 1 shares a oneof with no other field here, with 2 (b) there (a reader keeps only the last field of a oneof)'])
  compatible(P3 + 'message A { int32 a = 1; }', P3 + 'message A { oneof k { int32 a = 1; string b = 2; } }', [
    'A.a: field 1 is in no oneof here, oneof k there',
    'A.b: field 2 (string) added'
  ])
  compatible(P3 + 'message A { oneof k { int32 a = 1; string b = 2; } }', P3 + 'message A { oneof k { int32 a = 1; string b = 2; bool c = 3; } }', [
    'A.c: field 3 (bool) added'
  ])
  compatible(P3 + 'message A { oneof k { int32 a = 1; string b = 2; } }', P3 + 'message A { oneof choice { int32 a = 1; string b = 2; } }', [
    'A: oneof k renamed to choice'
  ])
})

test('maps: key and value types are compared, a map is not a repeated field', () => {
  incompatible(P3 + 'message A { map<string, int32> m = 1; }', P3 + 'message A { map<int32, int32> m = 1; }',
    ['A.m: map key of field 1 changed type from string to int32 (wire type LENGTH_DELIMITED → VARINT)'])
  incompatible(P3 + 'message A { map<string, int32> m = 1; }', P3 + 'message A { map<string, sint32> m = 1; }',
    ['A.m: map value of field 1 changed type from int32 to sint32 (both VARINT: the same bytes read as another value)'])
  incompatible(P3 + 'message A { map<string, int32> m = 1; }', P3 + 'message A { repeated int32 m = 1; }',
    ['A.m: field 1 changed from map<string, int32> to repeated int32 (wire type LENGTH_DELIMITED → VARINT)'])
})

test('a group is not a message on the wire', () => {
  incompatible(P2 + 'message A { optional group G = 1 { optional int32 v = 1; } }', P2 + 'message A { optional G g = 1; message G { optional int32 v = 1; } }',
    ['A.g: field 1 changed type from group A.G to A.G (wire type START_GROUP → LENGTH_DELIMITED)'])
})

test('event names: an entry names its event by full name or by short name, and both are compared', () => {
  compatible(P3 + 'message Hello { int32 x = 1; }', P3 + 'package a; message Hello { int32 x = 1; }', [
    'event a.Hello added',
    'event name Hello stands for Hello here, a.Hello there'
  ])
  incompatible(P3 + 'package a; message Hello { int32 x = 1; }', P3 + 'package b; message Hello { string x = 1; }',
    ['a.Hello.x: field 1 changed type from int32 to string (wire type VARINT → LENGTH_DELIMITED)'],
    ['event a.Hello removed', 'event b.Hello added', 'event name Hello stands for a.Hello here, b.Hello there'])
})

test('the decision is symmetric and agrees with real bytes on random schema pairs', () => {
  const rng = new Prng(12)
  const PAIRS = 300
  const MESSAGES = 6
  let compatiblePairs = 0
  let broken = 0
  const unbroken = new Map<string, number>()
  const failures: string[] = []
  for (let i = 0; i < PAIRS; i++) {
    const v1 = randomSchema(rng)
    const { schema: v2, mutations } = mutate(rng, v1, 1 + rng.int(2))
    const [t1, t2] = [render(v1), render(v2)]
    const [r1, r2] = [parseSchema(t1), parseSchema(t2)]
    const result = compare(describe(r1), describe(r2))
    assert.is(compare(describe(r2), describe(r1)).compatible, result.compatible, `symmetric:\n${t1}\n${t2}`)
    const [e1, e2] = [r1.lookupType('t.Ev'), r2.lookupType('t.Ev')]
    let problem: string | null = null
    for (let k = 0; k < MESSAGES && problem == null; k++) {
      problem = crossRead(e1, e2, randomMessage(rng, e1)) ?? crossRead(e2, e1, randomMessage(rng, e2))
    }
    if (result.compatible) {
      compatiblePairs++
      if (problem != null) failures.push(`${mutations.join(', ')}: ${problem}\n${t1}\n${t2}`)
    } else if (problem != null) {
      broken++
    } else {
      const key = result.reasons.map(r => r.rule + (r.text.includes('(both ') ? ' (same wire type)' : '')).sort().join(' + ')
      unbroken.set(key, (unbroken.get(key) ?? 0) + 1)
    }
  }
  const incompatiblePairs = PAIRS - compatiblePairs
  const ratio = broken / incompatiblePairs
  console.log(`${PAIRS} pairs: ${compatiblePairs} compatible, none broke; ${incompatiblePairs} incompatible, ${broken} of them broke on real bytes (${(100 * ratio).toFixed(0)}%)` +
    `; refused without a breakage seen: ${[...unbroken].map(([k, n]) => `${k} ×${n}`).join(', ') || 'none'}`)
  assert.equal(failures, [], 'no compatible pair breaks')
  assert.ok(ratio >= 0.9, 'most incompatible pairs break on real bytes')
})

test.run()
