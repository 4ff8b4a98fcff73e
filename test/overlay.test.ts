// The HyParView state machine, alone (method calls and the actions they give)
// and as many nodes on an in-memory network under virtual time: each message
// takes a random delay, messages between two peers keep their order (as on a
// stream), and a message to a dead node comes back as `failed` to its
// sender. Seeded randomness: each run takes the same steps.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { HyParView, type HyParViewInit } from '../src/overlay/hyparview.js'
import type { OverlayAction, OverlayMessage } from '../src/overlay/messages.js'

/** mulberry32: a small seeded generator, uniform in [0, 1). */
function seeded (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function drain (node: HyParView): OverlayAction[] {
  const actions: OverlayAction[] = []
  for (let a = node.poll(); a !== undefined; a = node.poll()) actions.push(a)
  return actions
}

const sends = (actions: OverlayAction[]): Array<[string, OverlayMessage]> =>
  actions.flatMap(a => a.type === 'send' ? [[a.to, a.message] as [string, OverlayMessage]] : [])

const changes = (actions: OverlayAction[]): string[] =>
  actions.flatMap(a => a.type === 'send' ? [] : [`${a.type} ${a.peer}`])

type Event =
  | { at: number, seq: number, kind: 'deliver', from: string, to: string, message: OverlayMessage }
  | { at: number, seq: number, kind: 'tick', node: string, token: number }
  | { at: number, seq: number, kind: 'fail', node: string, peer: string }

/** A binary heap of events by time, then by order of scheduling. */
class Queue {
  private readonly items: Event[] = []
  get size (): number { return this.items.length }
  peek (): Event | undefined { return this.items[0] }

  push (e: Event): void {
    const items = this.items
    items.push(e)
    let i = items.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.before(items[i], items[parent])) break
      ;[items[i], items[parent]] = [items[parent], items[i]]
      i = parent
    }
  }

  pop (): Event | undefined {
    const items = this.items
    const top = items[0]
    const last = items.pop()
    if (items.length > 0 && last !== undefined) {
      items[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < items.length && this.before(items[l], items[m])) m = l
        if (r < items.length && this.before(items[r], items[m])) m = r
        if (m === i) break
        ;[items[i], items[m]] = [items[m], items[i]]
        i = m
      }
    }
    return top
  }

  private before (a: Event, b: Event): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq)
  }
}

const MEMBERSHIP = new Set(['join', 'forward-join', 'neighbor', 'neighbor-reply', 'disconnect'])

interface NetOptions {
  seed?: number
  /** least ms a message takes */
  delay?: number
  /** most ms added to it at random */
  jitter?: number
  init?: Partial<HyParViewInit>
}

/** Nodes on an in-memory network, under virtual time. */
class Net {
  now = 0
  readonly nodes = new Map<string, HyParView>()
  readonly dead = new Set<string>()
  /** each node's active peers according to its up and down actions */
  readonly up = new Map<string, Set<string>>()
  /** every up and down, per node: `up peer`, `down peer` */
  readonly history = new Map<string, string[]>()
  /** membership messages (not shuffles) not delivered yet */
  inFlight = 0
  messages = 0
  readonly rand: () => number
  private readonly queue = new Queue()
  private seq = 0
  private readonly linkFree = new Map<string, number>()
  private readonly timers = new Map<string, { at: number, token: number }>()
  private readonly delay: number
  private readonly jitter: number
  private readonly init: Partial<HyParViewInit>

  constructor (opts: NetOptions = {}) {
    this.rand = seeded(opts.seed ?? 1)
    this.delay = opts.delay ?? 5
    this.jitter = opts.jitter ?? 20
    this.init = opts.init ?? {}
  }

  add (id: string, init: Partial<HyParViewInit> = {}): HyParView {
    const node = new HyParView({ ...this.init, ...init, self: id, random: seeded(Math.floor(this.rand() * 2 ** 32)) })
    this.nodes.set(id, node)
    this.up.set(id, new Set())
    this.history.set(id, [])
    return node
  }

  node (id: string): HyParView {
    const node = this.nodes.get(id)
    if (node === undefined) throw new Error(`no node ${id}`)
    return node
  }

