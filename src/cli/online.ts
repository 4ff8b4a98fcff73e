import type { HyperEmitter } from '../index.js'
import type { CliOptions } from './args.js'
import { describeError } from './format.js'
import type { CliIO } from './io.js'
import { FatalError, listenProblem } from './problems.js'

/** Says that nothing persists without --db: once running, as a run that fails to start says only why. */
export function warnInMemory (options: CliOptions, io: CliIO): void {
  if (options.db == null && !options.quiet) io.stderr.write('hypem: no --db: events are kept in memory, nothing will persist\n')
}

/** Whether hypem stays up for peers after stdin ends. */
export function isLive (options: CliOptions): boolean {
  return options.port != null || options.targetPort != null || options.connect.length > 0 || options.mdns
}

/**
 * Listens and connects as the flags say; `say` gets the reference's
 * `listening on PORT HOST` and `connected to HOST PORT` lines.
 */
export async function goOnline (emitter: HyperEmitter, options: CliOptions, say: (line: string) => void): Promise<void> {
  if (options.port != null || options.mdns) {
    const port = options.port ?? 0
    let addrs
    try {
      addrs = await emitter.listen(port, options.host)
    } catch (err) {
      throw new FatalError(`cannot listen on ${options.host}:${port}: ${listenProblem(err)}`)
    }
    const bound = addrs.map(a => /\/tcp\/(\d+)/.exec(a.toString())?.[1]).find(p => p != null)
    say(`listening on ${bound ?? port} ${options.host}`)
  }
  if (options.targetPort != null) {
    try {
      await emitter.connect(options.targetPort, options.targetHost)
    } catch (err) {
      throw new FatalError(`cannot connect to ${options.targetHost}:${options.targetPort}: ${describeError(err)}`)
    }
    say(`connected to ${options.targetHost} ${options.targetPort}`)
  }
  for (const addr of options.connect) {
    try {
      await emitter.connect(addr)
    } catch (err) {
      throw new FatalError(`cannot connect to ${addr}: ${describeError(err)}`)
    }
    say(`connected to ${addr}`)
  }
}
