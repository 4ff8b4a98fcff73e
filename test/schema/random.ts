// Random schema pairs for the compatibility property test: a v1 event `t.Ev`
// with random fields (scalars, the enum Ev.Color, the message Ev.Inner, maps,
// a oneof), a v2 derived from it by random mutations, random valid messages
// of either version, and what becomes of their bytes on the other side.
import protobuf from 'protobufjs'
import type { Prng } from '../chaos/prng.js'

const SCALARS = ['double', 'float', 'int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64', 'fixed32', 'fixed64', 'sfixed32', 'sfixed64', 'bool', 'string', 'bytes']
const MAP_KEYS = SCALARS.filter(t => !['double', 'float', 'bytes'].includes(t))
const NOT_PACKABLE = new Set(['string', 'bytes', 'Inner'])
const INT32 = new Set(['int32', 'sint32', 'sfixed32'])
const UINT32 = new Set(['uint32', 'fixed32'])
const INT64 = new Set(['int64', 'sint64', 'sfixed64'])
const UINT64 = new Set(['uint64', 'fixed64'])

export interface FieldModel {
  name: string
  number: number
  /** '' is proto3's singular field without a label */
  label: '' | 'optional' | 'required' | 'repeated'
  /** a scalar, 'Color' or the inner message's name */
  type: string
  /** a map's key type */
  key?: string
  oneof?: string
  packed?: boolean
}

export interface SchemaModel {
  syntax: 'proto2' | 'proto3'
  fields: FieldModel[]
  innerName: string
  inner: FieldModel[]
  colors: Array<{ name: string, number: number }>
}

/** The .proto text of `m`. */
export function render (m: SchemaModel): string {
  const field = (f: FieldModel): string => {
    const type = f.type === 'Inner' ? m.innerName : f.type
    if (f.key != null) return `map<${f.key}, ${type}> ${f.name} = ${f.number};`
    const label = f.oneof != null || f.label === '' ? '' : `${f.label} `
    return `${label}${type} ${f.name} = ${f.number}${f.packed != null ? ` [packed = ${f.packed}]` : ''};`
  }
  const oneofs = [...new Set(m.fields.flatMap(f => f.oneof ?? []))]
  return [
    `syntax = "${m.syntax}";`,
    'package t;',
    'message Ev {',
    `  enum Color { ${m.colors.map(c => `${c.name} = ${c.number};`).join(' ')} }`,
    `  message ${m.innerName} { ${m.inner.map(field).join(' ')} }`,
    ...m.fields.filter(f => f.oneof == null).map(f => `  ${field(f)}`),
    ...oneofs.map(o => `  oneof ${o} { ${m.fields.filter(f => f.oneof === o).map(field).join(' ')} }`),
    '}',
    ''
  ].join('\n')
}

/** A random v1: 2 to 6 fields of Ev, 1 to 3 of Inner, 2 to 4 colors. */
export function randomSchema (rng: Prng): SchemaModel {
  const m: SchemaModel = { syntax: rng.next() < 0.5 ? 'proto2' : 'proto3', fields: [], innerName: 'Inner', inner: [], colors: [] }
  for (let i = 0; i < 2 + rng.int(3); i++) m.colors.push({ name: `C${i}`, number: i === 0 ? 0 : i + rng.int(3) * 4 })
  for (let i = 1 + rng.int(3); i > 0; i--) m.inner.push(randomField(rng, m, m.inner, true))
  for (let i = 2 + rng.int(5); i > 0; i--) m.fields.push(randomField(rng, m, m.fields, false))
  for (const f of m.fields) if (singular(f) && rng.next() < 0.3) f.oneof = 'choice'
  return m
}

type Mutation = (rng: Prng, m: SchemaModel) => boolean