  alive (): string[] {
    return [...this.nodes.keys()].filter(id => !this.dead.has(id))
  }

  /** Runs `f` on a live node, then carries out its actions and sets its timer. */
  call (id: string, f: (node: HyParView) => void): void {
    if (this.dead.has(id)) return
    const node = this.node(id)
    f(node)
    const up = this.up.get(id) as Set<string>
    const history = this.history.get(id) as string[]
    for (let a = node.poll(); a !== undefined; a = node.poll()) {
      if (a.type === 'send') {
        this.send(id, a.to, a.message)
        continue
      }
      history.push(`${a.type} ${a.peer}`)
      if (a.type === 'up') {
        if (up.has(a.peer)) throw new Error(`${id}: a second up of ${a.peer}`)
        up.add(a.peer)
      } else {
        if (!up.delete(a.peer)) throw new Error(`${id}: down of ${a.peer}, which was not up`)
      }
    }
    const t = node.timeout
    if (t === undefined) {
      this.timers.delete(id)
      return
    }
    const at = Math.max(t, this.now)
    if (this.timers.get(id)?.at === at) return
    const token = this.seq
    this.timers.set(id, { at, token })
    this.queue.push({ at, seq: this.seq++, kind: 'tick', node: id, token })
  }

  private send (from: string, to: string, message: OverlayMessage): void {
    const link = `${from}>${to}`
    const at = Math.max(this.now + this.delay + Math.floor(this.rand() * this.jitter), this.linkFree.get(link) ?? 0)
    this.linkFree.set(link, at)
    if (MEMBERSHIP.has(message.type)) this.inFlight++
    this.messages++
    this.queue.push({ at, seq: this.seq++, kind: 'deliver', from, to, message })
  }

  /** Handles the next event. */
  step (): boolean {
    const e = this.queue.pop()
    if (e === undefined) return false
    this.now = Math.max(this.now, e.at)
    if (e.kind === 'deliver') {
      if (MEMBERSHIP.has(e.message.type)) this.inFlight--
      // a dead node's messages still on the way are lost with its connections
      if (this.dead.has(e.from)) return true
      if (this.dead.has(e.to)) this.call(e.from, n => { n.failed(e.to, this.now) })
      else this.call(e.to, n => { n.receive(e.from, e.message, this.now) })
    } else if (e.kind === 'tick') {
      if (this.timers.get(e.node)?.token !== e.token) return true
      this.timers.delete(e.node)
      this.call(e.node, n => { n.tick(this.now) })
    } else {
      this.call(e.node, n => { n.failed(e.peer, this.now) })
    }
    return true
  }

  /** Runs until virtual time `until`. */
  run (until: number): void {
    for (let e = this.queue.peek(); e !== undefined && e.at <= until; e = this.queue.peek()) this.step()
    this.now = Math.max(this.now, until)
  }

  /** Runs until no join, neighbor, reply or disconnect is on its way. */
  quiesce (): void {
    for (let i = 0; this.inFlight > 0; i++) {
      if (i > 1_000_000 || !this.step()) throw new Error('no quiet moment')
    }
  }

  /**
   * Kills a node: messages to it fail, and those that keep it active notice
   * their link broke within `detect` ms.
   */
  kill (id: string, detect = 2000): void {
    this.dead.add(id)
    this.timers.delete(id)
    for (const other of this.alive()) {
      if (this.node(other).active.has(id)) {
        this.queue.push({ at: this.now + Math.floor(this.rand() * detect), seq: this.seq++, kind: 'fail', node: other, peer: id })
      }
    }
  }

  /** Each live node's up/down actions agree with its active view. */
  checkActions (): void {
    for (const id of this.alive()) {
      assert.equal([...(this.up.get(id) as Set<string>)].sort(), [...this.node(id).active].sort(), `${id}: up and down give its active view`)
    }
  }

  checkViews (): void {
    for (const id of this.alive()) {
      const n = this.node(id)
      assert.ok(n.active.size <= 6 && n.passive.size <= 30, `${id}: views within bounds`)
      assert.not.ok(n.active.has(id) || n.passive.has(id), `${id}: not in its own views`)
      for (const p of n.active) assert.not.ok(n.passive.has(p), `${id}: ${p} both active and passive`)
    }
  }

