// A child program for test/process.test.ts and test/crash.test.ts: one
// HyperEmitter in its own OS process, driven by a JSON config (argv[2]) and by
// JSON commands on stdin, reporting on stdout as JSON lines.
//
//   node dist/test/child-emitter.js '{"db":"/tmp/x/db","verify":true,...}'
//
// Config (every field optional but db):
//   db        a classic-level folder, or "memory" for a MemoryLevel
//   schema    a file of test/fixtures (default messages.proto)
//   preverify before the emitter opens (and goes online to its saved peers), open
//             the db as a bare Log, verify() it while nothing else writes,
//             close it, and report it as a 'verify' line
//   verify    run the emitter's verify() first and report it
//   fsync     the emitter's fsync option
//   check     a JSON file {from, acked: [[value, id], ...]}: after verify (and
//             with preverify, on the bare Log too), check
//             that every acknowledged value of the run before is in the log, at
//             a feed position past `from`, once, under its id
//   listen    listen on 127.0.0.1, port 0
//   port      the port to listen on instead of 0
//   connect   a multiaddr to connect to (explicitly, besides any saved peer)
//   progress  report the log length each time it passes a multiple of this
//   report    report every Hello and Integer event delivered to listeners
//   names     the event names `report` listens to instead
//   unknown   report every event a reader yields as unknown (its schema lacks it)
//   options   more HyperEmitter options (JSON), e.g. {"activePeers": 3}
//   emit      {base, concurrency, pauseMs, keyed}: emit Integer {value: base, base+1, ...} with
//             `concurrency` emits in flight (each waiting pauseMs after its last), until killed
//             or told to stop; each RESOLVED emit is reported as {t:'a',v,id}; with keyed,
//             each with the idempotency key `v${value}`
//   stallWrites  once open, level's batch() never ends: commits stay in the write-ahead
//             file only (what a crash before level's write leaves)
//
// Lines (t = type):
//   {t:'open', length, id, peerId, vector}       the db is open
//   {t:'verify', ok, entries, problems, length}  the verify() report
//   {t:'check', acked, missing, wrongPlace, duplicates}
//   {t:'ready', addrs, peerId, length}           listening (listen) / set up
//   {t:'connected', peer}                        connect() resolved
//   {t:'p', length, remote}                      progress (remote: entries not authored here)
//   {t:'synced', length, received}              synced() resolved
//   {t:'emitting'}                               about to start the emit workers
//   {t:'a', v, id}                               an emit resolved (acknowledged)
//   {t:'emit-error', v, name, code, message}     an emit rejected; emitting stops
//   {t:'event', name, payload, seq}              (report) a delivered event
//   {t:'unknown', name, id, bytes}              (unknown) an event the schema lacks
//   {t:'refused', peer, code, reason, remote}    a peer:refused status event
//   {t:'invalid', peer, count, reason}           a peer:invalid status event
//   {t:'emitted', tag, id, seq}                  a stdin `emit` command resolved
//   {t:'state', length, heads, verify, peers, connections, vector}  answer to `state`
//   {t:'length', tag, length}                    answer to `length`
//   {t:'closed'}                                 after close, before exit 0
//   {t:'error', message}                         a failure; then exit 1
//
// stdin commands: {cmd:'emit', name, msg, tag, key}, {cmd:'burst', name, count, base, tag}
// (count Integer emits at once), {cmd:'stop'} (stop the emit workers),
// {cmd:'length', tag}, {cmd:'state', tag} (with verify), {cmd:'close'}.
// It closes and exits when stdin ends (the parent died), and never lives
// longer than MAX_LIFE ms.
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { MemoryLevel } from 'memory-level'
import { ClassicLevel } from 'classic-level'
import { HyperEmitter, Log, Schema, type Emitted, type HyperEmitterOptions } from '../src/index.js'
import { fixture } from './helpers.js'

interface Config {
  db: string
  schema?: string
  port?: number
  names?: string[]
  unknown?: boolean
  preverify?: boolean
  verify?: boolean
  fsync?: boolean
  check?: string
  listen?: boolean
  connect?: string
  progress?: number
  report?: boolean
  emit?: { base: number, concurrency: number, pauseMs?: number, keyed?: boolean }
  stallWrites?: boolean
  options?: HyperEmitterOptions
}

const MAX_LIFE = 90_000

function out (line: Record<string, unknown>): void {
  // stdout to a pipe is synchronous on Linux: once write returns, the line
  // is in the pipe and survives a SIGKILL of this process
  process.stdout.write(JSON.stringify(line) + '\n')
}

const config = JSON.parse(process.argv[2] ?? '{}') as Config
let emitter: HyperEmitter | undefined
let closing: Promise<void> | undefined
let emitting = false

