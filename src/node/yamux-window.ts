// @chainsafe/libp2p-yamux 8 sends a WINDOW_UPDATE frame after every data
// frame it receives, however little of the window the frame used. A sync
// session's frames are small (an Ack, one live entry, an IHave), so each of
// them cost a second frame back: one more Noise message, two more socket
// writes and a read, on both hosts. go-yamux and rust-yamux send an update
// only once half the window is used; this makes the JavaScript streams do
// the same. The sender is never stalled by it: it holds what this side has
// left, at least half a window, until the update. Applied once, when the
// node module is loaded; the flags of a stream's first frames (SYN, ACK) and
// a paused stream go through the library's own code as before.
//
// widenReceiveWindow, for a protocol with flow control of its own: a sync
// session gives its stream the window its credits allow.
import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream'

const PATCHED = Symbol.for('hyperemitter.yamux-window')

interface WindowState {
  state: StreamState
  recvWindow: number
  recvWindowCapacity: number
}

/** yamux's frame type of a window update (its spec; the library does not export its enum). */
const WINDOW_UPDATE = 1

/** Whether a window update is due: the first frames' flags, a paused stream, or less than half the window left. */
export function windowUpdateDue (s: WindowState): boolean {
  return s.state === StreamState.Init || s.state === StreamState.SYNReceived || s.state === StreamState.Paused ||
    s.recvWindowCapacity < s.recvWindow / 2
}

const proto = YamuxStream.prototype as unknown as Record<PropertyKey, unknown> & { sendWindowUpdate: (this: YamuxStream) => void }
if (proto[PATCHED] !== true) {
  const send = proto.sendWindowUpdate
  proto.sendWindowUpdate = function (this: YamuxStream) {
    if (windowUpdateDue(this as unknown as WindowState)) send.call(this)
  }
  proto[PATCHED] = true
}

/**
 * Raises an established yamux stream's receive window to `bytes` and tells
 * the remote at once: a window update is how a yamux receiver grows its
 * window, so any yamux peer takes it. A protocol with flow control of its
 * own gives the stream the window its credits allow, and the remote does not
 * wait on both (yamux starts at 256 KiB and grows only after round trips).
 * Other streams, and one not yet established, are left as they are.
 */
export function widenReceiveWindow (stream: unknown, bytes: number): void {
  if (!(stream instanceof YamuxStream)) return
  const s = stream as unknown as WindowState & { streamId: number, sendFrame: (header: { type: number, flag: number, streamID: number, length: number }) => boolean }
  if (s.state !== StreamState.Established || s.recvWindow >= bytes) return
  const delta = bytes - s.recvWindow
  s.recvWindow = bytes
  s.recvWindowCapacity += delta
  s.sendFrame({ type: WINDOW_UPDATE, flag: 0, streamID: s.streamId, length: delta })
}