  asymmetric (): string[] {
    const bad: string[] = []
    for (const a of this.alive()) {
      for (const b of this.node(a).active) {
        if (this.dead.has(b) || !this.node(b).active.has(a)) bad.push(`${a}->${b}`)
      }
    }
    return bad
  }

  /** Live nodes reached from the first one over active links. */
  reached (): number {
    const alive = this.alive()
    const seen = new Set([alive[0]])
    const todo = [alive[0]]
    for (let id = todo.pop(); id !== undefined; id = todo.pop()) {
      for (const p of this.node(id).active) {
        if (!this.dead.has(p) && !seen.has(p)) {
          seen.add(p)
          todo.push(p)
        }
      }
    }
    return seen.size
  }

  meanDegree (): number {
    const alive = this.alive()
    return alive.reduce((s, id) => s + this.node(id).active.size, 0) / alive.length
  }
}

/** `n` nodes, each joining through a random earlier one, `gap` ms apart. */
function grow (n: number, seed: number, gap = 100, jitter?: number): Net {
  const net = new Net({ seed, jitter })
  net.add('n0')
  net.call('n0', node => { node.tick(0) })
  for (let i = 1; i < n; i++) {
    net.run(i * gap)
    const contact = `n${Math.floor(net.rand() * i)}`
    net.add(`n${i}`)
    net.call(`n${i}`, node => { node.join(contact, net.now) })
  }
  return net
}

test('a join makes both active', () => {
  assert.is(new HyParView({ self: 'x' }).timeout, undefined, 'no timer before the first call')
  const net = new Net()
  net.add('a')
  net.add('b')
  net.call('b', n => { n.join('a', 0) })
  net.run(1000)
  assert.equal([...net.node('a').active], ['b'])
  assert.equal([...net.node('b').active], ['a'])
  assert.equal(net.history.get('a'), ['up b'])
  assert.equal(net.history.get('b'), ['up a'])
  net.checkActions()
})

test('the contact answers a join, forwards it to its other active peers, and makes room when full', () => {
  const c = new HyParView({ self: 'c', activeSize: 2, random: seeded(3) })
  c.receive('a', { type: 'join' }, 0)
  c.receive('b', { type: 'join' }, 0)
  const second = drain(c)
  assert.equal(sends(second).filter(([, m]) => m.type === 'forward-join'), [['a', { type: 'forward-join', peer: 'b', ttl: 6 }]])
  c.receive('j', { type: 'join' }, 0)
  const actions = drain(c)
  const dropped = sends(actions).find(([, m]) => m.type === 'disconnect')?.[0] as string
  assert.ok(dropped === 'a' || dropped === 'b')
  const kept = dropped === 'a' ? 'b' : 'a'
  assert.equal(changes(actions), [`down ${dropped}`, 'up j'])
  assert.equal(sends(actions), [
    [dropped, { type: 'disconnect' }],
    ['j', { type: 'neighbor-reply', accept: true }],
    [kept, { type: 'forward-join', peer: 'j', ttl: 6 }]
  ])
  assert.equal([...c.active].sort(), [kept, 'j'].sort())
  assert.equal([...c.passive], [dropped])
})

