// Runs each benchmark in its own process, so that peak RSS is its own.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

const here = dirname(fileURLToPath(import.meta.url))
const cases: Array<[string, string]> = [
  ['emit.js', 'emit.concurrent'],
  ['emit.js', 'deliver'],
  ['emit.js', 'emit.sequential'],
  ['read.js', 'read'],
  ['log.js', 'log'],
  ['sync.js', 'sync.catchup'],
  ['sync.js', 'sync.catchup.signed'],
  ['sync.js', 'sync.latency'],
  ['sync.js', 'sync.chain20'],
  // N = 10, 20 and 40 node processes (minutes; `npm run bench:cluster` takes its options)
  ['cluster.js', 'cluster'],
  // side by side with Hypercore, a devDependency: only when named
  // (`npm run bench -- peers`, or `npm run bench:peers`)
  ['peers.js', 'peers']
]
const byName = new Set(['peers'])
const only = process.argv.slice(2)
for (const [file, name] of cases) {
  if (only.length > 0 ? !only.some(o => name.startsWith(o)) : byName.has(name)) continue
  const res = spawnSync(process.execPath, [join(here, file), ...(file === 'cluster.js' || file === 'peers.js' ? [] : [name])], { stdio: 'inherit' })
  if (res.status !== 0) process.exitCode = 1
}
