import type { Log } from '../../index.js'
import { dbProblem, FatalError } from '../problems.js'
import { BINARY } from '../../log/level.js'

/** Opens the log in an existing db folder (no schema, no network), runs `fn` on it, and closes it. */
export async function withOfflineLog<T> (db: string, fn: (log: Log) => Promise<T>): Promise<T> {
  const [{ Log }, { ClassicLevel }] = await Promise.all([import('../../index.js'), import('classic-level')])
  let log
  try {
    log = await Log.open(new ClassicLevel(db, { createIfMissing: false, ...BINARY }))
  } catch (err) {
    throw new FatalError(`cannot open the db ${db}: ${dbProblem(err)}`)
  }
  try {
    return await fn(log)
  } finally {
    await log.close()
  }
}
