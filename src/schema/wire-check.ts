import { isUtf8 } from 'node:buffer'
import protobuf from 'protobufjs'

/**
 * A quick check of a payload against its message type, for the check of
 * every entry from a peer: it walks the wire format and builds nothing (no
 * object, no string), where protobufjs' decode builds the whole message.
 *
 * It answers `true` only for bytes that protobufjs' decode reads without an
 * error: every field in bounds, nested messages ending where their length
 * says, varints of at most 10 bytes, tags and lengths of at most 4, strings
 * valid UTF-8, required fields present. Anything else (a map or group
 * field, a long tag, an invalid string, a missing required field, a
 * required enum, deep nesting) gets `false`: "not sure", and the caller
 * decodes the bytes with protobufjs for the verdict. So the verdict is
 * always protobufjs'; a test holds the two together on mutated payloads.
 */
export type WireCheck = (bytes: Uint8Array) => boolean

const VARINT = 0
const I64 = 1
const LEN = 2
const I32 = 5
// wire types of protobufjs' scalar types (types.basic)
const SCALAR_WIRE: Record<string, number> = {
  double: I64, float: I32, int32: VARINT, uint32: VARINT, sint32: VARINT, fixed32: I32, sfixed32: I32,
  int64: VARINT, uint64: VARINT, sint64: VARINT, fixed64: I64, sfixed64: I64, bool: VARINT
}
const MAX_DEPTH = 32

const enum Kind { Scalar, Str, Bytes, Message, Unsure }

interface FieldPlan {
  kind: Kind
  /** the wire type protobufjs reads the field with; any other is skipped as unknown */
  wire: number
  /** a repeated scalar, which protobufjs also reads packed (wire type 2) */
  packable: boolean
  /** bit of a required field in the presence mask, else 0 */
  bit: number
  message?: Plan
}

interface Plan {
  fields: Map<number, FieldPlan>
  /** the mask with every required field's bit */
  required: number
  /** a type this check cannot answer for (a required enum, more than 30 required fields) */
  unsure: boolean
}

/** The check of `type`'s payloads (see WireCheck). */
export function wireCheck (type: protobuf.Type): WireCheck {
  const plan = planOf(type, new Map())
  return (bytes) => walk(plan, bytes, 0, bytes.byteLength, 0)
}

function planOf (type: protobuf.Type, plans: Map<protobuf.Type, Plan>): Plan {
  const known = plans.get(type)
  if (known != null) return known
  const plan: Plan = { fields: new Map(), required: 0, unsure: false }
  plans.set(type, plan)
  let bits = 0
  for (const field of type.fieldsArray) {
    field.resolve()
    const resolved = field.resolvedType
    const name = resolved instanceof protobuf.Enum ? 'int32' : field.type
    let bit = 0
    if (field.required) {
      // a closed enum's unknown value leaves its field unset: the decode
      // then finds a required one missing
      if (bits === 30 || resolved instanceof protobuf.Enum) plan.unsure = true
      else bit = 1 << bits++
      plan.required |= bit
    }
    let p: FieldPlan
    if (field.map) p = { kind: Kind.Unsure, wire: LEN, packable: false, bit }
    else if (resolved instanceof protobuf.Type) {
      p = (field as { delimited?: boolean }).delimited === true
        ? { kind: Kind.Unsure, wire: 3, packable: false, bit }
        : { kind: Kind.Message, wire: LEN, packable: false, bit, message: planOf(resolved, plans) }
    } else if (name === 'string') p = { kind: Kind.Str, wire: LEN, packable: false, bit }
    else if (name === 'bytes') p = { kind: Kind.Bytes, wire: LEN, packable: false, bit }
    else if (SCALAR_WIRE[name] !== undefined) p = { kind: Kind.Scalar, wire: SCALAR_WIRE[name], packable: field.repeated, bit }
    else p = { kind: Kind.Unsure, wire: -1, packable: false, bit }
    plan.fields.set(field.id, p)
  }
  return plan
}

// The end of the varint at `at` (at most `max` bytes, all before `end`), or -1.
function varintEnd (bytes: Uint8Array, at: number, end: number, max: number): number {
  const stop = Math.min(end, at + max)
  for (let i = at; i < stop; i++) if (bytes[i] < 0x80) return i + 1
  return -1
}

// where the last readSmall ended
let next = 0

// A tag or a length: at most 4 bytes (under 2^28), which protobufjs reads
// the same way near a message's end and away from it; -1 if longer or cut.
function readSmall (bytes: Uint8Array, at: number, end: number): number {
  let value = 0
  let scale = 1
  const stop = Math.min(end, at + 4)
  for (let i = at; i < stop; i++) {
    const byte = bytes[i]
    value += (byte & 0x7f) * scale
    if (byte < 0x80) {
      next = i + 1
      return value
    }
    scale *= 128
  }
  return -1
}

// The end of the length-delimited field whose length is at `at`, or -1 if
// it runs past `end`; `next` is where its bytes start.
function delimited (bytes: Uint8Array, at: number, end: number): number {
  const length = readSmall(bytes, at, end)
  if (length < 0 || next + length > end) return -1
  return next + length
}

// The end of one scalar of wire type `wire` at `at`, or -1.
function scalarEnd (bytes: Uint8Array, wire: number, at: number, end: number): number {
  if (wire === VARINT) return varintEnd(bytes, at, end, 10)
  const size = wire === I32 ? 4 : 8
  return at + size <= end ? at + size : -1
}

// Whether bytes[at, stop) are UTF-8: ASCII is checked here, as most strings
// of events are, faster than a call into isUtf8 and the view it takes.
function utf8 (bytes: Uint8Array, at: number, stop: number): boolean {
  for (let i = at; i < stop; i++) if (bytes[i] >= 0x80) return isUtf8(bytes.subarray(i, stop))
  return true
}

function walk (plan: Plan, bytes: Uint8Array, at: number, end: number, depth: number): boolean {
  if (plan.unsure || depth > MAX_DEPTH) return false
  let seen = 0
  while (at < end) {
    const tag = readSmall(bytes, at, end)
    if (tag < 0) return false
    at = next
    const wire = tag & 7
    const number = tag >>> 3
    if (number === 0) return false
    const field = plan.fields.get(number)
    if (field?.kind === Kind.Unsure) return false
    if (field !== undefined && field.wire === wire) {
      seen |= field.bit
      if (field.kind === Kind.Scalar) {
        at = scalarEnd(bytes, wire, at, end)
        if (at < 0) return false
        continue
      }
      const stop = delimited(bytes, at, end)
      if (stop < 0) return false
      at = next
      if (field.kind === Kind.Str && !utf8(bytes, at, stop)) return false
      if (field.kind === Kind.Message && !walk(field.message!, bytes, at, stop, depth + 1)) return false
      at = stop
      continue
    }
    if (field !== undefined && field.packable && wire === LEN) {
      // packed: scalars laid end to end, the last ending at the length
      const stop = delimited(bytes, at, end)
      if (stop < 0) return false
      at = next
      while (at < stop) {
        at = scalarEnd(bytes, field.wire, at, stop)
        if (at < 0) return false
      }
      seen |= field.bit
      continue
    }
    // unknown, or a known field in a wire type other than its own: skipped
    if (wire === LEN) {
      at = delimited(bytes, at, end)
      if (at < 0) return false
    } else if (wire === VARINT || wire === I32 || wire === I64) {
      at = scalarEnd(bytes, wire, at, end)
      if (at < 0) return false
    } else return false
  }
  return (seen & plan.required) === plan.required
}
