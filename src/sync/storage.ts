// A session's storage: the node's Log and the session's own Ingester. The core
// reads and checks through it synchronously (CoreStorage); its drivers run
// the reads and store passes the core asks for.
import { Ingester, type IngestInit } from '../log/ingest.js'
import { CHECK_FROM, SESSION_MAX_PENDING } from './constants.js'
import type { CheckPool, Checked } from '../log/check-pool.js'
import type { Accepted, CoreStorage, Outgoing, StoreResult } from './actions.js'
import { readEntry, type DecodedEntry } from '../log/entry.js'
import type { EntryList } from './framing.js'
import type { Log, LogEntry } from '../log/log.js'

/** The bytes of the dropped entries a peer may need to store an entry (Log.context). */
export function context (log: Log, author: string, bytes: Uint8Array): Uint8Array[] | undefined {
  return log.context(author, readEntry(bytes))?.map(c => c.bytes)
}

export class SessionStorage implements CoreStorage {
  readonly log: Log
  readonly #ingester: Ingester
  readonly #checks: CheckPool | undefined

  /** `checks`: where long Entries frames are hashed and their signatures checked (a `check` action) while the last ones are stored. */
  constructor (log: Log, ingest: IngestInit, checks?: CheckPool) {
    this.log = log
    this.#checks = checks
    this.#ingester = new Ingester(log, {
      ...ingest,
      maxPendingEntries: SESSION_MAX_PENDING,
      // the session's clock expires held entries
      timer: false
    })
  }

  vector (): Map<string, number> {
    return this.log.vector()
  }

  get length (): number {
    return this.log.length
  }

  authorSeq (author: string): number {
    return this.log.authorSeq(author)
  }

  accept (entries: Uint8Array[], now: number, context?: DecodedEntry[], checked?: Checked): Accepted {
    return this.#ingester.accept(entries, now, context, checked)
  }

  wantsCheck (entries: EntryList): boolean {
    return this.#checks != null && entries.length >= CHECK_FROM && entries.signed(CHECK_FROM) === CHECK_FROM
  }

  /** A `check` action: what the pool finds for `entries`. */
  async check (entries: Uint8Array[]): Promise<Checked> {
    if (this.#checks == null) throw new Error('no check pool')
    return this.#checks.check(entries)
  }

  get verified (): number {
    return this.#ingester.verified
  }

  get pending (): number {
    return this.#ingester.pending
  }

  get pendingTtl (): number {
    return this.#ingester.pendingTtl
  }

  expire (now: number): void {
    this.#ingester.expire(now)
  }

  clear (): void {
    this.#ingester.clear()
  }

  /** What a peer with vector `have` lacks, at most `limit` entries, in feed order (a `read` action). */
  async read (have: Map<string, number>, limit: number): Promise<Outgoing[]> {
    const missing = await this.log.missingBytes(have, limit)
    const log = this.log
    // only a log that dropped entries or took floors sends context
    if (log.hasCut) for (const m of missing) m.context = context(log, m.author, m.bytes)
    return missing
  }

  context (author: string, e: LogEntry): Uint8Array[] | undefined {
    return this.log.context(author, e.entry)?.map(c => c.bytes)
  }

  /** Whether a commit whose listeners were given `by` is a store pass of this session. */
  stores (by: object | undefined): boolean {
    return by === this.#ingester
  }

  /** A store pass (a `store` action). */
  async store (upTo: number, detach: boolean): Promise<StoreResult> {
    return this.#ingester.storeReady(upTo, detach)
  }
}
