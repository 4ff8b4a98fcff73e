import { EXIT, type CliIO } from '../io.js'
import { dbProblem, FatalError } from '../problems.js'

/** Checks the whole log in a db folder, offline; needs no schema. */
export async function verify (db: string, io: CliIO): Promise<number> {
  const [{ Log }, { ClassicLevel }] = await Promise.all([import('../../index.js'), import('classic-level')])
  let log
  try {
    log = await Log.open(new ClassicLevel(db, { createIfMissing: false }))
  } catch (err) {
    throw new FatalError(`cannot open the db ${db}: ${dbProblem(err)}`)
  }
  try {
    const report = await log.verify()
    for (const p of report.problems) {
      io.stdout.write(`${p.seq != null ? `entry ${p.seq}` : 'log'}${p.id != null ? ` ${p.id}` : ''}: ${p.problem}\n`)
    }
    io.stderr.write(`${report.ok ? 'ok' : 'DAMAGED'}: ${report.entries} entries by ${report.authors} authors, ${report.problems.length} problems\n`)
    return report.ok ? EXIT.OK : EXIT.DAMAGED
  } finally {
    await log.close()
  }
}
