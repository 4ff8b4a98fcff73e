// The driver's handle on one cluster-node.js process: commands out, JSON
// lines in. Every process started is SIGKILLed when the driver exits, and a
// node exits by itself when its stdin ends (the driver is gone).
import { fileURLToPath } from 'node:url'
import { LineProcess } from '../test/line-process.js'

export { killAll } from '../test/line-process.js'

const PROGRAM = fileURLToPath(new URL('./cluster-node.js', import.meta.url))

/** One JSON line of cluster-node.js. */
export interface Line { t: string, at: number, tag?: string, [key: string]: unknown }

/** A session that began or ended, as the node's status reported it. */
export interface StatusChange { t: 'connect' | 'disconnect', peer: string, at: number }

export class NodeProcess extends LineProcess<Line> {
  readonly changes: StatusChange[] = []
  readonly refused: Line[] = []
  /** mark of a Hello event -> when this node's listener saw it */
  readonly seen = new Map<string, number>()
  peerId = ''
  readonly #errors: string[] = []
  #tags = 0

  constructor (readonly index: number, config: Record<string, unknown>) {
    super(`node ${index}`, process.execPath, [PROGRAM, JSON.stringify({ index, ...config })])
  }

  /** Its error lines, then the lines it printed that were not JSON. */
  get errors (): string[] {
    return [...this.#errors, ...this.junk.map(text => `not JSON: ${text}`)]
  }

  protected take (line: Line): void {
    switch (line.t) {
      case 'connect':
      case 'disconnect':
        this.changes.push(line as unknown as StatusChange)
        return
      case 'refused':
      case 'invalid':
        this.refused.push(line)
        return
      case 'seen':
        this.seen.set(String(line.tag), line.at)
        return
      case 'open':
        this.peerId = String(line.peerId)
        return
      case 'error':
        this.#errors.push(String(line.message))
    }
  }

  /** The next line that passes `test`, within `ms`. */
  waitFor (test: (l: Line) => boolean, ms: number, what: string): Promise<Line> {
    return this.nextLine(test, ms, what)
  }

  /** Sends a command and resolves with its reply; rejects with the node's error for it, or after `ms`. */
  async request (cmd: string, args: Record<string, unknown>, ms: number): Promise<Line> {
    const tag = `${cmd}-${++this.#tags}`
    const answer = this.waitFor(l => l.tag === tag && (l.t === 'reply' || l.t === 'error'), ms, `answer to ${cmd}`)
    this.send({ cmd, tag, ...args })
    const line = await answer
    if (line.t === 'error') throw new Error(`node ${this.index}: ${String(line.message)}`)
    return line
  }

  /** Resolves once the Hello event with `mark` has reached this node, or it exited, or `until` passed. */
  async seenBy (mark: string, until: number): Promise<number | undefined> {
    if (!this.seen.has(mark) && this.alive && Date.now() < until) {
      await this.nextLine(l => l.t === 'seen' && l.tag === mark, until - Date.now(), `mark ${mark}`).catch(() => {})
    }
    return this.seen.get(mark)
  }

  /** Asks it to close and exit, and ends its stdin (it exits then too); SIGKILL after `ms`. */
  override async stop (ms = 10_000): Promise<void> {
    const stopped = super.stop(ms) // sends close before it awaits
    this.proc.stdin!.end()
    await stopped
  }

  kill (): void {
    if (this.alive) this.proc.kill('SIGKILL')
  }

  override tail (): string {
    return this.#errors.slice(-2).map(e => `\n  error: ${e.slice(0, 500)}`).join('') + super.tail()
  }
}
