// What serving the web view costs a node at a steady rate of events: a
// child process runs one emitter emitting RATE events a second (in groups
// every 10 ms) and reports its own CPU time per phase; this process drives
// Chromium (Debian's, headless) as the page, so the browser's work and
// playwright's are not counted in the node's. Each round measures no view,
// then the view with one page open, then that page's tail filtering by
// text (every payload then goes to JSON to be searched); the cost is each
// round's difference, their median over ROUNDS, so that a machine whose
// load drifts weighs on both sides alike. Also: the page's load time,
// frame rate and long tasks while the events pour in.
//
//   npm run build && node dist/bench/ui.js [--rate 10000] [--seconds 5] [--rounds 5]
import { fork, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Session } from 'node:inspector/promises'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

interface Report {
  cpuMs: number
  wallMs: number
  emitted: number
  /** ms of CPU profile samples whose stack runs through src/ui/ (the view's own work and what it calls) */
  uiMs: number
  /** ms the profile sampled in all */
  sampledMs: number
}

// The samples of a V8 CPU profile that run through the web view's code: a
// measure of its cost that other processes on the machine do not blur.
function uiTime (profile: { nodes: Array<{ id: number, callFrame: { url: string }, children?: number[] }>, samples: number[], timeDeltas: number[] }): { uiMs: number, sampledMs: number } {
  const under = new Map<number, boolean>()
  const byId = new Map(profile.nodes.map(n => [n.id, n]))
  const mark = (id: number, inside: boolean): void => {
    const node = byId.get(id)!
    const here = inside || /\/src\/ui\//.test(node.callFrame.url)
    under.set(id, here)
    for (const child of node.children ?? []) mark(child, here)
  }
  mark(profile.nodes[0].id, false)
  let uiMs = 0
  let sampledMs = 0
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000
    sampledMs += ms
    if (under.get(id) === true) uiMs += ms
  })
  return { uiMs, sampledMs }
}

async function node (): Promise<void> {
  const { MemoryLevel } = await import('memory-level')
  const { readFile } = await import('node:fs/promises')
  const { HyperEmitter } = await import('../src/index.js')
  const { serveUI } = await import('../src/ui/index.js')
  const schema = await readFile(fileURLToPath(new URL('../../test/fixtures/messages.proto', import.meta.url)), 'utf8')
  const rate = Number(process.argv[3])
  const e = await HyperEmitter.open(new MemoryLevel(), schema)
  await e.listen(0, '127.0.0.1')
  let ui: Awaited<ReturnType<typeof serveUI>> | undefined
  let emitted = 0
  let n = 0
  const perTick = Math.max(1, Math.round(rate / 100))
  // each tick emits what the clock says is due, so a late timer catches up
  const started = Date.now()
  const timer = setInterval(() => {
    const due = Math.floor((Date.now() - started) / 1000 * rate) - n
    for (let i = 0; i < Math.min(due, perTick * 5); i++) {
      n++
      e.emit('Hello', { from: `node ${n % 7}`, message: `event ${n} of the bench, a payload of a usual size` }).then(() => { emitted++ }, () => {})
    }
  }, 10)
  process.on('message', (msg: { type: string, ms?: number }) => {
    void (async () => {
      if (msg.type === 'view') {
        ui = await serveUI(e)
        process.send!({ type: 'url', url: ui.url })
      } else if (msg.type === 'unview') {
        await ui?.close()
        ui = undefined
        process.send!({ type: 'unviewed' })
      } else if (msg.type === 'measure') {
        const session = new Session()
        session.connect()
        await session.post('Profiler.enable')
        await session.post('Profiler.setSamplingInterval', { interval: 200 })
        await session.post('Profiler.start')
        const cpu = process.cpuUsage()
        const at = performance.now()
        const before = emitted
        await new Promise(resolve => setTimeout(resolve, msg.ms))
        const used = process.cpuUsage(cpu)
        const wallMs = performance.now() - at
        const { profile } = await session.post('Profiler.stop')
        session.disconnect()
        const report: Report = { cpuMs: (used.user + used.system) / 1000, wallMs, emitted: emitted - before, ...uiTime(profile as Parameters<typeof uiTime>[0]) }
        process.send!({ type: 'report', report })
      } else if (msg.type === 'stop') {
        clearInterval(timer)
        await ui?.close()
        await e.close()
        process.exit(0)
      }
    })()
  })
  process.send!({ type: 'ready' })
}

function next (child: ChildProcess, type: string): Promise<Record<string, unknown>> {
  return new Promise(resolve => {
    const on = (msg: Record<string, unknown>): void => {
      if (msg.type === type) {
        child.off('message', on)
        resolve(msg)
      }
    }
    child.on('message', on)
  })
}

interface PageFigures { frames: number, longest: number, long: number }

