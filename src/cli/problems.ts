import { describeError } from './format.js'

/** A failure that ends hypem; its message is the whole line printed after `hypem: `. */
export class FatalError extends Error {}

const SYSTEM_PROBLEMS: Record<string, string> = {
  ENOENT: 'no such file',
  EISDIR: 'it is a folder',
  EADDRINUSE: 'the address is in use',
  ERR_ADDRESS_IN_USE: 'the address is in use',
  EADDRNOTAVAIL: 'no such address on this host',
  EACCES: 'permission denied'
}

function problem (code: string | undefined, err: unknown): string {
  return (code != null ? SYSTEM_PROBLEMS[code] : undefined) ?? describeError(err)
}

export function systemProblem (err: unknown): string {
  return problem((err as NodeJS.ErrnoException)?.code, err)
}

// the library names an address in use; other socket errors are in libp2p's message
export function listenProblem (err: unknown): string {
  const code = (err as { code?: string }).code
  return problem(code === 'ERR_ADDRESS_IN_USE' ? code : /\b(EADDRINUSE|EADDRNOTAVAIL|EACCES)\b/.exec(String((err as Error)?.message))?.[1], err)
}

// the innermost cause says what is wrong (classic-level: "IO error: lock db/LOCK: ...")
export function dbProblem (err: unknown): string {
  let e = err
  for (let depth = 0; depth < 5 && (e as { cause?: unknown })?.cause instanceof Error; depth++) e = (e as { cause: unknown }).cause
  const text = (e as Error)?.message ?? String(e)
  return /lock/i.test(text) ? `${text} (is another hypem using it?)` : text
}
