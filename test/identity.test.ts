// Signing and checking: libsodium where it loads, node:crypto otherwise.
// Ed25519 is deterministic, so both must sign the same bytes, and both
// must take the same signatures as valid (libsodium's rule, ed25519-rule.ts):
// worked out here again from the curve, and tried with signatures made to
// pass RFC 8032's equation alone.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createPublicKey, randomBytes, verify } from 'node:crypto'
import { Identity, SIGNATURE_LENGTH, SPKI_PREFIX, useSodium, verifySignature } from '../src/log/identity.js'
import { SMALL_ORDER_Y, smallOrder } from '../src/log/ed25519-rule.js'

// Edwards25519 in BigInt, affine: slow, and only for making test points
const p = 2n ** 255n - 19n
const L = 2n ** 252n + 27742317777372353535851937790883648493n
const mod = (a: bigint): bigint => ((a % p) + p) % p
function pow (b: bigint, e: bigint): bigint {
  let r = 1n
  b = mod(b)
  for (; e > 0n; e >>= 1n) {
    if ((e & 1n) === 1n) r = r * b % p
    b = b * b % p
  }
  return r
}
const inv = (a: bigint): bigint => pow(a, p - 2n)
const d = mod(-121665n * inv(121666n))
type Point = [bigint, bigint]
function add ([x1, y1]: Point, [x2, y2]: Point): Point {
  const t = d * x1 % p * x2 % p * y1 % p * y2 % p
  return [mod((x1 * y2 + y1 * x2) * inv(1n + t)), mod((y1 * y2 + x1 * x2) * inv(1n - t))]
}
function mul (point: Point, k: bigint): Point {
  let r: Point = [0n, 1n]
  for (let q = point; k > 0n; k >>= 1n, q = add(q, q)) if ((k & 1n) === 1n) r = add(r, q)
  return r
}
/** x for y, with the sign bit `odd`, or undefined if y is on no point */
function xOf (y: bigint, odd = false): bigint | undefined {
  const x2 = mod((y * y - 1n) * inv(d * y * y + 1n))
  let x = pow(x2, (p + 3n) / 8n)
  if (mod(x * x - x2) !== 0n) x = x * pow(2n, (p - 1n) / 4n) % p
  if (mod(x * x - x2) !== 0n) return undefined
  return ((x & 1n) === 1n) === odd ? x : mod(-x)
}
function encode ([x, y]: Point): Buffer {
  const out = Buffer.from(y.toString(16).padStart(64, '0'), 'hex').reverse()
  if ((x & 1n) === 1n) out[31] |= 0x80
  return out
}
const scalar = (n: bigint): Buffer => Buffer.from(n.toString(16).padStart(64, '0'), 'hex').reverse()
const BASE: Point = [xOf(mod(4n * inv(5n)))!, mod(4n * inv(5n))]

/** What node:crypto says alone: RFC 8032's equation, the old rule. */
function equationHolds (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  const key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' })
  return verify(null, message, key, signature)
}

/** Both ways of checking, which must agree. */
function bothSay (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  assert.ok(useSodium(true))
  const bySodium = verifySignature(publicKey, message, signature)
  useSodium(false)
  const byNode = verifySignature(publicKey, message, signature)
  useSodium(true)
  assert.is(byNode, bySodium, 'libsodium and node:crypto with the rule agree')
  return bySodium
}

test.after.each(() => { useSodium(true) })

test('libsodium loads here, and signs the same bytes as node:crypto', () => {
  assert.ok(useSodium(true), 'sodium-native is a dependency with a prebuild for this platform')
  for (let i = 0; i < 50; i++) {
    const id = new Identity(new Uint8Array(randomBytes(32)))
    const message = randomBytes(i * 7)
    useSodium(true)
    const bySodium = id.sign(message)
    assert.not.ok(useSodium(false))
    const byNode = id.sign(message)
    assert.is(bySodium.byteLength, SIGNATURE_LENGTH)
    assert.equal(Buffer.from(bySodium), Buffer.from(byNode))
    assert.ok(verifySignature(id.publicKey, message, bySodium))
  }
})

