// Whether two schemas can share a log: the rules of protocols/README.md
// §5.1.1 "Compatibility", applied to two descriptors. Only the wire counts:
// bytes one side writes must read as the same values on the other side, for
// every field both sides know.
import { Label, Type, type Descriptor, type EnumDescriptor, type FieldDescriptor, type MessageDescriptor } from './descriptor.js'
import { eventNames } from './names.js'

/** Differences that keep two schemas compatible. */
export type ChangeRule =
  | 'event-added' | 'event-removed' | 'event-retargeted'
  | 'message-added' | 'message-removed' | 'enum-added' | 'enum-removed'
  | 'field-added' | 'field-removed' | 'field-renamed' | 'type-renamed' | 'oneof-changed'
  | 'value-added' | 'value-removed'
  | 'unused'

/** Differences that make two schemas incompatible. */
export type ReasonRule = 'type' | 'label' | 'required' | 'map' | 'oneof' | 'enum-value'

/** One difference, as one line of text. */
export interface Difference<R extends string> {
  /** what differs: an event name, `pkg.Msg`, `pkg.Msg.field`, `pkg.Enum.VALUE` */
  path: string
  rule: R
  /** `path: what`, phrased from the local side */
  text: string
}

/** A difference that keeps the schemas compatible. */
export type Change = Difference<ChangeRule>
/** A difference that makes them incompatible. */
export type Reason = Difference<ReasonRule>

export type Comparison =
  | { compatible: true, changes: Change[] }
  | { compatible: false, reasons: Reason[], changes: Change[] }

interface Side {
  messages: Map<string, MessageDescriptor>
  enums: Map<string, EnumDescriptor>
  /** entry name → the full name of the event it stands for */
  events: Map<string, string>
}

interface Pair { kind: 'message' | 'enum', local: string, remote: string }

/**
 * Compares the local schema with a peer's, both as `describe` or
 * `decodeDescriptor` return them. The decision is the same both ways round
 * (`compare(a, b).compatible === compare(b, a).compatible`); the texts call
 * what only `remote` has "added".
 */
export function compare (local: Descriptor, remote: Descriptor): Comparison {
  return new Comparer(side(local), side(remote)).run()
}

class Comparer {
  readonly #local: Side
  readonly #remote: Side
  readonly #reasons: Reason[] = []
  readonly #changes: Change[] = []
  readonly #pending: Pair[] = []
  readonly #seen = new Set<string>()
  /** false while comparing types that no field both sides know uses */
  #reached = true

  constructor (local: Side, remote: Side) {
    this.#local = local
    this.#remote = remote
  }

