// Runs every compiled test file in its own process (uvu runs one suite per
// file), then prints the totals as `N passed, N failed`, which uvu does not.
// Two files run at a time, but for those that load the machine on their own
// (many processes, long CPU-bound loops, timing under faults): each of them
// runs alone, after the others. HYPEREMITTER_TEST_JOBS=1 runs one at a time.
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

// HYPEREMITTER_DIST lets several builds live side by side (dist-NAME/)
const dir = join(dirname(fileURLToPath(import.meta.url)), '..', process.env.HYPEREMITTER_DIST ?? 'dist', 'test')
const only = process.argv.slice(2)
const files = readdirSync(dir)
  .filter(f => f.endsWith('.test.js'))
  .filter(f => only.length === 0 || only.some(o => f.includes(o)))
  .sort()

let passed = 0
let failed = 0
const broken = []

function run (file) {
  return new Promise(resolve => {
    const started = Date.now()
    const child = spawn(process.execPath, [join(dir, file)], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', d => { out += d })
    child.stderr.on('data', d => { out += d })
    child.on('close', code => {
      const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? 0)
      const ok = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? 0)
      // a file that died before uvu's summary counts as one failure
      const bad = total - ok + (code !== 0 && total === ok ? 1 : 0)
      passed += ok
      failed += bad
      if (bad > 0) broken.push(file)
      process.stdout.write(out)
      console.log(`# ${file}: ${ok} passed, ${bad} failed (${((Date.now() - started) / 1000).toFixed(1)} s)`)
      resolve()
    })
  })
}

/** Files that run alone: each keeps both cores busy, or measures time under faults (or, with a browser, a page's timing). */
const SOLO = ['chaos.test.js', 'cluster.test.js', 'crash.test.js', 'fuzz.test.js', 'ui-browser.test.js']
const jobs = Math.max(1, Number(process.env.HYPEREMITTER_TEST_JOBS ?? 2))

async function pool (list, width) {
  const queue = [...list]
  await Promise.all(Array.from({ length: Math.min(width, queue.length) }, async () => {
    while (queue.length > 0) await run(queue.shift())
  }))
}

await pool(files.filter(f => !SOLO.includes(f)), jobs)
for (const file of files.filter(f => SOLO.includes(f))) await run(file)
if (broken.length > 0) console.log(`failed files: ${broken.join(', ')}`)
console.log(`${passed} passed, ${failed} failed`)
process.exitCode = failed > 0 || passed === 0 ? 1 : 0
