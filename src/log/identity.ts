import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'
import { createRequire } from 'node:module'
import { strictlyEncoded } from './ed25519-rule.js'

// DER prefixes that wrap a raw Ed25519 key as PKCS#8 / SPKI, so that
// node:crypto can use the raw keys that entries and libp2p carry.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
export const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

export const PUBLIC_KEY_LENGTH = 32
export const SIGNATURE_LENGTH = 64

/** What this module takes of libsodium (sodium-native). */
interface Sodium {
  crypto_sign_detached: (signature: Uint8Array, message: Uint8Array, secretKey: Uint8Array) => void
  crypto_sign_verify_detached: (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array) => boolean
}

// libsodium signs and checks in half the time of node:crypto (about 22
// against 43 µs a signature here, 64 against 123 µs a check): a signature
// is most of an awaited emit, a check most of storing an entry that came
// alone. Where the native module does not load, node:crypto does both:
// Ed25519 signatures are deterministic, so both sign the same bytes, and
// ed25519-rule.ts refuses what libsodium refuses beyond the equation, so
// both take the same signatures as valid.
function loadSodium (): Sodium | undefined {
  try {
    return createRequire(import.meta.url)('sodium-native') as Sodium
  } catch {
    return undefined
  }
}

let sodium = loadSodium()

/** Signs and checks with node:crypto even where libsodium loads (`false`), or with libsodium again; for tests. Returns whether libsodium is used. */
export function useSodium (use: boolean): boolean {
  sodium = use ? loadSodium() : undefined
  return sodium != null
}

/** An Ed25519 key pair: the author of local entries and the libp2p peer id. */
export class Identity {
  /** raw 32-byte private seed */
  readonly seed: Uint8Array<ArrayBuffer>
  /** raw 32-byte public key */
  readonly publicKey: Uint8Array<ArrayBuffer>
  readonly #key: KeyObject
  /** seed || public key, libsodium's secret key */
  readonly #secret: Buffer

  constructor (seed: Uint8Array<ArrayBuffer>) {
    if (seed.byteLength !== 32) throw new TypeError('an Ed25519 seed has 32 bytes')
    this.seed = seed
    this.#key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' })
    const spki = createPublicKey(this.#key).export({ format: 'der', type: 'spki' })
    this.publicKey = new Uint8Array(spki.subarray(spki.length - PUBLIC_KEY_LENGTH))
    this.#secret = Buffer.concat([seed, this.publicKey])
  }

  static generate (): Identity {
    const { privateKey } = generateKeyPairSync('ed25519')
    const der = privateKey.export({ format: 'der', type: 'pkcs8' })
    return new Identity(new Uint8Array(der.subarray(der.length - 32)))
  }

  sign (bytes: Uint8Array): Uint8Array {
    if (sodium == null) return sign(null, bytes, this.#key)
    const signature = Buffer.allocUnsafe(SIGNATURE_LENGTH)
    sodium.crypto_sign_detached(signature, bytes, this.#secret)
    return signature
  }

  /** seed || public key: the 64-byte form libp2p's `privateKeyFromRaw` takes */
  get rawPrivateKey (): Uint8Array {
    return Buffer.from(this.#secret)
  }
}

const publicKeys = new Map<string, KeyObject>()

/** Checks an Ed25519 signature by a raw 32-byte public key, by libsodium's rule (ed25519-rule.ts). */
export function verifySignature (publicKey: Uint8Array, bytes: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.byteLength !== PUBLIC_KEY_LENGTH || signature.byteLength !== SIGNATURE_LENGTH) return false
  if (sodium != null) return sodium.crypto_sign_verify_detached(signature, bytes, publicKey)
  if (!strictlyEncoded(publicKey, signature)) return false
  const hex = Buffer.from(publicKey).toString('hex')
  let key = publicKeys.get(hex)
  if (key == null) {
    try {
      key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' })
    } catch {
      return false
    }
    // a small cache: authors are few, and a hostile peer cannot grow it past the bound
    if (publicKeys.size > 1024) publicKeys.clear()
    publicKeys.set(hex, key)
  }
  return verify(null, bytes, key, signature)
}
