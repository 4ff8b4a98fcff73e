import { test } from 'uvu'
import * as assert from 'uvu/assert'
import {
  decodeDescriptor, describe, encodeDescriptor, fingerprint, Label, MAX_DESCRIPTOR_BYTES, MAX_FIELDS, MAX_NAME_LENGTH, MAX_TYPES, Type,
  type Descriptor
} from '../src/schema/descriptor.js'
import { eventNames } from '../src/schema/names.js'
import { parseSchema } from '../src/schema/parse.js'
import { Schema } from '../src/schema/index.js'
import { SchemaDescriptor } from '../src/pb/schema.js'
import { fixture } from './helpers.js'

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')
const of = (text: string): Descriptor => describe(parseSchema(text))

/** Throws unless `fn` throws a SchemaError whose message matches `re`. */
function throwsSchemaError (fn: () => unknown, re: RegExp): void {
  try {
    fn()
  } catch (err) {
    assert.is((err as Error).name, 'SchemaError')
    assert.match((err as Error).message, re)
    return
  }
  assert.unreachable(`no SchemaError matching ${re}`)
}

// Every descriptor starts with the built-in EventPeer and EventPeer.Address.
const EVENT_PEER = '0a3d0a094576656e745065657210011a0808011202696420091a24080212096164647265737365731802200b2a114576656e74506565722e41646472657373' +
  '0a290a114576656e74506565722e416464726573731a0808011202697020091a0a08021204706f7274200d'

// The vectors of protocols/README.md §5.1.1.
const VECTORS = [
  {
    name: 'Greeting',
    text: 'syntax = "proto3"; message Greeting { string text = 1; }',
    bytes: EVENT_PEER + '0a180a084772656574696e6710011a0a08011204746578742009',
    fingerprint: '54d1852617abd12809a9a1009a2630c99638d3f9f8b1bfaf2c9994678fe858a5'
  },
  {
    name: 'proto3: a package, nested types, an enum, a map, a oneof, proto3 optional',
    text: `syntax = "proto3";
package shop;

message Order {
  enum Status { NEW = 0; PAID = 1; }
  message Line { string sku = 1; uint32 qty = 2; }
  string id = 1;
  Status status = 2;
  repeated Line lines = 3;
  map<string, int64> tags = 4;
  oneof payment { string card = 5; bytes token = 6; }
  optional sint32 discount = 7;
}
`,
    bytes: EVENT_PEER +
      '0aa4010a0a73686f702e4f7264657210011a0808011202696420091a1f08021206737461747573200e2a1173686f702e4f726465722e537461747573' +
      '1a1e080312056c696e65731802200b2a0f73686f702e4f726465722e4c696e651a0e08041204746167731802200330091a13080512046361726420093a07' +
      '7061796d656e741a1408061205746f6b656e200c3a077061796d656e741a0e08071208646973636f756e7420110a270a0f73686f702e4f726465722e4c69' +
      '6e651a0908011203736b7520091a0908021203717479200d12240a1173686f702e4f726465722e53746174757312050a034e455712080a04504149441001',
    fingerprint: '061a6b135ecadfef703bc316412abc116c892be8f1ae11c802396272653991ca'
  },
  {
    name: 'proto2: a nested package, required, packed, a default, an enum with an alias, a group, reserved, an extension',
    text: `syntax = "proto2";
package legacy.v1;

enum Level { option allow_alias = true; LOW = 1; MEDIUM = 2; MIDDLE = 2; HIGH = 3; }

message Reading {
  required fixed64 at = 1;
  optional double value = 2;
  repeated int32 samples = 3 [packed = true];
  optional Level level = 4 [default = MEDIUM];
  optional group Probe = 5 { optional string name = 1; }
  reserved 6, 8 to 10;
  extensions 100 to 199;
}

extend Reading { optional bool calibrated = 100; }
`,
    bytes: EVENT_PEER +
      '0a9f010a116c65676163792e76312e52656164696e6710011a0a080112026174180120061a0b0802120576616c756520011a0f0803120773616d706c6573' +
      '180220051a1c080412056c6576656c200e2a0f6c65676163792e76312e4c6576656c1a240805120570726f6265200a2a176c65676163792e76312e526561' +
      '64696e672e50726f62651a1a086412146c65676163792e76312e63616c6962726174656420080a250a176c65676163792e76312e52656164696e672e5072' +
      '6f62651a0a080112046e616d652009123c0a0f6c65676163792e76312e4c6576656c12070a034c4f571001120a0a064d454449554d1002120a0a064d4944' +
      '444c45100212080a04484947481003',
    fingerprint: '3d593b663fce6f4663a4d8d9e0de7e9ab57eec3054d669c87080f4cbc35124ee'
  }
]

for (const v of VECTORS) {
  test(`test vector: ${v.name}`, () => {
    const d = of(v.text)
    assert.is(hex(encodeDescriptor(d)), v.bytes)
    assert.is(hex(fingerprint(d)), v.fingerprint)
    assert.equal(decodeDescriptor(Buffer.from(v.bytes, 'hex')), d)
  })
}

