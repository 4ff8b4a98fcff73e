// Whether the events already in a db decode under the schema an emitter opens
// it with. Every event a node stores was checked against its schema then (an
// emit is encoded by it; an entry from a peer is decoded when its name is
// known), so a db remembers the schema it was last checked against, and up
// to where: an open with that schema checks only what was stored after, an
// open with another one checks everything once.
import { logger } from '@libp2p/logger'
import { UndecodableEventsError, type UndecodableEvents } from './errors.js'
import { toHex } from './log/entry.js'
import { fingerprint } from './schema/descriptor.js'
import type { AbstractLevel } from 'abstract-level'
import type { AnyLevel, Log } from './log/log.js'
import type { Schema } from './schema/index.js'

const log = logger('hyperemitter:emitter')

/** The emitter's sublevel of the db, beside the log's and the network's. */
const SUBLEVEL = 'schema'
const KEY = 'checked'
/** Entries read at once while checking. */
const READ_CHUNK = 4096
/**
 * The record moves on after this many more entries while the emitter runs,
 * so that after a crash the next open checks at most about this many again.
 */
const SAVE_EVERY = 65_536

/** The db's record: the events up to feed position `length` (whose id is `id`) decode under `schema`. */
interface Checked {
  schema: string
  length: number
  id: string
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Level = AbstractLevel<any, string, Checked>

/**
 * What the schema is known to read of the log. `check` at open; `committed`
 * on every commit; `save` before the log closes.
 */
export class StoredSchema {
  readonly #db: Level
  readonly #log: Log
  readonly #schema: string
  /** false after a forced open: the log holds events this schema cannot read */
  readonly #sound: boolean
  #saved: number
  #saving: Promise<void> = Promise.resolve()

  private constructor (db: Level, l: Log, schema: string, sound: boolean, saved: number) {
    this.#db = db
    this.#log = l
    this.#schema = schema
    this.#sound = sound
    this.#saved = saved
  }

  /**
   * Checks that the events stored in `l` decode under `schema` (those of
   * names it does not define are events of another version, read as
   * unknown), from where the db's record says they last did. Throws
   * UndecodableEventsError, naming them, unless `force`.
   */
  static async check (db: AnyLevel, l: Log, schema: Schema, force: boolean): Promise<StoredSchema> {
    const sub = (db as unknown as AbstractLevel<unknown, string, unknown>).sublevel<string, Checked>(SUBLEVEL, { keyEncoding: 'utf8', valueEncoding: 'json' }) as unknown as Level
    const label = schemaLabel(schema)
    const record = await sub.get(KEY)
    const from = record != null && record.schema === label && await holds(l, record) ? record.length : 0
    const bad = await undecodable(l, schema, from)
    if (bad.length > 0) {
      const error = new UndecodableEventsError(`the schema cannot decode ${describeUndecodable(bad)}`, bad)
      if (!force) throw error
      log.error('opening anyway (force): %s', error.message)
      return new StoredSchema(sub, l, label, false, 0)
    }
    const stored = new StoredSchema(sub, l, label, true, from)
    await stored.save()
    return stored
  }

  /** The log grew: the record follows every SAVE_EVERY entries. */
  committed (): void {
    if (this.#sound && this.#log.length - this.#saved >= SAVE_EVERY) void this.save()
  }

  /**
   * Records that the log, as long as it is now, decodes under the schema:
   * every event stored since the open was checked against it. Not after a
   * forced open, so that the next open checks again. Never rejects.
   */
  save (): Promise<void> {
    if (!this.#sound) return this.#saving
    const length = this.#log.length
    if (length === this.#saved && length > 0) return this.#saving
    this.#saved = length
    this.#saving = this.#saving.then(async () => {
      if (this.#log.closed) return
      // every entry dropped (retention): the record names none
      const id = length <= this.#log.floor ? '' : toHex((await this.#log.read(length, 1))[0].id)
      await this.#db.put(KEY, { schema: this.#schema, length, id })
    }).catch((err: unknown) => { log.error('could not record the schema check: %e', err) })
    return this.#saving
  }
}

/** A schema as the record names it: its descriptor fingerprint, or its older one past the descriptor's bounds. */
function schemaLabel (schema: Schema): string {
  try {
    return `descriptor:${toHex(fingerprint(schema.descriptor))}`
  } catch {
    return `json:${toHex(schema.fingerprint)}`
  }
}

// The record stands only for the log it was made on: the entry at its
// position must be the one it names (a db restored from elsewhere, or a WAL
// lost in a crash and written over, is checked in full).
async function holds (l: Log, record: Checked): Promise<boolean> {
  if (!Number.isSafeInteger(record.length) || record.length < 0 || record.length > l.length) return false
  // what it names was dropped (retention): the rest is checked from the floor
  if (record.length <= l.floor) return true
  const [e] = await l.read(record.length, 1)
  return e != null && toHex(e.id) === record.id
}

async function undecodable (l: Log, schema: Schema, from: number): Promise<UndecodableEvents[]> {
  const bad = new Map<string, UndecodableEvents>()
  for (let seq = Math.max(from, l.floor) + 1; seq <= l.length; seq += READ_CHUNK) {
    for (const e of await l.read(seq, READ_CHUNK)) {
      const name = e.entry.name
      if (!schema.knows(name)) continue
      try {
        schema.check(name, e.entry.payload)
      } catch (err) {
        const seen = bad.get(name)
        if (seen != null) seen.count++
        else bad.set(name, { name, count: 1, first: e.seq, reason: String((err as Error)?.message ?? err).split('\n')[0] })
      }
    }
  }
  return [...bad.values()]
}

function describeUndecodable (bad: UndecodableEvents[]): string {
  const total = bad.reduce((n, b) => n + b.count, 0)
  const each = bad.map(b => `${b.count} ${b.name} (first at feed position ${b.first}: ${b.reason})`)
  return `${total} event${total === 1 ? '' : 's'} already in the db: ${each.join(', ')}`
}