/** Ways to change a schema; each returns false when it does not apply to `m`. */
export const MUTATIONS: Record<string, Mutation> = {
  addField: (rng, m) => { m.fields.push(randomField(rng, m, m.fields, false, false)); return true },
  addRequired: (rng, m) => {
    if (m.syntax !== 'proto2') return false
    m.fields.push({ ...randomField(rng, m, m.fields, false, false), key: undefined, label: 'required', packed: undefined })
    return true
  },
  removeField: (rng, m) => remove(rng, m.fields) != null,
  reuseNumber: (rng, m) => {
    const old = remove(rng, m.fields)
    if (old == null) return false
    let f
    do f = { ...randomField(rng, m, m.fields, false, false), number: old.number }
    while (f.type === old.type && f.key === old.key)
    m.fields.push(f)
    return true
  },
  changeType: (rng, m) => {
    const f = pick(rng, m.fields)
    if (f == null) return false
    const old = f.type
    while (f.type === old) f.type = randomType(rng, false)
    if (NOT_PACKABLE.has(f.type)) f.packed = undefined
    return true
  },
  renameField: (rng, m) => {
    const f = pick(rng, m.fields)
    if (f == null) return false
    f.name = `${f.name}_renamed`
    return true
  },
  changeLabel: (rng, m) => {
    const f = pick(rng, m.fields.filter(f => f.key == null && f.oneof == null))
    if (f == null) return false
    const labels = (m.syntax === 'proto2' ? ['optional', 'required', 'repeated'] as const : ['', 'repeated'] as const).filter(l => l !== f.label && !(l === '' && f.label === 'optional'))
    f.label = labels[rng.int(labels.length)]
    if (f.label !== 'repeated') f.packed = undefined
    return true
  },
  toggleOneof: (rng, m) => {
    const f = pick(rng, m.fields.filter(singular))
    if (f == null) return false
    f.oneof = f.oneof != null ? undefined : rng.next() < 0.5 ? 'choice' : 'other'
    return true
  },
  changeMap: (rng, m) => {
    const f = pick(rng, m.fields.filter(f => f.key != null))
    if (f == null) return false
    if (rng.next() < 0.5) f.key = pickOther(rng, MAP_KEYS, f.key!)
    else f.type = pickOther(rng, [...SCALARS, 'Color', 'Inner'], f.type)
    return true
  },
  addColor: (rng, m) => { m.colors.push({ name: `C${m.colors.length + 10}`, number: freeColor(m) }); return true },
  removeColor: (rng, m) => remove(rng, m.colors, 1) != null,
  renameColor: (rng, m) => {
    const c = pick(rng, m.colors.slice(1))
    if (c == null) return false
    c.name = `${c.name}_renamed`
    return true
  },
  renumberColor: (rng, m) => {
    const c = pick(rng, m.colors.slice(1))
    if (c == null) return false
    c.number = freeColor(m)
    return true
  },
  addInner: (rng, m) => { m.inner.push(randomField(rng, m, m.inner, true, false)); return true },
  addInnerRequired: (rng, m) => {
    if (m.syntax !== 'proto2') return false
    m.inner.push({ ...randomField(rng, m, m.inner, true, false), label: 'required', packed: undefined })
    return true
  },
  removeInner: (rng, m) => remove(rng, m.inner) != null,
  changeInnerType: (rng, m) => {
    const f = pick(rng, m.inner)
    if (f == null) return false
    const old = f.type
    while (f.type === old) f.type = randomType(rng, true)
    if (NOT_PACKABLE.has(f.type)) f.packed = undefined
    return true
  },
  renameInnerMessage: (_rng, m) => { m.innerName = 'Renamed'; return true },
  togglePacked: (rng, m) => {
    const f = pick(rng, [...m.fields, ...m.inner].filter(f => f.label === 'repeated' && !NOT_PACKABLE.has(f.type)))
    if (f == null) return false
    f.packed = f.packed !== true
    return true
  },
  reorder: (rng, m) => {
    m.fields = rng.shuffle(m.fields)
    m.inner = rng.shuffle(m.inner)
    m.colors = [m.colors[0], ...rng.shuffle(m.colors.slice(1))]
    return true
  }
}