test('a negative enum value number is the 10-byte varint of int32', () => {
  const d = of('syntax = "proto2"; enum E { N = -2; Z = 0; }')
  assert.ok(hex(encodeDescriptor(d)).endsWith('12180a0145120e0a014e10feffffffffffffffff0112030a015a'))
  assert.equal(decodeDescriptor(encodeDescriptor(d)).enums, [{ fullName: 'E', values: [{ name: 'N', number: -2 }, { name: 'Z', number: 0 }] }])
})

test('the proto3 vector, field by field', () => {
  const d = of(VECTORS[1].text)
  assert.equal(d.messages.map(m => [m.fullName, m.event]), [['EventPeer', true], ['EventPeer.Address', false], ['shop.Order', true], ['shop.Order.Line', false]])
  assert.equal(d.enums, [{ fullName: 'shop.Order.Status', values: [{ name: 'NEW', number: 0 }, { name: 'PAID', number: 1 }] }])
  const order = d.messages[2].fields
  const field = (number: number, name: string, type: Type, more: Partial<Descriptor['messages'][0]['fields'][0]> = {}) =>
    ({ number, name, label: Label.OPTIONAL, type, typeName: '', keyType: Type.NONE, oneof: '', ...more })
  assert.equal(order, [
    field(1, 'id', Type.STRING),
    field(2, 'status', Type.ENUM, { typeName: 'shop.Order.Status' }),
    field(3, 'lines', Type.MESSAGE, { label: Label.REPEATED, typeName: 'shop.Order.Line' }),
    field(4, 'tags', Type.INT64, { label: Label.REPEATED, keyType: Type.STRING }),
    field(5, 'card', Type.STRING, { oneof: 'payment' }),
    field(6, 'token', Type.BYTES, { oneof: 'payment' }),
    // proto3 optional is a synthetic oneof to protobufjs, and no oneof here
    field(7, 'discount', Type.SINT32)
  ])
})

test('the fingerprints of the shared fixtures are pinned (a dependency upgrade must not move them)', async () => {
  assert.is(hex(fingerprint(of(await fixture('basic.proto')))), '76ae55afba200990a9e508956b2e52770bad6723e1b64943d4678543209e81c0')
  assert.is(hex(fingerprint(of(await fixture('messages.proto')))), '8fb4976813acae02a75ba0a8ebcbfb114bcd3a735aad944a68a0774d6a818ce6')
})

test('the descriptor ignores declaration order, comments, whitespace, reserved and options that do not change the wire', () => {
  const a = `syntax = "proto2";
package p;
enum E { A = 0; B = 1; C = 2; }
message M {
  optional int32 x = 1;
  repeated int32 r = 2;
  oneof k { string s = 3; bytes b = 4; }
  message N { optional bool f = 1; }
  optional N n = 5;
  map<string, E> m = 6;
}
message Z { optional E e = 1; }
`
  const b = `// the same schema, written otherwise
syntax="proto2";package p;
message Z {
  optional E e = 1 [deprecated = true];   /* a comment */
}
message M {
  reserved 7 to 9, 12;
  reserved "old";
  map<string,E> m = 6;
  optional N n = 5 [json_name = "enn"];
  message N {
    optional bool f = 1 [default = true];
  }
  oneof k {
    bytes b = 4;
    string s = 3;
  }
  repeated int32 r = 2 [packed = true];
  optional int32 x = 1 [default = 7];
}
enum E { C = 2; A = 0; B = 1; }
`
  assert.is(hex(encodeDescriptor(of(b))), hex(encodeDescriptor(of(a))))
})

test('Schema.descriptor is the descriptor of its text; Schema.fingerprint is unchanged', () => {
  const schema = new Schema(VECTORS[0].text)
  assert.equal(schema.descriptor, of(VECTORS[0].text))
  assert.is(schema.descriptor, schema.descriptor, 'made once')
  // protocols/README.md §5.1: the handshake still compares protobufjs' JSON
  assert.is(hex(schema.fingerprint), '59b6d54e30274dcadd97183993a9ab2d492b3349f64c92d2157b5dceb4f4d57f')
})

test('events are the messages of the file and its packages, as Schema names them', () => {
  const text = 'syntax = "proto3"; package p; message A {} message B { message C {} enum E { Z = 0; } }'
  const d = of(text)
  assert.equal(d.messages.map(m => [m.fullName, m.event]), [['EventPeer', true], ['EventPeer.Address', false], ['p.A', true], ['p.B', true], ['p.B.C', false]])
  assert.equal(new Schema(text).names, ['p.A', 'A', 'p.B', 'B', 'EventPeer'])
  assert.equal([...eventNames(['p.A', 'p.B', 'EventPeer'])], [['p.A', 'p.A'], ['A', 'p.A'], ['p.B', 'p.B'], ['B', 'p.B'], ['EventPeer', 'EventPeer']])
  assert.equal([...eventNames(['a.Hello', 'b.Hello'])], [['a.Hello', 'a.Hello'], ['b.Hello', 'b.Hello']], 'an ambiguous short name stands for none')
})