  run (): Comparison {
    this.#events()
    this.#typeSets()
    this.#drain()
    // same-named types that no shared field reaches: their differences move no bytes
    this.#reached = false
    for (const kind of ['message', 'enum'] as const) {
      const key = kind === 'message' ? 'messages' : 'enums'
      for (const name of this.#local[key].keys()) {
        if (this.#remote[key].has(name)) this.#enqueue(kind, name, name)
      }
    }
    this.#drain()
    const changes = this.#changes.sort(byText)
    if (this.#reasons.length === 0) return { compatible: true, changes }
    return { compatible: false, reasons: this.#reasons.sort(byText), changes }
  }

  // Event names both sides accept must stand for compatible types; an event
  // only one side has is refused by the other as unknown, not misread.
  #events (): void {
    const l = this.#local.events
    const r = this.#remote.events
    for (const name of [...new Set([...l.keys(), ...r.keys()])].sort()) {
      const here = l.get(name)
      const there = r.get(name)
      if (here != null && there != null) {
        if (here !== there) this.#change(name, 'event-retargeted', `event name ${name} stands for ${here} here, ${there} there`)
        this.#enqueue('message', here, there)
      } else if (there != null) {
        // a short name is worth a line of its own only when its event is not new
        if (name === there) this.#change(name, 'event-added', `event ${name} added`)
        else if (l.has(there)) this.#change(name, 'event-added', `event name ${name} added (short for ${there})`)
      } else if (here != null) {
        if (name === here) this.#change(name, 'event-removed', `event ${name} removed`)
        else if (r.has(here)) this.#change(name, 'event-removed', `event name ${name} removed (it was short for ${here})`)
      }
    }
  }

  #typeSets (): void {
    for (const [key, kind] of [['messages', 'message'], ['enums', 'enum']] as const) {
      const l = this.#local[key]
      const r = this.#remote[key]
      for (const name of r.keys()) {
        // an event that is new is one line already
        if (!l.has(name) && !(kind === 'message' && this.#remote.events.has(name))) this.#change(name, `${kind}-added`, `${kind} ${name} added`)
      }
      for (const name of l.keys()) {
        if (!r.has(name) && !(kind === 'message' && this.#local.events.has(name))) this.#change(name, `${kind}-removed`, `${kind} ${name} removed`)
      }
    }
  }

  #enqueue (kind: Pair['kind'], local: string, remote: string): void {
    const key = `${kind} ${local} ${remote}`
    if (this.#seen.has(key)) return
    this.#seen.add(key)
    this.#pending.push({ kind, local, remote })
  }

  #drain (): void {
    for (let pair = this.#pending.shift(); pair != null; pair = this.#pending.shift()) {
      if (pair.kind === 'message') this.#messages(this.#local.messages.get(pair.local)!, this.#remote.messages.get(pair.remote)!)
      else this.#enums(this.#local.enums.get(pair.local)!, this.#remote.enums.get(pair.remote)!)
    }
  }

  #messages (l: MessageDescriptor, r: MessageDescriptor): void {
    const there = new Map(r.fields.map(f => [f.number, f]))
    const here = new Map(l.fields.map(f => [f.number, f]))
    for (const f of l.fields) {
      const path = `${l.fullName}.${f.name}`
      const g = there.get(f.number)
      if (g != null) this.#field(path, f, g)
      else if (f.label === Label.REQUIRED) this.#reason(path, 'required', `${path}: required field ${f.number} removed (${ONE_SIDED_WHY})`)
      else this.#change(path, 'field-removed', `${path}: field ${f.number} (${typeText(f)}) removed`)
    }
    for (const g of r.fields) {
      if (here.has(g.number)) continue
      const path = `${l.fullName}.${g.name}`
      if (g.label === Label.REQUIRED) this.#reason(path, 'required', `${path}: required field ${g.number} (${typeText(g)}) added (${ONE_SIDED_WHY})`)
      else this.#change(path, 'field-added', `${path}: field ${g.number} (${typeText(g)}) added`)
    }
    this.#oneofs(l, l.fields.filter(f => there.has(f.number)), there)
  }

  #field (path: string, f: FieldDescriptor, g: FieldDescriptor): void {
    const n = f.number
    if (f.name !== g.name) this.#change(path, 'field-renamed', `${path}: field ${n} renamed to ${g.name}`)
    const isMap = f.keyType !== Type.NONE
    if (isMap !== (g.keyType !== Type.NONE)) {
      this.#reason(path, 'map', `${path}: field ${n} changed from ${labeledText(f)} to ${labeledText(g)} (${wireText(wireOf(f), wireOf(g))})`)
      return
    }
    if (isMap) {
      if (f.keyType !== g.keyType) {
        this.#reason(path, 'map', `${path}: map key of field ${n} changed type from ${valueText(f.keyType, '')} to ${valueText(g.keyType, '')} (${wireText(WIRE[f.keyType], WIRE[g.keyType])})`)
      }
    } else if (f.label !== g.label) {
      const why = f.label === Label.REQUIRED || g.label === Label.REQUIRED ? REQUIRED_WHY : 'a singular reader keeps only the last value, and reads no packed ones'
      this.#reason(path, 'label', `${path}: field ${n} changed from ${f.label.toLowerCase()} to ${g.label.toLowerCase()} (${why})`)
    }
    this.#value(path, `${isMap ? 'map value of ' : ''}field ${n}`, f, g)
    if (f.label === Label.REQUIRED && g.label === Label.REQUIRED && f.type === Type.ENUM && g.type === Type.ENUM) this.#requiredEnum(path, f, g)
  }

  // A reader drops a value its closed (proto2) enum lacks, as an unknown
  // field: a required field is then missing.
  #requiredEnum (path: string, f: FieldDescriptor, g: FieldDescriptor): void {
    const numbers = (e: EnumDescriptor): Set<number> => new Set(e.values.map(v => v.number))
    const [here, there] = [numbers(this.#local.enums.get(f.typeName)!), numbers(this.#remote.enums.get(g.typeName)!)]
    const onlyHere = [...here].filter(v => !there.has(v))
    const onlyThere = [...there].filter(v => !here.has(v))
    if (onlyHere.length + onlyThere.length === 0) return
    const which = [onlyHere.length > 0 ? `${onlyHere.join(', ')} here only` : '', onlyThere.length > 0 ? `${onlyThere.join(', ')} there only` : ''].filter(Boolean).join(', ')
    this.#reason(path, 'required', `${path}: required field ${f.number} has enum values ${which} (a reader drops a value its enum lacks, and then misses the field)`)
  }

  #value (path: string, what: string, f: FieldDescriptor, g: FieldDescriptor): void {
    if (f.type !== g.type) {
      this.#reason(path, 'type', `${path}: ${what} changed type from ${valueText(f.type, f.typeName)} to ${valueText(g.type, g.typeName)} (${wireText(WIRE[f.type], WIRE[g.type])})`)
    } else if (f.typeName !== '') {
      if (f.typeName !== g.typeName) this.#change(path, 'type-renamed', `${path}: ${what} has type ${f.typeName} here, ${g.typeName} there`)
      this.#enqueue(f.type === Type.ENUM ? 'enum' : 'message', f.typeName, g.typeName)
    }
  }

  // Fields both sides know must share a oneof on both sides or on neither: a
  // reader keeps only the last field of a oneof, so a writer that sets two of
  // them as plain fields loses one. A field alone in a oneof is a plain field.
  #oneofs (l: MessageDescriptor, common: FieldDescriptor[], there: Map<number, FieldDescriptor>): void {
    const group = (f: FieldDescriptor, oneof: (x: FieldDescriptor) => string): string =>
      oneof(f) === '' ? `${f.number}` : common.filter(x => oneof(x) === oneof(f)).map(x => x.number).join(',')
    const here = (x: FieldDescriptor): string => x.oneof
    const remote = (x: FieldDescriptor): string => there.get(x.number)!.oneof
    const reported = new Set<string>()
    for (const f of common) {
      const path = `${l.fullName}.${f.name}`
      const [gl, gr] = [group(f, here), group(f, remote)]
      const [ol, or] = [here(f), remote(f)]
      if (gl !== gr) {
        if (reported.has(gl) || reported.has(gr)) continue
        reported.add(gl).add(gr)
        const others = (g: string): string => {
          const rest = common.filter(x => x !== f && g.split(',').includes(`${x.number}`))
          return rest.length === 0 ? 'no other field' : rest.map(x => `${x.number} (${x.name})`).join(', ')
        }
        this.#reason(path, 'oneof', `${path}: field ${f.number} shares a oneof with ${others(gl)} here, with ${others(gr)} there (a reader keeps only the last field of a oneof)`)
      } else if (ol !== or) {
        if (ol !== '' && or !== '' && gl.includes(',')) {
          if (reported.has(`${ol} ${or}`)) continue
          reported.add(`${ol} ${or}`)
          this.#change(l.fullName, 'oneof-changed', `${l.fullName}: oneof ${ol} renamed to ${or}`)
        } else {
          this.#change(path, 'oneof-changed', `${path}: field ${f.number} is in ${oneofText(ol)} here, ${oneofText(or)} there`)
        }
      }
    }
  }

  // A value is its number on the wire; a number both sides define must keep
  // a name on both, or a reader sees another value than the writer wrote.
  #enums (l: EnumDescriptor, r: EnumDescriptor): void {
    const key = (v: { name: string, number: number }): string => `${v.name}=${v.number}`
    const here = new Set(l.values.map(key))
    const there = new Set(r.values.map(key))
    for (const v of l.values) if (!there.has(key(v))) this.#change(`${l.fullName}.${v.name}`, 'value-removed', `${l.fullName}.${v.name}: value ${v.number} removed`)
    for (const v of r.values) if (!here.has(key(v))) this.#change(`${l.fullName}.${v.name}`, 'value-added', `${l.fullName}.${v.name}: value ${v.number} added`)
    const namesOf = (e: EnumDescriptor, n: number): string[] => e.values.filter(v => v.number === n).map(v => v.name)
    for (const n of new Set(l.values.map(v => v.number))) {
      const [a, b] = [namesOf(l, n), namesOf(r, n)]
      if (b.length > 0 && !a.some(name => b.includes(name))) {
        this.#reason(l.fullName, 'enum-value', `${l.fullName}: value ${n} is ${a.join(', ')} here, ${b.join(', ')} there (a reader would see another value than the writer wrote)`)
      }
    }
  }

