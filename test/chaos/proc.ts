// The driver's handle on one incarnation of a chaos node: the process that
// `ip netns exec NS node dist/test/chaos/node.js` became (ip execs, so the
// pid is node's: checked through /proc), and what it printed.
import { existsSync, readlinkSync, realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { LineProcess } from '../line-process.js'

const PROGRAM = fileURLToPath(new URL('./node.js', import.meta.url))

/** One JSON line of node.js. */
export interface Line { t: string, at?: number, tag?: string, [key: string]: unknown }

/** A status line: peer:connect, peer:disconnect, peer:refused, peer:invalid. */
export interface StatusLine extends Line { t: 'connect' | 'disconnect' | 'refused' | 'invalid', peer: string, at: number }

const STATUS = new Set(['connect', 'disconnect', 'refused', 'invalid'])
const KEEP_LINES = 500

export class NodeProcess extends LineProcess<Line> {
  /** acknowledged emits: [value, id] */
  readonly acks: Array<[number, string]> = []
  readonly status: StatusLine[] = []
  /** the last other lines (dump parts are not kept here) */
  readonly lines: Line[] = []
  readonly errors: string[] = []
  readonly startedAt = Date.now()
  /** set when the driver ends it: an exit is then no surprise */
  ending = false
  #tags = 0
  readonly #dumps = new Map<string, Array<[number, string]>>()

  constructor (name: string, ns: string, config: Record<string, unknown>) {
    super(name, 'ip', ['netns', 'exec', ns, process.execPath, PROGRAM, JSON.stringify(config)])
  }

  get pid (): number {
    return this.proc.pid ?? -1
  }

  protected take (line: Line): void {
    if (line.t === 'a') {
      this.acks.push([line.v as number, line.id as string])
      return
    }
    if (line.t === 'dump') {
      const list = this.#dumps.get(line.tag!) ?? []
      for (const x of line.values as Array<[number, string]>) list.push(x)
      this.#dumps.set(line.tag!, list)
      return
    }
    if (STATUS.has(line.t)) this.status.push(line as StatusLine)
    else {
      this.lines.push(line)
      if (this.lines.length > KEEP_LINES) this.lines.shift()
    }
    if (line.t === 'error') this.errors.push(String(line.message))
  }

  /** A line cut short at exit is junk here too: a run must print none. */
  protected override torn (text: string): void {
    this.junk.push(`(cut short) ${text.slice(0, 200)}`)
  }

  /** The first line (already printed or to come) that passes `test`, within `ms`. */
  async waitFor (test: (l: Line) => boolean, ms: number, what: string): Promise<Line> {
    return this.lines.find(test) ?? await this.nextLine(test, ms, what)
  }

  /** Sends `cmd` with a fresh tag and waits for the answer of type `reply` with that tag. */
  async request (cmd: string, reply: string, ms: number): Promise<Line> {
    const tag = `${cmd}-${++this.#tags}`
    const answer = this.waitFor(l => l.t === reply && l.tag === tag, ms, `its answer to ${cmd}`)
    this.send({ cmd, tag })
    return answer
  }

  /** Every Integer value in its log with its entry id. */
  async dump (ms: number): Promise<Array<[number, string]>> {
    const tag = `dump-${++this.#tags}`
    this.#dumps.set(tag, [])
    const end = this.waitFor(l => l.t === 'dump-end' && l.tag === tag, ms, 'its dump')
    this.send({ cmd: 'dump', tag })
    const last = await end
    const values = this.#dumps.get(tag)!
    this.#dumps.delete(tag)
    if (values.length !== last.count) throw new Error(`${this.name}: dump has ${values.length} values, it said ${String(last.count)}`)
    return values
  }

  /**
   * Checks that the pid is a node process (not `ip`) in namespace check: the
   * process SIGKILL will hit is the emitter's.
   */
  checkProcess (inNamespace: (pid: number) => boolean): void {
    const exe = readlinkSync(`/proc/${this.pid}/exe`)
    if (exe !== realpathSync(process.execPath)) throw new Error(`${this.name}: pid ${this.pid} runs ${exe}, not node: SIGKILL would not hit the emitter`)
    if (!inNamespace(this.pid)) throw new Error(`${this.name}: pid ${this.pid} is not in its network namespace`)
  }

  /** SIGKILL; resolves once it is gone (and checked gone), or throws. */
  async kill9 (ms = 5000): Promise<void> {
    this.ending = true
    const pid = this.pid
    this.proc.kill('SIGKILL')
    const timer = new Promise<'late'>(resolve => { setTimeout(() => { resolve('late') }, ms).unref() })
    if (await Promise.race([this.exited.then(() => 'ok' as const), timer]) === 'late') {
      throw new Error(`${this.name}: pid ${pid} still runs ${ms} ms after SIGKILL`)
    }
    if (this.exit?.signal !== 'SIGKILL') throw new Error(`${this.name}: pid ${pid} ended with code ${String(this.exit?.code)}, signal ${String(this.exit?.signal)}, not by SIGKILL`)
    if (existsSync(`/proc/${pid}`)) {
      // reaped, so the pid can only be another process now
      let cmd = ''
      try { cmd = readlinkSync(`/proc/${pid}/exe`) } catch { /* gone meanwhile */ }
      if (cmd === realpathSync(process.execPath)) throw new Error(`${this.name}: pid ${pid} is a node process again right after SIGKILL`)
    }
  }

  override async stop (ms = 10_000): Promise<void> {
    if (this.alive) this.ending = true
    await super.stop(ms)
  }

  override tail (): string {
    return this.errors.slice(-3).map(e => `\n  error: ${e.slice(0, 1500)}`).join('') + super.tail()
  }
}