test('a schema past the bounds is refused locally too', () => {
  const fields = Array.from({ length: MAX_FIELDS + 1 }, (_, i) => `int32 f${i} = ${i + 1};`).join(' ')
  throwsSchemaError(() => of(`syntax = "proto3"; message M { ${fields} }`), /fields, more than 1024/)
  throwsSchemaError(() => of(`syntax = "proto3"; message ${'M'.repeat(MAX_NAME_LENGTH + 1)} {}`), /of 257 characters/)
})

// A valid descriptor to break in the tests below.
const valid = (): Descriptor => of(VECTORS[1].text)
const encode = (d: Descriptor): Uint8Array => SchemaDescriptor.encode(d)

test('decodeDescriptor refuses bytes that are not a descriptor', () => {
  throwsSchemaError(() => decodeDescriptor(Uint8Array.of(0x0a, 0x05, 0x01)), /bad schema descriptor/)
  throwsSchemaError(() => decodeDescriptor(new Uint8Array(MAX_DESCRIPTOR_BYTES + 1)), /more than 262144/)
  // message X with field 1 of label 7, which is no Label
  throwsSchemaError(() => decodeDescriptor(Buffer.from('0a0b0a015810011a0408011807', 'hex')), /bad schema descriptor: Invalid enum value/)
})

test('decodeDescriptor refuses any form but the canonical one', () => {
  // enum E { Z = 0; }, canonical
  assert.equal(decodeDescriptor(Buffer.from('12080a014512030a015a', 'hex')), { messages: [], enums: [{ fullName: 'E', values: [{ name: 'Z', number: 0 }] }] })
  // with an unknown field, with number 0 written out, with a length in two bytes
  for (const form of ['12080a014512030a015a1801', '120a0a014512050a015a1000', '1288000a014512030a015a']) {
    throwsSchemaError(() => decodeDescriptor(Buffer.from(form, 'hex')), /not in canonical form/)
  }
})

test('decodeDescriptor refuses descriptors out of order or inconsistent', () => {
  const cases: Array<[string, (d: Descriptor) => void, RegExp]> = [
    ['messages out of order', d => { d.messages.reverse() }, /out of order/],
    ['a message twice', d => { d.messages.splice(1, 0, d.messages[0]) }, /out of order/],
    ['fields out of order', d => { d.messages[2].fields.reverse() }, /out of order or range/],
    ['field number 0', d => { d.messages[2].fields[0].number = 0 }, /out of order or range/],
    ['field number past 2^29 - 1', d => { d.messages[2].fields[6].number = 2 ** 29 }, /out of order or range/],
    ['two fields of one name', d => { d.messages[2].fields[1].name = 'id' }, /two fields of that name/],
    ['enum values out of order', d => { d.enums[0].values.reverse() }, /out of order/],
    ['a type that is not there', d => { d.messages[2].fields[2].typeName = 'shop.Order.Gone' }, /no message shop.Order.Gone/],
    ['an enum where a message is', d => { d.messages[2].fields[2].type = Type.ENUM }, /no enum shop.Order.Line/],
    ['a scalar with a type name', d => { d.messages[2].fields[2].type = Type.STRING }, /type name/],
    ['a bad map key', d => { d.messages[2].fields[3].keyType = Type.DOUBLE }, /not a valid map/],
    ['a repeated field in a oneof', d => { d.messages[2].fields[4].label = Label.REPEATED }, /in a oneof/],
    ['a nested message marked as an event', d => { d.messages[3].event = true }, /nested in a message/],
    ['a top-level message not marked as an event', d => { d.messages[2].event = false }, /not nested/],
    ['a name that is not a protobuf name', d => { d.messages[2].fields[0].name = 'no such' }, /not a protobuf name/],
    ['a name too long', d => { d.messages[2].fields[0].name = 'x'.repeat(MAX_NAME_LENGTH + 1) }, /of 257 characters/],
    ['a message and an enum of one name', d => { d.enums[0].fullName = 'shop.Order.Line' }, /both a message and an enum/]
  ]
  for (const [what, breakIt, re] of cases) {
    const d = valid()
    breakIt(d)
    try {
      throwsSchemaError(() => decodeDescriptor(encode(d)), re)
    } catch (err) {
      throw new Error(`${what}: ${(err as Error).message}`, { cause: err })
    }
  }
})

test('decodeDescriptor stops at MAX_TYPES messages and MAX_FIELDS fields', () => {
  const many: Descriptor = { messages: Array.from({ length: MAX_TYPES + 1 }, (_, i) => ({ fullName: `M${String(i).padStart(5, '0')}`, event: true, fields: [] })), enums: [] }
  throwsSchemaError(() => decodeDescriptor(encode(many)), /too many elements/)
  const wide: Descriptor = {
    messages: [{ fullName: 'M', event: true, fields: Array.from({ length: MAX_FIELDS + 1 }, (_, i) => ({ number: i + 1, name: `f${i}`, label: Label.OPTIONAL, type: Type.BOOL, typeName: '', keyType: Type.NONE, oneof: '' })) }],
    enums: []
  }
  throwsSchemaError(() => decodeDescriptor(encode(wide)), /too many elements/)
})

test.run()
