// The yamux window updates of src/node/yamux-window.ts: one only once half
// the receive window is used (or for a stream's first flags, or a paused
// stream), on @chainsafe/libp2p-yamux's own stream class.
import '../src/polyfill.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream'
import { windowUpdateDue } from '../src/node/yamux-window.js'
import '../src/node/index.js'

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

test.run()
