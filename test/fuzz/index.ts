// The fuzzer: test/fuzz.test.ts runs it at a CI size, bench/fuzz.ts at full size.
export * from './corpus.js'
export * from './validator.js'
export * from './decoder.js'
export * from './network.js'
export * from './core.js'
