import { writeFile } from 'node:fs/promises'
import { EXIT, type CliIO } from '../io.js'
import { FatalError, systemProblem } from '../problems.js'

/** Writes a new private network key, readable by its owner only. */
export async function genPsk (file: string, io: CliIO): Promise<number> {
  const { generatePsk } = await import('../../index.js')
  try {
    await writeFile(file, generatePsk(), { mode: 0o600, flag: 'wx' })
  } catch (err) {
    throw new FatalError(`cannot write the key ${file}: ${systemProblem(err)}`)
  }
  io.stderr.write(`wrote a private network key to ${file}: give it to every node with --psk\n`)
  return EXIT.OK
}
