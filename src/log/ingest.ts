import { InvalidEntryError, ProtocolError } from '../errors.js'
import { decodeEntry, toHex, type DecodedEntry } from './entry.js'
import type { Log, LogEntry } from './log.js'

/** Entries held while they wait for a signature or their parents. */
export const MAX_PENDING_ENTRIES = 8192
/** Bytes held while entries wait: bounds what one peer can make a node keep. */
export const MAX_PENDING_BYTES = 16 * 1024 * 1024
/** How long an entry may wait for its signature or parents before it is dropped. */
export const PENDING_TTL_MS = 60_000

export interface IngestInit {
  /** Throws unless the event name is known and the payload decodes. */
  validate: (name: string, payload: Uint8Array) => void
  /** Whether entries by this author (hex public key) are accepted. @default all */
  accept?: (author: string) => boolean
  maxPendingEntries?: number
  maxPendingBytes?: number
  pendingTtl?: number
  /** told, before anything is stored, of each valid entry's author (hex) and seq */
  onSeen?: (author: string, seq: number) => void
}

export interface IngestResult {
  stored: LogEntry[]
  duplicates: number
  /** entries refused, with the reason */
  invalid: InvalidEntryError[]
  /** entries still waiting for a signature or parents */
  pending: number
  /** the highest seq per author (hex) among the valid entries: the sender has them */
  seen: Map<string, number>
}

interface Pending {
  d: DecodedEntry
  author: string
  hex: string
  verified: boolean
  at: number
}

/**
 * Takes entries from one peer, checks each one, and stores those whose
 * signature and parents are in place. An unsigned entry is accepted only
 * when a validly signed later entry of the same author reaches it through
 * `prev` links: the signature covers the hash chain.
 */
export class Ingester {
  readonly #log: Log
  readonly #init: IngestInit
  readonly #pending = new Map<string, Pending>()
  // ids vouched for by a verified entry's prev: id -> [author, seq]
  readonly #vouched = new Map<string, [string, number]>()
  #bytes = 0

  constructor (log: Log, init: IngestInit) {
    this.#log = log
    this.#init = init
  }

  get pending (): number {
    return this.#pending.size
  }

  /** Checks and stores a batch of encoded entries, in the sender's order. */
  async add (batch: Uint8Array[]): Promise<IngestResult> {
    const invalid: InvalidEntryError[] = []
    const seen = new Map<string, number>()
    let duplicates = 0
    this.#expire()
    for (const bytes of batch) {
      let d: DecodedEntry
      try {
        d = decodeEntry(bytes)
        this.#check(d)
      } catch (err) {
        invalid.push(err instanceof InvalidEntryError ? err : new InvalidEntryError((err as Error).message))
        continue
      }
      const hex = toHex(d.id)
      const author = toHex(d.entry.author)
      if (d.entry.seq > (seen.get(author) ?? 0)) seen.set(author, d.entry.seq)
      this.#init.onSeen?.(author, d.entry.seq)
      if (this.#pending.has(hex) || d.entry.seq <= this.#log.authorSeq(author)) {
        duplicates++
        continue
      }
      const p: Pending = { d, author, hex, verified: false, at: Date.now() }
      this.#pending.set(hex, p)
      this.#bytes += bytes.byteLength
      const vouch = this.#vouched.get(hex)
      if (d.entry.signature.byteLength > 0 || (vouch != null && vouch[0] === author && vouch[1] === d.entry.seq)) {
        this.#markVerified(p)
      }
    }
    if (this.#pending.size > (this.#init.maxPendingEntries ?? MAX_PENDING_ENTRIES) ||
        this.#bytes > (this.#init.maxPendingBytes ?? MAX_PENDING_BYTES)) {
      this.clear()
      throw new ProtocolError('too many entries wait for a signature or their parents')
    }
    const stored = await this.#storeReady()
    return { stored, duplicates, invalid, pending: this.#pending.size, seen }
  }

  #check (d: DecodedEntry): void {
    const author = toHex(d.entry.author)
    if (this.#init.accept != null && !this.#init.accept(author)) {
      throw new InvalidEntryError(`author ${author} is not an accepted writer`)
    }
    try {
      this.#init.validate(d.entry.name, d.entry.payload)
    } catch (err) {
      throw new InvalidEntryError(`event "${d.entry.name}" is not valid: ${(err as Error).message}`)
    }
  }