const WATCH = `(() => {
  window.__bench = { frames: 0, longest: 0, long: 0 }
  const frame = () => { window.__bench.frames++; requestAnimationFrame(frame) }
  requestAnimationFrame(frame)
  new PerformanceObserver(list => { for (const e of list.getEntries()) { window.__bench.long++; window.__bench.longest = Math.max(window.__bench.longest, e.duration) } }).observe({ type: 'longtask' })
})()`
const READ = '(() => { const b = window.__bench; const out = { ...b }; b.frames = 0; b.longest = 0; b.long = 0; return out })()'

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { rate: { type: 'string', default: '10000' }, seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '5' } } })
  const rate = Number(values.rate)
  const ms = Number(values.seconds) * 1000
  const rounds = Number(values.rounds)
  const { chromium } = await import('playwright-core')
  const child = fork(fileURLToPath(import.meta.url), ['node', String(rate)], { stdio: 'inherit' })
  await next(child, 'ready')
  const measure = async (): Promise<Report> => {
    child.send({ type: 'measure', ms })
    return (await next(child, 'report')).report as Report
  }
  const percent = (r: Report): number => r.cpuMs / r.wallMs * 100
  const perSecond = (r: Report): number => r.emitted / r.wallMs * 1000
  const figures = (r: Report): { cpuPercentOfCore: number, eventsPerSecond: number, uiPercentOfCore: number } => ({ cpuPercentOfCore: +percent(r).toFixed(1), eventsPerSecond: Math.round(perSecond(r)), uiPercentOfCore: +(r.uiMs / r.wallMs * 100).toFixed(2) })
  // a first phase to warm up, not reported
  await measure()
  const profile = await mkdtemp(join(tmpdir(), 'hyperemitter-bench-chromium-'))
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1440, height: 1000 } })
  const runs: Array<{ none: Report, page: Report, filtered: Report, load: number, fps: number, long: number, longest: number }> = []
  try {
    await context.route('**/*', async route => { if (new URL(route.request().url()).hostname === '127.0.0.1') await route.continue(); else await route.abort() })
    const page = context.pages()[0] ?? await context.newPage()
    for (let round = 0; round < rounds; round++) {
      const none = await measure()
      child.send({ type: 'view' })
      const { url } = await next(child, 'url') as { url: string }
      const opened = Date.now()
      await page.goto(url, { waitUntil: 'load' })
      const load = Date.now() - opened
      await page.locator('#tail li.event').first().waitFor()
      await page.evaluate(WATCH)
      await page.waitForTimeout(1000)
      await page.evaluate(READ)
      const withPage = await measure()
      const seen = await page.evaluate<PageFigures>(READ)
      await page.fill('#f-text', 'node 3')
      await page.waitForTimeout(1000)
      const filtered = await measure()
      const run = { none, page: withPage, filtered, load, fps: seen.frames / (withPage.wallMs / 1000), long: seen.long, longest: seen.longest }
      runs.push(run)
      console.log(JSON.stringify({ round, noView: figures(none), onePage: { ...figures(withPage), pageLoadMs: load, pageFps: +run.fps.toFixed(1), longTasks: seen.long, longestTaskMs: Math.round(seen.longest) }, onePageTextFilter: figures(filtered) }))
      await page.goto('about:blank')
      child.send({ type: 'unview' })
      await next(child, 'unviewed')
    }
    // each round's page against the phase just before it, the same few seconds of machine
    const cost = (pick: (r: typeof runs[number]) => Report): number => +median(runs.map(r => percent(pick(r)) - percent(r.none))).toFixed(1)
    console.log(JSON.stringify({
      rate,
      noView: { cpuPercentOfCore: +median(runs.map(r => percent(r.none))).toFixed(1), eventsPerSecond: Math.round(median(runs.map(r => perSecond(r.none)))) },
      onePage: { cpuPercentOfCore: +median(runs.map(r => percent(r.page))).toFixed(1), eventsPerSecond: Math.round(median(runs.map(r => perSecond(r.page)))) },
      servingCostPercentOfCore: { onePage: cost(r => r.page), onePageTextFilter: cost(r => r.filtered), perRound: runs.map(r => +(percent(r.page) - percent(r.none)).toFixed(1)) },
      // the same cost read from the node's CPU profile: its samples in src/ui/, as a share of a core
      profiledUiPercentOfCore: { onePage: +median(runs.map(r => r.page.uiMs / r.page.wallMs * 100)).toFixed(2), onePageTextFilter: +median(runs.map(r => r.filtered.uiMs / r.filtered.wallMs * 100)).toFixed(2), noView: +median(runs.map(r => r.none.uiMs / r.none.wallMs * 100)).toFixed(2) },
      pageLoadMs: { median: median(runs.map(r => r.load)), all: runs.map(r => r.load) },
      pageFps: +median(runs.map(r => r.fps)).toFixed(1),
      longTasks: runs.reduce((n, r) => n + r.long, 0),
      longestTaskMs: Math.round(Math.max(...runs.map(r => r.longest)))
    }))
  } finally {
    await context.close()
    await rm(profile, { recursive: true, force: true })
    child.send({ type: 'stop' })
  }
}

if (process.argv[2] === 'node') await node()
else await main()
