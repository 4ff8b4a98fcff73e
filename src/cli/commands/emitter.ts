import { readFile } from 'node:fs/promises'
import type { HyperEmitter } from '../../index.js'
import { UndecodableEventsError } from '../../errors.js'
import type { CliOptions } from '../args.js'
import { describeError } from '../format.js'
import type { CliIO } from '../io.js'
import { Metrics, serveMetrics } from '../metrics.js'
import { runFilter } from '../ndjson.js'
import { dbProblem, FatalError, systemProblem } from '../problems.js'
import { Progress } from '../progress.js'
import { runRepl } from '../repl.js'
import { reportStatus, showCatchUp } from '../status.js'
import { startUI } from '../ui.js'

/** Longest wait for the emitter to close (the db, the network) at exit. */
const CLOSE_TIMEOUT_MS = 10_000

/** Runs an emitter from the flags: the REPL on a terminal, the ndjson filter otherwise. */
export async function runEmitter (options: CliOptions, io: CliIO): Promise<number> {
  const schemaFile = options.schema!
  let schema: string
  try {
    schema = await readFile(schemaFile, 'utf8')
  } catch (err) {
    throw new FatalError(`cannot read the schema ${schemaFile}: ${systemProblem(err)}`)
  }
  // the library (libp2p) loads here, not for --help
  const [{ HyperEmitter }, { MemoryLevel }] = await Promise.all([import('../../index.js'), import('memory-level')])
  const psk = options.psk != null ? await readKey(options.psk) : undefined
  let emitter: HyperEmitter
  try {
    emitter = new HyperEmitter(options.db ?? new MemoryLevel(), schema, {
      mdns: options.mdns,
      topic: options.topic,
      psk,
      writers: options.writers.length > 0 ? options.writers : undefined,
      activePeers: options.activePeers,
      force: options.force,
      retention: options.retention
    })
  } catch (err) {
    const psk = (err as { code?: string }).code === 'ERR_INVALID_PSK'
    throw new FatalError(`${psk ? options.psk! : schemaFile}: ${describeError(err)}`)
  }
  const progress = new Progress(io.stderr, io.stderrIsTTY && !options.quiet, io.columns)
  const notice = (text: string): void => { if (!options.quiet) progress.line(text) }
  const cleanup: Array<() => Promise<void> | void> = []
  try {
    try {
      await emitter.ready()
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause
      if (cause instanceof UndecodableEventsError) throw new FatalError(undecodableProblem(schemaFile, options.db!, cause))
      throw new FatalError(`cannot open the db ${options.db}: ${dbProblem(err)}`)
    }
    cleanup.push(reportStatus(emitter, notice))
    cleanup.push(showCatchUp(emitter, progress))
    if (options.metricsPort != null) {
      const metrics = new Metrics(emitter)
      cleanup.push(() => { metrics.close() })
      try {
        const server = await serveMetrics(options.metricsPort, () => metrics.snapshot())
        cleanup.push(server.close)
      } catch (err) {
        throw new FatalError(`cannot serve metrics on 127.0.0.1:${options.metricsPort}: ${systemProblem(err)}`)
      }
    }
    if (options.uiPort != null) cleanup.push(await startUI(emitter, options, io))
    return (options.repl ?? io.stdinIsTTY)
      ? await runRepl(emitter, options, io)
      : await runFilter(emitter, options, io, progress, notice)
  } finally {
    progress.stop()
    for (const done of cleanup.reverse()) await done()
    await closeWithin(emitter, CLOSE_TIMEOUT_MS, io)
  }
}

// libp2p may finish closing a dropped connection only on an unref'd timer:
// with nothing else left, the process would exit mid-close (status 13), so a
// timer holds it open, and bounds the wait
async function closeWithin (emitter: HyperEmitter, ms: number, io: CliIO): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<boolean>(resolve => { timer = setTimeout(() => { resolve(true) }, ms) })
  try {
    const closed = emitter.close().then(() => false, () => false)
    if (await Promise.race([closed, late])) io.stderr.write(`hypem: the emitter did not close in ${ms / 1000} s; exiting anyway\n`)
  } finally {
    clearTimeout(timer)
  }
}

// one line: what the schema cannot read, and the way out
function undecodableProblem (schemaFile: string, db: string, err: UndecodableEventsError): string {
  const total = err.events.reduce((n, e) => n + e.count, 0)
  const each = err.events.map(e => `${e.count} ${e.name} (the first at feed position ${e.first}: ${e.reason})`)
  return `${schemaFile} cannot decode ${total} event${total === 1 ? '' : 's'} already in the db ${db}: ${each.join(', ')}; --force starts anyway`
}

async function readKey (file: string): Promise<Uint8Array> {
  try {
    return await readFile(file)
  } catch (err) {
    throw new FatalError(`cannot read the key ${file}: ${systemProblem(err)}`)
  }
}