  // A verified entry vouches for its prev, and so on down the chain.
  #markVerified (p: Pending): void {
    let current: Pending | undefined = p
    while (current != null && !current.verified) {
      current.verified = true
      const entry = current.d.entry as DecodedEntry["entry"]
      if (entry.seq === 1) break
      const prevHex = toHex(entry.prev)
      if (entry.seq - 1 <= this.#log.authorSeq(current.author)) break
      this.#vouched.set(prevHex, [current.author, entry.seq - 1])
      const prev = this.#pending.get(prevHex)
      current = prev != null && prev.author === current.author && prev.d.entry.seq === entry.seq - 1 ? prev : undefined
    }
  }

  // Stores every verified entry whose parents are stored or go in the same
  // batch, in arrival order (a causal order).
  async #storeReady (): Promise<LogEntry[]> {
    const ready: Pending[] = []
    const inBatch = new Set<string>()
    const seqs = new Map<string, number>()
    const linkChecks: Pending[] = []
    for (const p of this.#pending.values()) {
      if (!p.verified) continue
      const { entry } = p.d
      const have = seqs.get(p.author) ?? this.#log.authorSeq(p.author)
      if (entry.seq !== have + 1) continue
      const prevOk = entry.seq === 1 || inBatch.has(toHex(entry.prev)) ||
        toHex(this.#log.authorHead(p.author) ?? new Uint8Array(0)) === toHex(entry.prev)
      if (!prevOk) continue
      if (entry.links.some(l => !inBatch.has(toHex(l)))) linkChecks.push(p)
      seqs.set(p.author, entry.seq)
      inBatch.add(p.hex)
      ready.push(p)
    }
    // links outside the batch must be stored already; an entry with a missing
    // link and everything after it from the same author wait
    if (linkChecks.length > 0) {
      const unresolved = linkChecks.flatMap(p => p.d.entry.links.filter(l => !inBatch.has(toHex(l))))
      const found = await this.#log.hasMany(unresolved)
      const missing = new Set(unresolved.filter((_, i) => !found[i]).map(toHex))
      if (missing.size > 0) {
        const blocked = new Set<string>()
        const keep: Pending[] = []
        for (const p of ready) {
          const dependsOnBlocked = blocked.has(p.author) || p.d.entry.links.some(l => missing.has(toHex(l)) || blocked.has(toHex(l)))
          if (dependsOnBlocked) {
            blocked.add(p.author)
            blocked.add(p.hex)
          } else {
            keep.push(p)
          }
        }
        ready.length = 0
        ready.push(...keep)
      }
    }
    if (ready.length === 0) return []
    const stored = await this.#log.store(ready.map(p => p.d))
    for (const p of ready) this.#forget(p)
    return stored
  }

  #forget (p: Pending): void {
    if (this.#pending.delete(p.hex)) this.#bytes -= p.d.bytes.byteLength
    this.#vouched.delete(p.hex)
  }

  #expire (): void {
    const ttl = this.#init.pendingTtl ?? PENDING_TTL_MS
    const oldest = Date.now() - ttl
    for (const p of this.#pending.values()) {
      if (p.at < oldest) this.#forget(p)
    }
    if (this.#pending.size === 0) this.#vouched.clear()
  }

  /** Drops everything pending (the session ended). */
  clear (): void {
    this.#pending.clear()
    this.#vouched.clear()
    this.#bytes = 0
  }
}
