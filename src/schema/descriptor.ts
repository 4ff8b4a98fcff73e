// The canonical schema descriptor (protocols/README.md §5.1.1): what each
// message and enum of a schema looks like on the wire, as a message of its own
// (protocols/schema.proto), so that the fingerprint two peers compare does not
// depend on one protobuf library's output.
import { createHash } from 'node:crypto'
import protobuf from 'protobufjs'
import { SchemaError } from '../errors.js'
import { Label, SchemaDescriptor, Type } from '../pb/schema.js'
import type { EnumDescriptor, EnumValue, FieldDescriptor, MessageDescriptor } from '../pb/schema.js'

export { Label, Type }
export type { EnumDescriptor, EnumValue, FieldDescriptor, MessageDescriptor }

/** A schema's canonical descriptor: a plain SchemaDescriptor of protocols/schema.proto. */
export type Descriptor = SchemaDescriptor

/** Message types in a descriptor, and enum types: far more than a schema of events declares. */
export const MAX_TYPES = 1024
/** Fields of one message, and values of one enum. */
export const MAX_FIELDS = 1024
/** Characters of a name, full names included. */
export const MAX_NAME_LENGTH = 256
/** Bytes of an encoded descriptor: bounds the work a peer's descriptor can cause. */
export const MAX_DESCRIPTOR_BYTES = 256 * 1024
/** The highest field number protobuf allows. */
const MAX_FIELD_NUMBER = 2 ** 29 - 1

const SCALARS: Record<string, Type> = {
  double: Type.DOUBLE,
  float: Type.FLOAT,
  int64: Type.INT64,
  uint64: Type.UINT64,
  int32: Type.INT32,
  fixed64: Type.FIXED64,
  fixed32: Type.FIXED32,
  bool: Type.BOOL,
  string: Type.STRING,
  bytes: Type.BYTES,
  uint32: Type.UINT32,
  sfixed32: Type.SFIXED32,
  sfixed64: Type.SFIXED64,
  sint32: Type.SINT32,
  sint64: Type.SINT64
}
const MAP_KEYS = new Set<Type>(Object.values(SCALARS).filter(t => t !== Type.DOUBLE && t !== Type.FLOAT && t !== Type.BYTES))
const NAMED = new Set<Type>([Type.MESSAGE, Type.GROUP, Type.ENUM])
// ASCII only, so that sorting by UTF-16 code units is sorting by bytes
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/
const FULL_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/

/**
 * Whether `name` is a name a schema can give a type: protobuf identifiers
 * joined by dots, at most MAX_NAME_LENGTH characters. Every event name is one.
 */
export function isFullName (name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && FULL_NAME.test(name)
}

/**
 * The descriptor of a parsed schema (`parseSchema`): every message and enum
 * the root holds, nested ones too. Throws SchemaError when the schema is past
 * the bounds a peer accepts.
 */
export function describe (root: protobuf.Root): Descriptor {
  const d: Descriptor = { messages: [], enums: [] }
  try {
    root.resolveAll()
    collect(root, false, d)
  } catch (err) {
    if (err instanceof SchemaError) throw err
    throw new SchemaError(`cannot describe schema: ${(err as Error).message}`, { cause: err })
  }
  d.messages.sort(byFullName)
  d.enums.sort(byFullName)
  check(d)
  const size = encodeDescriptor(d).byteLength
  if (size > MAX_DESCRIPTOR_BYTES) throw bad(`${size} bytes, more than ${MAX_DESCRIPTOR_BYTES}`)
  return d
}

/** The canonical bytes of `d`, a descriptor as `describe` or `decodeDescriptor` return it. */
export function encodeDescriptor (d: Descriptor): Uint8Array {
  return SchemaDescriptor.encode(d)
}

/**
 * Decodes a peer's descriptor. Throws SchemaError unless `bytes` are a valid
 * descriptor within the bounds, in canonical form (so that their sha2-256 is
 * the fingerprint of what they decode to).
 */
export function decodeDescriptor (bytes: Uint8Array): Descriptor {
  if (bytes.byteLength > MAX_DESCRIPTOR_BYTES) throw bad(`${bytes.byteLength} bytes, more than ${MAX_DESCRIPTOR_BYTES}`)
  let d: Descriptor
  try {
    d = SchemaDescriptor.decode(bytes, {
      limits: { messages: MAX_TYPES, enums: MAX_TYPES, messages$: { fields: MAX_FIELDS }, enums$: { values: MAX_FIELDS } }
    })
  } catch (err) {
    throw new SchemaError(`bad schema descriptor: ${(err as Error).message}`, { cause: err })
  }
  check(d)
  if (Buffer.compare(encodeDescriptor(d), bytes) !== 0) throw bad('not in canonical form')
  return d
}

/** sha2-256 of the descriptor's canonical bytes. */
export function fingerprint (d: Descriptor): Uint8Array {
  return createHash('sha256').update(encodeDescriptor(d)).digest()
}

function collect (ns: protobuf.NamespaceBase, inMessage: boolean, d: Descriptor): void {
  for (const nested of ns.nestedArray) {
    if (nested instanceof protobuf.Type) {
      d.messages.push({
        fullName: fullName(nested),
        event: !inMessage,
        fields: nested.fieldsArray.map(describeField).sort((a, b) => a.number - b.number)
      })
      collect(nested, true, d)
    } else if (nested instanceof protobuf.Enum) {
      const values = Object.entries(nested.values).map(([name, number]) => ({ name, number }))
      d.enums.push({ fullName: fullName(nested), values: values.sort((a, b) => a.number - b.number || compareNames(a.name, b.name)) })
    } else if (nested instanceof protobuf.Namespace) {
      collect(nested, inMessage, d)
    }
  }
}