test('forward-join: a walk ends at ttl 0 or at a node with one active peer, and leaves the joiner in a passive view at ttl prwl', () => {
  const n = new HyParView({ self: 'n', random: seeded(4) })
  n.receive('a', { type: 'join' }, 0)
  drain(n)
  // one active peer: the walk ends here
  n.receive('a', { type: 'forward-join', peer: 'j', ttl: 5 }, 0)
  assert.equal(drain(n), [
    { type: 'up', peer: 'j' },
    { type: 'send', to: 'j', message: { type: 'neighbor', high: true } }
  ])
  // already active, or itself: nothing
  n.receive('a', { type: 'forward-join', peer: 'j', ttl: 0 }, 0)
  n.receive('a', { type: 'forward-join', peer: 'n', ttl: 0 }, 0)
  assert.equal(drain(n), [])
  n.receive('b', { type: 'join' }, 0)
  drain(n)
  // ttl = prwl: into the passive view, and on to an active peer other than the sender and the joiner
  n.receive('a', { type: 'forward-join', peer: 'k', ttl: 3 }, 0)
  const actions = drain(n)
  assert.ok(n.passive.has('k'))
  assert.equal(actions.length, 1)
  const [to, message] = sends(actions)[0]
  assert.ok(to === 'j' || to === 'b')
  assert.equal(message, { type: 'forward-join', peer: 'k', ttl: 2 })
  // a ttl above arwl is cut to arwl
  n.receive('a', { type: 'forward-join', peer: 'x', ttl: 1e9 }, 0)
  assert.equal((sends(drain(n))[0][1] as { ttl: number }).ttl, 5)
  // ttl 0: the walk ends, and the joiner leaves the passive view for the active one
  n.receive('a', { type: 'forward-join', peer: 'k', ttl: 0 }, 0)
  assert.equal(changes(drain(n)), ['up k'])
  assert.ok(n.active.has('k') && !n.passive.has('k'))
})

test('neighbor: high priority is always accepted, low priority only while the active view is not full', () => {
  const n = new HyParView({ self: 'n', activeSize: 2, random: seeded(5) })
  n.receive('a', { type: 'neighbor', high: false }, 0)
  n.receive('b', { type: 'neighbor', high: false }, 0)
  assert.equal(changes(drain(n)), ['up a', 'up b'])
  // full: low priority refused, the sender kept passive
  n.receive('c', { type: 'neighbor', high: false }, 0)
  assert.equal(drain(n), [{ type: 'send', to: 'c', message: { type: 'neighbor-reply', accept: false } }])
  assert.equal([...n.active], ['a', 'b'])
  assert.equal([...n.passive], ['c'])
  // already active: accepted again, no second up
  n.receive('a', { type: 'neighbor', high: false }, 0)
  assert.equal(drain(n), [{ type: 'send', to: 'a', message: { type: 'neighbor-reply', accept: true } }])
  // high priority: a random active peer is dropped to make room
  n.receive('c', { type: 'neighbor', high: true }, 0)
  const actions = drain(n)
  const dropped = sends(actions)[0][0]
  assert.ok(dropped === 'a' || dropped === 'b')
  assert.equal(actions, [
    { type: 'send', to: dropped, message: { type: 'disconnect' } },
    { type: 'down', peer: dropped },
    { type: 'up', peer: 'c' },
    { type: 'send', to: 'c', message: { type: 'neighbor-reply', accept: true } }
  ])
  assert.equal(n.active.size, 2)
  assert.ok(n.active.has('c'))
  assert.equal([...n.passive], [dropped])
})

test('a neighbor-reply that was not asked for never grows the view', () => {
  const n = new HyParView({ self: 'n', random: seeded(6) })
  n.receive('x', { type: 'neighbor-reply', accept: true }, 0)
  // x counts n as active, n does not: x is told so
  assert.equal(drain(n), [{ type: 'send', to: 'x', message: { type: 'disconnect' } }])
  n.receive('y', { type: 'neighbor-reply', accept: false }, 0)
  assert.equal(drain(n), [])
  assert.is(n.active.size, 0)
  assert.is(n.passive.size, 0)
})

test('answers are matched to requests in order: one to an earlier request is passed over, a late one is not asked for', () => {
  const n = new HyParView({ self: 'n', random: seeded(16), shuffleInterval: 1e9 })
  n.learn(['p'], 0)
  n.tick(0)
  assert.equal(drain(n), [{ type: 'send', to: 'p', message: { type: 'neighbor', high: true } }])
  assert.is(n.timeout, 5000)
  n.tick(5000)
  assert.equal(drain(n), [])
  n.tick(5999)
  assert.equal(drain(n), [], 'held back after the timeout')
  // asked again once its backoff is over
  n.tick(6000)
  assert.equal(drain(n), [{ type: 'send', to: 'p', message: { type: 'neighbor', high: true } }])
  // p refused the first request (it was full then), and accepts the second
  n.receive('p', { type: 'neighbor-reply', accept: false }, 6001)
  assert.equal(drain(n), [])
  n.receive('p', { type: 'neighbor-reply', accept: true }, 6002)
  assert.equal(drain(n), [{ type: 'up', peer: 'p' }])
  // the answer to a request that timed out is not asked for any more: the
  // view does not grow, and the peer, which may hold m active, is told
  const m = new HyParView({ self: 'm', random: seeded(17), shuffleInterval: 1e9 })
  m.learn(['q'], 0)
  m.tick(0)
  m.tick(5000)
  drain(m)
  m.receive('q', { type: 'neighbor-reply', accept: true }, 5001)
  assert.equal(drain(m), [{ type: 'send', to: 'q', message: { type: 'disconnect' } }])
  assert.is(m.active.size, 0)
  assert.ok(m.passive.has('q'))
})

