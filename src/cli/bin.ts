#!/usr/bin/env node
// The process glue: hypem's streams and signals are the process's.
import { fstatSync } from 'node:fs'
import { run } from './main.js'

const interrupted = new AbortController()
let signals = 0
const onSignal = (): void => {
  // a second signal means "now"
  if (++signals > 1) process.exit(130)
  interrupted.abort()
}
process.on('SIGINT', onSignal)
process.on('SIGTERM', onSignal)
// a closed terminal: close cleanly too, saving the cursor
process.on('SIGHUP', onSignal)

let stdinSize: number | undefined
try {
  const stat = fstatSync(0)
  if (stat.isFile()) stdinSize = stat.size
} catch {
  // no stdin: nothing to size
}

process.exitCode = await run(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  stdinIsTTY: process.stdin.isTTY === true,
  stdoutIsTTY: process.stdout.isTTY === true,
  stderrIsTTY: process.stderr.isTTY === true,
  stdinSize,
  // a terminal of unknown size says 0
  columns: () => process.stderr.columns > 0 ? process.stderr.columns : 80,
  signal: interrupted.signal
})
process.off('SIGINT', onSignal)
process.off('SIGTERM', onSignal)
process.off('SIGHUP', onSignal)
// libp2p leaves a debounce timer running after it stops, which would hold the
// process for a second: once everything is written, exit
await Promise.all([process.stdout, process.stderr].map(async s => { await new Promise(resolve => { s.write('', resolve) }) }))
process.exit()