/** v2: a copy of `m` with `count` random mutations; their names. */
export function mutate (rng: Prng, m: SchemaModel, count: number): { schema: SchemaModel, mutations: string[] } {
  const schema = structuredClone(m)
  const mutations: string[] = []
  const names = Object.keys(MUTATIONS)
  while (mutations.length < count) {
    const name = names[rng.int(names.length)]
    if (MUTATIONS[name](rng, schema)) mutations.push(name)
  }
  return { schema, mutations }
}

/** A random valid message of `type`, as protobufjs' fromObject takes it. */
export function randomMessage (rng: Prng, type: protobuf.Type): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const chosen = new Set<string>()
  for (const oneof of type.oneofsArray) {
    if (oneof.isProto3Optional) continue
    if (rng.next() < 0.8) chosen.add(oneof.oneof[rng.int(oneof.oneof.length)])
  }
  for (const f of type.fieldsArray) {
    const inOneof = f.partOf != null && !f.partOf.isProto3Optional
    if (inOneof ? !chosen.has(f.name) : !f.required && rng.next() < 0.25) continue
    if (f instanceof protobuf.MapField) {
      const map: Record<string, unknown> = {}
      for (let i = 1 + rng.int(3); i > 0; i--) map[String(randomScalar(rng, f.keyType))] = randomValue(rng, f)
      out[f.name] = map
    } else if (f.repeated) {
      out[f.name] = Array.from({ length: 1 + rng.int(3) }, () => randomValue(rng, f))
    } else {
      out[f.name] = randomValue(rng, f)
    }
  }
  return out
}

/**
 * Encodes `message` with `writer` and decodes the bytes with `reader`: null
 * when every field both know reads as the writer's own decoder reads it,
 * otherwise what went wrong.
 */
export function crossRead (writer: protobuf.Type, reader: protobuf.Type, message: Record<string, unknown>): string | null {
  const bytes = writer.encode(writer.fromObject(message)).finish()
  const own = writer.decode(bytes)
  let read
  try {
    read = reader.decode(bytes)
  } catch (err) {
    return `decode: ${(err as Error).message}`
  }
  return differ(writer, own, reader, read, reader.name)
}

function differ (wt: protobuf.Type, w: object, rt: protobuf.Type, r: object, path: string): string | null {
  // a conformant reader keeps only the last member of a oneof it reads
  for (const oneof of rt.oneofsArray) {
    if (!oneof.isProto3Optional && oneof.oneof.filter(name => isSet(rt.fields[name], r, name)).length > 1) return `${path}: more than one field of oneof ${oneof.name}`
  }
  for (const fw of wt.fieldsArray) {
    const fr = rt.fieldsById[fw.id]
    if (fr == null) continue
    const where = `${path}.${fr.name}`
    let a = isSet(fw, w, fw.name) ? (w as Record<string, unknown>)[fw.name] : undefined
    let b = isSet(fr, r, fr.name) ? (r as Record<string, unknown>)[fr.name] : undefined
    // without presence (proto3 singular), an unset field reads as its default
    if (a == null && b != null && implicit(fw)) a = fw.typeDefault
    if (b == null && a != null && implicit(fr)) b = fr.typeDefault
    const problem = fw instanceof protobuf.MapField || fr instanceof protobuf.MapField
      ? differMap(fw, a, fr, b, where)
      : differList(fw, a, fr, b, where)
    if (problem != null) return problem
  }
  return null
}

