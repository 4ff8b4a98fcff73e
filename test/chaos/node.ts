// One node of the chaos run: a HyperEmitter on classic-level, in its own OS
// process, started by the driver inside the node's network namespace:
//
//   ip netns exec NS node dist/test/chaos/node.js '<config JSON>'
//
// Config: {node, incarnation, db, host, port, connect: [{host, port}], rate,
// group, emitNow, maxLife}. It listens on host:port. On `connect` it connects
// explicitly to each address of `connect` (the driver sends those only at a
// node's first start; a restarted node must find its peers by itself). It
// emits Integer { value } with value = node * 10_000_000 + incarnation *
// 1_000_000 + k (k = 0, 1, ...), `rate` a second in concurrent groups of
// `group`, from the `emit` command on (or at once with emitNow).
//
// stdout, one JSON line each (t = type; at = Date.now()):
//   {t:'boot', uptime, at}                       modules loaded (uptime: ms since the process started)
//   {t:'open', peerId, pid, length, uptime, at}  the db is open (and, with saved peers, the node started)
//   {t:'ready', addrs, at}                       listening
//   {t:'connected', to, peer, at} / {t:'connect-error', to, message, at}, then {t:'connect-done', at}
//   {t:'emitting', at}
//   {t:'a', v, id}                               an emit resolved (acknowledged)
//   {t:'connect'|'disconnect', peer, at}         status peer:connect / peer:disconnect
//   {t:'refused', peer, code, reason, remote, at}
//   {t:'invalid', peer, count, reason, at}
//   {t:'stopped', tag, issued, acked, failed, length, at}   emitting stopped, nothing in flight
//   {t:'heads', tag, length, heads, peers, at}
//   {t:'state', tag, length, heads, verify, peers, at}
//   {t:'dump', tag, values: [[value, id], ...]} ... then {t:'dump-end', tag, count, at}
//   {t:'error', message, at}                     something failed
//   {t:'closed', at}
// Writes to stdout are synchronous when it is a pipe (Linux), so a line
// printed before a SIGKILL reaches the driver.
//
// stdin commands (JSON lines): connect, emit, stop, heads, state, dump, close.
// It closes and exits when stdin ends (the driver died) and after maxLife ms.
import { createInterface } from 'node:readline'
import { HyperEmitter } from '../../src/index.js'
import { fixture } from '../helpers.js'

interface Config {
  node: number
  incarnation: number
  db: string
  host: string
  port: number
  connect: Array<{ host: string, port: number }>
  rate: number
  group: number
  emitNow: boolean
  maxLife: number
}

const config = JSON.parse(process.argv[2] ?? '{}') as Config
/** values of one incarnation: k stays below this */
const SPAN = 1_000_000

function out (line: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(line) + '\n')
}

let emitter: HyperEmitter | undefined
let closing: Promise<void> | undefined

function shutdown (code: number): Promise<void> {
  closing ??= (async () => {
    stopEmitting()
    const force = setTimeout(() => { process.exit(code === 0 ? 3 : code) }, 10_000)
    try {
      await emitter?.close()
      out({ t: 'closed', at: Date.now() })
    } catch (err) {
      out({ t: 'error', message: `close failed: ${(err as Error).stack ?? String(err)}`, at: Date.now() })
      code = code === 0 ? 1 : code
    }
    clearTimeout(force)
    process.exit(code)
  })()
  return closing
}

// shutdown() is not awaited: it never rejects (close errors are reported) and it exits
setTimeout(() => {
  out({ t: 'error', message: `alive for ${config.maxLife} ms: exiting`, at: Date.now() })
  void shutdown(1)
}, config.maxLife).unref()
process.stdin.on('end', () => { void shutdown(0) })
process.stdin.on('error', () => { void shutdown(0) })
process.on('SIGTERM', () => { void shutdown(0) })

// emitting
let timer: ReturnType<typeof setInterval> | undefined
let k = 0
let acked = 0
let failed = 0
const inFlight = new Set<Promise<void>>()

function emitOne (e: HyperEmitter): void {
  if (k >= SPAN) {
    if (k === SPAN) out({ t: 'error', message: `value space of incarnation ${config.incarnation} used up`, at: Date.now() })
    k++
    stopEmitting()
    return
  }
  const v = config.node * 10_000_000 + config.incarnation * SPAN + k++
  const p = e.emit('Integer', { value: v }).then(r => {
    acked++
    out({ t: 'a', v, id: r.id })
  }, (err: Error & { code?: string }) => {
    failed++
    out({ t: 'error', message: `emit of ${v} failed: ${err.code ?? ''} ${err.message}`, at: Date.now() })
  }).finally(() => { inFlight.delete(p) })
  inFlight.add(p)
}

