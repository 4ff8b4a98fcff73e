import { networkInterfaces } from 'node:os'
import type { HyperEmitter } from '../index.js'
import type { CliOptions } from './args.js'
import type { CliIO } from './io.js'
import { FatalError, systemProblem } from './problems.js'

/**
 * Serves the web view (`--ui`) and prints its address on stderr; returns
 * what stops it. Beyond loopback the address carries the token, and a
 * warning says who can see the cluster: both print even with --quiet.
 */
export async function startUI (emitter: HyperEmitter, options: CliOptions, io: CliIO): Promise<() => Promise<void>> {
  const port = options.uiPort!
  const host = options.uiHost
  const { serveUI } = await import('../ui/index.js')
  let ui
  try {
    ui = await serveUI(emitter, { port, host, allowEmit: options.uiEmit, dbPath: options.db })
  } catch (err) {
    throw new FatalError(`cannot serve the web view on ${host}:${port}: ${systemProblem(err)}`)
  }
  if (ui.widened) {
    io.stderr.write(`hypem: warning: the web view listens on ${host}, beyond this machine: whoever reaches it with the token in this URL sees the cluster${ui.allowEmit ? ' and can emit events' : ''}\n`)
  }
  if (ui.widened || !options.quiet) io.stderr.write(`hypem: web view at ${ui.url}${ui.allowEmit ? ' (emitting allowed)' : ''}\n`)
  // on every interface: the addresses others may use
  if (host === '0.0.0.0' || host === '::') {
    for (const address of interfaceAddresses(host === '::')) io.stderr.write(`hypem: web view also at ${ui.url.replace('127.0.0.1', address)}\n`)
  }
  return async () => { await ui.close() }
}

function interfaceAddresses (v6: boolean): string[] {
  const out: string[] = []
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.internal) continue
      if (a.family === 'IPv4') out.push(a.address)
      else if (v6 && !a.address.startsWith('fe80')) out.push(`[${a.address}]`)
    }
  }
  return out
}
