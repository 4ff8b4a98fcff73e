import { parseArgs as parseFlags } from 'node:util'

/** What the command line asks for, with the defaults filled in. */
export interface CliOptions {
  /** the `.proto` schema file */
  schema: string | undefined
  /** classic-level folder; in memory without it */
  db: string | undefined
  /** listen on this port */
  port: number | undefined
  /** listen on this host */
  host: string
  /** connect to a hypem listening on this port */
  targetPort: number | undefined
  targetHost: string
  /** connect to these multiaddrs */
  connect: string[]
  mdns: boolean
  topic: string | undefined
  /** true: REPL, false: ndjson, undefined: REPL when stdin is a terminal */
  repl: boolean | undefined
  fromScratch: boolean
  /** print only the events of these names (none: every name) */
  names: string[]
  /** print only the events by these authors, peer ids or hex public keys (none: every author) */
  authors: string[]
  quiet: boolean
  help: boolean
  version: boolean
  /** serve Prometheus metrics on 127.0.0.1 at this port */
  metricsPort: number | undefined
  /** serve the web view at this port (0: any free one) */
  uiPort: number | undefined
  /** host of the web view; beyond loopback it needs a token */
  uiHost: string
  /** let the web view's page emit events */
  uiEmit: boolean
  /** a private network key file: only nodes holding the key connect */
  psk: string | undefined
  /** write a new private network key to this file and exit */
  genPsk: string | undefined
  /** peer ids whose entries are accepted (default: anyone) */
  writers: string[]
  /** peers kept in session (the overlay's active view) */
  activePeers: number | undefined
  /** start even when the schema cannot decode events already in --db */
  force: boolean
  /** drop the oldest events beyond these bounds (--retain-events, --retain-age) */
  retention: { maxEvents?: number, maxAge?: number } | undefined
  /** `schema diff`: the old and the new .proto */
  diff: [string, string] | undefined
  /** the subcommand: `verify` checks the log in --db offline, `schema-diff` compares two schemas, `types` prints the schema's TypeScript types */
  command: 'run' | 'verify' | 'compact' | 'schema-diff' | 'types'
}

/** The events --name and --author ask for, as `events()` takes them; undefined for all. */
export function readFilter (options: Pick<CliOptions, 'names' | 'authors'>): { names?: string[], authors?: string[] } | undefined {
  if (options.names.length === 0 && options.authors.length === 0) return undefined
  return {
    ...(options.names.length > 0 ? { names: options.names } : {}),
    ...(options.authors.length > 0 ? { authors: options.authors } : {})
  }
}

/** A command line that cannot be run; main prints it and exits 2. */
export class UsageError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

export const USAGE = `Usage: hypem [flags] <schema.proto>
       hypem verify --db PATH
       hypem compact --db PATH --retain-events N | --retain-age AGE
       hypem schema diff OLD.proto NEW.proto
       hypem types SCHEMA.proto > events.ts
       hypem --gen-psk FILE

A HyperEmitter on the command line: a REPL, or a filter of newline-delimited
JSON events ({"name":...,"payload":...}) from stdin to stdout.

Flags:
  --schema FILE          the .proto schema (or give it as the argument)
  --db PATH              store the log in a classic-level folder (default: in
                         memory, nothing persists)
  --port N               listen for peers on port N (0: any free port)
  --host HOST            host to listen on (default 127.0.0.1; 0.0.0.0 with --mdns)
  --target-port N        connect to the hypem listening on port N
  --target-host HOST     host of --target-port (default 127.0.0.1)
  --connect MULTIADDR    connect to a peer by multiaddr (repeatable)
  --mdns                 find peers on the LAN by mDNS (listens on --port or any port)
  --topic NAME           cluster name: peers with another topic are refused
  --repl                 start the REPL even when stdin is not a terminal
  --no-repl              read and write newline-delimited JSON instead of the REPL
  --from-scratch         print every event from the beginning of the log
  --name NAME            print only the events NAME (repeatable: any of them),
                         read from the log's index of names
  --author ID            print only the events by this peer id or hex public
                         key (repeatable); with --name, both must match
  --quiet                no notices, peer messages or progress on stderr
  --metrics-port N       serve Prometheus metrics at http://127.0.0.1:N/metrics
  --ui PORT              serve a live web view of the node at http://127.0.0.1:PORT/
                         (0: any free port); read-only
  --ui-host HOST         host of the web view (default 127.0.0.1); any other
                         host requires the access token printed in its URL
  --ui-emit              let the web view's page emit events
  --psk FILE             private network key: only nodes holding it connect
  --gen-psk FILE         write a new private network key to FILE and exit
  --writer PEERID        accept entries only from these peers (repeatable;
                         this node's own are always accepted)
  --active-peers N       peers to keep sync sessions with (default 6); the
                         cluster forms a bounded overlay of them
  --retain-events N      keep at most N events: older ones are dropped
                         (the log stays verifiable; see Retention in the README)
  --retain-age AGE       drop events older than AGE (ms, or with a unit:
                         500ms, 30s, 10m, 12h, 7d)
  --force                start even when the schema cannot decode events
                         already in --db (hypem refuses, naming them, without)
  -h, --help             print this help
  -v, --version          print the version

The REPL (the default when stdin is a terminal) has the emitter as \`hyper\`:
  > hyper.emit('Hello', { from: 'Matteo' })
and prints every event as it is stored, its own and its peers'.

Without the REPL, every event is written to stdout as one JSON line (bytes as
base64), and every JSON line on stdin is emitted; a line's "key" field, when
present, is the emit's idempotency key (a key this node stored lately is not
stored again). With --db, output resumes where the last run (with the same
--name and --author) stopped (--from-scratch starts over). hypem exits when
stdin ends and every event is written, unless it listens or connects: then it
runs until SIGINT or SIGTERM.

\`hypem verify --db PATH\` checks every id, signature, parent link and clock of
the log offline and prints what is wrong.

\`hypem compact --db PATH\` drops, offline, the events that --retain-events
and --retain-age say to drop, and prints what it dropped.

\`hypem schema diff OLD.proto NEW.proto\` says whether nodes on the two schemas
can share a log, then prints one line per reason and per change.

\`hypem types SCHEMA.proto\` prints the TypeScript types of the schema's
events, a module whose \`Events\` types an emitter: new HyperEmitter<Events>(...).

Exit status: 0 done, 1 could not run (schema, db, network), 2 bad flags,
3 some input lines were skipped (each is reported on stderr with its number),
4 verify found problems. schema diff: 0 compatible, 1 incompatible, 2 bad
arguments or a schema that cannot be read. types: 0 printed, 2 bad arguments
or a schema that cannot be read.
`

