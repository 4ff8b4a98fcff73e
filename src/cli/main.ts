import { readFile, writeFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { start as startRepl } from 'node:repl'
import { inspect } from 'node:util'
import type { Readable, Writable } from 'node:stream'
import type { HyperEmitter, Event, StatusEvents } from '../index.js'
import { parseArgs, USAGE, UsageError, type CliOptions } from './args.js'
import { describeError, formatEvent, LineError, parseJsonLine, toJsonLine } from './format.js'
import { Metrics, serveMetrics } from './metrics.js'
import { catchUpStatus, importStatus, Progress } from './progress.js'

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
  DAMAGED: 4
} as const

/** The durable cursor of ndjson output with --db: the next run resumes after it. */
const CURSOR = 'hypem'
/** Input lines being emitted at once: enough for commits to group, few enough to bound memory. */
const MAX_PENDING_EMITS = 256

/** Longest wait for the emitter to close (the db, the network) at exit. */
const CLOSE_TIMEOUT_MS = 10_000
/** InvalidMessageError and UnknownEventError: the line is wrong, not the node. */
const BAD_EVENT_CODES = new Set(['ERR_INVALID_MESSAGE', 'ERR_UNKNOWN_EVENT'])

/** A failure that ends hypem; its message is the whole line printed after `hypem: `. */
class FatalError extends Error {}

/** Runs hypem with `argv` (the flags, without node and the script); resolves with the exit status. */
export async function run (argv: string[], io: CliIO): Promise<number> {
  let options: CliOptions
  try {
    options = parseArgs(argv)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    io.stderr.write(`hypem: ${err.message}\nTry 'hypem --help'.\n`)
    return EXIT.USAGE
  }
  if (options.help) {
    io.stdout.write(USAGE)
    return EXIT.OK
  }
  if (options.version) {
    io.stdout.write(await version() + '\n')
    return EXIT.OK
  }
  try {
    if (options.genPsk != null) return await genPsk(options.genPsk, io)
    if (options.command === 'verify') return await verify(options.db!, io)
    return await session(options, io)
  } catch (err) {
    io.stderr.write(`hypem: ${err instanceof FatalError ? err.message : describeError(err)}\n`)
    return EXIT.FAILED
  }
}

/** Writes a new private network key, readable by its owner only. */
async function genPsk (file: string, io: CliIO): Promise<number> {
  const { generatePsk } = await import('../index.js')
  try {
    await writeFile(file, generatePsk(), { mode: 0o600, flag: 'wx' })
  } catch (err) {
    throw new FatalError(`cannot write the key ${file}: ${systemProblem(err)}`)
  }
  io.stderr.write(`wrote a private network key to ${file}: give it to every node with --psk\n`)
  return EXIT.OK
}

/** Checks the whole log in a db folder, offline; needs no schema. */
async function verify (db: string, io: CliIO): Promise<number> {
  const [{ Log }, { ClassicLevel }] = await Promise.all([import('../index.js'), import('classic-level')])
  let log
  try {
    log = await Log.open(new ClassicLevel(db, { createIfMissing: false }))
  } catch (err) {
    throw new FatalError(`cannot open the db ${db}: ${dbProblem(err)}`)
  }
  try {
    const report = await log.verify()
    for (const p of report.problems) {
      io.stdout.write(`${p.seq != null ? `entry ${p.seq}` : 'log'}${p.id != null ? ` ${p.id}` : ''}: ${p.problem}\n`)
    }
    io.stderr.write(`${report.ok ? 'ok' : 'DAMAGED'}: ${report.entries} entries by ${report.authors} authors, ${report.problems.length} problems\n`)
    return report.ok ? EXIT.OK : EXIT.DAMAGED
  } finally {
    await log.close()
  }
}