test('a request to a peer that became active by other means is over: an accept that comes after the peer was dropped does not bring it back', () => {
  // random 0.99: a random pick takes the last of the view
  const n = new HyParView({ self: 'n', activeSize: 2, random: () => 0.99, shuffleInterval: 1e9 })
  n.receive('a', { type: 'neighbor', high: true }, 0)
  n.learn(['p'], 0)
  n.tick(0)
  assert.equal(sends(drain(n)), [['a', { type: 'neighbor-reply', accept: true }], ['p', { type: 'neighbor', high: false }]])
  // a walk ends at n: p becomes active, and is asked again
  n.receive('a', { type: 'forward-join', peer: 'p', ttl: 0 }, 1)
  assert.equal(drain(n), [{ type: 'up', peer: 'p' }, { type: 'send', to: 'p', message: { type: 'neighbor', high: true } }])
  // and dropped for b
  n.receive('b', { type: 'neighbor', high: true }, 2)
  assert.equal(changes(drain(n)), ['down p', 'up b'])
  // a leaves: the fill asks p once more, as no request to it is pending
  n.receive('a', { type: 'disconnect' }, 3)
  assert.equal(drain(n), [{ type: 'down', peer: 'a' }, { type: 'send', to: 'p', message: { type: 'neighbor', high: false } }])
  // p accepted the first two before the disconnect came, then dropped n:
  // those answers do not bring it back; the one to the third will tell
  n.receive('p', { type: 'neighbor-reply', accept: true }, 4)
  n.receive('p', { type: 'neighbor-reply', accept: true }, 4)
  assert.equal(drain(n), [])
  assert.equal([...n.active], ['b'])
  n.receive('p', { type: 'neighbor-reply', accept: true }, 5)
  assert.equal(drain(n), [{ type: 'up', peer: 'p' }])
})

test('fill: one Neighbor per free place, one of them high when the view is empty; a refusal leaves the peer passive; an accept that finds the view full is undone', () => {
  const n = new HyParView({ self: 'n', activeSize: 2, random: seeded(7) })
  n.learn(['p', 'q'], 0)
  n.tick(0)
  const asked = sends(drain(n))
  assert.equal(asked.map(([to]) => to).sort(), ['p', 'q'])
  assert.equal(asked.map(([, m]) => m), [{ type: 'neighbor', high: true }, { type: 'neighbor', high: false }])
  const [[first], [second]] = asked
  n.tick(1000)
  assert.equal(drain(n), [], 'no more requests than free places')
  n.receive(first, { type: 'neighbor-reply', accept: false }, 1100)
  assert.equal(drain(n), [])
  assert.ok(n.passive.has(first))
  n.tick(1500)
  assert.equal(drain(n), [], 'the one that refused is held back')
  // meanwhile two peers make the view full
  n.receive('a', { type: 'neighbor', high: true }, 2001)
  n.receive('b', { type: 'neighbor', high: true }, 2001)
  drain(n)
  n.receive(second, { type: 'neighbor-reply', accept: true }, 2002)
  assert.equal(drain(n), [{ type: 'send', to: second, message: { type: 'disconnect' } }])
  assert.equal([...n.active].sort(), ['a', 'b'])
  assert.ok(n.passive.has(second))
  assert.is(n.timeout !== undefined && n.timeout >= 2002, true)
})