// singular values as lists of none or one, so that unknown enum values drop out alike
function differList (fw: protobuf.Field, a: unknown, fr: protobuf.Field, b: unknown, where: string): string | null {
  const wrap = (f: protobuf.Field, v: unknown): unknown[] => v == null ? [] : f.repeated ? v as unknown[] : [v]
  if (fw.repeated !== fr.repeated && a != null && b != null) return `${where}: ${fw.repeated ? 'a list' : 'one value'} read as ${fr.repeated ? 'a list' : 'one value'}`
  let [la, lb] = [wrap(fw, a), wrap(fr, b)]
  const [ea, eb] = [fw.resolvedType, fr.resolvedType]
  if (ea instanceof protobuf.Enum && eb instanceof protobuf.Enum) {
    // a value the reader's enum lacks is unknown to it, as a field can be:
    // an open enum keeps its number, a closed one drops it
    la = la.filter(v => namesOf(eb, v as number).length > 0)
    lb = lb.filter(v => namesOf(eb, v as number).length > 0)
  }
  if (la.length !== lb.length) return `${where}: ${la.map(String).join()} read as ${lb.map(String).join()}`
  return la.map((x, i) => differValue(fw, x, fr, lb[i], fw.repeated ? `${where}[${i}]` : where)).find(p => p != null) ?? null
}

function differMap (fw: protobuf.Field, a: unknown, fr: protobuf.Field, b: unknown, where: string): string | null {
  if (a == null && b == null) return null
  if (!(fw instanceof protobuf.MapField && fr instanceof protobuf.MapField)) return `${where}: a map read as another field`
  const eb = fr.resolvedType
  const known = ([, v]: [string, unknown]): boolean => !(eb instanceof protobuf.Enum && fw.resolvedType instanceof protobuf.Enum) || namesOf(eb, v as number).length > 0
  // an entry whose value the reader's enum lacks is unknown to it
  const ka = new Map([...mapKeys(fw, a)].filter(known))
  const kb = new Map([...mapKeys(fr, b)].filter(known))
  if ([...ka.keys()].sort().join() !== [...kb.keys()].sort().join()) return `${where}: keys ${[...ka.keys()].join()} read as ${[...kb.keys()].join()}`
  for (const [k, v] of ka) {
    const problem = differValue(fw, v, fr, kb.get(k), `${where}[${k}]`)
    if (problem != null) return problem
  }
  return null
}

function differValue (fw: protobuf.Field, a: unknown, fr: protobuf.Field, b: unknown, where: string): string | null {
  const [ta, tb] = [fw.resolvedType, fr.resolvedType]
  if (ta instanceof protobuf.Type && tb instanceof protobuf.Type && a instanceof protobuf.Message && b instanceof protobuf.Message) {
    return differ(ta, a, tb, b, where)
  }
  if (ta instanceof protobuf.Enum && tb instanceof protobuf.Enum) {
    const [na, nb] = [namesOf(ta, a as number), namesOf(tb, b as number)]
    return a === b && na.some(n => nb.includes(n)) ? null : `${where}: ${na.join('|')} read as ${nb.join('|') || String(b)}`
  }
  const [va, vb] = [seen(fw, a), seen(fr, b)]
  return va === vb ? null : `${where}: ${va} read as ${vb}`
}

// what the application sees, with its kind: 5 (int32) and "5" (string) differ
function seen (f: protobuf.Field, v: unknown): string {
  if (f.resolvedType instanceof protobuf.Enum) return `enum ${namesOf(f.resolvedType, v as number)[0] ?? String(v)}`
  if (v instanceof protobuf.Message) return `message ${JSON.stringify(v.toJSON())}`
  if (v instanceof Uint8Array) return `bytes ${Buffer.from(v).toString('hex')}`
  if (typeof v === 'string') return `string ${JSON.stringify(v)}`
  if (typeof v === 'boolean') return `bool ${v}`
  return `number ${String(v)}`
}

function mapKeys (f: protobuf.MapField, map: unknown): Map<string, unknown> {
  if (map == null) return new Map()
  const long = INT64.has(f.keyType) || UINT64.has(f.keyType)
  // protobufjs keys 64-bit maps by an 8-character hash of the number (the values here are under 2^53)
  return new Map(Object.entries(map as Record<string, unknown>).map(([k, v]) => [long ? String(protobuf.util.LongBits.fromHash(k).toNumber(UINT64.has(f.keyType))) : k, v]))
}

