import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import type { HyperEmitter } from '../index.js'
import { describeError, LineError, parseJsonLine } from './format.js'
import { FatalError } from './problems.js'
import { importStatus, type Progress } from './progress.js'

/** Input lines being emitted at once: enough for commits to group, few enough to bound memory. */
const MAX_PENDING_EMITS = 256
/** InvalidMessageError and UnknownEventError: the line is wrong, not the node. */
const BAD_EVENT_CODES = new Set(['ERR_INVALID_MESSAGE', 'ERR_UNKNOWN_EVENT'])

export interface LineImportInit {
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
export class LineImport {
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
        const emitted: Promise<void> = emitter.emit(event.name, event.payload, { key: event.key }).then(() => {}, err => {
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
