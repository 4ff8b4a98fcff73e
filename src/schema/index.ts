import { createHash } from 'node:crypto'
import protobuf from 'protobufjs'
import { InvalidMessageError, UnknownEventError } from '../errors.js'
import { describe, isFullName, type Descriptor } from './descriptor.js'
import { eventNames } from './names.js'
import { eventTypes, parseSchema } from './parse.js'
import { wireCheck, type WireCheck } from './wire-check.js'

export { EVENT_PEER_PROTO } from './parse.js'

/** Encoder and decoder of one event type, as `emitter.messages[name]`. */
export interface MessageCodec {
  /** Validates `message` and returns its protobuf bytes. */
  encode(message: Record<string, unknown>): Uint8Array
  /** Decodes protobuf bytes to a plain object, defaults filled in. */
  decode(bytes: Uint8Array): Record<string, unknown>
}

const TO_OBJECT: protobuf.IConversionOptions = { defaults: true, arrays: true, enums: String, longs: Number }

/**
 * The user's `.proto` schema, parsed at run time, plus the built-in EventPeer.
 * Messages are known by their full name (`pkg.Name`) and, when unambiguous,
 * by their short name.
 */
export class Schema {
  readonly messages = Object.create(null) as Record<string, MessageCodec>
  /** sha2-256 of the parsed schema (protobufjs JSON): the handshake compares it with peers that send no descriptor. */
  readonly fingerprint: Uint8Array
  readonly #types = new Map<string, protobuf.Type>()
  readonly #checks = new Map<string, WireCheck>()
  readonly #root: protobuf.Root
  #descriptor: Descriptor | undefined

  constructor (source: string | Uint8Array) {
    const text = typeof source === 'string' ? source : Buffer.from(source).toString('utf8')
    const root = this.#root = parseSchema(text)
    const events = new Map(eventTypes(root).map(type => [type.fullName.replace(/^\./, ''), type]))
    for (const [name, full] of eventNames([...events.keys()])) this.#types.set(name, events.get(full)!)
    for (const [name, type] of this.#types) {
      this.messages[name] = {
        encode: (message) => this.#encode(name, type, message),
        decode: (bytes) => this.decode(name, bytes)
      }
    }
    this.fingerprint = createHash('sha256').update(stableJson(root.toJSON())).digest()
  }

  /** The schema's canonical descriptor (protocols/README.md §5.1.1), made on first use. */
  get descriptor (): Descriptor {
    return (this.#descriptor ??= describe(this.#root))
  }

  /** Event names the schema defines. */
  get names (): string[] {
    return [...this.#types.keys()]
  }

  #type (name: string): protobuf.Type {
    const type = this.#types.get(name)
    if (type == null) throw new UnknownEventError(`unknown event "${name}": the schema defines ${this.names.join(', ')}`)
    return type
  }

  /** Validates `message` against event `name` and encodes it. */
  encode (name: string, message: unknown): Uint8Array<ArrayBuffer> {
    return this.#encode(name, this.#type(name), message)
  }

  /** Decodes event `name`; throws if the bytes are not a valid `name`. */
  decode (name: string, bytes: Uint8Array): Record<string, unknown> {
    const type = this.#type(name)
    return type.toObject(type.decode(bytes), TO_OBJECT)
  }

  /** Throws unless `bytes` decode as event `name` with all required fields. */
  check (name: string, bytes: Uint8Array): void {
    const type = this.#type(name)
    let quick = this.#checks.get(name)
    if (quick == null) this.#checks.set(name, quick = wireCheck(type))
    // the quick walk says yes or "not sure": then the decode gives the verdict
    if (!quick(bytes)) type.decode(bytes)
  }

  /** Whether the schema defines event `name` (a full name, or a short name that is unique). */
  knows (name: string): boolean {
    return this.#types.has(name)
  }

  /**
   * Checks the event of an entry from a peer (protocols/README.md §6): the
   * payload of an event this schema defines must decode; any other name must
   * be a name another version of the schema could define (a protobuf full
   * name of at most 256 characters), and its payload is left unread. Throws.
   */
  checkEntry (name: string, payload: Uint8Array): void {
    if (this.#types.has(name)) this.check(name, payload)
    else if (!isFullName(name)) throw new UnknownEventError(`event name ${JSON.stringify(name.slice(0, 64))} is not a protobuf name of at most 256 characters`)
  }

  #encode (name: string, type: protobuf.Type, message: unknown): Uint8Array<ArrayBuffer> {
    if (message == null || typeof message !== 'object' || Array.isArray(message)) {
      throw new InvalidMessageError(`${name}: the message must be an object`)
    }
    checkKeys(type, message as Record<string, unknown>, '')
    const problem = type.verify(message)
    if (problem != null) {
      const field = problem.split(':')[0]
      throw new InvalidMessageError(`${name}: ${problem}`, field)
    }
    return type.encode(message).finish() as Uint8Array<ArrayBuffer>
  }
}

// protobufjs' verify ignores keys the type lacks; a typo there would silently
// drop data, so unknown keys are refused, in nested messages too.
function checkKeys (type: protobuf.Type, message: Record<string, unknown>, path: string): void {
  // for-in, not Object.keys: no array per message (every emit is checked)
  for (const key in message) {
    if (!Object.hasOwn(message, key)) continue
    const field = type.fields[key]
    if (field == null) {
      if (type.oneofs?.[key] != null && typeof message[key] === 'string') continue
      throw new InvalidMessageError(`${type.name}: unknown field "${path + key}"`, path + key)
    }
    const value = message[key]
    if (field.resolvedType instanceof protobuf.Type && value != null && typeof value === 'object') {
      const where = path + key
      // a map's values are the messages, not the map
      const items: Array<[string, unknown]> = field.map
        ? Object.entries(value).map(([k, item]) => [`${where}.${k}.`, item])
        : field.repeated && Array.isArray(value) ? value.map((item, i) => [`${where}[${i}].`, item]) : [[`${where}.`, value]]
      for (const [at, item] of items) {
        if (item != null && typeof item === 'object' && !ArrayBuffer.isView(item)) {
          checkKeys(field.resolvedType, item as Record<string, unknown>, at)
        }
      }
    }
  }
}

function stableJson (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`
  if (value != null && typeof value === 'object') {
    const keys = Object.keys(value).sort()
    return `{${keys.map(k => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`).join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}
