// The feed check of `verify()` on a worker thread (see feed-check.ts): it is
// given the feed's records in batches and answers each with 'ack', and
// 'finish' with the result, its arrays transferred.
import { parentPort, workerData } from 'node:worker_threads'
import { FeedCheck, type FeedCheckInit } from './feed-check.js'

/** A batch of feed records: each one's start position, and their values one after another, each ending at its `ends`. */
export interface RecordBatch {
  starts: Float64Array
  ends: Uint32Array
  bytes: Uint8Array
}

const port = parentPort
if (port != null) {
  const check = new FeedCheck(workerData as FeedCheckInit)
  port.on('message', (message: RecordBatch | 'finish') => {
    if (message === 'finish') {
      const result = check.finish()
      port.postMessage(result, [result.idAt.buffer, result.clockAt.buffer, result.state.buffer] as ArrayBuffer[])
      return
    }
    const { starts, ends, bytes } = message
    let from = 0
    for (let i = 0; i < starts.length; i++) {
      check.record(starts[i], Buffer.from(bytes.buffer, bytes.byteOffset + from, ends[i] - from))
      from = ends[i]
    }
    port.postMessage('ack')
  })
}
