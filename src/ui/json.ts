// Payloads as the page shows them: JSON, bytes as base64, 64-bit integers as
// strings when they would lose digits as numbers.
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'

// `this[key]` is the value before Buffer#toJSON made it { type, data }
function replacer (this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key]
  if (raw instanceof Uint8Array) return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64')
  if (typeof value === 'bigint') return value.toString()
  return value
}

/** `value` as JSON text, bytes as base64. */
export function toJson (value: unknown): string {
  return JSON.stringify(value, replacer) ?? 'null'
}

/** Peer ids of author keys, remembered: the same few authors come back every second. */
export class PeerIds {
  readonly #known = new Map<string, string>()
  readonly #max: number

  constructor (max = 4096) {
    this.#max = max
  }

  /** The libp2p peer id of a hex Ed25519 public key ('' when it is not one). */
  of (author: string): string {
    let id = this.#known.get(author)
    if (id == null) {
      try {
        id = peerIdFromPublicKey(publicKeyFromRaw(Buffer.from(author, 'hex'))).toString()
      } catch {
        id = ''
      }
      if (this.#known.size >= this.#max) this.#known.clear()
      this.#known.set(author, id)
    }
    return id
  }
}
