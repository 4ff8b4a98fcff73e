// The chaos run's network: Linux network namespaces that the run creates and
// removes, and nothing else.
//
//   hub namespace: bridges br0 and br1, and the hub end `hN` of each node's veth pair
//   node namespace nN: lo, and `eth0` with 10.233.0.(N+9)/24 (node 1 is .10)
//
// All nodes start on br0. Faults: a node's eth0 down (isolated), and the hub
// ends of some nodes moved to br1 (a split: br0 and br1 are not joined).
// Every interface is made inside a namespace of the run (a veth pair is made
// in the node namespace with its peer end sent straight to the hub), so the
// host's network is never touched. Namespace names carry the driver's pid and
// a run number; interface names are short because they only exist inside them.
import { execFile, execFileSync } from 'node:child_process'
import { statSync, readlinkSync } from 'node:fs'

export const SUBNET = '10.233.0'
const PREFIX = 'hechaos'
const IP_TIMEOUT = 10_000

export function nodeIp (i: number): string {
  return `${SUBNET}.${i + 10}`
}

function describe (err: unknown): string {
  const e = err as { code?: string, stderr?: string, message?: string, killed?: boolean }
  if (e.code === 'ENOENT') return 'the `ip` command was not found (install iproute2)'
  if (e.killed === true) return `timed out after ${IP_TIMEOUT} ms`
  return (e.stderr ?? '').toString().trim() || (e.message ?? String(err))
}

function ipSync (...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: IP_TIMEOUT })
}

/** Why `ip netns` cannot be used here, or undefined when it can. */
export function netnsProblem (): string | undefined {
  try {
    ipSync('-V')
  } catch (err) {
    return describe(err)
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return `not root (uid ${process.getuid()}): ip netns add needs root`
  const probe = `${PREFIX}-${process.pid}-probe`
  try {
    ipSync('netns', 'add', probe)
    ipSync('-n', probe, 'link', 'add', 'br0', 'type', 'bridge')
    ipSync('-n', probe, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'h1')
  } catch (err) {
    return `ip netns, bridges or veth pairs do not work: ${describe(err)}`
  } finally {
    try { ipSync('netns', 'delete', probe) } catch { /* it was not made */ }
  }
  return undefined
}

/** Whether a process `pid` runs. */
export function pidRuns (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM'
  }
}

/**
 * Removes the namespaces that an earlier chaos driver left behind when it was
 * killed (only ours: the prefix, and a pid that no longer runs). Returns them.
 */
export function removeStale (): string[] {
  let list: string
  try {
    list = ipSync('netns', 'list')
  } catch {
    return []
  }
  const removed: string[] = []
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0]
    const m = new RegExp(`^${PREFIX}-(\\d+)-`).exec(name)
    if (m == null || Number(m[1]) === process.pid || pidRuns(Number(m[1]))) continue
    try {
      ipSync('netns', 'delete', name)
      removed.push(name)
    } catch { /* someone else removed it */ }
  }
  return removed
}

const live = new Set<Testbed>()
process.on('exit', () => { for (const t of live) t.destroy() })

let runs = 0

export class Testbed {
  readonly hub: string
  readonly ns: string[]
  /** time spent in `ip` commands, and their number */
  ipMs = 0
  ipCalls = 0
  readonly #down = new Set<number>()
  readonly #onBr1 = new Set<number>()
  #made: string[] = []

  constructor (readonly nodes: number) {
    const base = `${PREFIX}-${process.pid}-${++runs}`
    this.hub = `${base}-hub`
    this.ns = Array.from({ length: nodes }, (_, i) => `${base}-n${i + 1}`)
  }

  async ip (...args: string[]): Promise<string> {
    const t0 = performance.now()
    this.ipCalls++
    try {
      return await new Promise<string>((resolve, reject) => {
        execFile('ip', args, { encoding: 'utf8', timeout: IP_TIMEOUT }, (err, stdout, stderr) => {
          if (err != null) reject(new Error(`ip ${args.join(' ')}: ${describe(Object.assign(err, { stderr }))}`, { cause: err }))
          else resolve(stdout)
        })
      })
    } finally {
      this.ipMs += performance.now() - t0
    }
  }

