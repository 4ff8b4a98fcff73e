import type { HyperEmitter } from '../index.js'
import { readFilter, type CliOptions } from './args.js'
import { describeError } from './format.js'
import { EXIT, type CliIO } from './io.js'
import { EventWriter } from './ndjson-out.js'
import { LineImport } from './ndjson-in.js'
import { goOnline, isLive, warnInMemory } from './online.js'
import { FatalError } from './problems.js'
import type { Progress } from './progress.js'

/**
 * The durable cursor of ndjson output with --db: the next run resumes after
 * it. Output filtered by --name or --author has a cursor of its own, one per
 * filter: a filtered run does not move the others.
 */
const CURSOR = 'hypem'

/** The ndjson filter: events out on stdout, events in from stdin; resolves with the exit status. */
export async function runFilter (emitter: HyperEmitter, options: CliOptions, io: CliIO, progress: Progress, notice: (line: string) => void): Promise<number> {
  const stopping = new AbortController()
  const stop = (): void => { stopping.abort() }
  io.signal?.addEventListener('abort', stop, { once: true })
  if (io.signal?.aborted === true) stop()
  let outputError: unknown
  const onOutputError = (err: unknown): void => {
    outputError ??= err
    stop()
  }
  io.stdout.on('error', onOutputError)
  let writer: EventWriter | undefined
  try {
    let cursor: string | undefined
    let start = 0
    const filter = readFilter(options)
    if (options.db != null) {
      cursor = filter == null ? CURSOR : `${CURSOR} ${JSON.stringify(filter)}`
      if (options.fromScratch) await emitter.log.setCursor(cursor, 0)
      start = await emitter.log.getCursor(cursor)
    }
    writer = new EventWriter(emitter, io.stdout, cursor, start, stopping.signal, filter)
    writer.done.catch(onOutputError)

    await goOnline(emitter, options, notice)
    warnInMemory(options, io)
    const input = new LineImport(emitter, io.stdin, {
      progress: io.stdinIsTTY ? undefined : progress,
      size: io.stdinSize,
      report: (line) => { progress.line(line) },
      notice,
      signal: stopping.signal
    })
    await input.done
    if (!isLive(options) && !stopping.signal.aborted) writer.finishAt(emitter.log.length)
    else if (!stopping.signal.aborted) await new Promise(resolve => { stopping.signal.addEventListener('abort', resolve, { once: true }) })
    await writer.done.catch(() => {})

    if (outputError != null && (outputError as NodeJS.ErrnoException).code !== 'EPIPE') {
      throw new FatalError(`cannot write to stdout: ${describeError(outputError)}`)
    }
    if (input.skipped > 0) {
      progress.line(`hypem: ${input.skipped} of ${input.lines} input lines skipped`)
      return EXIT.SKIPPED
    }
    return EXIT.OK
  } catch (err) {
    stop()
    await writer?.done.catch(() => {})
    throw err
  } finally {
    io.signal?.removeEventListener('abort', stop)
    io.stdout.off('error', onOutputError)
  }
}
