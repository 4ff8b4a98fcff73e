import { start as startRepl } from 'node:repl'
import { inspect } from 'node:util'
import type { HyperEmitter } from '../index.js'
import { readFilter, type CliOptions } from './args.js'
import { describeError, formatEvent } from './format.js'
import { EXIT, type CliIO } from './io.js'
import { goOnline, warnInMemory } from './online.js'

/** The REPL: `hyper` is the emitter, and every event is printed as it is stored. */
export async function runRepl (emitter: HyperEmitter, options: CliOptions, io: CliIO): Promise<number> {
  const colors = io.stdoutIsTTY
  const terminal = io.stdinIsTTY && io.stdoutIsTTY
  const reading = new AbortController()
  // made before going online: 'now' is fixed here, so our EventPeer and early replicas are printed
  const events = emitter.events({ from: options.fromScratch ? 'beginning' : 'now', signal: reading.signal, ...readFilter(options) })
  await goOnline(emitter, options, line => { io.stdout.write(line + '\n') })
  warnInMemory(options, io)
  if (io.signal?.aborted === true) return EXIT.OK

  const server = startRepl({ prompt: '> ', input: io.stdin, output: io.stdout, terminal, useColors: colors, ignoreUndefined: true, writer: value => replValue(value, colors) })
  server.context.hyper = emitter
  const print = (text: string): void => {
    if (!terminal) {
      io.stdout.write(text + '\n')
      return
    }
    // above the prompt, then the prompt again with what was being typed
    io.stdout.write('\r\x1b[K' + text + '\n')
    server.displayPrompt(true)
  }
  const printing = (async () => {
    for await (const event of events) print(formatEvent(event, colors))
  })().catch(err => {
    if (!emitter.closed) io.stderr.write(`hypem: cannot print events: ${describeError(err)}\n`)
  })
  const stop = (): void => { server.close() }
  io.signal?.addEventListener('abort', stop, { once: true })
  await new Promise<void>(resolve => { server.once('exit', resolve) })
  io.signal?.removeEventListener('abort', stop)
  reading.abort()
  await printing
  return EXIT.OK
}

// Promises carry async-hook ids as symbols once anything in the process uses
// async hooks (libp2p does); `hyper.emit(...)` should print as a plain promise
// eslint-disable-next-line no-control-regex
const ASYNC_ID_SYMBOLS = /,\s*\[(?:\x1b\[\d+m)?Symbol\((?:trigger_)?async_id_symbol\)(?:\x1b\[\d+m)?\]: (?:\x1b\[\d+m)?\d+(?:\x1b\[\d+m)?/g

function replValue (value: unknown, colors: boolean): string {
  if (!(value instanceof Promise)) return inspect(value, { colors })
  return inspect(value, { colors, breakLength: Infinity }).replace(ASYNC_ID_SYMBOLS, '')
}