  async create (): Promise<void> {
    live.add(this)
    try {
      await this.#add(this.hub)
      await this.ip('-n', this.hub, 'link', 'set', 'lo', 'up')
      for (const br of ['br0', 'br1']) {
        // no STP: a port forwards as soon as it joins
        await this.ip('-n', this.hub, 'link', 'add', br, 'type', 'bridge', 'stp_state', '0')
        await this.ip('-n', this.hub, 'link', 'set', br, 'up')
      }
      for (let i = 0; i < this.nodes; i++) {
        const ns = this.ns[i]
        await this.#add(ns)
        await this.ip('-n', ns, 'link', 'set', 'lo', 'up')
        // made in the node namespace; its peer goes straight to the hub
        await this.ip('-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', hubEnd(i), 'netns', this.hub)
        await this.ip('-n', this.hub, 'link', 'set', hubEnd(i), 'master', 'br0')
        await this.ip('-n', this.hub, 'link', 'set', hubEnd(i), 'up')
        await this.ip('-n', ns, 'addr', 'add', `${nodeIp(i)}/24`, 'dev', 'eth0')
        await this.ip('-n', ns, 'link', 'set', 'eth0', 'up')
      }
      await this.check()
    } catch (err) {
      this.destroy()
      throw new Error(`could not set up the network namespaces: ${(err as Error).message}`, { cause: err })
    }
  }

  async #add (ns: string): Promise<void> {
    await this.ip('netns', 'add', ns)
    this.#made.push(ns)
  }

  /** Takes node i off the network: its eth0 goes down. */
  async isolate (i: number): Promise<void> {
    this.#down.add(i)
    await this.ip('-n', this.ns[i], 'link', 'set', 'eth0', 'down')
  }

  /** Brings node i's eth0 back up. */
  async reconnect (i: number): Promise<void> {
    await this.ip('-n', this.ns[i], 'link', 'set', 'eth0', 'up')
    this.#down.delete(i)
  }

  /** Moves node i's hub end to bridge br0 or br1. */
  async bridge (i: number, br: 'br0' | 'br1'): Promise<void> {
    if (br === 'br1') this.#onBr1.add(i)
    await this.ip('-n', this.hub, 'link', 'set', hubEnd(i), 'master', br)
    if (br === 'br0') this.#onBr1.delete(i)
  }

  /** Undoes every fault still in place; returns what it did. */
  async healAll (): Promise<string[]> {
    const done: string[] = []
    for (const i of [...this.#down]) {
      await this.reconnect(i)
      done.push(`n${i + 1} eth0 up`)
    }
    for (const i of [...this.#onBr1]) {
      await this.bridge(i, 'br0')
      done.push(`n${i + 1} back on br0`)
    }
    return done
  }

  /** Fails unless every eth0 is up with its address and every hub end is up on br0. */
  async check (): Promise<void> {
    const hub = JSON.parse(await this.ip('-j', '-n', this.hub, 'link', 'show')) as Array<{ ifname: string, master?: string, flags: string[] }>
    for (let i = 0; i < this.nodes; i++) {
      const end = hub.find(l => l.ifname === hubEnd(i))
      if (end == null) throw new Error(`${hubEnd(i)} is missing in ${this.hub}`)
      if (end.master !== 'br0') throw new Error(`${hubEnd(i)} is on ${String(end.master)}, not br0`)
      if (!end.flags.includes('UP')) throw new Error(`${hubEnd(i)} is down`)
      const [eth] = JSON.parse(await this.ip('-j', '-n', this.ns[i], 'addr', 'show', 'eth0')) as Array<{ flags: string[], addr_info: Array<{ local: string }> }>
      if (eth == null || !eth.flags.includes('UP')) throw new Error(`eth0 of ${this.ns[i]} is down`)
      if (!eth.addr_info.some(a => a.local === nodeIp(i))) throw new Error(`eth0 of ${this.ns[i]} lacks ${nodeIp(i)}`)
    }
  }

  /** Whether process `pid` runs in node i's namespace. */
  holds (i: number, pid: number): boolean {
    const ino = statSync(`/run/netns/${this.ns[i]}`).ino
    return readlinkSync(`/proc/${pid}/ns/net`) === `net:[${ino}]`
  }

  /** Removes the namespaces (and with them every interface); idempotent, synchronous. */
  destroy (): void {
    for (const ns of this.#made.reverse()) {
      try { ipSync('netns', 'delete', ns) } catch { /* gone already */ }
    }
    this.#made = []
    live.delete(this)
  }

  /** Namespaces of this testbed that still exist. */
  leftovers (): string[] {
    let list: string
    try { list = ipSync('netns', 'list') } catch { return [] }
    const names = new Set(list.split('\n').map(l => l.split(' ')[0]))
    return [this.hub, ...this.ns].filter(n => names.has(n))
  }
}

function hubEnd (i: number): string {
  return `h${i + 1}`
}
