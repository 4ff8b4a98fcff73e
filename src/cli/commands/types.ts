import { readFile } from 'node:fs/promises'
import { basename } from 'node:path'
import { generateTypes } from '../../schema/typegen.js'
import { describeError } from '../format.js'
import { EXIT, type CliIO } from '../io.js'
import { systemProblem } from '../problems.js'

/**
 * `hypem types SCHEMA`: the TypeScript types of the schema's events, as a
 * module on stdout. Exits as `hypem schema diff` does on trouble: 2 for a
 * schema that cannot be read or parsed.
 */
export async function types (file: string, io: CliIO): Promise<number> {
  let text
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    io.stderr.write(`hypem: cannot read the schema ${file}: ${systemProblem(err)}\n`)
    return EXIT.USAGE
  }
  let module
  try {
    module = generateTypes(text, { source: basename(file) })
  } catch (err) {
    io.stderr.write(`hypem: ${file}: ${describeError(err)}\n`)
    return EXIT.USAGE
  }
  io.stdout.write(module)
  return EXIT.OK
}