const FLAGS = {
  schema: { type: 'string' },
  db: { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  'target-port': { type: 'string' },
  'target-host': { type: 'string' },
  connect: { type: 'string', multiple: true },
  mdns: { type: 'boolean' },
  topic: { type: 'string' },
  repl: { type: 'boolean' },
  'no-repl': { type: 'boolean' },
  'from-scratch': { type: 'boolean' },
  name: { type: 'string', multiple: true },
  author: { type: 'string', multiple: true },
  quiet: { type: 'boolean' },
  'metrics-port': { type: 'string' },
  ui: { type: 'string' },
  'ui-host': { type: 'string' },
  'ui-emit': { type: 'boolean' },
  psk: { type: 'string' },
  'gen-psk': { type: 'string' },
  writer: { type: 'string', multiple: true },
  'active-peers': { type: 'string' },
  force: { type: 'boolean' },
  'retain-events': { type: 'string' },
  'retain-age': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' }
} as const

/** Parses hypem's flags (argv without node and the script); throws UsageError. */
export function parseArgs (argv: string[]): CliOptions {
  let parsed
  try {
    parsed = parseFlags({ args: argv, options: FLAGS, allowPositionals: true, strict: true })
  } catch (err) {
    throw new UsageError(flagMessage(err as Error & { code?: string }))
  }
  const { values } = parsed
  let positionals = parsed.positionals
  const command = positionals[0] === 'verify' ? 'verify' : positionals[0] === 'compact' ? 'compact' : positionals[0] === 'schema' ? 'schema-diff' : positionals[0] === 'types' ? 'types' : 'run'
  if (command === 'verify' || command === 'compact') {
    positionals = positionals.slice(1)
    if (values.db == null) throw new UsageError(`${command} needs --db PATH`)
  }
  const maxEvents = values['retain-events'] == null ? undefined : retainEvents(values['retain-events'])
  const maxAge = values['retain-age'] == null ? undefined : duration('--retain-age', values['retain-age'])
  const retention = maxEvents == null && maxAge == null ? undefined : { ...(maxEvents != null ? { maxEvents } : {}), ...(maxAge != null ? { maxAge } : {}) }
  if (command === 'compact' && retention == null) throw new UsageError('compact needs --retain-events N or --retain-age AGE')
  let diff: [string, string] | undefined
  if (command === 'schema-diff') {
    if (positionals[1] !== 'diff' || positionals.length !== 4) throw new UsageError('schema takes: diff OLD.proto NEW.proto')
    diff = [positionals[2], positionals[3]]
    positionals = []
  }
  if (command === 'types') {
    positionals = positionals.slice(1)
    if (positionals.length === 0 && values.schema == null) throw new UsageError('types takes a .proto file: types SCHEMA.proto')
  }
  if (values.repl === true && values['no-repl'] === true) throw new UsageError('--repl and --no-repl contradict each other')
  if (positionals.length > 1) throw new UsageError(`one schema file, not ${positionals.length}: ${positionals.join(' ')}`)
  if (values.schema != null && positionals.length > 0) throw new UsageError('give the schema as --schema or as the argument, not both')
  const mdns = values.mdns === true
  const options: CliOptions = {
    schema: values.schema ?? positionals[0],
    db: nonEmpty('--db', values.db),
    port: port('--port', values.port),
    host: nonEmpty('--host', values.host) ?? (mdns ? '0.0.0.0' : '127.0.0.1'),
    targetPort: port('--target-port', values['target-port']),
    targetHost: nonEmpty('--target-host', values['target-host']) ?? '127.0.0.1',
    connect: values.connect ?? [],
    mdns,
    topic: values.topic,
    repl: values.repl === true ? true : values['no-repl'] === true ? false : undefined,
    fromScratch: values['from-scratch'] === true,
    names: (values.name ?? []).map(name => nonEmpty('--name', name)!),
    authors: (values.author ?? []).map(author),
    quiet: values.quiet === true,
    help: values.help === true,
    version: values.version === true,
    metricsPort: port('--metrics-port', values['metrics-port']),
    uiPort: port('--ui', values.ui),
    uiHost: nonEmpty('--ui-host', values['ui-host']) ?? '127.0.0.1',
    uiEmit: values['ui-emit'] === true,
    psk: nonEmpty('--psk', values.psk),
    genPsk: nonEmpty('--gen-psk', values['gen-psk']),
    writers: values.writer ?? [],
    activePeers: count('--active-peers', values['active-peers']),
    force: values.force === true,
    retention,
    diff,
    command
  }
  if (options.metricsPort === 0) throw new UsageError('--metrics-port needs a fixed port, not 0')
  if (values['target-host'] != null && options.targetPort == null) throw new UsageError('--target-host needs --target-port')
  if (options.uiPort == null && (values['ui-host'] != null || options.uiEmit)) throw new UsageError(`${values['ui-host'] != null ? '--ui-host' : '--ui-emit'} needs --ui PORT`)
  if (options.schema == null && !options.help && !options.version && options.genPsk == null && command === 'run') throw new UsageError('no schema: give a .proto file')
  return options
}

function port (flag: string, value: string | undefined): number | undefined {
  if (value == null) return undefined
  const n = /^\d{1,5}$/.test(value) ? Number(value) : NaN
  if (!(n >= 0 && n <= 65535)) throw new UsageError(`${flag} must be a port number (0-65535), not "${value}"`)
  return n
}

function count (flag: string, value: string | undefined): number | undefined {
  if (value == null) return undefined
  const n = /^\d{1,3}$/.test(value) ? Number(value) : NaN
  if (!(n >= 1 && n <= 100)) throw new UsageError(`${flag} must be a number from 1 to 100, not "${value}"`)
  return n
}

function retainEvents (value: string): number {
  const n = /^\d{1,15}$/.test(value) ? Number(value) : NaN
  if (!(n >= 1)) throw new UsageError(`--retain-events must be a whole number of at least 1, not "${value}"`)
  return n
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** A duration in ms: a number of ms, or a number with a unit (ms, s, m, h, d). */
export function duration (flag: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(value)
  const n = m == null ? NaN : Math.round(Number(m[1]) * UNITS[m[2] ?? 'ms'])
  if (!(Number.isSafeInteger(n) && n >= 1)) throw new UsageError(`${flag} must be a duration (ms, or with a unit: 30s, 10m, 12h, 7d), not "${value}"`)
  return n
}

// the shapes the library takes; it checks an Ed25519 peer id further
function author (value: string): string {
  if (!/^([0-9a-fA-F]{64}|12D3KooW[1-9A-HJ-NP-Za-km-z]{44})$/.test(value)) throw new UsageError(`--author must be a peer id (12D3KooW...) or a hex public key, not "${value}"`)
  return value
}

function nonEmpty (flag: string, value: string | undefined): string | undefined {
  if (value === '') throw new UsageError(`${flag} must not be empty`)
  return value
}

// node:util's messages name the flag but add advice about `--` that does not apply here
function flagMessage (err: Error & { code?: string }): string {
  const unknown = /Unknown option '([^']+)'/.exec(err.message)
  if (unknown != null) return `unknown flag ${unknown[1]}`
  const missing = /Option '(?:-\w, )?(--[\w-]+)(?: <value>)?' argument (?:missing|is ambiguous)/.exec(err.message)
  if (missing != null) return `${missing[1]} needs a value`
  return err.message.split('\n')[0]
}
