import { readFile } from 'node:fs/promises'
import { compare } from '../../schema/compat.js'
import { describe, type Descriptor } from '../../schema/descriptor.js'
import { parseSchema } from '../../schema/parse.js'
import { describeError } from '../format.js'
import { EXIT, type CliIO } from '../io.js'
import { FatalError, systemProblem } from '../problems.js'

/**
 * `hypem schema diff OLD NEW`: whether nodes on the two schemas can share a
 * log (protocols/README.md §5.1.1), then one line per reason and per change.
 * Exits as diff(1) does: 0 compatible, 1 incompatible, 2 trouble.
 */
export async function schemaDiff ([older, newer]: readonly [string, string], io: CliIO): Promise<number> {
  let local: Descriptor
  let remote: Descriptor
  try {
    [local, remote] = await Promise.all([load(older), load(newer)])
  } catch (err) {
    if (!(err instanceof FatalError)) throw err
    io.stderr.write(`hypem: ${err.message}\n`)
    return EXIT.USAGE
  }
  const result = compare(local, remote)
  const reasons = result.compatible ? [] : result.reasons
  const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`
  io.stdout.write(result.compatible
    ? `compatible: ${result.changes.length === 0 ? 'no changes' : count(result.changes.length, 'change')}\n`
    : `incompatible: ${count(reasons.length, 'reason')}, ${count(result.changes.length, 'change')}\n`)
  for (const r of reasons) io.stdout.write(`reason ${r.text}\n`)
  for (const c of result.changes) io.stdout.write(`change ${c.text}\n`)
  return result.compatible ? EXIT.OK : EXIT.INCOMPATIBLE
}

async function load (file: string): Promise<Descriptor> {
  let text
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new FatalError(`cannot read the schema ${file}: ${systemProblem(err)}`)
  }
  try {
    return describe(parseSchema(text))
  } catch (err) {
    throw new FatalError(`${file}: ${describeError(err)}`)
  }
}
