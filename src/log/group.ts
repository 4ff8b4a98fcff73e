// A group of local appends: who waits for each, and the entries the group
// becomes (commit.ts queues the appends and commits the group).
import { entrySize, writeEntry, writeId, toHex, Decoded, EMPTY, ID_LENGTH, MAX_LINKS, type DecodedEntry, type Entry } from './entry.js'
import type { Identity } from './identity.js'
import type { LogState } from './state.js'
import type { LogEntry, Sub } from './types.js'

/** Who waits for an append: its caller, or a caller of another append with the same key. */
export interface Waiter {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  resolve: (value: any) => void
  reject: (err: Error) => void
  result: ((entry: LogEntry) => unknown) | undefined
}

export interface PendingAppend extends Waiter {
  name: string
  payload: Uint8Array<ArrayBuffer>
  key: string | undefined
  /** appends with the same key made while this one was on its way: they get its entry */
  same: Waiter[] | undefined
}

export function settle (w: Waiter, entry: LogEntry): void {
  w.resolve(w.result == null ? entry : w.result(entry))
}

/**
 * The entries of a group of local appends, chained on this node's last one.
 * Only the last is signed: its hash chain covers the rest.
 *
 * The group is written in one buffer, each entry's id and then its bytes:
 * the id, the bytes, and the value of the entry's feed record (id || bytes,
 * see LogState.prepare) are views of it, not a buffer each.
 */
export function buildGroup (state: LogState<Sub>, identity: Identity, group: PendingAppend[]): DecodedEntry[] {
  const author = identity.publicKey
  const head = state.authorHead(toHex(author))
  let seq = head.seq
  let prev = head.id as Uint8Array<ArrayBuffer>
  const prevHex = toHex(prev)
  // the first entry of a group links every head; the rest chain on prev
  let heads = [...state.heads.entries()].filter(([hex]) => hex !== prevHex).map(([, h]) => h)
  if (heads.length > MAX_LINKS) heads = heads.slice(0, MAX_LINKS)
  let links: Array<Uint8Array<ArrayBuffer>> = heads.map(h => h.id)
  // Lamport: one more than the highest parent
  let clock = Math.max(head.clock, ...heads.map(h => h.clock))
  const timestamp = Date.now()
  const out: DecodedEntry[] = []
  const last = group.length - 1
  const entries: Entry[] = []
  /** each entry's name in UTF-8 bytes, for its size and its write */
  const nameLengths: number[] = []
  let size = 0
  let lastName = ''
  let lastNameLength = 0
  for (let i = 0; i <= last; i++) {
    const item = group[i]
    if (item.name !== lastName) {
      lastName = item.name
      lastNameLength = Buffer.byteLength(lastName)
    }
    const entry: Entry = { author, seq: ++seq, prev: EMPTY, links, clock: ++clock, timestamp, name: item.name, payload: item.payload, signature: EMPTY }
    // prev is an id, set below: its size is the id's
    size += ID_LENGTH + entrySize(entry, lastNameLength, i === last) + (i === 0 && prev.byteLength === 0 ? 0 : 2 + ID_LENGTH)
    entries.push(entry)
    nameLengths.push(lastNameLength)
    links = []
  }
  const buffer = Buffer.allocUnsafe(size)
  let at = 0
  for (let i = 0; i <= last; i++) {
    const entry = entries[i]
    entry.prev = prev
    const end = writeEntry(entry, nameLengths[i], buffer, at + ID_LENGTH, i === last ? identity : undefined)
    const bytes = new Uint8Array(buffer.buffer, buffer.byteOffset + at + ID_LENGTH, end - at - ID_LENGTH)
    writeId(bytes, buffer, at)
    const id = new Uint8Array(buffer.buffer, buffer.byteOffset + at, ID_LENGTH)
    out.push(new Decoded(id, bytes, entry))
    prev = id
    at = end
  }
  return out
}
