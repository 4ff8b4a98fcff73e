import { readFile } from 'node:fs/promises'
import { parseArgs, USAGE, UsageError, type CliOptions } from './args.js'
import { runEmitter } from './commands/emitter.js'
import { genPsk } from './commands/gen-psk.js'
import { schemaDiff } from './commands/schema.js'
import { types } from './commands/types.js'
import { verify } from './commands/verify.js'
import { compact } from './commands/compact.js'
import { describeError } from './format.js'
import { EXIT, type CliIO } from './io.js'
import { FatalError } from './problems.js'

export { EXIT, type CliIO } from './io.js'

/** Runs hypem with `argv` (the flags, without node and the script); resolves with the exit status. */
export async function run (argv: string[], io: CliIO): Promise<number> {
  let options: CliOptions
  try {
    options = parseArgs(argv)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    io.stderr.write(`hypem: ${err.message}\nTry 'hypem --help'.\n`)
    return EXIT.USAGE
  }
  if (options.help) {
    io.stdout.write(USAGE)
    return EXIT.OK
  }
  if (options.version) {
    io.stdout.write(await version() + '\n')
    return EXIT.OK
  }
  try {
    if (options.genPsk != null) return await genPsk(options.genPsk, io)
    if (options.command === 'verify') return await verify(options.db!, io)
    if (options.command === 'compact') return await compact(options.db!, options.retention!, io)
    if (options.command === 'schema-diff') return await schemaDiff(options.diff!, io)
    if (options.command === 'types') return await types(options.schema!, io)
    return await runEmitter(options, io)
  } catch (err) {
    io.stderr.write(`hypem: ${err instanceof FatalError ? err.message : describeError(err)}\n`)
    return EXIT.FAILED
  }
}

/** The version in package.json. */
export async function version (): Promise<string> {
  // dist/src/cli/main.js -> package.json
  const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}
