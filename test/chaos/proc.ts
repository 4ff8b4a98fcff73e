// The driver's handle on one incarnation of a chaos node: the process that
// `ip netns exec NS node dist/test/chaos/node.js` became (ip execs, so the
// pid is node's: checked through /proc), and what it printed.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readlinkSync, realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const PROGRAM = fileURLToPath(new URL('./node.js', import.meta.url))

/** One JSON line of node.js. */
export interface Line { t: string, at?: number, tag?: string, [key: string]: unknown }

/** A status line: peer:connect, peer:disconnect, peer:refused, peer:invalid. */
export interface StatusLine extends Line { t: 'connect' | 'disconnect' | 'refused' | 'invalid', peer: string, at: number }

const STATUS = new Set(['connect', 'disconnect', 'refused', 'invalid'])
const KEEP_LINES = 500

/** Every process started: SIGKILLed when the driver exits. */
const running = new Set<NodeProcess>()
process.on('exit', () => { for (const p of running) p.proc.kill('SIGKILL') })

interface Waiter {
  test: (l: Line) => boolean
  resolve: (l: Line) => void
  reject: (e: Error) => void
  what: string
}

export class NodeProcess {
  readonly proc: ChildProcess
  /** acknowledged emits: [value, id] */
  readonly acks: Array<[number, string]> = []
  readonly status: StatusLine[] = []
  /** the last other lines (dump parts are not kept here) */
  readonly lines: Line[] = []
  readonly errors: string[] = []
  readonly junk: string[] = []
  stderr = ''
  readonly startedAt = Date.now()
  exit: { code: number | null, signal: NodeJS.Signals | null, at: number } | undefined
  readonly exited: Promise<void>
  /** set when the driver ends it: an exit is then no surprise */
  ending = false
  #rest = ''
  #tags = 0
  readonly #waiters = new Set<Waiter>()
  readonly #dumps = new Map<string, Array<[number, string]>>()

  constructor (readonly name: string, ns: string, config: Record<string, unknown>) {
    this.proc = spawn('ip', ['netns', 'exec', ns, process.execPath, PROGRAM, JSON.stringify(config)], {
      stdio: ['pipe', 'pipe', 'pipe']
    })
    running.add(this)
    this.proc.stdin!.on('error', () => {})
    this.proc.stdout!.setEncoding('utf8')
    this.proc.stdout!.on('data', (chunk: string) => { this.#data(chunk) })
    this.proc.stderr!.setEncoding('utf8')
    this.proc.stderr!.on('data', (d: string) => { this.stderr = (this.stderr + d).slice(-20_000) })
    this.exited = new Promise(resolve => {
      // 'close': stdout is read to its end too
      this.proc.once('close', (code, signal) => {
        if (this.#rest !== '') this.junk.push(`(cut short) ${this.#rest.slice(0, 200)}`)
        this.exit = { code, signal, at: Date.now() }
        running.delete(this)
        for (const w of this.#waiters) w.reject(new Error(`${this.name} exited (code ${String(code)}, signal ${String(signal)}) while waiting for ${w.what}${this.tail()}`))
        this.#waiters.clear()
        resolve()
      })
      this.proc.once('error', err => { this.stderr += `\nspawn failed: ${err.message}` })
    })
  }

  get pid (): number {
    return this.proc.pid ?? -1
  }

  get alive (): boolean {
    return this.exit === undefined
  }

  #data (chunk: string): void {
    const parts = (this.#rest + chunk).split('\n')
    this.#rest = parts.pop()!
    for (const text of parts) {
      if (text === '') continue
      let line: Line
      try {
        line = JSON.parse(text) as Line
      } catch {
        this.junk.push(text.slice(0, 200))
        continue
      }
      this.#line(line)
    }
  }

  #line (line: Line): void {
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
    for (const w of [...this.#waiters]) {
      if (w.test(line)) {
        this.#waiters.delete(w)
        w.resolve(line)
      }
    }
  }

  /** The first line (already printed or to come) that passes `test`, within `ms`. */
  waitFor (test: (l: Line) => boolean, ms: number, what: string): Promise<Line> {
    const seen = this.lines.find(test)
    if (seen != null) return Promise.resolve(seen)
    if (!this.alive) return Promise.reject(new Error(`${this.name} has exited (code ${String(this.exit?.code)}, signal ${String(this.exit?.signal)}); it cannot ${what}${this.tail()}`))
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(w)
        reject(new Error(`${this.name}: timed out after ${ms} ms waiting for ${what}${this.tail()}`))
      }, ms)
      const w: Waiter = {
        test,
        what,
        resolve: l => { clearTimeout(timer); resolve(l) },
        reject: e => { clearTimeout(timer); reject(e) }
      }
      this.#waiters.add(w)
    })
  }

  send (cmd: Record<string, unknown>): void {
    if (this.alive && this.proc.stdin!.writable) this.proc.stdin!.write(JSON.stringify(cmd) + '\n')
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

  /** Asks it to close and exit; SIGKILL after `ms`. */
  async stop (ms = 10_000): Promise<void> {
    if (!this.alive) return
    this.ending = true
    this.send({ cmd: 'close' })
    const timer = setTimeout(() => { this.proc.kill('SIGKILL') }, ms)
    await this.exited
    clearTimeout(timer)
  }

  /** Its last words, for error messages. */
  tail (): string {
    const errors = this.errors.slice(-3).map(e => `\n  error: ${e.slice(0, 1500)}`).join('')
    const stderr = this.stderr.trim() === '' ? '' : `\n  stderr: ${this.stderr.trim().slice(-1500)}`
    const junk = this.junk.length === 0 ? '' : `\n  junk: ${this.junk.slice(-3).join(' | ')}`
    return errors + stderr + junk
  }
}
