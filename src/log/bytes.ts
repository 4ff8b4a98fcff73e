// Byte helpers of the log: the empty array, comparison, and hex.

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
