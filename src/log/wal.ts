import { closeSync, fdatasyncSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs'
import { StorageError } from '../errors.js'
import { sha256 } from './entry.js'
import { readSeq, writeSeq } from './keys.js'

/**
 * The log's write-ahead file. A commit is appended to it with one write()
 * on the calling thread, and the commit is durable from then on (as durable
 * as level's own log, which is not synced either unless asked); level gets
 * the same entries in a later batch. An awaited emit then costs one system
 * call instead of a round trip through libuv's thread pool, and the next
 * commit is prepared while level writes the last ones.
 *
 * A record: u32 body length, the first 4 bytes of the body's sha2-256, then
 * the body: u64 feed position of the first entry, u32 count, and each entry
 * as u32 length and bytes (all big-endian). Records that do not check out
 * end the file: a write torn by a crash was never acknowledged.
 *
 * A commit with emit keys (Log.append) adds them after its entries, so that
 * the keys of commits level lacks are recovered with them: u8 version (1),
 * u32 count, and each key as u32 index of its entry in the record, u16
 * length and UTF-8 bytes. A commit without keys is written as before, so a
 * node that uses none keeps a file that older versions read; an older
 * version reads a record with keys as a torn end.
 */
export class Wal {
  readonly path: string
  #fd: number
  #size: number

  private constructor (path: string, fd: number, size: number) {
    this.path = path
    this.#fd = fd
    this.#size = size
  }

  /** Opens (or creates) the file and reads the records it holds. */
  static open (path: string): { wal: Wal, records: WalRecord[] } {
    let data: Buffer
    try {
      data = readFileSync(path)
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT') throw storageError('cannot read the write-ahead file', err)
      data = Buffer.alloc(0)
    }
    const { records, end } = parse(data)
    let fd: number
    try {
      fd = openSync(path, 'a')
      // a torn record at the end would hide the records written after it
      if (end < data.byteLength) ftruncateSync(fd, end)
    } catch (err) {
      throw storageError('cannot open the write-ahead file', err)
    }
    return { wal: new Wal(path, fd, end), records }
  }

  /** Bytes in the file. */
  get size (): number {
    return this.#size
  }

  /**
   * Appends one record; with `sync` the data is on the disk when it returns.
   * Throws StorageError, and then leaves the file as it was.
   */
  append (firstSeq: number, entries: Uint8Array[], sync: boolean, keys?: ReadonlyArray<string | undefined>): void {
    const record = encode(firstSeq, entries, keys)
    try {
      let written = 0
      while (written < record.byteLength) written += writeSync(this.#fd, record, written)
      if (sync) fdatasyncSync(this.#fd)
    } catch (err) {
      try {
        ftruncateSync(this.#fd, this.#size)
      } catch (cause) {
        throw storageError('cannot write to the write-ahead file, nor undo the part written', cause)
      }
      throw storageError('cannot write to the write-ahead file', err)
    }
    this.#size += record.byteLength
  }

  /** Empties the file: call only once level holds every record. */
  reset (): void {
    try {
      ftruncateSync(this.#fd, 0)
    } catch (err) {
      throw storageError('cannot empty the write-ahead file', err)
    }
    this.#size = 0
  }

  close (): void {
    if (this.#fd < 0) return
    closeSync(this.#fd)
    this.#fd = -1
  }
}

/** The entries of one commit and the feed position of the first. */
export interface WalRecord {
  firstSeq: number
  entries: Uint8Array[]
  /** the emit key of each entry that has one, by its index in `entries` */
  keys?: Array<string | undefined>
}

const HEADER = 8
const BODY_HEADER = 12
/** The version of the emit keys after a record's entries. */
const KEYS_VERSION = 1

function encode (firstSeq: number, entries: Uint8Array[], keys?: ReadonlyArray<string | undefined>): Buffer {
  let bodyLength = BODY_HEADER
  for (let i = 0; i < entries.length; i++) bodyLength += 4 + entries[i].byteLength
  const keyed: Array<[number, Buffer]> = []
  keys?.forEach((key, i) => { if (key != null) keyed.push([i, Buffer.from(key)]) })
  if (keyed.length > 0) {
    bodyLength += 5
    for (const [, key] of keyed) bodyLength += 6 + key.byteLength
  }
  const out = Buffer.allocUnsafe(HEADER + bodyLength)
  out.writeUInt32BE(bodyLength, 0)
  writeSeq(out, firstSeq, HEADER)
  out.writeUInt32BE(entries.length, HEADER + 8)
  let at = HEADER + BODY_HEADER
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]
    out.writeUInt32BE(e.byteLength, at)
    out.set(e, at + 4)
    at += 4 + e.byteLength
  }
  if (keyed.length > 0) {
    out[at] = KEYS_VERSION
    out.writeUInt32BE(keyed.length, at + 1)
    at += 5
    for (const [i, key] of keyed) {
      out.writeUInt32BE(i, at)
      out.writeUInt16BE(key.byteLength, at + 4)
      key.copy(out, at + 6)
      at += 6 + key.byteLength
    }
  }
  checksum(out.subarray(HEADER)).copy(out, 4)
  return out
}

function parse (data: Buffer): { records: WalRecord[], end: number } {
  const records: WalRecord[] = []
  let at = 0
  while (data.byteLength - at >= HEADER + BODY_HEADER) {
    const bodyLength = data.readUInt32BE(at)
    if (bodyLength < BODY_HEADER || at + HEADER + bodyLength > data.byteLength) break
    const body = data.subarray(at + HEADER, at + HEADER + bodyLength)
    if (!checksum(body).equals(data.subarray(at + 4, at + 8))) break
    const record = readBody(body)
    if (record == null) break
    records.push(record)
    at += HEADER + bodyLength
  }
  return { records, end: at }
}

function readBody (body: Buffer): WalRecord | undefined {
  const firstSeq = readSeq(body)
  const count = body.readUInt32BE(8)
  const entries: Uint8Array[] = []
  let at = BODY_HEADER
  for (let i = 0; i < count; i++) {
    if (at + 4 > body.byteLength) return
    const length = body.readUInt32BE(at)
    if (at + 4 + length > body.byteLength) return
    entries.push(new Uint8Array(body.subarray(at + 4, at + 4 + length)))
    at += 4 + length
  }
  if (!Number.isSafeInteger(firstSeq) || firstSeq <= 0) return
  if (at === body.byteLength) return { firstSeq, entries }
  const keys = readKeys(body, at, count)
  return keys == null ? undefined : { firstSeq, entries, keys }
}

function readKeys (body: Buffer, at: number, entries: number): Array<string | undefined> | undefined {
  if (at + 5 > body.byteLength || body[at] !== KEYS_VERSION) return
  const count = body.readUInt32BE(at + 1)
  at += 5
  const keys = new Array<string | undefined>(entries).fill(undefined)
  for (let k = 0; k < count; k++) {
    if (at + 6 > body.byteLength) return
    const i = body.readUInt32BE(at)
    const length = body.readUInt16BE(at + 4)
    if (i >= entries || at + 6 + length > body.byteLength) return
    keys[i] = body.toString('utf8', at + 6, at + 6 + length)
    at += 6 + length
  }
  return at === body.byteLength ? keys : undefined
}

function checksum (body: Uint8Array): Buffer {
  return sha256(body).subarray(0, 4)
}

function storageError (message: string, err: unknown): StorageError {
  const e = err as { code?: string, message?: string }
  return new StorageError(`${message}: ${[e.code, e.message].filter(Boolean).join(': ')}`, { cause: err })
}
