// The driver's handle on one cluster-node.js process: commands out, JSON
// lines in. Every process started is SIGKILLed when the driver exits, and a
// node exits by itself when its stdin ends (the driver is gone).
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const PROGRAM = fileURLToPath(new URL('./cluster-node.js', import.meta.url))

/** One JSON line of cluster-node.js. */
export interface Line { t: string, at: number, tag?: string, [key: string]: unknown }

/** A session that began or ended, as the node's status reported it. */
export interface StatusChange { t: 'connect' | 'disconnect', peer: string, at: number }

const running = new Set<NodeProcess>()
process.on('exit', () => { for (const p of running) p.proc.kill('SIGKILL') })

interface Waiter {
  test: (l: Line) => boolean
  resolve: (l: Line) => void
  reject: (e: Error) => void
}

export class NodeProcess {
  readonly proc: ChildProcess
  readonly changes: StatusChange[] = []
  readonly refused: Line[] = []
  readonly errors: string[] = []
  /** mark of a Hello event -> when this node's listener saw it */
  readonly seen = new Map<string, number>()
  peerId = ''
  stderr = ''
  exit: { code: number | null, signal: NodeJS.Signals | null } | undefined
  readonly exited: Promise<void>
  #rest = ''
  #tags = 0
  readonly #waiters = new Set<Waiter>()
  readonly #seenWaiters = new Set<() => void>()

  constructor (readonly index: number, config: Record<string, unknown>) {
    this.proc = spawn(process.execPath, [PROGRAM, JSON.stringify({ index, ...config })], { stdio: ['pipe', 'pipe', 'pipe'] })
    running.add(this)
    this.proc.stdin!.on('error', () => {})
    this.proc.stdout!.setEncoding('utf8')
    this.proc.stdout!.on('data', (chunk: string) => { this.#data(chunk) })
    this.proc.stderr!.setEncoding('utf8')
    this.proc.stderr!.on('data', (d: string) => { this.stderr = (this.stderr + d).slice(-4000) })
    this.exited = new Promise(resolve => {
      this.proc.once('close', (code, signal) => {
        this.exit = { code, signal }
        running.delete(this)
        for (const w of this.#waiters) w.reject(new Error(`node ${index} exited (code ${String(code)}, signal ${String(signal)})${this.tail()}`))
        this.#waiters.clear()
        for (const wake of this.#seenWaiters) wake()
        resolve()
      })
      this.proc.once('error', err => { this.stderr += `\nspawn failed: ${err.message}` })
    })
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
        this.errors.push(`not JSON: ${text.slice(0, 200)}`)
        continue
      }
      this.#line(line)
    }
  }

  #line (line: Line): void {
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
        for (const wake of this.#seenWaiters) wake()
        return
      case 'open':
        this.peerId = String(line.peerId)
        break
      case 'error':
        this.errors.push(String(line.message))
        break
    }
    for (const w of [...this.#waiters]) {
      if (w.test(line)) {
        this.#waiters.delete(w)
        w.resolve(line)
      }
    }
  }

  /** The next line that passes `test`, within `ms`. */
  waitFor (test: (l: Line) => boolean, ms: number, what: string): Promise<Line> {
    if (!this.alive) return Promise.reject(new Error(`node ${this.index} has exited; it cannot ${what}${this.tail()}`))
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(w)
        reject(new Error(`node ${this.index}: no ${what} within ${ms} ms`))
      }, ms)
      const w: Waiter = {
        test,
        resolve: l => { clearTimeout(timer); resolve(l) },
        reject: e => { clearTimeout(timer); reject(e) }
      }
      this.#waiters.add(w)
    })
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

  send (cmd: Record<string, unknown>): void {
    if (this.alive && this.proc.stdin!.writable) this.proc.stdin!.write(JSON.stringify(cmd) + '\n')
  }

  /** Resolves once the Hello event with `mark` has reached this node, or it exited, or `until` passed. */
  async seenBy (mark: string, until: number): Promise<number | undefined> {
    while (!this.seen.has(mark) && this.alive && Date.now() < until) {
      await new Promise<void>(resolve => {
        const wake = (): void => { this.#seenWaiters.delete(wake); clearTimeout(timer); resolve() }
        const timer = setTimeout(wake, until - Date.now())
        this.#seenWaiters.add(wake)
      })
    }
    return this.seen.get(mark)
  }

  /** Asks it to close and exit; SIGKILL after `ms`. */
  async stop (ms = 10_000): Promise<void> {
    if (!this.alive) return
    this.send({ cmd: 'close' })
    this.proc.stdin!.end()
    const timer = setTimeout(() => { this.proc.kill('SIGKILL') }, ms)
    await this.exited
    clearTimeout(timer)
  }

  kill (): void {
    if (this.alive) this.proc.kill('SIGKILL')
  }

  tail (): string {
    const errors = this.errors.slice(-2).map(e => `\n  error: ${e.slice(0, 500)}`).join('')
    const stderr = this.stderr.trim() === '' ? '' : `\n  stderr: ${this.stderr.trim().slice(-800)}`
    return errors + stderr
  }
}

/** SIGKILLs every node process still running. */
export function killAll (): void {
  for (const p of running) p.kill()
}