  #reason (path: string, rule: ReasonRule, text: string): void {
    if (this.#reached) this.#reasons.push({ path, rule, text })
    else this.#changes.push({ path, rule: 'unused', text: `${text}; no field both sides know has this type` })
  }

  #change (path: string, rule: ChangeRule, text: string): void {
    this.#changes.push({ path, rule, text })
  }
}

const REQUIRED_WHY = 'a writer may leave out what the reader requires'
const ONE_SIDED_WHY = 'the side without it never writes it, and the other requires it'

/** Wire types, named as in the protobuf encoding guide. */
const WIRE: Record<Type, string> = {
  [Type.NONE]: 'NONE',
  [Type.INT32]: 'VARINT',
  [Type.INT64]: 'VARINT',
  [Type.UINT32]: 'VARINT',
  [Type.UINT64]: 'VARINT',
  [Type.SINT32]: 'VARINT',
  [Type.SINT64]: 'VARINT',
  [Type.BOOL]: 'VARINT',
  [Type.ENUM]: 'VARINT',
  [Type.FIXED64]: 'FIXED64',
  [Type.SFIXED64]: 'FIXED64',
  [Type.DOUBLE]: 'FIXED64',
  [Type.STRING]: 'LENGTH_DELIMITED',
  [Type.BYTES]: 'LENGTH_DELIMITED',
  [Type.MESSAGE]: 'LENGTH_DELIMITED',
  [Type.GROUP]: 'START_GROUP',
  [Type.FIXED32]: 'FIXED32',
  [Type.SFIXED32]: 'FIXED32',
  [Type.FLOAT]: 'FIXED32'
}

