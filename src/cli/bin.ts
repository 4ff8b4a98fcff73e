#!/usr/bin/env node
// The process glue: hypem's streams and signals are the process's.
import { fstatSync } from 'node:fs'
import { run } from './main.js'

/** How long a finished hypem waits for stray handles before it exits anyway. */
const EXIT_GRACE_MS = 2000

const interrupted = new AbortController()
let signals = 0
const onSignal = (): void => {
  // a second signal means "now"
  if (++signals > 1) process.exit(130)
  interrupted.abort()
}
process.on('SIGINT', onSignal)
process.on('SIGTERM', onSignal)

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
  columns: () => process.stderr.columns ?? 80,
  signal: interrupted.signal
})
process.off('SIGINT', onSignal)
process.off('SIGTERM', onSignal)
// stdin may still be open (a peer-fed run ends on a signal, not on stdin's end)
process.stdin.destroy()
setTimeout(() => { process.exit() }, EXIT_GRACE_MS).unref()
