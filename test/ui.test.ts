import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { request } from 'node:http'
import { MemoryLevel } from 'memory-level'
import { HyperEmitter } from '../src/index.js'
import { serveUI, isLoopback, type UIOptions, type UIServer } from '../src/ui/index.js'
import { TailSampler } from '../src/ui/sampler.js'
import { formatMetrics, nodeFigures } from '../src/cli/metrics.js'
import { fixture, until, Cluster } from './helpers.js'

const messages = await fixture('messages.proto')
const cluster = new Cluster()
const views: UIServer[] = []
const streams: Array<{ close: () => void }> = []

test.after.each(async () => {
  for (const s of streams.splice(0)) s.close()
  await Promise.all(views.splice(0).map(async v => { await v.close() }))
  await cluster.closeAll()
})

function emitter (): HyperEmitter {
  return cluster.add(new HyperEmitter(new MemoryLevel(), messages, { reconnectTimeout: 100 }))
}

async function view (e: HyperEmitter, options: UIOptions = {}): Promise<UIServer> {
  const v = await serveUI(e, options)
  views.push(v)
  return v
}

function base (v: UIServer): string {
  return `http://127.0.0.1:${v.port}`
}

interface SseEvent { event: string, data: string }

/** A server-sent event stream read with node:http (fetch hides the Host header). */
function sse (url: string, headers: Record<string, string> = {}): Promise<{ status: number, events: SseEvent[], next: (event: string, ms?: number, match?: (data: unknown) => boolean) => Promise<unknown>, close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, res => {
      const events: SseEvent[] = []
      const waiters = new Set<() => void>()
      let buffer = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        buffer += chunk
        let end
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message'
          const data = /^data: (.*)$/m.exec(block)?.[1] ?? ''
          events.push({ event, data })
        }
        for (const wake of [...waiters]) wake()
      })
      const handle = {
        status: res.statusCode ?? 0,
        events,
        // the first event `event` (from those not taken yet) whose data `match` accepts
        next: async (event: string, ms = 3000, match: (data: unknown) => boolean = () => true) => {
          const end = Date.now() + ms
          while (true) {
            const i = events.findIndex(e => e.event === event && match(JSON.parse(e.data)))
            if (i >= 0) return JSON.parse(events.splice(0, i + 1).at(-1)!.data) as unknown
            if (Date.now() > end) throw new Error(`no ${event} event in ${ms} ms (got ${events.map(e => e.event).join(', ')})`)
            await new Promise<void>(resolve => {
              const wake = (): void => { waiters.delete(wake); clearTimeout(timer); resolve() }
              const timer = setTimeout(wake, 50)
              waiters.add(wake)
            })
          }
        },
        close: () => { req.destroy() }
      }
      streams.push(handle)
      resolve(handle)
    })
    req.on('error', reject)
    req.end()
  })
}

/** A GET or POST with node:http, so that the Host header can be set. */
function http (url: string, options: { method?: string, headers?: Record<string, string>, body?: string } = {}): Promise<{ status: number, headers: Record<string, string | string[] | undefined>, body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body }) })
    })
    req.on('error', reject)
    req.end(options.body)
  })
}

test('isLoopback tells loopback hosts from the others', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) assert.ok(isLoopback(h), h)
  for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.com']) assert.not.ok(isLoopback(h), h)
})

test('the page and its files are served on loopback, and nothing else', async () => {
  const v = await view(emitter())
  assert.is(v.host, '127.0.0.1')
  assert.not.ok(v.widened)
  assert.is(v.token, undefined)
  assert.is(v.url, `http://127.0.0.1:${v.port}/`)
  const page = await http(`${base(v)}/`)
  assert.is(page.status, 200)
  assert.match(String(page.headers['content-type']), /^text\/html/)
  assert.match(page.body, /<title>HyperEmitter<\/title>/)
  assert.match(String(page.headers['content-security-policy']), /default-src 'self'/)
  for (const file of ['app.js', 'style.css', 'vendor/uPlot.iife.min.js', 'vendor/uPlot.min.css', 'favicon.svg']) {
    assert.is((await http(`${base(v)}/static/${file}`)).status, 200, file)
  }
  for (const path of ['/static/../server.js', '/static/%2e%2e/server.js', '/static/%E0%A4%A', '/static/nope.js', '/nope', '/api/nope']) {
    assert.is((await http(`${base(v)}${path}`)).status, 404, path)
  }
  // a name that a page elsewhere rebound to 127.0.0.1 is refused
  assert.is((await http(`${base(v)}/api/config`, { headers: { host: `attacker.example:${v.port}` } })).status, 403)
  assert.is((await http(`${base(v)}/api/config`, { headers: { host: `localhost:${v.port}` } })).status, 200)
})