/** The version in package.json. */
export async function version (): Promise<string> {
  // dist/src/cli/main.js -> package.json
  const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

async function readKey (file: string): Promise<Uint8Array> {
  try {
    return await readFile(file)
  } catch (err) {
    throw new FatalError(`cannot read the key ${file}: ${systemProblem(err)}`)
  }
}

async function session (options: CliOptions, io: CliIO): Promise<number> {
  const schemaFile = options.schema!
  let schema: string
  try {
    schema = await readFile(schemaFile, 'utf8')
  } catch (err) {
    throw new FatalError(`cannot read the schema ${schemaFile}: ${systemProblem(err)}`)
  }
  // the library (libp2p) loads here, not for --help
  const [{ HyperEmitter }, { MemoryLevel }] = await Promise.all([import('../index.js'), import('memory-level')])
  const psk = options.psk != null ? await readKey(options.psk) : undefined
  let emitter: HyperEmitter
  try {
    emitter = new HyperEmitter(options.db ?? new MemoryLevel(), schema, {
      mdns: options.mdns,
      topic: options.topic,
      psk,
      writers: options.writers.length > 0 ? options.writers : undefined
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

// once running: a run that fails to start says only why
function warnInMemory (options: CliOptions, io: CliIO): void {
  if (options.db == null && !options.quiet) io.stderr.write('hypem: no --db: events are kept in memory, nothing will persist\n')
}

/** Whether hypem stays up for peers after stdin ends. */
function isLive (options: CliOptions): boolean {
  return options.port != null || options.targetPort != null || options.connect.length > 0 || options.mdns
}

// Listens and connects as the flags say; `say` gets the reference's
// `listening on PORT HOST` and `connected to HOST PORT` lines.
async function goOnline (emitter: HyperEmitter, options: CliOptions, say: (line: string) => void): Promise<void> {
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

const SYSTEM_PROBLEMS: Record<string, string> = {
  ENOENT: 'no such file',
  EISDIR: 'it is a folder',
  EADDRINUSE: 'the address is in use',
  ERR_ADDRESS_IN_USE: 'the address is in use',
  EADDRNOTAVAIL: 'no such address on this host',
  EACCES: 'permission denied'
}

function problem (code: string | undefined, err: unknown): string {
  return (code != null ? SYSTEM_PROBLEMS[code] : undefined) ?? describeError(err)
}

function systemProblem (err: unknown): string {
  return problem((err as NodeJS.ErrnoException)?.code, err)
}

// the library names an address in use; other socket errors are in libp2p's message
function listenProblem (err: unknown): string {
  const code = (err as { code?: string }).code
  return problem(code === 'ERR_ADDRESS_IN_USE' ? code : /\b(EADDRINUSE|EADDRNOTAVAIL|EACCES)\b/.exec(String((err as Error)?.message))?.[1], err)
}

// the innermost cause says what is wrong (classic-level: "IO error: lock db/LOCK: ...")
function dbProblem (err: unknown): string {
  let e = err
  for (let depth = 0; depth < 5 && (e as { cause?: unknown })?.cause instanceof Error; depth++) e = (e as { cause: unknown }).cause
  const text = (e as Error)?.message ?? String(e)
  return /lock/i.test(text) ? `${text} (is another hypem using it?)` : text
}

/** Prints peer connections and refusals, one line each; returns the unsubscribe. */
function reportStatus (emitter: HyperEmitter, notice: (line: string) => void): () => void {
  const handlers = {
    'peer:connect': (e: StatusEvents['peer:connect']) => {
      const address = emitter.peers().find(p => p.id === e.peer)?.address.replace(/\/p2p\/[^/]+$/, '')
      notice(`hypem: peer ${e.peer} connected${address != null && address !== '' ? ` from ${address}` : ''}`)
    },
    'peer:disconnect': (e: StatusEvents['peer:disconnect']) => { notice(`hypem: peer ${e.peer} disconnected`) },
    'peer:refused': (e: StatusEvents['peer:refused']) => {
      notice(e.remote ? `hypem: peer ${e.peer} refused this node: ${e.code}: ${e.reason}` : `hypem: refused peer ${e.peer}: ${e.code}: ${e.reason}`)
    },
    'peer:invalid': (e: StatusEvents['peer:invalid']) => { notice(`hypem: peer ${e.peer} sent ${e.count} invalid entries: ${e.reason}`) }
  }
  for (const [name, fn] of Object.entries(handlers)) emitter.status.on(name, fn)
  return () => { for (const [name, fn] of Object.entries(handlers)) emitter.status.off(name, fn) }
}

/** A progress line for every peer that connects, until it has sent what this node lacked. */
function showCatchUp (emitter: HyperEmitter, progress: Progress): () => void {
  if (!progress.enabled) return () => {}
  const started = new Map<string, { at: number, received: number }>()
  const end = ({ peer }: { peer: string }): void => {
    started.delete(peer)
    progress.delete(`catch-up ${peer}`)
  }
  const begin = ({ peer }: { peer: string }): void => {
    const info = emitter.peers().find(p => p.id === peer)
    if (info?.synced === true) return
    started.set(peer, { at: Date.now(), received: info?.received ?? 0 })
    progress.set(`catch-up ${peer}`, tick => {
      const from = started.get(peer)
      const received = (emitter.peers().find(p => p.id === peer)?.received ?? 0) - (from?.received ?? 0)
      return catchUpStatus({ received, length: emitter.log.closed ? 0 : emitter.log.length, ms: Date.now() - (from?.at ?? Date.now()), tick })
    })
  }
  emitter.status.on('peer:connect', begin)
  emitter.status.on('peer:synced', end)
  emitter.status.on('peer:disconnect', end)
  return () => {
    emitter.status.off('peer:connect', begin)
    emitter.status.off('peer:synced', end)
    emitter.status.off('peer:disconnect', end)
  }
}

// The REPL: `hyper` is the emitter, and every event is printed as it is stored.
async function runRepl (emitter: HyperEmitter, options: CliOptions, io: CliIO): Promise<number> {
  const colors = io.stdoutIsTTY
  const terminal = io.stdinIsTTY && io.stdoutIsTTY
  const reading = new AbortController()
  // made before going online: 'now' is fixed here, so our EventPeer and early replicas are printed
  const events = emitter.events({ from: options.fromScratch ? 'beginning' : 'now', signal: reading.signal })
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

// The ndjson filter: events out on stdout, events in from stdin.
async function runFilter (emitter: HyperEmitter, options: CliOptions, io: CliIO, progress: Progress, notice: (line: string) => void): Promise<number> {
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
    if (options.db != null) {
      cursor = CURSOR
      if (options.fromScratch) await emitter.log.setCursor(CURSOR, 0)
      start = await emitter.log.getCursor(CURSOR)
    }
    writer = new EventWriter(emitter, io.stdout, cursor, start, stopping.signal)
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

/**
 * Writes the log as ndjson from `start`, live, one line at a time: a line is
 * written before the next event is taken, so the cursor never passes a line
 * that did not go out.
 */
class EventWriter {
  readonly done: Promise<void>
  readonly #emitter: HyperEmitter
  readonly #out: Writable
  readonly #cursor: string | undefined
  readonly #reading = new AbortController()
  #written: number
  #finishAt = Infinity

  constructor (emitter: HyperEmitter, out: Writable, cursor: string | undefined, start: number, signal: AbortSignal) {
    this.#emitter = emitter
    this.#out = out
    this.#cursor = cursor
    this.#written = start
    signal.addEventListener('abort', () => { this.#reading.abort() }, { once: true })
    if (signal.aborted) this.#reading.abort()
    const events = emitter.events({ from: 'beginning', cursor, signal: this.#reading.signal })
    this.done = this.#pump(events)
  }

  /** Ends once every event up to feed position `seq` is written. */
  finishAt (seq: number): void {
    this.#finishAt = seq
    if (this.#written >= seq) this.#reading.abort()
  }

  async #pump (events: AsyncGenerator<Event>): Promise<void> {
    try {
      for await (const event of events) {
        await writeLine(this.#out, toJsonLine(event))
        this.#written = event.seq
        if (this.#reading.signal.aborted || this.#written >= this.#finishAt) break
      }
    } finally {
      // breaking out counts the event in hand as taken; a failed write did not take it
      if (this.#cursor != null && !this.#emitter.log.closed) await this.#emitter.log.setCursor(this.#cursor, this.#written).catch(() => {})
    }
  }
}

function writeLine (out: Writable, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    out.write(line, err => { if (err != null) reject(err); else resolve() })
  })
}

interface LineImportInit {
  /** shows the import's progress, when given */
  progress: Progress | undefined
  /** total bytes, when known */
  size: number | undefined
  /** prints a skipped line's report */
  report: (line: string) => void
  /** prints a notice (not with --quiet) */
  notice: (line: string) => void
  signal: AbortSignal
}

/**
 * Emits every ndjson line of `input`; a line that is not an event of the
 * schema is reported with its number and skipped, and the rest still go in.
 */
class LineImport {
  readonly done: Promise<void>
  lines = 0
  skipped = 0
  #bytes = 0
  #eventPeers = 0

  constructor (emitter: HyperEmitter, input: Readable, init: LineImportInit) {
    this.done = this.#run(emitter, input, init)
  }

  async #run (emitter: HyperEmitter, input: Readable, init: LineImportInit): Promise<void> {
    const rl = createInterface({ input, crlfDelay: Infinity })
    const close = (): void => { rl.close() }
    init.signal.addEventListener('abort', close, { once: true })
    if (init.signal.aborted) close()
    const started = Date.now()
    init.progress?.set('import', tick => importStatus({ lines: this.lines, bytes: this.#bytes, total: init.size, ms: Date.now() - started, tick }))
    const pending = new Set<Promise<void>>()
    let fatal: unknown
    const skip = (n: number, err: unknown): void => {
      this.skipped++
      init.report(`hypem: line ${n}: ${err instanceof LineError ? err.message : describeError(err)}`)
    }
    try {
      for await (const line of rl) {
        const n = ++this.lines
        this.#bytes += Buffer.byteLength(line) + 1
        if (line.trim() === '') continue
        let event
        try {
          event = parseJsonLine(line)
        } catch (err) {
          skip(n, err)
          continue
        }
        // an EventPeer announces its author's own addresses: copied here it would
        // make this node announce another's, so exported EventPeers stay out
        if (event.name === 'EventPeer') {
          if (this.#eventPeers++ === 0) init.notice(`hypem: line ${n}: EventPeer lines are not imported (a node only announces itself)`)
          continue
        }
        const emitted: Promise<void> = emitter.emit(event.name, event.payload).then(() => {}, err => {
          if (BAD_EVENT_CODES.has((err as { code?: string }).code ?? '')) skip(n, err)
          else fatal ??= err
        }).finally(() => { pending.delete(emitted) })
        pending.add(emitted)
        if (pending.size >= MAX_PENDING_EMITS) await Promise.race(pending)
        if (fatal != null) break
      }
    } finally {
      rl.close()
      init.signal.removeEventListener('abort', close)
      await Promise.all(pending)
      init.progress?.delete('import')
    }
    if (fatal != null) throw new FatalError(`cannot store events: ${describeError(fatal)}`)
  }
}
