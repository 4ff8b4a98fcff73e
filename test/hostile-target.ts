// The node under attack in the hostile tests (hostile.test.ts,
// hostile-entries.test.ts): a listening HyperEmitter on 127.0.0.1, hostile
// peers to send it what an honest node never would, and what to check after:
// the Refuse it sent, the stream's end, the block, and that it still serves an
// honest peer. Assertions use refuse codes, error names, counts and lengths,
// never message text.
import * as assert from 'uvu/assert'
import { MemoryLevel } from 'memory-level'
import v8 from 'node:v8'
import { runInNewContext } from 'node:vm'
import { HyperEmitter, type HyperEmitterOptions } from '../src/index.js'
import { Schema } from '../src/schema/index.js'
import { REFUSE, PROTOCOL } from '../src/sync/constants.js'
import { fixture, Cluster, collect } from './helpers.js'
import { HostilePeer, type RawStream, hello } from './hostile-peer.js'
import type { RefuseName } from '../src/sync/index.js'
import type { Multiaddr } from '@multiformats/multiaddr'

v8.setFlagsFromString('--expose-gc')
export const gc = runInNewContext('gc') as () => void

export const messages = await fixture('messages.proto')
export const schema = new Schema(messages)
export const FAST: HyperEmitterOptions = { reconnectTimeout: 100 }
export const cluster = new Cluster()
export const HELLO = schema.encode('Hello', { from: 'hostile' })

export function track<T extends { close: () => Promise<void> }> (x: T): T {
  return cluster.add(x)
}

export async function hostile (): Promise<HostilePeer> {
  const p = await HostilePeer.create()
  track({ close: async () => { await p.stop() } })
  return p
}

export const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

export interface Refusal { peer: string, code: string, remote: boolean }

/** Sessions the node ended with a Refuse, as its peer:refused status events tell. */
const refusals = new WeakMap<HyperEmitter, Refusal[]>()

/** A listening node to attack, and its address; its log holds its EventPeer. */
export async function target (options: HyperEmitterOptions = FAST): Promise<{ e: HyperEmitter, addr: Multiaddr, base: number }> {
  const e = track(new HyperEmitter(new MemoryLevel(), messages, options))
  const list: Refusal[] = []
  refusals.set(e, list)
  e.status.on('peer:refused', (ev: Refusal) => { list.push(ev) })
  const [addr] = await e.listen(0)
  return { e, addr, base: e.log.length }
}

/**
 * The node ended the session with a Refuse of `code`: its own peer:refused
 * event says so, the stream ended, and if the Refuse frame reached the peer
 * it carries that code. (The node closes the connection right after a block,
 * which can drop the frame before the peer reads it: see the report.)
 */
export async function assertRefusedWith (e: HyperEmitter, p: HostilePeer, s: RawStream, code: RefuseName): Promise<void> {
  const mine = (): Refusal[] => (refusals.get(e) ?? []).filter(r => r.peer === p.peerId && !r.remote)
  await s.waitFor(() => s.ending != null && mine().length > 0, 3000)
  assert.ok(s.ending != null, `${code}: the stream ended`)
  assert.equal(mine().map(r => r.code), [code], `the node refused with ${code}`)
  const last = s.frames.filter(f => f.refuse != null).at(-1)?.refuse
  if (last != null) assert.is(last.code, REFUSE[code], `the Refuse frame carries ${code}`)
}

/** A hostile peer past the handshake: it said Hello and got the node's. */
export async function session (e: HyperEmitter, addr: Multiaddr, peer?: HostilePeer): Promise<{ p: HostilePeer, s: RawStream }> {
  const p = peer ?? await hostile()
  const s = await p.open(addr)
  assert.ok(await s.send(hello(e)), 'the Hello was written')
  assert.ok(await s.remoteHello() != null, 'the node said Hello')
  return { p, s }
}

export function sync (e: HyperEmitter): NonNullable<HyperEmitter['node']>['services']['sync'] {
  return e.node!.services.sync
}

/** An honest emitter connects, and an event goes each way. */
export async function servesHonest (e: HyperEmitter, addr: Multiaddr): Promise<void> {
  const honest = track(new HyperEmitter(new MemoryLevel(), messages, FAST))
  await honest.connect(addr)
  // each side hears its own event and the other's
  const atNode = collect<{ value: number }>(e, 'Integer', 2, 5000)
  const atHonest = collect<{ value: number }>(honest, 'Integer', 2, 5000)
  await honest.emit('Integer', { value: 7 })
  await e.emit('Integer', { value: 8 })
  assert.equal((await atNode).map(m => m.value).sort(), [7, 8])
  assert.equal((await atHonest).map(m => m.value).sort(), [7, 8])
}

/** The node refused the stream: a Refuse with one of `codes`, and/or the stream ended. */
export function assertEnded (s: RawStream, codes: number[], what: string): void {
  assert.ok(s.ending != null, `${what}: the stream ended`)
  if (s.refused != null) assert.ok(codes.includes(s.refused.code), `${what}: Refuse code ${s.refused.code} is one of ${codes.join(', ')}`)
}

/** Sync streams the node holds on its connections from `peer`. */
export function nodeStreams (e: HyperEmitter, peer: string): number {
  return e.node!.getConnections().filter(c => c.remotePeer.toString() === peer)
    .reduce((n, c) => n + c.streams.filter(st => st.protocol === PROTOCOL).length, 0)
}

/** After a block: a new dial or stream from the peer gets nowhere. */
export async function assertKeptAway (e: HyperEmitter, addr: Multiaddr, p: HostilePeer): Promise<void> {
  assert.ok(sync(e).isBlocked(p.peerId), 'the peer is blocked')
  let s: RawStream | undefined
  try {
    s = await p.open(addr, 2000)
  } catch {
    return // the dial or the stream was refused
  }
  await s.send(hello(e))
  await s.waitEnd(2000)
  assert.ok(s.ending != null, 'a stream from a blocked peer ends')
  assert.not.ok(s.frames.some(f => f.hello != null), 'a blocked peer gets no Hello')
}