test('a token is required on every request when the view is widened', async () => {
  const v = await view(emitter(), { host: '0.0.0.0' })
  assert.ok(v.widened)
  assert.ok(v.token != null && v.token.length >= 20, 'a random token')
  assert.ok(v.url.endsWith(`/?token=${v.token}`), v.url)
  for (const path of ['/', '/static/app.js', '/api/config', '/api/state', '/api/live', '/api/verify']) {
    assert.is((await http(`${base(v)}${path}`)).status, 401, path)
    assert.is((await http(`${base(v)}${path}?token=wrong`)).status, 401, path)
  }
  const page = await http(`${base(v)}/?token=${v.token}`)
  assert.is(page.status, 200)
  const cookie = String(page.headers['set-cookie']).split(';')[0]
  assert.match(String(page.headers['set-cookie']), /HttpOnly; SameSite=Strict/)
  assert.is((await http(`${base(v)}/api/config`, { headers: { cookie } })).status, 200, 'the cookie the page got')
  assert.is((await http(`${base(v)}/api/config`, { headers: { authorization: `Bearer ${v.token}` } })).status, 200, 'a bearer token')
  assert.is((await http(`${base(v)}/static/app.js?token=${v.token}`)).status, 200)
  // widened, any Host name may be used: the token guards
  assert.is((await http(`${base(v)}/api/config`, { headers: { host: `node.lan:${v.port}`, cookie } })).status, 200)
})

test('a token given on loopback is required too', async () => {
  const v = await view(emitter(), { token: 'secret-token' })
  assert.not.ok(v.widened)
  assert.is((await http(`${base(v)}/api/config`)).status, 401)
  assert.is((await http(`${base(v)}/api/config?token=secret-token`)).status, 200)
})

test('read-only by default: emitting from the page is refused', async () => {
  const e = emitter()
  const v = await view(e)
  const before = e.log.length
  const res = await http(`${base(v)}/api/emit`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Hello', payload: { from: 'page' } }) })
  assert.is(res.status, 403)
  assert.is((JSON.parse(res.body) as { error: string }).error, 'ReadOnly')
  assert.is((await http(`${base(v)}/api/verify`, { method: 'POST' })).status, 405)
  assert.is((await http(`${base(v)}/api/config`, { method: 'DELETE' })).status, 405)
  assert.is(e.log.length, before)
})

test('with allowEmit, the page emits, from its own origin and as JSON only', async () => {
  const e = emitter()
  const v = await view(e, { allowEmit: true })
  const post = (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }): ReturnType<typeof http> => http(`${base(v)}/api/emit`, { method: 'POST', headers, body })
  const ok = await post(JSON.stringify({ name: 'Hello', payload: { from: 'page' } }))
  assert.is(ok.status, 200)
  const { id, seq } = JSON.parse(ok.body) as { id: string, seq: number }
  assert.is(seq, e.log.length)
  const entry = JSON.parse((await http(`${base(v)}/api/entry/${id}`)).body) as { name: string, payload: string, signature: string }
  assert.is(entry.name, 'Hello')
  assert.equal(JSON.parse(entry.payload), { from: 'page', message: '' })
  assert.is(entry.signature, 'signed')
  assert.is((await post('{"name":"Hello","payload":{}}', { 'content-type': 'text/plain' })).status, 415, 'a form post')
  assert.is((await post('{"name":"Hello","payload":{}}', { 'content-type': 'application/json', origin: 'http://attacker.example' })).status, 403, 'another origin')
  const unknown = await post(JSON.stringify({ name: 'Nope', payload: {} }))
  assert.is(unknown.status, 400)
  assert.is((JSON.parse(unknown.body) as { error: string }).error, 'UnknownEventError')
  const bad = await post(JSON.stringify({ name: 'Hello', payload: { nope: 1 } }))
  assert.is((JSON.parse(bad.body) as { error: string }).error, 'InvalidMessageError')
  assert.is((await post('{not json')).status, 400)
  assert.is((await post('x'.repeat(300 * 1024))).status, 400, 'a body over the limit')
})

test('the live stream sends the state, then a fresh event within moments', async () => {
  const e = emitter()
  await e.emit('Hello', { from: 'before' })
  const v = await view(e)
  const live = await sse(`${base(v)}/api/live`)
  assert.is(live.status, 200)
  const hello = await live.next('hello') as { history: unknown[], state: { node: { peerId: string }, log: { length: number } } }
  assert.is(hello.state.node.peerId, e.peerId)
  assert.is(hello.state.log.length, 1)
  // the page's tail starts with the log's last events
  const initial = await live.next('events') as { initial: boolean, events: Array<{ payload: string }> }
  assert.ok(initial.initial)
  assert.equal(JSON.parse(initial.events.at(-1)!.payload), { from: 'before', message: '' })
  const started = Date.now()
  await e.emit('Hello', { from: 'fresh' })
  const got = await live.next('events', 2000) as { events: Array<{ name: string, payload: string, seq: number, author: string }> }
  const delay = Date.now() - started
  assert.is(got.events[0].name, 'Hello')
  assert.equal(JSON.parse(got.events[0].payload), { from: 'fresh', message: '' })
  assert.is(got.events[0].author, e.id)
  assert.ok(delay < 1500, `within ${delay} ms`)
  const state = await live.next('state', 2500) as { second: { emitted: number }, totals: { emitted: number } }
  assert.ok(state.totals.emitted >= 1)
  await live.next('tail', 1000)
})

