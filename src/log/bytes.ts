// Byte helpers of the log: the empty array, comparison, hex, and protobuf's
// varints and length-delimited fields as the log and the sync frames write them.

/** The empty byte array: the signature of entries that a later signed one covers, and any absent bytes field. */
export const EMPTY: Uint8Array<ArrayBuffer> = new Uint8Array(0)

/** Whether two byte arrays hold the same bytes. */
export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true
  // byteLength read once: Buffers and Uint8Arrays both come here, and the
  // getter is slow where its call site sees both
  const length = a.byteLength
  if (length !== b.byteLength) return false
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * Hex of entries' authors, one after another: runs of one author are the
 * rule, so the hex of the last one is kept.
 */
export function authorHex (): (author: Uint8Array) => string {
  let last: Uint8Array | undefined
  let hex = ''
  return (author) => {
    if (last == null || !equalBytes(last, author)) {
      last = author
      hex = toHex(author)
    }
    return hex
  }
}

export function toHex (bytes: Uint8Array): string {
  // Buffer's own hex writer takes any Uint8Array: no Buffer view per call
  return hexSlice.call(bytes, 0, bytes.byteLength)
}

const hexSlice = (Buffer.prototype as unknown as { hexSlice: (this: Uint8Array, start: number, end: number) => string }).hexSlice

/** The bytes of `n` (a non-negative integer up to 2^53) as a protobuf varint. */
export function varintLength (n: number): number {
  let length = 1
  while (n >= 128) {
    n = Math.floor(n / 128)
    length++
  }
  return length
}

/** Writes `n` (a non-negative integer up to 2^53) as a protobuf varint at `at`; returns where it ends. */
export function writeVarint (out: Uint8Array, at: number, n: number): number {
  while (n >= 128) {
    out[at++] = (n % 128) | 128
    n = Math.floor(n / 128)
  }
  out[at++] = n
  return at
}

/** The bytes of a length-delimited field of `length` bytes with a one-byte tag: what writeBytes writes. */
export function bytesFieldLength (length: number): number {
  return 1 + varintLength(length) + length
}

/** Writes a length-delimited field (its tag, length and bytes) at `at`; returns where it ends. */
export function writeBytes (out: Uint8Array, at: number, tag: number, value: Uint8Array): number {
  out[at++] = tag
  at = writeVarint(out, at, value.byteLength)
  out.set(value, at)
  return at + value.byteLength
}
