// Fuzz (a): the entry validator, Ingester.accept and storeReady on a
// MemoryLevel log, fed generated entries (fast-check), mutations of valid
// entries and random bytes, interleaved with a valid multi-author DAG so
// that the store path runs against real state. Nothing invalid may be
// stored: every stored entry decodes, passes the schema, is one we built
// (never a mutation), and log.verify() stays ok.
import fc from 'fast-check'
import { MemoryLevel } from 'memory-level'
import { Log } from '../../src/log/log.js'
import { Ingester } from '../../src/log/ingest.js'
import { decodeEntry, entryId, toHex } from '../../src/log/entry.js'
import { ProtocolError } from '../../src/errors.js'
import { entryInput, type Corpus } from './corpus.js'

export interface ValidatorSummary {
  inputs: number
  byKind: Record<string, { inputs: number, stored: number }>
  batches: number
  epochs: number
  stored: number
  storedFromPool: number
  invalid: number
  /** invalid entries by the first words of their reason (for the report only) */
  reasons: Record<string, number>
  duplicates: number
  /** pending sets dropped as over their bound */
  limits: number
  /** problems found: must stay empty */
  failures: string[]
  ms: number
}

/** Feeds `inputs` generated entries, in batches with pool entries, to Ingesters on fresh logs. */
export async function fuzzValidator (c: Corpus, opts: { inputs: number, seed: number, batch?: number }): Promise<ValidatorSummary> {
  const started = Date.now()
  const validate = (name: string, payload: Uint8Array): void => { c.schema.check(name, payload) }
  const maxBatch = opts.batch ?? 60
  const sum: ValidatorSummary = { inputs: 0, byKind: {}, batches: 0, epochs: 0, stored: 0, storedFromPool: 0, invalid: 0, reasons: {}, duplicates: 0, limits: 0, failures: [], ms: 0 }
  const poolHex = new Set(c.poolIds.map(toHex))
  let log = await Log.open(new MemoryLevel())
  let ingester = new Ingester(log, { validate, maxPendingEntries: 2048 })
  let cursor = 0
  const kindOf = new Map<string, string>()
  const endEpoch = async (): Promise<void> => {
    const report = await log.verify()
    if (!report.ok) sum.failures.push(`verify: ${JSON.stringify(report.problems.slice(0, 3))}`)
    for (const e of await log.read(1, 1_000_000)) {
      const hex = toHex(e.id)
      try {
        const d = decodeEntry(e.bytes)
        c.schema.check(d.entry.name, d.entry.payload)
      } catch (err) {
        sum.failures.push(`stored entry ${hex} does not pass: ${(err as Error).name}`)
      }
      if (toHex(entryId(e.bytes)) !== hex) sum.failures.push(`stored entry ${hex} has another id`)
    }
    await log.close()
    sum.epochs++
  }
  const runs = Math.ceil(opts.inputs / maxBatch)
  await fc.assert(fc.asyncProperty(fc.array(entryInput(c), { minLength: maxBatch, maxLength: maxBatch }), fc.integer({ min: 0, max: 3 }), async (inputs, valid) => {
    const batch: Uint8Array[] = []
    for (const x of inputs) {
      batch.push(x.bytes)
      const hex = toHex(entryId(x.bytes))
      if (x.legit) {
        c.legit.add(hex)
        kindOf.set(hex, x.kind)
      }
      const k = (sum.byKind[x.kind] ??= { inputs: 0, stored: 0 })
      k.inputs++
    }
    sum.inputs += inputs.length
    // the next valid entries of the DAG, spread over the batch in their
    // order: an honest sender's order is causal
    const spots = Math.min(valid, c.pool.length - cursor)
    for (let i = spots; i > 0; i--) {
      batch.splice(Math.floor(i * batch.length / (spots + 1)), 0, c.pool[cursor + i - 1])
    }
    cursor += spots
    sum.batches++
    let accepted
    try {
      accepted = ingester.accept(batch)
    } catch (err) {
      if (err instanceof ProtocolError) {
        // as a session would: the pending set was over its bound; a new session starts
        sum.limits++
        ingester = new Ingester(log, { validate, maxPendingEntries: 2048 })
        return
      }
      sum.failures.push(`accept threw ${(err as Error).name}: ${(err as Error).message}`)
      throw err
    }
    let flushed
    try {
      flushed = await ingester.storeReady()
    } catch (err) {
      sum.failures.push(`storeReady threw ${(err as Error).name}: ${(err as Error).message}`)
      throw err
    }
    sum.duplicates += accepted.duplicates
    for (const err of [...accepted.invalid, ...flushed.invalid]) {
      sum.invalid++
      const reason = reasonKey(err.message)
      sum.reasons[reason] = (sum.reasons[reason] ?? 0) + 1
    }
    for (const e of flushed.stored) {
      const hex = toHex(e.id)
      sum.stored++
      if (poolHex.has(hex)) sum.storedFromPool++
      else if (kindOf.has(hex)) sum.byKind[kindOf.get(hex)!].stored++
      if (!c.legit.has(hex)) {
        sum.failures.push(`stored an entry nobody built: ${Buffer.from(e.bytes).toString('hex')}`)
        throw new Error('an entry that is not legit was stored')
      }
    }
    if (cursor >= c.pool.length) {
      // the DAG is in: check the log, then start over on an empty one
      await endEpoch()
      log = await Log.open(new MemoryLevel())
      ingester = new Ingester(log, { validate, maxPendingEntries: 2048 })
      cursor = 0
    }
  }), { numRuns: runs, seed: opts.seed, endOnFailure: true })
  await endEpoch()
  sum.ms = Date.now() - started
  return sum
}

/** A short name for why an entry was refused (for the summary only: tests assert on names and counts). */
function reasonKey (message: string): string {
  const event = /^event ".*" is not valid: (.*)$/s.exec(message)
  if (event != null) return /^unknown event/.test(event[1]) ? 'event name unknown' : 'payload does not decode'
  return message.replace(/[0-9]+/g, 'N').split(':')[0]
}
