// Fuzz (d): the session's core in-process (test/sync/pair.ts), fed by a
// scripted peer that says Hello (naming lazy/1 every other session) and then
// sends a run of generated, mutated and random frames and raw wire bytes,
// among valid entries of the corpus DAG. No
// call into the core may throw; a session ends only by an `end` action; what
// is stored is only what we built, and the log stays consistent. Thousands of
// sessions a second, where (c) runs a few over real streams.
import fc from 'fast-check'
import { RefusedError } from '../../src/errors.js'
import { entryId, toHex } from '../../src/log/entry.js'
import { FEATURE_LAZY, REFUSE, refuseName } from '../../src/sync/constants.js'
import { Pair } from '../sync/pair.js'
import { entriesMessage, hello } from '../sync/author.js'
import { planInput, planMessage, type Corpus, type Plan } from './corpus.js'

export interface CoreSummary {
  /** sessions run */
  inputs: number
  frames: number
  /** how sessions ended: by the Refuse code this side sent or got, a reset, a close, or still open */
  outcomes: Record<string, number>
  stored: number
  storedFromPool: number
  failures: string[]
  ms: number
}

/** Runs `inputs` sessions of up to `steps` plans each against one node's core. */
export async function fuzzCore (c: Corpus, opts: { inputs: number, seed: number, steps?: number }): Promise<CoreSummary> {
  const started = Date.now()
  const sum: CoreSummary = { inputs: 0, frames: 0, outcomes: {}, stored: 0, storedFromPool: 0, failures: [], ms: 0 }
  const pair = new Pair()
  const node = await pair.node({ schema: c.schemaText })
  const poolHex = c.poolIds.map(toHex)
  const stored = new Set<string>()
  node.log.onCommit(entries => { for (const e of entries) stored.add(toHex(e.id)) })
  let cursor = 0
  try {
    await fc.assert(fc.asyncProperty(fc.array(planInput(c), { minLength: 1, maxLength: opts.steps ?? 8 }), async plans => {
      sum.inputs++
      // resume the DAG where the log stops
      cursor = 0
      while (cursor < c.pool.length && stored.has(poolHex[cursor])) cursor++
      const [s, p] = pair.script(node)
      // every other session with a peer that names lazy/1: IHave is taken, and sent
      p.send(hello(node, [], sum.inputs % 2 === 0 ? [FEATURE_LAZY] : []))
      for (const plan of plans) {
        if (s.ending != null) break
        cursor = send(c, p, plan, cursor)
        sum.frames++
        try {
          await pair.settle()
        } catch (err) {
          sum.failures.push(`the core threw ${(err as Error).name}: ${(err as Error).message}`)
          return false
        }
      }
      const end = s.ending
      const err = end?.error
      const outcome = end == null ? 'open' : err instanceof RefusedError ? `${err.remote ? 'got' : 'sent'}:${refuseName(err.refuseCode)}` : end.reset ? 'reset' : 'closed'
      sum.outcomes[outcome] = (sum.outcomes[outcome] ?? 0) + 1
      if (err instanceof RefusedError && !err.remote && err.refuseCode !== REFUSE.UNKNOWN && p.of('refuse').at(-1)?.code !== err.refuseCode) {
        sum.failures.push(`refused with ${refuseName(err.refuseCode)} but sent no such Refuse`)
        return false
      }
      p.close()
      await pair.settle()
      if (s.ending == null) {
        sum.failures.push('the core did not end when its peer closed')
        return false
      }
      pair.drop(s, p)
      return true
    }), { numRuns: opts.inputs, seed: opts.seed, endOnFailure: true })
    const report = await node.log.verify()
    if (!report.ok) sum.failures.push(`verify: ${JSON.stringify(report.problems.slice(0, 3))}`)
    const fromPool = new Set(poolHex)
    for (const e of await node.log.read(1, 10_000_000)) {
      const hex = toHex(e.id)
      sum.stored++
      if (fromPool.has(hex)) sum.storedFromPool++
      if (!c.legit.has(hex)) sum.failures.push(`stored an entry nobody built: ${hex}`)
    }
  } finally {
    await pair.close()
  }
  sum.ms = Date.now() - started
  return sum
}

// What the scripted peer sends for a plan; returns where the DAG goes on.
function send (c: Corpus, p: ReturnType<Pair['script']>[1], plan: Plan, cursor: number): number {
  switch (plan.kind) {
    case 'valid': {
      const from = cursor >= c.pool.length ? 0 : cursor
      const entries = c.pool.slice(from, from + plan.n)
      p.send(entriesMessage(entries))
      return from + entries.length
    }
    case 'entries':
      for (const x of plan.entries) if (x.legit) c.legit.add(toHex(entryId(x.bytes)))
      p.send(entriesMessage(plan.entries.map(x => x.bytes)))
      break
    case 'message': p.send(planMessage(plan)); break
    case 'hello': p.send(hello({ schema: c.schema, options: {} })); break
    case 'frame': case 'random': p.sendFrame(plan.bytes); break
    case 'wire': p.sendRaw(plan.bytes); break
  }
  return cursor
}