test('the small-order points are those the curve gives: the torsion of 8 points, and two second encodings', () => {
  const ys = new Set<bigint>()
  // [L]Q lies in the torsion subgroup; enough points Q give all of it
  for (let y = 2n; ys.size < 5 && y < 200n; y++) {
    const x = xOf(y)
    if (x !== undefined) ys.add(mul([x, y], L)[1])
  }
  assert.equal([...ys].sort((a, b) => a < b ? -1 : 1), [0n, 1n, 0x05fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826n, 0x7a03ac9277fdc74ec6cc392cfa53202a0f67100d760b3cba4fd84d3d706a17c7n, p - 1n])
  const expected = [...ys, p, p + 1n].map(y => scalar(y).toString('hex')).sort()
  assert.equal(SMALL_ORDER_Y.map(y => y.toString('hex')).sort(), expected)
  for (const y of SMALL_ORDER_Y) {
    assert.ok(smallOrder(y))
    const signed = Buffer.from(y)
    signed[31] |= 0x80
    assert.ok(smallOrder(signed), 'whatever the sign bit')
  }
  assert.not.ok(smallOrder(Identity.generate().publicKey))
})

test('a signature that passes the equation by a small-order key or R, or with S past L, is refused both ways', () => {
  const message = Buffer.from('an entry nobody signed')
  // the identity as public key: [S]B = R + [k]A holds for any message with R = [S]B
  const s = 123456789n
  const forged = Buffer.concat([encode(mul(BASE, s)), scalar(s)])
  const identityKey = encode([0n, 1n])
  assert.ok(equationHolds(identityKey, message, forged), 'node:crypto alone takes it')
  assert.not.ok(bothSay(identityKey, message, forged))
  // every small-order key, with a signature of the same kind
  for (const y of SMALL_ORDER_Y) assert.not.ok(bothSay(y, message, forged))
  // a real key, and a small-order R added to a valid signature's R
  const id = Identity.generate()
  const good = Buffer.from(id.sign(message))
  assert.ok(bothSay(id.publicKey, message, good))
  const withSmallR = Buffer.concat([SMALL_ORDER_Y[1], good.subarray(32)])
  assert.not.ok(bothSay(id.publicKey, message, withSmallR))
  // S + L: the same point, a second encoding of the scalar
  const sPlusL = BigInt('0x' + Buffer.from(good.subarray(32)).reverse().toString('hex')) + L
  const malleable = Buffer.concat([good.subarray(0, 32), scalar(sPlusL)])
  assert.not.ok(bothSay(id.publicKey, message, malleable))
  // a public key whose y is not below p
  const nonCanonical = scalar(p + 3n)
  assert.not.ok(bothSay(nonCanonical, message, good))
})

test('libsodium and node:crypto agree on random signatures, good and damaged', () => {
  for (let i = 0; i < 200; i++) {
    const id = Identity.generate()
    const message = randomBytes(i)
    const signature = Buffer.from(id.sign(message))
    assert.ok(bothSay(id.publicKey, message, signature))
    const damaged = Buffer.from(signature)
    damaged[i % 64] ^= 1 << (i % 8)
    assert.not.ok(bothSay(id.publicKey, message, damaged))
    assert.not.ok(bothSay(randomBytes(32), message, signature))
  }
})

test('a signature checks only with its own key and its own bytes', () => {
  const alice = Identity.generate()
  const bob = Identity.generate()
  const message = Buffer.from('an entry')
  const signature = alice.sign(message)
  assert.ok(verifySignature(alice.publicKey, message, signature))
  assert.not.ok(verifySignature(bob.publicKey, message, signature))
  assert.not.ok(verifySignature(alice.publicKey, Buffer.from('another entry'), signature))
  assert.not.ok(verifySignature(alice.publicKey, message, signature.subarray(1)))
})

test('the raw private key is seed || public key, a copy', () => {
  const id = Identity.generate()
  const raw = id.rawPrivateKey
  assert.equal(Buffer.from(raw), Buffer.concat([id.seed, id.publicKey]))
  raw.fill(0)
  assert.equal(Buffer.from(id.rawPrivateKey), Buffer.concat([id.seed, id.publicKey]))
})

test.run()
