// A rolling schema upgrade (issue 12), three emitters in three OS processes
// (test/child-emitter.ts) over TCP on 127.0.0.1, in a chain a - b - c: only b
// listens, so whatever a and c exchange crosses b. All start on
// upgrade-v1.proto and keep emitting; one at a time each restarts on its db
// with upgrade-v2.proto (Hello gains `mood`, Farewell is new): a, then c, so
// that v2 events cross b while it still runs v1, then b. No session is
// refused at any step, no acknowledged emit is lost, and in the end every
// log holds every event, each readable with v2.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { Log, Schema } from '../src/index.js'
import { fixture, tempDir, until } from './helpers.js'
import { Child, children, type Line } from './child.js'

// generous: on a loaded machine, entries relayed through b can lag by seconds
const STEP_MS = 30_000
const NAMES = ['Hello', 'Integer', 'Farewell']

test.after.each(async () => {
  await Promise.all([...children].map(async c => { await c.kill() }))
})

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>(resolve => server.close(() => { resolve() }))
  return port
}

test('a rolling upgrade of three nodes from v1 to v2: no refusal, nothing acknowledged lost, v2 events cross a v1 node, and every node ends with everything', async () => {
  const started = Date.now()
  const dir = await tempDir()
  const port = await freePort()
  /** every run of every node, in order */
  const runs: Child[] = []
  let addr = ''
  const start = async (name: 'a' | 'b' | 'c', version: 1 | 2, run: number): Promise<Child> => {
    const child = new Child(`${name} v${version}`, {
      db: join(dir.path, name),
      schema: `upgrade-v${version}.proto`,
      ...(name === 'b' ? { listen: true, port } : { connect: addr }),
      report: true,
      names: NAMES,
      unknown: true,
      // distinct values per node and run: 1_000_000 for a's first run, ...
      emit: { base: ('abc'.indexOf(name) + 1) * 1_000_000 + run * 100_000, concurrency: 1, pauseMs: 40 },
      options: { reconnectTimeout: 100 }
    })
    runs.push(child)
    await child.waitFor('ready', STEP_MS)
    if (name !== 'b') await child.waitFor('synced', STEP_MS)
    return child
  }
  const acked = (c: Child): number => c.all('a').length
  const more = async (nodes: Child[], n = 20): Promise<void> => {
    const from = nodes.map(acked)
    await Promise.all(nodes.map(async (c, i) => { await c.until(() => acked(c) >= from[i] + n, STEP_MS, `${n} more acknowledged emits`) }))
  }
  const events = (c: Child, name: string, check: (payload: Record<string, unknown>) => boolean): Line[] => c.all('event', l => l.name === name && check(l.payload as Record<string, unknown>))
  const restart = async (old: Child, name: 'a' | 'b' | 'c', run: number): Promise<Child> => {
    await old.stop()
    assert.is(old.exitCode, 0, old.transcript)
    return await start(name, 2, run)
  }
  try {
    let b = await start('b', 1, 0)
    addr = (b.find('ready')!.addrs as string[])[0]
    let [a, c] = await Promise.all([start('a', 1, 0), start('c', 1, 0)])
    await more([a, b, c])

    // a on v2: its new events reach both v1 nodes, read as far as v1 reads them
    a = await restart(a, 'a', 1)
    await more([a, b, c])
    a.send({ cmd: 'emit', name: 'Hello', msg: { from: 'a', message: 'one', mood: 'early' }, tag: 'h1' })
    a.send({ cmd: 'emit', name: 'Farewell', msg: { from: 'a', after: 1 }, tag: 'f1' })
    for (const v1 of [b, c]) {
      await v1.until(() => events(v1, 'Hello', p => p.message === 'one').length === 1, STEP_MS, 'the v2 Hello')
      assert.equal(events(v1, 'Hello', p => p.message === 'one')[0].payload, { from: 'a', message: 'one' }, 'v1 reads what it knows of it')
      await v1.until(() => v1.find('unknown', l => l.name === 'Farewell') != null, STEP_MS, 'the Farewell, as an unknown event')
      assert.equal(v1.all('event', l => l.name === 'Farewell'), [], 'no v1 listener gets it')
    }

    // c on v2: a's v2 events now cross b, still v1, to reach c's v2 listeners
    c = await restart(c, 'c', 1)
    await more([a, b, c])
    a.send({ cmd: 'emit', name: 'Hello', msg: { from: 'a', message: 'two', mood: 'across' }, tag: 'h2' })
    a.send({ cmd: 'emit', name: 'Farewell', msg: { from: 'a', after: 2 }, tag: 'f2' })
    await c.until(() => events(c, 'Hello', p => p.message === 'two').length === 1 && events(c, 'Farewell', p => p.after === 2).length === 1, STEP_MS, 'a\'s v2 events through b')
    assert.equal(events(c, 'Hello', p => p.message === 'two')[0].payload, { from: 'a', message: 'two', mood: 'across' })
    await b.until(() => b.all('unknown', l => l.name === 'Farewell').length === 2, STEP_MS, 'b storing the second Farewell, unknown to it')
    c.send({ cmd: 'state', tag: 'chain' })
    const chain = await c.waitFor('state', STEP_MS, l => l.tag === 'chain')
    assert.equal((chain.peers as Array<{ id: string }>).map(p => p.id), [b.find('ready')!.peerId], 'c is linked to b alone')

    // b on v2, on the same port: a and c come back to it
    b = await restart(b, 'b', 1)
    await more([a, b, c])
    for (const [from, to] of [[a, c], [c, a], [b, a], [b, c]] as const) {
      const tag = `${from.name} to ${to.name}`
      from.send({ cmd: 'emit', name: 'Farewell', msg: { from: tag, after: 3 }, tag })
      await to.until(() => events(to, 'Farewell', p => p.from === tag).length === 1, STEP_MS, `the Farewell ${tag}`)
    }

    // all on v2: stop emitting, and the three logs converge
    for (const x of [a, b, c]) x.send({ cmd: 'stop' })
    await Promise.all([a, b, c].map(async x => { await x.waitFor('stopped', STEP_MS) }))
    const state = async (x: Child, tag: string): Promise<Line> => {
      x.send({ cmd: 'state', tag })
      return await x.waitFor('state', STEP_MS, l => l.tag === tag)
    }
    await until(async () => {
      const tag = String(Date.now())
      const s = await Promise.all([a, b, c].map(async x => await state(x, tag)))
      return new Set(s.map(x => `${String(x.length)} ${(x.heads as string[]).join()}`)).size === 1
    }, STEP_MS, 'the same log on the three nodes')
    for (const x of [a, b, c]) await x.stop()

    // no refusal, nothing invalid, at any step, in any run
    for (const run of runs) {
      assert.equal(run.all('refused'), [], `${run.name} saw a refusal\n${run.transcript}`)
      assert.equal(run.all('invalid'), [], `${run.name} saw invalid entries\n${run.transcript}`)
      assert.is(run.exitCode, 0, run.transcript)
    }

    // every log holds every acknowledged emit of every run, and reads all of it with v2
    const v2 = new Schema(await fixture('upgrade-v2.proto'))
    const ackedIds = new Set(runs.flatMap(r => r.all('a').map(l => l.id as string)))
    const emittedIds = new Set(runs.flatMap(r => r.all('emitted').map(l => l.id as string)))
    assert.ok(ackedIds.size > 200, `${ackedIds.size} acknowledged emits`)
    const vectors: unknown[] = []
    for (const name of ['a', 'b', 'c']) {
      const l = await Log.open(new ClassicLevel(join(dir.path, name)))
      try {
        assert.ok((await l.verify()).ok, `${name} verifies`)
        const all = await l.read(1, l.length)
        const ids = new Set(all.map(e => Buffer.from(e.id).toString('hex')))
        const lost = [...ackedIds, ...emittedIds].filter(id => !ids.has(id))
        assert.equal(lost, [], `${name} lacks acknowledged emits`)
        for (const e of all) assert.ok(v2.knows(e.entry.name), `${name}: ${e.entry.name} is a v2 event`)
        const decoded = all.map(e => ({ name: e.entry.name, payload: v2.decode(e.entry.name, e.entry.payload) }))
        assert.equal(decoded.filter(e => e.name === 'Hello' && e.payload.from === 'a').map(e => e.payload.mood), ['early', 'across'], `${name}: a's Hellos with their mood`)
        assert.is(decoded.filter(e => e.name === 'Farewell').length, 6)
        vectors.push(l.vector())
      } finally {
        await l.close()
      }
    }
    assert.equal(vectors[1], vectors[0])
    assert.equal(vectors[2], vectors[0])
    console.log(`# rolling upgrade: ${ackedIds.size} acknowledged emits over ${runs.length} runs, ${((Date.now() - started) / 1000).toFixed(1)} s`)
  } catch (err) {
    // what each node holds, and what it saw, for the failure's report
    const live = runs.filter(r => !r.gone)
    for (const x of live) x.send({ cmd: 'state', tag: 'failed' })
    await new Promise(resolve => setTimeout(resolve, 3000))
    for (const x of live) x.send({ cmd: 'stop' })
    await new Promise(resolve => setTimeout(resolve, 10000))
    for (const x of live) x.send({ cmd: 'state', tag: 'stopped' })
    await new Promise(resolve => setTimeout(resolve, 3000))
    for (const x of live) console.log(`${x.name} 10 s after the emits stopped: ${JSON.stringify(x.find('state', l => l.tag === 'stopped')?.vector)} ${JSON.stringify((x.find('state', l => l.tag === 'stopped')?.peers as Array<{ id: string, synced: boolean, session: unknown }> | undefined)?.map(p => [p.id.slice(-4), p.synced, p.session]))}`)
    for (const x of runs) {
      const st = x.find('state', l => l.tag === 'failed')
      console.log(`${x.name}: open ${JSON.stringify(x.find('open')?.vector)}, now ${JSON.stringify(st?.vector)}, peers ${JSON.stringify((st?.peers as unknown[] | undefined)?.length)}; ` +
        x.lines.filter(l => !['a', 'event', 'state', 'emitted', 'p'].includes(l.t)).map(l => JSON.stringify(l).slice(0, 200)).join(' '))
    }
    throw err
  } finally {
    for (const x of children) await x.kill()
    await dir.cleanup()
  }
})

test.run()
