// The feed check of `verify()` on a worker thread (see feed-check.ts): it is
// given the feed's records in batches and answers each with 'ack', and
// 'finish' with the result, its arrays transferred.
import { parentPort, workerData } from 'node:worker_threads'
import { FeedCheck, type FeedCheckInit } from './feed-check.js'
import { part, type Packed } from './packed.js'

/** A batch of feed records: each one's start position, and their values packed. */
export interface RecordBatch extends Packed {
  starts: Float64Array
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
    for (let i = 0; i < message.starts.length; i++) check.record(message.starts[i], part(message, i))
    port.postMessage('ack')
  })
}
