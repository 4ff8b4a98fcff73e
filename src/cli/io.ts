import type { Readable, Writable } from 'node:stream'

/** What hypem runs with: the process's streams in bin.ts, pipes in tests. */
export interface CliIO {
  stdin: Readable
  stdout: Writable
  stderr: Writable
  stdinIsTTY: boolean
  stdoutIsTTY: boolean
  stderrIsTTY: boolean
  /** bytes on stdin when it is a regular file, for the import progress bar */
  stdinSize?: number
  /** terminal width, for the progress bar */
  columns?: () => number
  /** aborted on SIGINT or SIGTERM: hypem then closes cleanly and exits 0 */
  signal?: AbortSignal
}

/** hypem's exit statuses. */
export const EXIT = {
  OK: 0,
  /** could not run: schema, db, network */
  FAILED: 1,
  /** bad flags */
  USAGE: 2,
  /** ran, but skipped some input lines */
  SKIPPED: 3,
  /** verify found problems in the log */
  DAMAGED: 4,
  /** schema diff: the two schemas are incompatible */
  INCOMPATIBLE: 1
} as const