test('a busy log is sampled: at most the rate per page, and every event counted', async () => {
  const e = emitter()
  const v = await view(e, { sampleRate: 20 })
  const live = await sse(`${base(v)}/api/live`)
  await live.next('hello')
  const started = Date.now()
  await Promise.all(Array.from({ length: 3000 }, (_, i) => e.emit('Integer', { value: i })))
  let matched = 0
  let shown = 0
  await until(async () => {
    const tail = await live.next('tail', 3000) as { matched: number, shown: number }
    matched += tail.matched
    shown += tail.shown
    return matched >= 3000
  }, 8000, 'every event counted')
  const seconds = (Date.now() - started) / 1000
  assert.is(matched, 3000)
  assert.ok(shown <= 20 * (seconds + 1), `${shown} shown in ${seconds.toFixed(1)} s`)
  assert.ok(shown >= 1)
})

test('the tail filters by event name and by text on the server', async () => {
  const e = emitter()
  const v = await view(e)
  const byName = await sse(`${base(v)}/api/live?name=Integer`)
  const byText = await sse(`${base(v)}/api/live?text=NEEDLE`)
  await byName.next('hello')
  await byText.next('hello')
  await e.emit('Hello', { from: 'a', message: 'hay' })
  await e.emit('Hello', { from: 'b', message: 'a needle here' })
  await e.emit('Integer', { value: 7 })
  const names = await byName.next('events') as { events: Array<{ name: string }> }
  assert.equal(names.events.map(x => x.name), ['Integer'])
  const texts = await byText.next('events') as { events: Array<{ payload: string }> }
  assert.equal(texts.events.map(x => (JSON.parse(x.payload) as { from: string }).from), ['b'])
})

test('TailSampler: a token bucket, a burst of a quarter second', () => {
  const entry = (name: string, payload = ''): never => ({ seq: 1, entry: { name, payload } }) as never
  const s = new TailSampler(40, { name: 'A' }, 0)
  s.offer([entry('A'), entry('B'), ...Array.from({ length: 30 }, () => entry('A'))], 0, () => '')
  assert.is(s.take().length, 10, 'the burst')
  assert.is(s.matched(), 31)
  s.offer(Array.from({ length: 100 }, () => entry('A')), 500, () => '')
  assert.is(s.take().length, 10, 'refilled at 40/s, up to the burst')
  const t = new TailSampler(1000, { text: 'Needle' }, 0)
  t.offer([entry('A'), entry('B'), entry('needles')], 0, e => (e as { entry: { name: string } }).entry.name === 'B' ? '{"x":"NEEDLE"}' : '{}')
  assert.equal(t.take().map(e => e.entry.name), ['B', 'needles'])
})

test('pages beyond the limit are refused, and a page that leaves frees its place', async () => {
  const v = await view(emitter(), { maxPages: 2 })
  const one = await sse(`${base(v)}/api/live`)
  const two = await sse(`${base(v)}/api/live`)
  await one.next('hello')
  await two.next('hello')
  const three = await sse(`${base(v)}/api/live`)
  assert.is(three.status, 503)
  one.close()
  await until(() => v.pages === 1, 2000, 'the page gone')
  const four = await sse(`${base(v)}/api/live`)
  assert.is(four.status, 200)
})