function shutdown (code: number): Promise<void> {
  closing ??= (async () => {
    emitting = false
    const force = setTimeout(() => { process.exit(code === 0 ? 3 : code) }, 10_000)
    try {
      await emitter?.close()
      if (code === 0) out({ t: 'closed' })
    } catch (err) {
      out({ t: 'error', message: `close failed: ${(err as Error).stack ?? String(err)}` })
      code = code === 0 ? 1 : code
    }
    clearTimeout(force)
    process.exit(code)
  })()
  return closing
}

// shutdown() is not awaited: it never rejects (close errors are reported) and it exits
setTimeout(() => {
  out({ t: 'error', message: `alive for ${MAX_LIFE} ms: exiting` })
  void shutdown(1)
}, MAX_LIFE).unref()

process.stdin.on('end', () => { void shutdown(0) })
process.stdin.on('error', () => { void shutdown(0) })

function headsOf (e: HyperEmitter): string[] {
  return e.log.heads().map(h => Buffer.from(h).toString('hex')).sort()
}

async function check (log: Log, schema: Schema, file: string): Promise<void> {
  const { from, acked } = JSON.parse(readFileSync(file, 'utf8')) as { from: number, acked: Array<[number, string]> }
  // this node's own emits of the last run are past `from` in its feed
  const found = new Map<string, { value: number, count: number }>()
  for (let seq = from + 1; seq <= log.length; seq += 4096) {
    for (const le of await log.read(seq, 4096)) {
      if (le.entry.name !== 'Integer') continue
      const id = Buffer.from(le.id).toString('hex')
      const value = (schema.decode('Integer', le.entry.payload) as { value: number }).value
      const f = found.get(id)
      if (f != null) f.count++
      else found.set(id, { value, count: 1 })
    }
  }
  const missing: Array<[number, string]> = []
  const wrongPlace: Array<[number, string]> = []
  let duplicates = 0
  for (const [value, id] of acked) {
    const f = found.get(id)
    if (f == null) {
      // not past `from`: is it stored at all?
      const bytes = await log.get(Buffer.from(id, 'hex'))
      if (bytes == null) missing.push([value, id])
      else wrongPlace.push([value, id])
    } else if (f.value !== value) {
      wrongPlace.push([value, id])
    } else if (f.count > 1) {
      duplicates++
    }
  }
  out({ t: 'check', acked: acked.length, missing: missing.slice(0, 20), missingCount: missing.length, wrongPlace: wrongPlace.slice(0, 20), wrongPlaceCount: wrongPlace.length, duplicates })
}

async function emitLoop (e: HyperEmitter, base: number, concurrency: number, pauseMs = 0, keyed = false): Promise<void> {
  let next = base
  emitting = true
  out({ t: 'emitting' })
  const worker = async (): Promise<void> => {
    while (emitting) {
      const v = next++
      let r: Emitted
      try {
        r = await e.emit('Integer', { value: v }, keyed ? { key: `v${v}` } : {})
      } catch (err) {
        if (!emitting) return
        emitting = false
        const x = err as { name?: string, code?: string, message?: string }
        out({ t: 'emit-error', v, name: x.name, code: x.code, message: x.message })
        return
      }
      out({ t: 'a', v, id: r.id })
      if (pauseMs > 0) await new Promise(resolve => setTimeout(resolve, pauseMs))
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
}

// A session that closes before the peer is synced (a simultaneous open
// resolved the other way, a peer that restarts) is opened again within
// about a second: wait for that one, a few times.
async function syncedWith (e: HyperEmitter, peer: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await e.synced(peer)
      return
    } catch (err) {
      const code = (err as { code?: string }).code
      if (attempt >= 10 || e.closed || (code !== 'ERR_PROTOCOL' && code !== 'ERR_NO_SESSION')) throw err
      await new Promise(resolve => setTimeout(resolve, 500))
    }
  }
}

