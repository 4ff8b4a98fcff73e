import { InvalidEntryError, ProtocolError } from '../errors.js'
import { decodeEntry, equalBytes, toHex, EMPTY, type DecodedEntry } from './entry.js'
import type { Log, LogEntry } from './log.js'

/** Entries held while they wait for a signature or their parents. */
export const MAX_PENDING_ENTRIES = 32_768
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
    const accepted = this.accept(batch)
    const stored = await this.flush()
    return { ...accepted, stored, pending: this.#pending.size }
  }

  /**
   * Checks a batch and holds its valid entries; `flush` stores them. A
   * receiver checks the next batch while the last one is being written.
   * Throws ProtocolError when the pending set is over its bounds.
   */
  accept (batch: Uint8Array[]): Omit<IngestResult, 'stored' | 'pending'> {
    const invalid: InvalidEntryError[] = []
    const seen = new Map<string, number>()
    let duplicates = 0
    let lastAuthor: Uint8Array | undefined
    let author = ''
    this.#expire()
    for (const bytes of batch) {
      let d: DecodedEntry
      try {
        d = decodeEntry(bytes)
        // runs of one author are the rule: reuse the hex of the last one
        if (lastAuthor == null || !Buffer.from(lastAuthor).equals(d.entry.author)) {
          lastAuthor = d.entry.author
          author = toHex(lastAuthor)
        }
        this.#check(d, author)
      } catch (err) {
        invalid.push(err instanceof InvalidEntryError ? err : new InvalidEntryError((err as Error).message))
        continue
      }
      const hex = toHex(d.id)
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
    return { duplicates, invalid, seen }
  }

  /** Stores every held entry whose signature and parents are in place. */
  async flush (): Promise<LogEntry[]> {
    return this.#storeReady()
  }

  #check (d: DecodedEntry, author: string): void {
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
    // each author's newest entry so far: stored, or ready in this batch
    const heads = new Map<string, { seq: number, id: Uint8Array }>()
    const linkChecks: Pending[] = []
    for (const p of this.#pending.values()) {
      if (!p.verified) continue
      const { entry } = p.d
      const head = heads.get(p.author) ?? { seq: this.#log.authorSeq(p.author), id: this.#log.authorHead(p.author) ?? EMPTY }
      if (entry.seq !== head.seq + 1 || !equalBytes(entry.prev, head.id)) continue
      if (entry.links.length > 0 && entry.links.some(l => !inBatch.has(toHex(l)))) linkChecks.push(p)
      heads.set(p.author, { seq: entry.seq, id: p.d.id })
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
