// npm run chaos -- [--seed N] [--seconds S] [--runs R] [--nodes N] [--rate R] [--group G] [--converge S] [--max-recovery S] [--keep] [--trace FILE]
//
// --trace FILE writes each run's faults and every node's status lines as JSON
// (FILE.SEED when there are several runs). --max-recovery S fails a run in which
// sessions took more than S seconds to come back after a heal or restart.
//
// Runs the chaos run of test/chaos/run.ts `runs` times, with seeds seed,
// seed+1, ...; prints every fault with its time, each run's failures, and a
// table of figures per run. Exits 1 on any failure, 2 on bad arguments or
// when network namespaces cannot be made.
import { parseArgs } from 'node:util'
import { runChaos, figureTable, type ChaosResult } from './run.js'
import { netnsProblem } from './net.js'

function number (name: string, text: string | undefined, fallback: number): number {
  if (text == null) return fallback
  const x = Number(text)
  if (!Number.isFinite(x) || x < 0) {
    console.error(`--${name} must be a number, not ${text}`)
    process.exit(2)
  }
  return x
}

let values
try {
  values = parseArgs({
    options: {
      seed: { type: 'string' },
      seconds: { type: 'string' },
      runs: { type: 'string' },
      nodes: { type: 'string' },
      rate: { type: 'string' },
      group: { type: 'string' },
      converge: { type: 'string' },
      keep: { type: 'boolean' },
      trace: { type: 'string' },
      'max-recovery': { type: 'string' },
      help: { type: 'boolean', short: 'h' }
    }
  }).values
} catch (err) {
  console.error((err as Error).message)
  process.exit(2)
}
if (values.help === true) {
  console.log('usage: npm run chaos -- [--seed 1] [--seconds 120] [--runs 5] [--nodes 5] [--rate 100] [--group 5] [--converge 60] [--max-recovery S] [--keep] [--trace FILE]')
  process.exit(0)
}
const seed = number('seed', values.seed, 1)
const seconds = number('seconds', values.seconds, 120)
const runs = number('runs', values.runs, 5)
const nodes = number('nodes', values.nodes, 5)
const rate = number('rate', values.rate, 100)
const group = number('group', values.group, 5)
const converge = number('converge', values.converge, 60)
const maxRecovery = values['max-recovery'] == null ? undefined : number('max-recovery', values['max-recovery'], 0) * 1000

const problem = netnsProblem()
if (problem != null) {
  console.error(`the chaos run needs network namespaces, and ${problem}. Run it as root with iproute2.`)
  process.exit(2)
}

const results: ChaosResult[] = []
for (let r = 0; r < runs; r++) {
  console.log(`\n=== run ${r + 1}/${runs}: seed ${seed + r} ===`)
  const result = await runChaos({ nodes, seconds, seed: seed + r, rate, group, convergeTimeout: converge * 1000, maxRecoveryMs: maxRecovery, keep: values.keep === true, trace: values.trace == null ? undefined : runs > 1 ? `${values.trace}.${seed + r}` : values.trace })
  results.push(result)
  console.log(`figures: ${JSON.stringify(result.figures)}`)
  if (result.failures.length > 0) {
    console.log(`${result.failures.length} failures:`)
    for (const f of result.failures) console.log(`  - ${f.replace(/\n/g, '\n    ')}`)
  }
}
console.log(`\n${figureTable(results)}`)
const failed = results.filter(r => r.failures.length > 0).length
console.log(`\n${runs - failed} of ${runs} runs passed every check`)
process.exit(failed > 0 ? 1 : 0)
