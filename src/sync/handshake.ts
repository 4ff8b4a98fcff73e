// The first frames of a session (protocols/README.md §5.1, §5.1.1): this
// side's Hello; the peer's against this side's version, schema and topic,
// then, when the schemas' descriptor fingerprints differ, the descriptors
// both ways (Handshake keeps what is due, and by when). Each check throws the
// error the session ends with; SessionCore keeps what follows.
import { MismatchError, RefusedError } from '../errors.js'
import { refusedBy } from './refusals.js'
import { decodeFirst, decodeFrame } from './framing.js'
import { matchDescriptor, matchHello, type HelloMatch, type LocalDescriptor } from './schemas.js'
import { HANDSHAKE_TIMEOUT, MAX_HAVE, PROTOCOL_VERSION, REFUSE } from './constants.js'
import type { Hello, SyncMessage } from '../pb/sync.js'
import type { Change } from '../schema/compat.js'

/** What this side holds the peer's Hello to. */
export interface HelloTerms {
  fingerprint: Uint8Array
  descriptor?: LocalDescriptor
  topic: string
}

/** This side's Hello: its terms, what it holds (`vector`, author hex -> highest seq) and the features it offers. */
export function ownHello (terms: HelloTerms, vector: Map<string, number>, features: readonly string[]): SyncMessage {
  // past MAX_HAVE authors the peer sends some entries twice, which is harmless
  const have = [...vector].slice(0, MAX_HAVE).map(([author, seq]) => ({ author: Buffer.from(author, 'hex'), seq }))
  return {
    hello: {
      version: PROTOCOL_VERSION,
      schema: terms.fingerprint as Uint8Array<ArrayBuffer>,
      topic: terms.topic,
      have,
      features: [...features],
      descriptorFingerprint: terms.descriptor?.fingerprint as Uint8Array<ArrayBuffer> | undefined
    }
  }
}

/**
 * The peer's first frame: its Hello, and whether its schema is the same
 * (`same`) or its descriptor must come next. A Refuse, another frame, another
 * version, schema or topic throws.
 */
export function readHello (frame: Uint8Array, terms: HelloTerms): { hello: Hello, match: HelloMatch } {
  let msg: SyncMessage
  try {
    msg = decodeFirst(frame)
  } catch (err) {
    throw new RefusedError(`bad first frame: ${(err as Error).message}`, { refuseCode: REFUSE.PROTOCOL })
  }
  if (msg.refuse != null) throw refusedBy(msg.refuse.code, msg.refuse.reason)
  const hello = msg.hello
  if (hello == null) throw new RefusedError('the first frame must be Hello', { refuseCode: REFUSE.PROTOCOL })
  if (hello.version !== PROTOCOL_VERSION) {
    throw new MismatchError(`protocol version ${hello.version} is not ${PROTOCOL_VERSION}`, { refuseCode: REFUSE.VERSION })
  }
  const match = matchHello(terms.fingerprint, terms.descriptor, hello)
  if (hello.topic !== terms.topic) {
    throw new MismatchError(`the peer's topic "${hello.topic}" is not "${terms.topic}"`, { refuseCode: REFUSE.TOPIC })
  }
  return { hello, match }
}

/**
 * The second frame when the Hellos' descriptor fingerprints differ: the
 * peer's descriptor, compared with this side's (compare() decides alike on
 * both sides). Returns the changes of a compatible schema; throws otherwise.
 */
export function readDescriptor (frame: Uint8Array, local: LocalDescriptor, hello: Hello): Change[] {
  let msg: SyncMessage
  try {
    msg = decodeFrame(frame)
  } catch (err) {
    throw new RefusedError(`bad second frame: ${(err as Error).message}`, { refuseCode: REFUSE.PROTOCOL })
  }
  if (msg.refuse != null) throw refusedBy(msg.refuse.code, msg.refuse.reason)
  if (msg.descriptor == null) throw new RefusedError('the second frame must be the schema descriptor', { refuseCode: REFUSE.PROTOCOL })
  return matchDescriptor(local, hello.descriptorFingerprint!, msg.descriptor.descriptor)
}

/**
 * A session's handshake from this side's Hello on: the peer's Hello, then,
 * when the descriptor fingerprints differ, the peer's descriptor (this side
 * sends its own as the Hello is taken), all due within HANDSHAKE_TIMEOUT.
 */
export class Handshake {
  /** when what is due must have come (ms, on the clock of `now`) */
  readonly by: number
  readonly #terms: HelloTerms
  /** the peer's Hello, while its descriptor is due */
  #hello: Hello | undefined

  constructor (terms: HelloTerms, now: number) {
    this.#terms = terms
    this.by = now + HANDSHAKE_TIMEOUT
  }

  /** What the peer owes: its Hello, or (after a Hello of another schema) its descriptor. */
  get due (): 'Hello' | 'schema descriptor' {
    return this.#hello == null ? 'Hello' : 'schema descriptor'
  }

  /**
   * The peer's next frame. Either the session opens with the peer's Hello
   * (`changes`: how its schema differs, when descriptors were compared), or
   * this side's descriptor is to be sent (`send`) and the peer's is due.
   * Throws the error the session ends with.
   */
  take (frame: Uint8Array): { open: Hello, changes?: Change[] } | { send: SyncMessage } {
    const hello = this.#hello
    if (hello != null) return { open: hello, changes: readDescriptor(frame, this.#terms.descriptor!, hello) }
    const read = readHello(frame, this.#terms)
    if (read.match === 'same') return { open: read.hello }
    // both sides see the same two fingerprints, so both send their descriptor
    this.#hello = read.hello
    return { send: { descriptor: { descriptor: this.#terms.descriptor!.bytes as Uint8Array<ArrayBuffer> } } }
  }
}
