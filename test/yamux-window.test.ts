// The yamux window updates of src/node/yamux-window.ts: one only once half
// the receive window is used (or for a stream's first flags, or a paused
// stream), on @chainsafe/libp2p-yamux's own stream class; and a sync
// stream's window widened to what the session's credits allow, end to end.
import '../src/polyfill.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream'
import { MemoryLevel } from 'memory-level'
import { widenReceiveWindow, windowUpdateDue } from '../src/node/yamux-window.js'
import '../src/node/index.js'
import { HyperEmitter } from '../src/index.js'
import { PROTOCOL } from '../src/sync/index.js'
import { STREAM_WINDOW } from '../src/sync/constants.js'
import { fixture, until, Cluster } from './helpers.js'

const WINDOW = 256 * 1024

// A stream as the library's sendWindowUpdate sees it, with the frames it sends.
function stream (state: StreamState, capacity: number): { s: YamuxStream, frames: Array<{ flag: number, length: number }> } {
  const frames: Array<{ flag: number, length: number }> = []
  const s = Object.assign(Object.create(YamuxStream.prototype) as YamuxStream, {
    state,
    streamId: 1,
    recvWindow: WINDOW,
    recvWindowCapacity: capacity,
    maxStreamWindowSize: 16 * 1024 * 1024,
    epochStart: Date.now(),
    getRTT: () => -1,
    sendFrame: (f: { flag: number, length: number }) => { frames.push(f) }
  })
  return { s, frames }
}

test('windowUpdateDue: the first frames\' flags, a paused stream, or less than half the window left', () => {
  assert.ok(windowUpdateDue({ state: StreamState.Init, recvWindow: WINDOW, recvWindowCapacity: WINDOW }))
  assert.ok(windowUpdateDue({ state: StreamState.SYNReceived, recvWindow: WINDOW, recvWindowCapacity: WINDOW }))
  assert.ok(windowUpdateDue({ state: StreamState.Paused, recvWindow: WINDOW, recvWindowCapacity: WINDOW }))
  assert.not.ok(windowUpdateDue({ state: StreamState.Established, recvWindow: WINDOW, recvWindowCapacity: WINDOW - 100 }))
  assert.not.ok(windowUpdateDue({ state: StreamState.Established, recvWindow: WINDOW, recvWindowCapacity: WINDOW / 2 }))
  assert.ok(windowUpdateDue({ state: StreamState.Established, recvWindow: WINDOW, recvWindowCapacity: WINDOW / 2 - 1 }))
})

test('a yamux stream sends no window update for a small frame, one for the whole delta past half the window, and its first flags as before', () => {
  const small = stream(StreamState.Established, WINDOW - 100)
  small.s.sendWindowUpdate()
  assert.equal(small.frames, [], 'a 100-byte frame: no update')
  const half = stream(StreamState.Established, WINDOW / 2 - 1)
  half.s.sendWindowUpdate()
  assert.is(half.frames.length, 1)
  assert.is(half.frames[0].length, WINDOW / 2 + 1, 'the whole delta')
  assert.is((half.s as unknown as { recvWindowCapacity: number }).recvWindowCapacity, WINDOW)
  const first = stream(StreamState.SYNReceived, WINDOW)
  first.s.sendWindowUpdate()
  assert.is(first.frames.length, 1, 'the ACK of an inbound stream still goes')
  assert.ok(first.frames[0].flag !== 0)
})

test('widenReceiveWindow raises an established stream\'s window with one update of the delta, and leaves the rest alone', () => {
  const open = stream(StreamState.Established, WINDOW - 1000)
  widenReceiveWindow(open.s, 4 * WINDOW)
  assert.equal(open.frames, [{ type: 1, flag: 0, streamID: 1, length: 3 * WINDOW }])
  const s = open.s as unknown as { recvWindow: number, recvWindowCapacity: number }
  assert.is(s.recvWindow, 4 * WINDOW)
  assert.is(s.recvWindowCapacity, 4 * WINDOW - 1000, 'what the remote sent and this side has not yet taken back is still used')
  widenReceiveWindow(open.s, 2 * WINDOW)
  assert.is(open.frames.length, 1, 'never narrowed')
  const first = stream(StreamState.SYNReceived, WINDOW)
  widenReceiveWindow(first.s, 4 * WINDOW)
  assert.equal(first.frames, [], 'a stream whose first flags have not gone yet')
  widenReceiveWindow({ recvWindow: WINDOW }, 4 * WINDOW)
})

test('both ends of a sync session over TCP may send far more than yamux\'s first window before an update', async () => {
  const cluster = new Cluster()
  try {
    const schema = await fixture('messages.proto')
    const one = cluster.add(new HyperEmitter(new MemoryLevel(), schema))
    const two = cluster.add(new HyperEmitter(new MemoryLevel(), schema))
    const [addr] = await one.listen(0, '127.0.0.1')
    await two.connect(addr)
    const capacity = (e: HyperEmitter): number => {
      const stream = e.node!.getConnections().flatMap(c => c.streams).find(s => s.protocol === PROTOCOL)
      return (stream as unknown as { sendWindowCapacity?: number } | undefined)?.sendWindowCapacity ?? 0
    }
    // the handshake's frames used some of it: a window update comes only once half is used
    await until(() => capacity(one) > STREAM_WINDOW / 2 && capacity(two) > STREAM_WINDOW / 2, 5000, 'widened windows')
    assert.ok(STREAM_WINDOW / 2 > WINDOW, 'more than yamux\'s own window would ever allow')
  } finally {
    await cluster.closeAll()
  }
})

test.run()
