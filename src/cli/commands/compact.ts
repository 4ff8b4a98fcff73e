import type { RetentionPolicy } from '../../index.js'
import { EXIT, type CliIO } from '../io.js'
import { withOfflineLog } from './offline.js'

/** Applies a retention policy to the log in a db folder, offline; needs no schema. */
export async function compact (db: string, policy: RetentionPolicy, io: CliIO): Promise<number> {
  return await withOfflineLog(db, async log => {
    const res = await log.compact(policy)
    io.stderr.write(`dropped ${res.dropped} entries: the log keeps positions ${res.floor + 1} to ${log.length} (${log.length - res.floor} entries)\n`)
    return EXIT.OK
  })
}
