// What makes an Ed25519 signature valid here, beyond RFC 8032's equation:
// the rule of libsodium's crypto_sign_verify_detached, which checks the
// signatures of the log where it loads. Where it does not, node:crypto
// checks the equation and these functions the rest, so that every node
// takes the same entries as valid: a node that took an entry its peers
// refuse would be dropped by them as hostile.
//
// Refused: a signature whose S is not below the group order L; an R or a
// public key of small order (one of the eight points of the curve's torsion
// subgroup: anyone can make a signature that checks against such a key);
// a public key whose y is not below p (a second encoding of a point).

/** p = 2^255 - 19, little-endian */
const P = le('7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffed')
/** the order of the base point, L = 2^252 + 27742317777372353535851937790883648493, little-endian */
const L = le('1000000000000000000000000000000014def9dea2f79cd65812631a5cf5d3ed')

/**
 * The y-coordinates (little-endian, sign bit clear) of the points of small
 * order, and the two that have a second encoding below 2^255: 0, 1, p - 1,
 * those of the two pairs of points of order 8, p (= 0) and p + 1 (= 1).
 * test/identity.test.ts works them out again from the curve.
 */
export const SMALL_ORDER_Y: readonly Buffer[] = [
  le('0000000000000000000000000000000000000000000000000000000000000000'),
  le('0000000000000000000000000000000000000000000000000000000000000001'),
  le('7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffec'),
  le('05fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826'),
  le('7a03ac9277fdc74ec6cc392cfa53202a0f67100d760b3cba4fd84d3d706a17c7'),
  P,
  le('7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffee')
]

function le (hex: string): Buffer {
  return Buffer.from(hex, 'hex').reverse()
}

/** Whether little-endian `a` is below little-endian `b` (32 bytes each). */
function below (a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) if (a[i] !== b[i]) return a[i] < b[i]
  return false
}

/** A point's encoding with the sign bit of x cleared: its y. */
function yOf (point: Uint8Array): Buffer {
  const y = Buffer.from(point.subarray(0, 32))
  y[31] &= 0x7f
  return y
}

/** Whether a point encoding is one of the small-order points (whatever its sign bit). */
export function smallOrder (point: Uint8Array): boolean {
  return smallOrderY(yOf(point))
}

function smallOrderY (y: Buffer): boolean {
  return SMALL_ORDER_Y.some(s => s.equals(y))
}

/** Whether a public key or signature passes what libsodium checks before the equation. */
export function strictlyEncoded (publicKey: Uint8Array, signature: Uint8Array): boolean {
  const keyY = yOf(publicKey)
  return below(signature.subarray(32, 64), L) &&
    !smallOrder(signature.subarray(0, 32)) &&
    below(keyY, P) &&
    !smallOrderY(keyY)
}
