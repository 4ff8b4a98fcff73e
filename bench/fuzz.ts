// Fuzzer of the receiving side of HyperEmitter (the parts are in test/fuzz/):
//  (a) the entry validator, (b) the session's frame decoding, (c) a live node
//  fed mutated frames over real libp2p streams, (d) the session's core fed
//  mutated frames in-process.
// `node dist/bench/fuzz.js` runs the full size and prints one JSON line;
// test/fuzz.test.ts runs a CI size of the same code.
import '../src/polyfill.js'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { makeCorpus, fuzzValidator, fuzzDecoder, fuzzCore, fuzzNetwork } from '../test/fuzz/index.js'

async function main (): Promise<void> {
  const arg = (name: string, fallback: number): number => {
    const a = process.argv.find(x => x.startsWith(`--${name}=`))
    return a == null ? fallback : Number(a.split('=')[1])
  }
  const seed = arg('seed', 20_260_101)
  const schemaText = await readFile(new URL('../../test/fixtures/messages.proto', import.meta.url), 'utf8')
  const corpus = await makeCorpus(schemaText)
  const log = (what: string): void => { process.stderr.write(`${new Date().toISOString()} ${what}\n`) }
  log(`corpus: ${corpus.pool.length} valid entries`)
  const validator = await fuzzValidator(corpus, { inputs: arg('validator', 1_000_000), seed })
  log(`validator: ${validator.inputs} inputs in ${validator.ms} ms`)
  const decoder = fuzzDecoder(corpus, { inputs: arg('decoder', 1_000_000), seed })
  log(`decoder: ${decoder.inputs} frames in ${decoder.ms} ms`)
  const core = await fuzzCore(corpus, { inputs: arg('core', 30_000), seed })
  log(`core: ${core.inputs} sessions in ${core.ms} ms`)
  const network = await fuzzNetwork(corpus, { frames: arg('network', 100_000), seed, peers: arg('peers', 4), onProgress: n => { log(`network: ${n} frames`) } })
  const failures = [...validator.failures, ...decoder.failures, ...core.failures, ...network.failures, ...(network.honest ? [] : ['the node no longer served an honest peer'])]
  console.log(JSON.stringify({ name: 'fuzz', seed, ok: failures.length === 0, failures: failures.slice(0, 20), validator, decoder, core, network }))
  process.exitCode = failures.length === 0 ? 0 : 1
}

if (process.argv[1] != null && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch(err => {
    console.error(err)
    process.exit(1)
  })
}