test('fill: with an active peer, refusals in a row double the wait before the next Neighbor; a change of the view resets it', () => {
  const n = new HyParView({ self: 'n', activeSize: 3, random: seeded(3), shuffleInterval: 1e9, retryBackoff: 0 })
  n.receive('a', { type: 'neighbor', high: true }, 0)
  n.learn(['p', 'q', 'r'], 0)
  drain(n)
  const asks: number[] = []
  let now = 0
  while (now < 60_000) {
    now += 50
    n.tick(now)
    for (const [to, message] of sends(drain(n))) {
      if (message.type !== 'neighbor') continue
      asks.push(now)
      n.receive(to, { type: 'neighbor-reply', accept: false }, now)
    }
  }
  // a round's asks follow each other's refusals: a tick (50 ms) apart
  const rounds = asks.filter((t, i) => i === 0 || t - asks[i - 1] > 500)
  const gaps = rounds.slice(1).map((t, i) => t - rounds[i])
  assert.ok(gaps.length >= 3, `asked in ${rounds.length} rounds`)
  for (let i = 1; i < gaps.length; i++) assert.ok(gaps[i] >= Math.min(30_000, gaps[i - 1] * 1.9), `gaps ${gaps.join(', ')} double, up to 30 s`)
  // a peer leaving resets it: the next ask comes at once
  n.failed('a', now)
  const after = sends(drain(n)).filter(([, m]) => m.type === 'neighbor')
  assert.ok(after.length >= 1, 'asks again at once after a change')
})

test('fill: a refusal asks the next passive peer at once, until the round has asked as many as the passive view holds; then the round backs off', () => {
  const n = new HyParView({ self: 'n', activeSize: 3, random: seeded(5), shuffleInterval: 1e9 })
  n.receive('a', { type: 'neighbor', high: true }, 0)
  const passive = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6']
  n.learn(passive, 0)
  drain(n)
  // a round at 0: two free places, two asks; p6 alone has room
  n.tick(0)
  const asked = sends(drain(n)).filter(([, m]) => m.type === 'neighbor').map(([to]) => to)
  assert.is(asked.length, 2)
  const order = [...asked]
  let now = 10
  while (asked.length > 0) {
    const [to] = asked.splice(0, 1)
    n.receive(to, { type: 'neighbor-reply', accept: to === 'p6' }, now++)
    const next = sends(drain(n)).filter(([, m]) => m.type === 'neighbor').map(([t]) => t)
    asked.push(...next)
    order.push(...next)
  }
  assert.ok([...n.active].includes('p6'), `p6 found in one round: asked ${order.join(', ')}`)
  assert.is(new Set(order).size, order.length, 'no peer asked twice in a round')
  assert.ok(order.length <= 2 + passive.length)
  // the place left: the round asked everyone, and the last refusal ended it; the next round waits 2 s, not 1 s
  assert.equal([...n.active].sort(), ['a', 'p6'])
  n.tick(now + 1500)
  assert.equal(sends(drain(n)), [], 'no round 1.5 s later')
  n.tick(now + 2000)
  assert.ok(sends(drain(n)).some(([, m]) => m.type === 'neighbor'), 'the next round 2 s later')
})

