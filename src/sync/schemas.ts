// Whether two nodes' schemas let them share a log, as the handshake decides
// it (protocols/README.md §5.1): by the canonical descriptors when both
// Hellos carry a descriptor fingerprint, by the older fingerprint otherwise.
// Pure: the session core calls it with what the frames said.
import { createHash } from 'node:crypto'
import { MismatchError, RefusedError } from '../errors.js'
import { equalBytes } from '../log/entry.js'
import { compare, type Change } from '../schema/compat.js'
import { decodeDescriptor, encodeDescriptor, type Descriptor } from '../schema/descriptor.js'
import { REFUSE } from './constants.js'

/** Bytes of a descriptor fingerprint: a sha2-256. */
export const DESCRIPTOR_FINGERPRINT_BYTES = 32
/** Reasons an incompatible schema's refusal names; the rest are counted. */
export const MAX_REASONS = 5

/** This node's schema descriptor, encoded and fingerprinted once for all its sessions. */
export class LocalDescriptor {
  readonly descriptor: Descriptor
  /** the canonical encoding, sent in the Descriptor frame */
  readonly bytes: Uint8Array
  /** sha2-256 of `bytes`, sent in the Hello */
  readonly fingerprint: Uint8Array

  constructor (descriptor: Descriptor) {
    this.descriptor = descriptor
    this.bytes = encodeDescriptor(descriptor)
    this.fingerprint = createHash('sha256').update(this.bytes).digest()
  }
}

/** What the Hellos say about the schemas. */
export type HelloMatch =
  /** the same schema: the session opens */
  | 'same'
  /** both sides send their descriptor, and compare them */
  | 'exchange'

/**
 * Judges the peer's Hello on the schemas: `fingerprint` is this node's older
 * fingerprint (Hello.schema), `local` its descriptor (none: a node that
 * compares fingerprints only, as before descriptors). Throws MismatchError
 * (SCHEMA) or RefusedError (PROTOCOL).
 */
export function matchHello (fingerprint: Uint8Array, local: LocalDescriptor | undefined, hello: { schema: Uint8Array, descriptorFingerprint?: Uint8Array }): HelloMatch {
  const theirs = hello.descriptorFingerprint
  if (local == null || theirs == null || theirs.byteLength === 0) {
    if (equalBytes(hello.schema, fingerprint)) return 'same'
    if (local == null) throw new MismatchError('the peer runs another schema', { refuseCode: REFUSE.SCHEMA })
    throw new MismatchError('the peer runs another schema, and sent no schema descriptor: its version syncs only with the same schema', { refuseCode: REFUSE.SCHEMA })
  }
  if (theirs.byteLength !== DESCRIPTOR_FINGERPRINT_BYTES) {
    throw new RefusedError(`a descriptor fingerprint of ${theirs.byteLength} bytes, not ${DESCRIPTOR_FINGERPRINT_BYTES}`, { refuseCode: REFUSE.PROTOCOL })
  }
  return equalBytes(theirs, local.fingerprint) ? 'same' : 'exchange'
}

/**
 * Judges the peer's descriptor, whose fingerprint its Hello gave: the
 * changes between the two schemas when they are compatible. Throws
 * RefusedError (PROTOCOL) for a descriptor that does not decode or does not
 * match its fingerprint, MismatchError (SCHEMA), naming the first reasons,
 * for an incompatible one.
 */
export function matchDescriptor (local: LocalDescriptor, announced: Uint8Array, bytes: Uint8Array): Change[] {
  if (!equalBytes(createHash('sha256').update(bytes).digest(), announced)) {
    throw new RefusedError('the schema descriptor does not match the fingerprint of the Hello', { refuseCode: REFUSE.PROTOCOL })
  }
  let remote: Descriptor
  try {
    remote = decodeDescriptor(bytes)
  } catch (err) {
    throw new RefusedError((err as Error).message, { refuseCode: REFUSE.PROTOCOL })
  }
  const c = compare(local.descriptor, remote)
  if (c.compatible) return c.changes
  const shown = c.reasons.slice(0, MAX_REASONS).map(r => r.text)
  const more = c.reasons.length - shown.length
  throw new MismatchError(`incompatible schemas: ${shown.join('; ')}${more > 0 ? `; and ${more} more` : ''}`, { refuseCode: REFUSE.SCHEMA })
}
