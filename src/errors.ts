/**
 * Every error HyperEmitter throws or rejects with is a `HyperEmitterError`
 * with a stable `name` and `code`; match on those, never on message text.
 */
export class HyperEmitterError extends Error {
  readonly code: string
  constructor (message: string, code: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'HyperEmitterError'
    this.code = code
  }
}

function defineError (name: string, code: string) {
  return class extends HyperEmitterError {
    static readonly code = code
    constructor (message: string, options?: ErrorOptions) {
      super(message, code, options)
      this.name = name
    }
  }
}

/** The schema text could not be parsed, or defines no usable message. */
export class SchemaError extends defineError('SchemaError', 'ERR_SCHEMA') {}

/** Events of one name stored in the db that the schema cannot decode. */
export interface UndecodableEvents {
  name: string
  count: number
  /** feed position of the first one */
  first: number
  /** why the first one does not decode */
  reason: string
}

/**
 * The schema cannot decode events already in the db (it changed in a way the
 * schema that wrote them cannot follow): the emitter does not open, unless
 * given `force`. `events` names them; it is the `cause` of the OpenError.
 */
export class UndecodableEventsError extends SchemaError {
  static override readonly code = 'ERR_UNDECODABLE_EVENTS'
  override readonly code: string = UndecodableEventsError.code
  readonly events: UndecodableEvents[]
  constructor (message: string, events: UndecodableEvents[], options?: ErrorOptions) {
    super(message, options)
    this.name = 'UndecodableEventsError'
    this.events = events
  }
}

/** `emit` or an incoming entry named an event that the schema does not define. */
export class UnknownEventError extends defineError('UnknownEventError', 'ERR_UNKNOWN_EVENT') {}

/** The emitter was closed; nothing more can be emitted or read. */
export class ClosedError extends defineError('ClosedError', 'ERR_CLOSED') {}

/**
 * The emitter could not open (its db is locked, missing or damaged, or is a
 * file): `cause` says why. Every call that needs the db then rejects with it.
 */
export class OpenError extends defineError('OpenError', 'ERR_OPEN') {}

/**
 * A getter that needs the open db (`id`, `peerId`, `log`) was read while the
 * emitter was still opening: await `emitter.ready()` first, or make it with
 * `await HyperEmitter.open(...)`.
 */
export class NotOpenError extends defineError('NotOpenError', 'ERR_NOT_OPEN') {}

/** The db could not be opened or written (locked, read-only, full). */
export class StorageError extends defineError('StorageError', 'ERR_STORAGE') {}

/** An entry failed validation (id, signature, chain, size, payload). */
export class InvalidEntryError extends defineError('InvalidEntryError', 'ERR_INVALID_ENTRY') {}

/** A peer broke the sync protocol (bad frame, wrong order, limits). */
export class ProtocolError extends defineError('ProtocolError', 'ERR_PROTOCOL') {}

/** A message does not match its event's schema; `field` names the culprit. */
export class InvalidMessageError extends HyperEmitterError {
  static readonly code = 'ERR_INVALID_MESSAGE'
  readonly field: string | undefined
  constructor (message: string, field?: string, options?: ErrorOptions) {
    super(message, InvalidMessageError.code, options)
    this.name = 'InvalidMessageError'
    this.field = field
  }
}

export interface RefusedInit extends ErrorOptions {
  /** the RefuseCode of sync.proto that was sent or received (0, UNKNOWN, for codes this version does not know) */
  refuseCode: number
  /** the peer refused this node, rather than this node the peer. @default false */
  remote?: boolean
}

/**
 * A sync session ended with a Refuse (protocols/README.md §5.7): this node
 * refused the peer, or the peer refused it (`remote`). It is a ProtocolError,
 * with that name and code, that says who refused and with which code.
 */
export class RefusedError extends ProtocolError {
  readonly refuseCode: number
  readonly remote: boolean
  constructor (message: string, init: RefusedInit) {
    super(message, init)
    this.refuseCode = init.refuseCode
    this.remote = init.remote ?? false
  }
}

/** A peer runs another schema, topic or protocol version: the session was refused. */
export class MismatchError extends RefusedError {
  static override readonly code = 'ERR_MISMATCH'
  override readonly code: string = MismatchError.code
  constructor (message: string, init: Partial<RefusedInit> = {}) {
    super(message, { ...init, refuseCode: init.refuseCode ?? 0 })
    this.name = 'MismatchError'
  }
}