async function command (e: HyperEmitter, line: string): Promise<void> {
  let c: { cmd: string, name?: string, msg?: unknown, tag?: string, count?: number, base?: number, key?: string }
  try {
    c = JSON.parse(line) as typeof c
  } catch {
    out({ t: 'error', message: `not a command: ${line}` })
    return
  }
  switch (c.cmd) {
    case 'emit': {
      const r = await e.emit(c.name!, c.msg, { key: c.key })
      out({ t: 'emitted', tag: c.tag, id: r.id, seq: r.seq, length: e.log.length })
      break
    }
    case 'burst': {
      const rs = await Promise.all(Array.from({ length: c.count! }, (_, i) => e.emit(c.name!, { value: c.base! + i })))
      out({ t: 'emitted', tag: c.tag, count: rs.length })
      break
    }
    case 'length':
      out({ t: 'length', tag: c.tag, length: e.log.length })
      break
    case 'stop':
      emitting = false
      out({ t: 'stopped', length: e.log.length })
      break
    case 'state': {
      const v = await e.verify()
      out({ t: 'state', tag: c.tag, length: e.log.length, heads: headsOf(e), verify: { ok: v.ok, entries: v.entries, problems: v.problems.slice(0, 5) }, peers: e.peers(), connections: e.node?.getConnections().length ?? 0, vector: Object.fromEntries(e.log.vector()) })
      break
    }
    case 'close':
      await shutdown(0)
      break
    default:
      out({ t: 'error', message: `unknown command ${c.cmd}` })
  }
}

try {
  const schema = await fixture(config.schema ?? 'messages.proto')
  if (config.preverify === true) {
    const t0 = performance.now()
    const l = await Log.open(new ClassicLevel(config.db))
    try {
      const v = await l.verify()
      out({ t: 'verify', ok: v.ok, entries: v.entries, problems: v.problems.slice(0, 10), length: l.length, ms: Math.round(performance.now() - t0) })
      if (config.check != null) await check(l, new Schema(schema), config.check)
    } finally {
      await l.close()
    }
  }
  const level = config.db === 'memory' ? new MemoryLevel() : new ClassicLevel(config.db)
  const e = new HyperEmitter(level, schema, { reconnectTimeout: 100, fsync: config.fsync, ...config.options })
  emitter = e
  e.status.on('peer:refused', ({ peer, code, reason, remote }: { peer: string, code: string, reason: string, remote: boolean }) => { out({ t: 'refused', peer, code, reason, remote }) })
  e.status.on('peer:invalid', ({ peer, count, reason }: { peer: string, count: number, reason: string }) => { out({ t: 'invalid', peer, count, reason }) })
  await e.ready()
  if (config.stallWrites === true) (level as { batch: unknown }).batch = () => new Promise(() => {})
  out({ t: 'open', length: e.log.length, id: e.id, peerId: e.peerId, ms: Math.round(performance.now()), vector: Object.fromEntries(e.log.vector()) })
  if (config.progress != null) {
    const every = config.progress
    let mark = Math.floor(e.log.length / every)
    e.log.onCommit(() => {
      const m = Math.floor(e.log.length / every)
      if (m !== mark) {
        mark = m
        out({ t: 'p', length: e.log.length, remote: e.log.length - e.log.authorSeq(e.id), at: Math.round(performance.now()) })
      }
    })
  }
  if (config.verify === true) {
    const t0 = performance.now()
    const v = await e.verify()
    out({ t: 'verify', ok: v.ok, entries: v.entries, problems: v.problems.slice(0, 10), length: e.log.length, ms: Math.round(performance.now() - t0) })
  }
  if (config.check != null && config.preverify !== true) await check(e.log, e.schema, config.check)
  if (config.report === true) {
    for (const name of config.names ?? ['Hello', 'Integer']) e.on(name, (payload) => { out({ t: 'event', name, payload }) })
  }
  if (config.unknown === true) {
    void (async () => {
      for await (const ev of e.events()) if (ev.unknown === true) out({ t: 'unknown', name: ev.name, id: ev.id, bytes: Buffer.from(ev.payload).toString('hex') })
    })().catch(err => { if (!e.closed) out({ t: 'error', message: `reading: ${(err as Error).message}` }) })
  }
  createInterface({ input: process.stdin }).on('line', line => {
    command(e, line).catch(err => { out({ t: 'error', message: (err as Error).stack ?? String(err) }) })
  })
  let addrs: string[] = []
  if (config.listen === true) addrs = (await e.listen(config.port ?? 0, '127.0.0.1')).map(a => a.toString())
  out({ t: 'ready', addrs, peerId: e.peerId, length: e.log.length })
  const emitting = config.emit != null ? emitLoop(e, config.emit.base, config.emit.concurrency, config.emit.pauseMs, config.emit.keyed) : undefined
  if (config.connect != null) {
    const peer = await e.connect(config.connect)
    out({ t: 'connected', peer, at: Math.round(performance.now()) })
    await syncedWith(e, peer)
    const received = e.peers().find(p => p.id === peer)?.received
    out({ t: 'synced', length: e.log.length, remote: e.log.length - e.log.authorSeq(e.id), received, at: Math.round(performance.now()) })
  }
  await emitting
} catch (err) {
  out({ t: 'error', message: (err as Error).stack ?? String(err) })
  await shutdown(1)
}
