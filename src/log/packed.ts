// Byte arrays sent to a worker thread as one buffer to transfer, not many to
// copy: their bytes one after another, and where each one ends. verify()
// sends the feed's records so (verify-worker.ts), the check pool entries
// (check-worker.ts).

export interface Packed {
  bytes: Uint8Array
  /** where each part ends in `bytes` */
  ends: Uint32Array
}

/** `parts` copied into one Packed. */
export function pack (parts: Uint8Array[]): Packed {
  const ends = new Uint32Array(parts.length)
  let size = 0
  parts.forEach((part, i) => { size += part.byteLength; ends[i] = size })
  const bytes = new Uint8Array(size)
  parts.forEach((part, i) => { bytes.set(part, ends[i] - part.byteLength) })
  return { bytes, ends }
}

/** The buffers a postMessage of `packed` transfers. */
export function transfers ({ bytes, ends }: Packed): ArrayBuffer[] {
  return [bytes.buffer as ArrayBuffer, ends.buffer as ArrayBuffer]
}

/** The `i`th part of `packed`: a view. */
export function part ({ bytes, ends }: Packed, i: number): Buffer {
  const from = i === 0 ? 0 : ends[i - 1]
  return Buffer.from(bytes.buffer, bytes.byteOffset + from, ends[i] - from)
}