function startEmitting (e: HyperEmitter): void {
  if (timer != null) return
  out({ t: 'emitting', at: Date.now() })
  const start = Date.now()
  const tick = Math.max(5, Math.round(1000 * config.group / config.rate))
  timer = setInterval(() => {
    // keep to the rate on average: a late tick makes up, a little at a time
    const due = Math.floor((Date.now() - start) * config.rate / 1000) - k
    for (let n = Math.min(due, 4 * config.group); n > 0; n--) emitOne(e)
  }, tick)
}

function stopEmitting (): void {
  if (timer != null) clearInterval(timer)
  timer = undefined
}

function headsOf (e: HyperEmitter): string[] {
  return e.log.heads().map(h => Buffer.from(h).toString('hex')).sort()
}

async function connectAll (e: HyperEmitter): Promise<void> {
  await Promise.all(config.connect.map(async to => {
    const where = `${to.host}:${to.port}`
    try {
      const peer = await e.connect(to.port, to.host)
      out({ t: 'connected', to: where, peer, at: Date.now() })
    } catch (err) {
      out({ t: 'connect-error', to: where, message: (err as Error).message, at: Date.now() })
    }
  }))
  out({ t: 'connect-done', at: Date.now() })
}

async function command (e: HyperEmitter, line: string): Promise<void> {
  const c = JSON.parse(line) as { cmd: string, tag?: string }
  const tag = c.tag
  switch (c.cmd) {
    case 'connect':
      await connectAll(e)
      break
    case 'emit':
      startEmitting(e)
      break
    case 'stop':
      stopEmitting()
      while (inFlight.size > 0) await Promise.allSettled([...inFlight])
      out({ t: 'stopped', tag, issued: k, acked, failed, length: e.log.length, at: Date.now() })
      break
    case 'heads':
      out({ t: 'heads', tag, length: e.log.length, heads: headsOf(e), peers: e.peers().map(p => p.id), at: Date.now() })
      break
    case 'state': {
      const v = await e.verify()
      out({
        t: 'state',
        tag,
        length: e.log.length,
        heads: headsOf(e),
        verify: { ok: v.ok, entries: v.entries, authors: v.authors, problems: v.problems.slice(0, 5) },
        peers: e.peers().map(p => p.id),
        at: Date.now()
      })
      break
    }
    case 'dump': {
      let values: Array<[number, string]> = []
      let count = 0
      for await (const ev of e.events({ from: 'beginning', live: false })) {
        if (ev.name !== 'Integer') continue
        values.push([(ev.payload as { value: number }).value, ev.id])
        count++
        if (values.length === 2000) {
          out({ t: 'dump', tag, values })
          values = []
        }
      }
      if (values.length > 0) out({ t: 'dump', tag, values })
      out({ t: 'dump-end', tag, count, length: e.log.length, at: Date.now() })
      break
    }
    case 'close':
      await shutdown(0)
      break
    default:
      out({ t: 'error', message: `unknown command ${c.cmd}`, at: Date.now() })
  }
}

try {
  // ms since the process started, to tell node's own start from the db's open
  out({ t: 'boot', uptime: Math.round(performance.now()), at: Date.now() })
  const e = new HyperEmitter(config.db, await fixture('messages.proto'))
  emitter = e
  // before the db opens: a node with saved peers goes online as soon as it is open
  e.status.on('peer:connect', ({ peer }: { peer: string }) => { out({ t: 'connect', peer, at: Date.now() }) })
  e.status.on('peer:disconnect', ({ peer }: { peer: string }) => { out({ t: 'disconnect', peer, at: Date.now() }) })
  e.status.on('peer:refused', ({ peer, code, reason, remote }: { peer: string, code: string, reason: string, remote: boolean }) => {
    out({ t: 'refused', peer, code, reason, remote, at: Date.now() })
  })
  e.status.on('peer:invalid', ({ peer, count, reason }: { peer: string, count: number, reason: string }) => {
    out({ t: 'invalid', peer, count, reason, at: Date.now() })
  })
  e.status.on('listener-error', (err: Error) => { out({ t: 'error', message: `listener: ${err.message}`, at: Date.now() }) })
  await e.ready()
  out({ t: 'open', peerId: e.peerId, pid: process.pid, length: e.log.length, uptime: Math.round(performance.now()), at: Date.now() })
  createInterface({ input: process.stdin }).on('line', line => {
    command(e, line).catch(err => { out({ t: 'error', message: `command ${line}: ${(err as Error).stack ?? String(err)}`, at: Date.now() }) })
  })
  const addrs = await e.listen(config.port, config.host)
  out({ t: 'ready', addrs: addrs.map(a => a.toString()), at: Date.now() })
  if (config.emitNow) startEmitting(e)
} catch (err) {
  out({ t: 'error', message: (err as Error).stack ?? String(err), at: Date.now() })
  await shutdown(1)
}
