// A group of local appends: who waits for each, and the entries the group
// becomes (commit.ts queues the appends and commits the group).
import { encodeEntry, entryId, toHex, EMPTY, MAX_LINKS, type DecodedEntry, type Entry } from './entry.js'
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
  for (let i = 0; i <= last; i++) {
    const item = group[i]
    const entry: Entry = { author, seq: ++seq, prev, links, clock: ++clock, timestamp, name: item.name, payload: item.payload, signature: EMPTY }
    const bytes = encodeEntry(entry, i === last ? identity : undefined)
    const id = entryId(bytes)
    out.push({ id, bytes, entry })
    prev = id
    links = []
  }
  return out
}
