import type { RetentionPolicy } from '../../index.js'
import { EXIT, type CliIO } from '../io.js'
import { dbProblem, FatalError } from '../problems.js'

/** Applies a retention policy to the log in a db folder, offline; needs no schema. */
export async function compact (db: string, policy: RetentionPolicy, io: CliIO): Promise<number> {
  const [{ Log }, { ClassicLevel }] = await Promise.all([import('../../index.js'), import('classic-level')])
  let log
  try {
    log = await Log.open(new ClassicLevel(db, { createIfMissing: false }))
  } catch (err) {
    throw new FatalError(`cannot open the db ${db}: ${dbProblem(err)}`)
  }
  try {
    const res = await log.compact(policy)
    io.stderr.write(`dropped ${res.dropped} entries: the log keeps positions ${res.floor + 1} to ${log.length} (${log.length - res.floor} entries)\n`)
    return EXIT.OK
  } finally {
    await log.close()
  }
}
