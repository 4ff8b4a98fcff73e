// The first frames of a session (protocols/README.md §5.1, §5.1.1), made and
// judged without state: this side's Hello; the peer's against this side's
// version, schema and topic, then, when the schemas' descriptor fingerprints
// differ, the peer's descriptor. Each check throws the error the session
// ends with; SessionCore keeps the phases and what follows.
import { MismatchError, RefusedError } from '../errors.js'
import { decodeFirst, decodeFrame } from './framing.js'
import { matchDescriptor, matchHello, type HelloMatch, type LocalDescriptor } from './schemas.js'
import { MAX_HAVE, PROTOCOL_VERSION, REFUSE, refuseName } from './constants.js'
import type { Hello, SyncMessage } from '../pb/sync.js'
import type { Change } from '../schema/compat.js'

/** Refusals for a peer that differs, not one that misbehaves: nobody is blocked for them. */
export const MISMATCH: readonly number[] = [REFUSE.VERSION, REFUSE.SCHEMA, REFUSE.TOPIC]

/** The error of a Refuse the peer sent. */
export function refusedBy (code: number, reason: string): RefusedError {
  const message = `the peer refused: ${reason}`
  if (MISMATCH.includes(code)) return new MismatchError(message, { refuseCode: code, remote: true })
  // codes this version does not know are kept as UNKNOWN
  return new RefusedError(message, { refuseCode: refuseName(code) !== 'UNKNOWN' ? code : REFUSE.UNKNOWN, remote: true })
}

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