test('failed: the active peer goes down and to the passive view, the view is filled at once; failures in a row double the backoff, up to 2 s for a peer whose link broke lately', () => {
  const n = new HyParView({ self: 'n', random: seeded(8), shuffleInterval: 1e9 })
  n.receive('a', { type: 'neighbor', high: true }, 0)
  drain(n)
  n.failed('a', 10)
  // a is the only passive peer, and held back
  assert.equal(drain(n), [{ type: 'down', peer: 'a' }])
  assert.ok(n.passive.has('a'))
  const asked: number[] = []
  let now = 10
  for (let round = 0; round < 6; round++) {
    // tick each 100 ms until n asks a again, then let the request fail
    for (;;) {
      now += 100
      n.tick(now)
      const out = sends(drain(n))
      if (out.length > 0) {
        assert.equal(out, [['a', { type: 'neighbor', high: true }]])
        break
      }
    }
    asked.push(now)
    n.failed('a', now)
    drain(n)
  }
  const gaps = asked.slice(1).map((t, i) => t - asked[i])
  // each ask is at the first 1 s fill after the backoff: 1, then 2 s after the failure
  assert.equal(gaps.map(g => Math.ceil(g / 1000) * 1000), [2000, 2000, 2000, 2000, 2000])
  // becoming active resets the count
  n.receive('a', { type: 'neighbor', high: false }, now)
  n.failed('a', now + 1)
  assert.equal(changes(drain(n)), ['up a', 'down a'])
  n.tick(now + 1000)
  assert.equal(sends(drain(n)), [])
  n.tick(now + 1001)
  assert.equal(sends(drain(n)), [['a', { type: 'neighbor', high: true }]])

  // a peer only heard of backs off 1, 2, 4, 8, 16 s (then 30 s)
  const m = new HyParView({ self: 'm', random: seeded(8), shuffleInterval: 1e9 })
  m.learn(['b'], 0)
  const times: number[] = []
  now = 0
  for (let round = 0; round < 6; round++) {
    for (;;) {
      now += 100
      m.tick(now)
      if (sends(drain(m)).length > 0) break
    }
    times.push(now)
    m.failed('b', now)
    drain(m)
  }
  assert.equal(times.slice(1).map((t, i) => Math.ceil((t - times[i]) / 1000) * 1000), [1000, 2000, 4000, 8000, 16000])
})

test('shuffle: sent to an active peer, walked on, answered to the origin, integrated on both ends', () => {
  const o = new HyParView({ self: 'o', random: seeded(9), shuffleInterval: 10_000 })
  o.receive('a', { type: 'neighbor', high: true }, 0)
  o.learn(['p1', 'p2', 'p3', 'p4', 'p5'], 0)
  drain(o)
  o.tick(10_000)
  const [[to, shuffle]] = sends(drain(o)).filter(([, m]) => m.type === 'shuffle')
  assert.is(to, 'a')
  assert.ok(shuffle.type === 'shuffle')
  assert.is(shuffle.origin, 'o')
  assert.is(shuffle.ttl, 3)
  assert.is(shuffle.peers[0], 'o')
  assert.is(shuffle.peers.length, 5, 'self and four passive peers; a is the only active one')
  // a node with two active peers walks it on, to the one that did not send it
  const w = new HyParView({ self: 'w', random: seeded(10) })
  w.receive('a', { type: 'neighbor', high: true }, 0)
  w.receive('b', { type: 'neighbor', high: true }, 0)
  drain(w)
  w.receive('a', shuffle, 0)
  assert.equal(sends(drain(w)), [['b', { ...shuffle, ttl: 2 }]])
  // the end of the walk answers the origin with as many passive peers, and keeps what it got
  const e = new HyParView({ self: 'e', passiveSize: 6, random: seeded(11) })
  e.receive('b', { type: 'neighbor', high: true }, 0)
  e.learn(['q1', 'q2', 'q3', 'q4', 'q5', 'q6'], 0)
  drain(e)
  e.receive('b', { ...shuffle, ttl: 2 }, 0)
  const [[replyTo, reply]] = sends(drain(e))
  assert.is(replyTo, 'o')
  assert.ok(reply.type === 'shuffle-reply')
  assert.is(reply.peers.length, 5)
  assert.is(e.passive.size, 6)
  // it made room by evicting what it sent
  for (const p of shuffle.peers) assert.ok(e.passive.has(p), `${p} integrated`)
  // the origin takes the one reply to its shuffle, and ignores any other
  o.receive('e', reply, 10_050)
  for (const p of reply.peers) assert.ok(o.passive.has(p))
  const before = [...o.passive]
  o.receive('e', { type: 'shuffle-reply', peers: ['z1', 'z2'] }, 10_060)
  assert.equal([...o.passive], before)
})

test('views stay bounded and disjoint whatever is learned', () => {
  const n = new HyParView({ self: 'n', activeSize: 3, passiveSize: 5, random: seeded(12) })
  n.receive('a', { type: 'neighbor', high: true }, 0)
  n.learn(['n', 'a', ...Array.from({ length: 100 }, (_, i) => `p${i}`)], 0)
  assert.is(n.passive.size, 5)
  assert.not.ok(n.passive.has('n') || n.passive.has('a'))
  for (let i = 0; i < 10; i++) n.receive(`h${i}`, { type: 'neighbor', high: true }, 0)
  assert.is(n.active.size, 3)
  assert.is(n.passive.size, 5)
  for (const p of n.active) assert.not.ok(n.passive.has(p))
})

