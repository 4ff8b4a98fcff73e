// How a session's errors read on the wire and for the node (protocols/README.md
// §5.7): a Refuse the peer sent becomes an error, a frame that is not one
// becomes a refusal, and a refusal says why, or not, and blocks the peer, or
// not. SessionCore asks; the service blocks.
import { MismatchError, ProtocolError, RefusedError } from '../errors.js'
import { FrameError } from './framing.js'
import { REFUSE, refuseName } from './constants.js'

/** Refusals for a peer that differs, not one that misbehaves: nobody is blocked for them. */
export const MISMATCH: readonly number[] = [REFUSE.VERSION, REFUSE.SCHEMA, REFUSE.TOPIC]

/** The error of a Refuse the peer sent. */
export function refusedBy (code: number, reason: string): RefusedError {
  const message = `the peer refused: ${reason}`
  if (MISMATCH.includes(code)) return new MismatchError(message, { refuseCode: code, remote: true })
  // codes this version does not know are kept as UNKNOWN
  return new RefusedError(message, { refuseCode: refuseName(code) !== 'UNKNOWN' ? code : REFUSE.UNKNOWN, remote: true })
}

/** Whether a session that ended with `error` gets its peer blocked: this side refused it for misbehaving. */
export function blocksPeer (error: unknown): boolean {
  if (!(error instanceof RefusedError) || error.remote) return false
  const code = error.refuseCode
  return code === REFUSE.INVALID_ENTRY || code === REFUSE.LIMIT || code === REFUSE.PROTOCOL
}

/**
 * Whether this side tells the peer why it ends the session (a Refuse, then
 * a close). A mismatch the peer reported, an unknown refusal and any other
 * failure are a reset.
 */
export function saysWhy (err: Error): err is RefusedError {
  return err instanceof RefusedError && err.refuseCode !== REFUSE.UNKNOWN && !(err.remote && MISMATCH.includes(err.refuseCode))
}

/**
 * The error of bytes that are not a frame: the peer's fault, but for an
 * oversized frame during the handshake (`during`: what was due), which is
 * only a reset (protocols/README.md §5.1).
 */
export function frameRefusal (err: unknown, during?: 'Hello' | 'schema descriptor'): Error {
  if (!(err instanceof FrameError)) return err as Error
  if (err.kind === 'prefix') return new RefusedError(`bad frame: ${err.message}`, { refuseCode: REFUSE.PROTOCOL })
  if (during != null) return new ProtocolError(`bad ${during === 'Hello' ? 'first' : 'second'} frame: ${err.message}`)
  return new RefusedError(`bad frame: ${err.message}`, { refuseCode: REFUSE.LIMIT })
}
