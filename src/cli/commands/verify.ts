import { EXIT, type CliIO } from '../io.js'
import { withOfflineLog } from './offline.js'

/** Checks the whole log in a db folder, offline; needs no schema. */
export async function verify (db: string, io: CliIO): Promise<number> {
  return await withOfflineLog(db, async log => {
    const report = await log.verify()
    for (const p of report.problems) {
      io.stdout.write(`${p.seq != null ? `entry ${p.seq}` : 'log'}${p.id != null ? ` ${p.id}` : ''}: ${p.problem}\n`)
    }
    io.stderr.write(`${report.ok ? 'ok' : 'DAMAGED'}: ${report.entries} entries by ${report.authors} authors, ${report.problems.length} problems\n`)
    return report.ok ? EXIT.OK : EXIT.DAMAGED
  })
}
