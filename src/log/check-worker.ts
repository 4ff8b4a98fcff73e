// A worker of the CheckPool (check-pool.ts): for each entry of a job, its id
// and the verdict on its signature, checked as `verifyEntry` checks it.
import { parentPort } from 'node:worker_threads'
import { ID_LENGTH, readEntry, verifyEntry, writeId } from './entry.js'
import { FAILED, UNSIGNED, VALID, type CheckJob, type CheckReply } from './check-pool.js'
import { part } from './packed.js'

const port = parentPort
if (port != null) {
  port.on('message', (message: CheckJob) => {
    const n = message.ends.length
    const ids = new Uint8Array(n * ID_LENGTH)
    const signatures = new Uint8Array(n)
    for (let i = 0; i < n; i++) {
      const entry = part(message, i)
      writeId(entry, ids, i * ID_LENGTH)
      try {
        const decoded = readEntry(entry)
        if (decoded.signature.byteLength === 0) {
          signatures[i] = UNSIGNED
          continue
        }
        verifyEntry({ id: ids.subarray(i * ID_LENGTH, (i + 1) * ID_LENGTH), bytes: entry, entry: decoded })
        signatures[i] = VALID
      } catch {
        signatures[i] = FAILED
      }
    }
    port.postMessage({ job: message.job, ids, signatures } satisfies CheckReply, [ids.buffer, signatures.buffer])
  })
}