// protobufjs puts defaults on the prototype: a field is set when it is the message's own
function isSet (f: protobuf.Field | undefined, m: object, name: string): boolean {
  const v = Object.hasOwn(m, name) ? (m as Record<string, unknown>)[name] : undefined
  if (v == null || f == null) return false
  if (f instanceof protobuf.MapField) return Object.keys(v).length > 0
  return !f.repeated || (Array.isArray(v) && v.length > 0)
}

function implicit (f: protobuf.Field): boolean {
  return !f.repeated && !(f instanceof protobuf.MapField) && !f.hasPresence
}

function namesOf (e: protobuf.Enum, n: number): string[] {
  return Object.entries(e.values).filter(([, v]) => v === n).map(([k]) => k)
}

function randomValue (rng: Prng, f: protobuf.Field): unknown {
  if (f.resolvedType instanceof protobuf.Type) return randomMessage(rng, f.resolvedType)
  if (f.resolvedType instanceof protobuf.Enum) {
    const values = Object.values(f.resolvedType.values)
    return values[rng.int(values.length)]
  }
  return randomScalar(rng, f.type)
}

function randomScalar (rng: Prng, type: string): unknown {
  // small, 32-bit and 53-bit magnitudes, so that truncation shows
  const magnitude = [2 ** 7, 2 ** 31, 2 ** 53][rng.int(3)]
  const n = Math.floor(rng.next() * magnitude)
  if (INT32.has(type)) return (rng.next() < 0.5 ? -n : n) % 2 ** 31
  if (UINT32.has(type)) return n % 2 ** 32
  if (INT64.has(type)) return String(rng.next() < 0.5 ? -n : n)
  if (UINT64.has(type)) return String(n)
  switch (type) {
    case 'bool': return rng.next() < 0.5
    case 'float': return Math.fround((rng.next() - 0.5) * 1000)
    case 'double': return (rng.next() - 0.5) * 1e6
    case 'string': return ['a', 'héllo', 'ünï', 'x'.repeat(1 + rng.int(20))][rng.int(4)]
    default: return Uint8Array.from({ length: 1 + rng.int(6) }, () => rng.int(256))
  }
}

function randomField (rng: Prng, m: SchemaModel, siblings: FieldModel[], inner: boolean, allowMap = true): FieldModel {
  const used = new Set(siblings.map(f => f.number))
  let number
  do number = 1 + rng.int(20)
  while (used.has(number))
  const name = `f${number}_${rng.int(1000)}`
  if (!inner && allowMap && rng.next() < 0.12) {
    return { name, number, label: '', type: randomType(rng, false), key: MAP_KEYS[rng.int(MAP_KEYS.length)] }
  }
  const type = randomType(rng, inner)
  const labels = m.syntax === 'proto2' ? ['optional', 'optional', 'optional', 'repeated', 'repeated', 'required'] as const : ['', '', 'optional', 'repeated', 'repeated'] as const
  const label = labels[rng.int(labels.length)]
  const packed = label === 'repeated' && !NOT_PACKABLE.has(type) && rng.next() < 0.6 ? rng.next() < 0.5 : undefined
  return { name, number, label, type, packed }
}

function randomType (rng: Prng, inner: boolean): string {
  const r = rng.next()
  if (r < 0.12) return 'Color'
  if (!inner && r < 0.25) return 'Inner'
  return SCALARS[rng.int(SCALARS.length)]
}

function singular (f: FieldModel): boolean {
  return f.key == null && (f.label === '' || f.label === 'optional')
}

function freeColor (m: SchemaModel): number {
  let n = 1
  while (m.colors.some(c => c.number === n)) n++
  return n
}

function pick<T> (rng: Prng, list: T[]): T | undefined {
  return list.length === 0 ? undefined : list[rng.int(list.length)]
}

function pickOther (rng: Prng, list: string[], not: string): string {
  const rest = list.filter(x => x !== not)
  return rest[rng.int(rest.length)]
}

function remove<T> (rng: Prng, list: T[], from = 0): T | undefined {
  if (list.length <= from) return undefined
  return list.splice(from + rng.int(list.length - from), 1)[0]
}