function describeField (field: protobuf.Field): FieldDescriptor {
  const resolved = field.resolvedType
  const [type, typeName] = resolved instanceof protobuf.Type
    ? [field.delimited ? Type.GROUP : Type.MESSAGE, fullName(resolved)]
    : resolved instanceof protobuf.Enum ? [Type.ENUM, fullName(resolved)] : [scalar(field, field.type), '']
  return {
    number: field.id,
    // an extension's field is named by its full name
    name: field.name.replace(/^\./, ''),
    label: field instanceof protobuf.MapField || field.repeated ? Label.REPEATED : field.required ? Label.REQUIRED : Label.OPTIONAL,
    type,
    typeName,
    keyType: field instanceof protobuf.MapField ? scalar(field, field.keyType) : Type.NONE,
    // proto3 `optional` is a oneof to protobufjs, but not on the wire
    oneof: field.partOf == null || field.partOf.isProto3Optional ? '' : field.partOf.name
  }
}

function scalar (field: protobuf.Field, name: string): Type {
  const type = SCALARS[name]
  if (type == null) throw new SchemaError(`cannot describe schema: ${field.fullName} has unknown type ${name}`)
  return type
}

function fullName (o: protobuf.ReflectionObject): string {
  return o.fullName.replace(/^\./, '')
}

// Everything `describe` guarantees, checked again on a peer's descriptor.
function check (d: Descriptor): void {
  if (d.messages.length > MAX_TYPES) throw bad(`${d.messages.length} message types, more than ${MAX_TYPES}`)
  if (d.enums.length > MAX_TYPES) throw bad(`${d.enums.length} enum types, more than ${MAX_TYPES}`)
  const messages = sortedNames(d.messages, 'message')
  const enums = sortedNames(d.enums, 'enum')
  for (const name of enums) if (messages.has(name)) throw bad(`${name} is both a message and an enum`)
  for (const m of d.messages) {
    const nested = ancestors(m.fullName).some(a => messages.has(a))
    if (m.event === nested) throw bad(`${m.fullName}: event is ${m.event}, but it is ${nested ? '' : 'not '}nested in a message`)
    if (m.fields.length > MAX_FIELDS) throw bad(`${m.fullName}: ${m.fields.length} fields, more than ${MAX_FIELDS}`)
    const names = new Set<string>()
    let last = 0
    for (const f of m.fields) {
      const where = `${m.fullName}.${f.name}`
      checkName(f.name, FULL_NAME, `${m.fullName}: field name`)
      if (names.has(f.name)) throw bad(`${where}: two fields of that name`)
      names.add(f.name)
      if (!(f.number > last && f.number <= MAX_FIELD_NUMBER)) throw bad(`${where}: field number ${f.number} out of order or range`)
      last = f.number
      checkField(f, where, messages, enums)
    }
  }
  for (const e of d.enums) {
    if (e.values.length > MAX_FIELDS) throw bad(`${e.fullName}: ${e.values.length} values, more than ${MAX_FIELDS}`)
    const names = new Set<string>()
    let prev: EnumValue | undefined
    for (const v of e.values) {
      checkName(v.name, IDENTIFIER, `${e.fullName}: value name`)
      if (names.has(v.name)) throw bad(`${e.fullName}.${v.name}: two values of that name`)
      names.add(v.name)
      if (prev != null && (prev.number - v.number || compareNames(prev.name, v.name)) >= 0) throw bad(`${e.fullName}.${v.name}: value out of order`)
      prev = v
    }
  }
}

function checkField (f: FieldDescriptor, where: string, messages: Set<string>, enums: Set<string>): void {
  if (f.type === Type.NONE) throw bad(`${where}: no type`)
  if (NAMED.has(f.type) !== (f.typeName !== '')) throw bad(`${where}: type name "${f.typeName}" with type ${f.type}`)
  if (f.typeName !== '' && !(f.type === Type.ENUM ? enums : messages).has(f.typeName)) throw bad(`${where}: no ${f.type === Type.ENUM ? 'enum' : 'message'} ${f.typeName}`)
  if (f.keyType !== Type.NONE && (!MAP_KEYS.has(f.keyType) || f.label !== Label.REPEATED || f.type === Type.GROUP)) throw bad(`${where}: not a valid map`)
  if (f.oneof !== '') {
    checkName(f.oneof, IDENTIFIER, `${where}: oneof name`)
    if (f.label !== Label.OPTIONAL) throw bad(`${where}: a ${f.label} field in a oneof`)
  }
}

function sortedNames (types: ReadonlyArray<{ fullName: string }>, kind: string): Set<string> {
  const names = new Set<string>()
  let prev = ''
  for (const { fullName } of types) {
    checkName(fullName, FULL_NAME, `${kind} name`)
    if (prev !== '' && compareNames(prev, fullName) >= 0) throw bad(`${kind} ${fullName} out of order`)
    names.add(fullName)
    prev = fullName
  }
  return names
}

function checkName (name: string, form: RegExp, what: string): void {
  if (name.length > MAX_NAME_LENGTH) throw bad(`${what} of ${name.length} characters, more than ${MAX_NAME_LENGTH}`)
  if (!form.test(name)) throw bad(`${what} ${JSON.stringify(name)} is not a protobuf name`)
}

/** `a.b.C` → `a`, `a.b` */
function ancestors (full: string): string[] {
  const parts = full.split('.')
  return parts.slice(1).map((_, i) => parts.slice(0, i + 1).join('.'))
}

function byFullName (a: { fullName: string }, b: { fullName: string }): number {
  return compareNames(a.fullName, b.fullName)
}

function compareNames (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function bad (what: string): SchemaError {
  return new SchemaError(`bad schema descriptor: ${what}`)
}