function side (d: Descriptor): Side {
  return {
    messages: new Map(d.messages.map(m => [m.fullName, m])),
    enums: new Map(d.enums.map(e => [e.fullName, e])),
    events: eventNames(d.messages.filter(m => m.event).map(m => m.fullName))
  }
}

// a map is a repeated entry message on the wire
function wireOf (f: FieldDescriptor): string {
  return f.keyType !== Type.NONE ? WIRE[Type.MESSAGE] : WIRE[f.type]
}

function wireText (a: string, b: string): string {
  return a === b ? `both ${a}: the same bytes read as another value` : `wire type ${a} → ${b}`
}

function valueText (type: Type, typeName: string): string {
  if (type === Type.GROUP) return `group ${typeName}`
  return typeName !== '' ? typeName : type.toLowerCase()
}

function typeText (f: FieldDescriptor): string {
  return f.keyType !== Type.NONE ? `map<${valueText(f.keyType, '')}, ${valueText(f.type, f.typeName)}>` : valueText(f.type, f.typeName)
}

function labeledText (f: FieldDescriptor): string {
  return f.keyType !== Type.NONE || f.label === Label.OPTIONAL ? typeText(f) : `${f.label.toLowerCase()} ${typeText(f)}`
}

function oneofText (oneof: string): string {
  return oneof === '' ? 'no oneof' : `oneof ${oneof}`
}

function byText (a: { text: string }, b: { text: string }): number {
  return a.text < b.text ? -1 : a.text > b.text ? 1 : 0
}