test('snapshots: state with both peers, the DAG, an entry, verify', async () => {
  const a = emitter()
  const b = emitter()
  const [addr] = await a.listen(0)
  await b.connect(addr)
  await a.emit('Hello', { from: 'a' })
  await b.emit('Integer', { value: 2 })
  await a.synced({ signal: AbortSignal.timeout(5000) })
  // a's EventPeer (it listens), a's Hello, b's Integer
  await until(() => a.log.length === 3, 5000, 'both events at a')
  const v = await view(a)
  type State = { peers: { peers: Array<{ id: string, place: string, session: boolean, synced: boolean, lacks: { total: number } }> }, log: { length: number, authors: Array<{ peerId: string, self: boolean }> }, node: { online: boolean, connections: { inbound: number } } }
  let state: State | undefined
  await until(async () => {
    state = JSON.parse((await http(`${base(v)}/api/state`)).body) as State
    return state.peers.peers.some(p => p.id === b.peerId && p.session && p.synced)
  }, 5000, 'b in session and synced')
  const peer = state!.peers.peers.find(p => p.id === b.peerId)!
  assert.is(peer.place, 'active')
  assert.is(peer.lacks.total, 0)
  assert.ok(state!.node.online)
  assert.is(state!.node.connections.inbound, 1)
  assert.is(state!.log.length, 3)
  assert.equal(state!.log.authors.map(x => x.peerId).sort(), [a.peerId, b.peerId].sort())
  const dag = JSON.parse((await http(`${base(v)}/api/dag?limit=2`)).body) as { length: number, entries: Array<{ seq: number, id: string, prev: string, links: string[] }> }
  assert.is(dag.length, 3)
  assert.equal(dag.entries.map(x => x.seq), [2, 3])
  const last = dag.entries.at(-1)!
  const entry = JSON.parse((await http(`${base(v)}/api/entry/${last.id}`)).body) as { id: string, links: string[], prev: string }
  assert.is(entry.id, last.id)
  assert.equal(entry.links, last.links)
  assert.is((await http(`${base(v)}/api/entry/1220${'00'.repeat(32)}`)).status, 404)
  assert.is((await http(`${base(v)}/api/entry/zz`)).status, 404)
  const verify = JSON.parse((await http(`${base(v)}/api/verify`)).body) as { ok: boolean, entries: number, authors: number }
  assert.equal([verify.ok, verify.entries, verify.authors], [true, 3, 2])
})

test('a refused peer is counted, and told in the activity', async () => {
  const a = cluster.add(new HyperEmitter(new MemoryLevel(), messages, { reconnectTimeout: 100, topic: 'blue' }))
  const c = cluster.add(new HyperEmitter(new MemoryLevel(), messages, { reconnectTimeout: 100, topic: 'green' }))
  const v = await view(a)
  const [addr] = await a.listen(0)
  await c.connect(addr, { signal: AbortSignal.timeout(5000) }).catch(() => {})
  type State = { totals: { refused: number }, notices: Array<{ peer: string, kind: string, text: string }>, peers: { peers: Array<{ id: string, refused: number, last?: { what: string } }> } }
  let state: State | undefined
  await until(async () => {
    state = JSON.parse((await http(`${base(v)}/api/state`)).body) as State
    return state.totals.refused >= 1
  }, 5000, 'the refusal counted')
  const notice = state!.notices.find(n => n.kind === 'refused')!
  assert.is(notice.peer, c.peerId)
  assert.match(notice.text, /TOPIC/)
  const peer = state!.peers.peers.find(p => p.id === c.peerId)
  if (peer != null) {
    assert.ok(peer.refused >= 1)
    assert.match(peer.last!.what, /TOPIC/)
  }
})

test('the view closes with its emitter, and ends its pages\' streams', async () => {
  const e = emitter()
  const v = await serveUI(e)
  const live = await sse(`${base(v)}/api/live`)
  await live.next('hello')
  const ended = new Promise<void>(resolve => {
    const wait = (): void => { if (live.events.length >= 0 && v.pages === 0) resolve(); else setTimeout(wait, 20) }
    wait()
  })
  await e.close()
  await ended
  await until(async () => await http(`${base(v)}/api/config`).then(() => false, () => true), 2000, 'the port closed')
  await v.close()
})

test('metrics: libp2p, overlay and sync figures follow the six lines', async () => {
  const a = emitter()
  const b = emitter()
  assert.is(nodeFigures(a), undefined, 'offline')
  const [addr] = await a.listen(0)
  await b.connect(addr)
  const figures = nodeFigures(a)!
  assert.is(figures.connections.inbound, 1)
  assert.ok(figures.streams.some(s => s.protocol === '/hyperemitter/sync/1.0.0'))
  const text = formatMetrics({ emitted: 1, received: 2, refused: 3, peers: 4, entries: 5, syncLag: 0, node: figures })
  const plain = formatMetrics({ emitted: 1, received: 2, refused: 3, peers: 4, entries: 5, syncLag: 0 })
  assert.ok(text.startsWith(plain), 'the six lines first, as they were')
  assert.match(text, /^libp2p_connection_manager_connections\{direction="inbound"\} 1$/m)
  assert.match(text, /^libp2p_protocol_streams\{protocol="\/hyperemitter\/sync\/1\.0\.0",direction="inbound"\} 1$/m)
  assert.match(text, /^# TYPE hyperemitter_sync_entries_sent_total counter$/m)
  assert.match(text, /^hyperemitter_overlay_peers\{view="active"\} 1$/m)
})

test.run()