test('up and down alternate per peer', () => {
  const net = new Net({ seed: 13 })
  for (const id of ['a', 'b', 'c']) net.add(id, { activeSize: 1 })
  net.call('b', n => { n.join('a', 0) })
  net.run(500)
  // c pushes b out of a's one slot, b fills from its passive view, and so on
  net.call('c', n => { n.join('a', net.now) })
  net.run(30_000)
  net.call('a', n => { n.failed('b', net.now) })
  net.call('b', n => { n.failed('a', net.now) })
  net.run(60_000)
  net.checkActions()
  for (const [id, history] of net.history) {
    const last = new Map<string, string>()
    for (const h of history) {
      const [kind, peer] = h.split(' ')
      assert.is.not(last.get(peer) ?? 'down', kind, `${id}: ${h} follows ${last.get(peer) ?? 'nothing'}`)
      last.set(peer, kind)
    }
  }
  assert.ok([...net.history.values()].some(h => h.length > 2), 'some peer went up more than once')
})

test('5 nodes joining through node 0 end fully connected', () => {
  const net = new Net({ seed: 14 })
  for (let i = 0; i < 5; i++) net.add(`n${i}`)
  for (let i = 1; i < 5; i++) {
    net.call(`n${i}`, n => { n.join('n0', net.now) })
    net.run(i * 200)
  }
  net.run(60_000)
  net.quiesce()
  for (let i = 0; i < 5; i++) assert.is(net.node(`n${i}`).active.size, 4, `n${i} has all four others`)
  net.checkActions()
})

test('200 nodes: bounded, symmetric, connected views of about activeSize; passive views full', () => {
  const net = grow(200, 15)
  net.run(net.now + 120_000)
  net.quiesce()
  net.checkViews()
  net.checkActions()
  assert.equal(net.asymmetric(), [])
  assert.is(net.reached(), 200, 'connected')
  const degree = net.meanDegree()
  assert.ok(degree >= 5.5 && degree <= 6, `mean degree ${degree}`)
  const passive = net.alive().reduce((s, id) => s + net.node(id).passive.size, 0) / 200
  assert.ok(passive >= 27, `mean passive size ${passive}`)
  // and they stay so
  net.run(net.now + 60_000)
  net.quiesce()
  net.checkViews()
  assert.equal(net.asymmetric(), [])
  assert.is(net.reached(), 200)
})

test('200 nodes on a slow network (answers often later than replyTimeout): the views still end symmetric and connected', () => {
  // delays up to 4 s each way, so that late answers, and answers to requests
  // that were superseded, are common
  const net = grow(200, 17, 100, 4000)
  net.run(net.now + 120_000)
  net.quiesce()
  net.checkViews()
  net.checkActions()
  assert.equal(net.asymmetric(), [])
  assert.is(net.reached(), 200, 'connected')
  assert.ok(net.meanDegree() >= 5.5, `mean degree ${net.meanDegree()}`)
})

test('after 10% of 200 nodes die, the others are connected again and drop the dead from their active views', () => {
  const net = grow(200, 16)
  net.run(net.now + 60_000)
  const ids = net.alive()
  for (let k = 0; k < 20; k++) {
    const i = Math.floor(net.rand() * ids.length)
    net.kill(ids[i])
    ids.splice(i, 1)
  }
  net.run(net.now + 30_000)
  net.quiesce()
  net.checkViews()
  net.checkActions()
  for (const id of net.alive()) {
    for (const p of net.node(id).active) assert.not.ok(net.dead.has(p), `${id} keeps dead ${p} active`)
  }
  assert.equal(net.asymmetric(), [])
  assert.is(net.reached(), 180, 'connected')
  const degree = net.meanDegree()
  assert.ok(degree >= 5.5, `mean degree ${degree}`)
})

test.run()
