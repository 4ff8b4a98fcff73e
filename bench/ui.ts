// What serving the web view costs a node at a steady rate of events: a
// child process runs one emitter emitting RATE events a second (in groups
// every 10 ms) and reports its own CPU time per phase; this process drives
// Chromium (Debian's, headless) as the page, so the browser's work and
// playwright's are not counted in the node's. Phases: no view; the view
// with no page; one page; one page whose tail filters by text (every
// payload decoded to be searched). Also: the page's frame rate and its
// longest task while the events pour in.
//
//   npm run build && node dist/bench/ui.js [--rate 10000] [--seconds 8]
import { fork, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

interface Report { cpuMs: number, wallMs: number, emitted: number }

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
      } else if (msg.type === 'measure') {
        const cpu = process.cpuUsage()
        const at = performance.now()
        const before = emitted
        await new Promise(resolve => setTimeout(resolve, msg.ms))
        const used = process.cpuUsage(cpu)
        const report: Report = { cpuMs: (used.user + used.system) / 1000, wallMs: performance.now() - at, emitted: emitted - before }
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

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { rate: { type: 'string', default: '10000' }, seconds: { type: 'string', default: '8' } } })
  const rate = Number(values.rate)
  const ms = Number(values.seconds) * 1000
  const { chromium } = await import('playwright-core')
  const child = fork(fileURLToPath(import.meta.url), ['node', String(rate)], { stdio: 'inherit' })
  await next(child, 'ready')
  const measure = async (): Promise<Report> => {
    child.send({ type: 'measure', ms })
    return (await next(child, 'report')).report as Report
  }
  const line = (phase: string, r: Report, extra: Record<string, unknown> = {}): void => {
    console.log(JSON.stringify({ phase, cpuPercentOfCore: +(r.cpuMs / r.wallMs * 100).toFixed(1), eventsPerSecond: Math.round(r.emitted / r.wallMs * 1000), ...extra }))
  }
  // a first phase to warm up, not reported
  await measure()
  line('no view', await measure())
  child.send({ type: 'view' })
  const { url } = await next(child, 'url') as { url: string }
  line('view, no page', await measure())
  const profile = await mkdtemp(join(tmpdir(), 'hyperemitter-bench-chromium-'))
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1440, height: 1000 } })
  try {
    await context.route('**/*', async route => { if (new URL(route.request().url()).hostname === '127.0.0.1') await route.continue(); else await route.abort() })
    const page = context.pages()[0] ?? await context.newPage()
    const opened = Date.now()
    await page.goto(url, { waitUntil: 'load' })
    const loadMs = Date.now() - opened
    await page.locator('#tail li.event').first().waitFor()
    // frames and long tasks in the page while it runs
    const watch = `(() => {
      window.__bench = { frames: 0, longest: 0, long: 0 }
      const frame = () => { window.__bench.frames++; requestAnimationFrame(frame) }
      requestAnimationFrame(frame)
      new PerformanceObserver(list => { for (const e of list.getEntries()) { window.__bench.long++; window.__bench.longest = Math.max(window.__bench.longest, e.duration) } }).observe({ type: 'longtask' })
    })()`
    const read = '(() => { const b = window.__bench; const out = { ...b }; b.frames = 0; b.longest = 0; b.long = 0; return out })()'
    await page.evaluate(watch)
    await page.waitForTimeout(1000)
    await page.evaluate(read)
    const onePage = await measure()
    const seen = await page.evaluate<{ frames: number, longest: number, long: number }>(read)
    const rows = await page.locator('#tail li.event').count()
    line('view, one page', onePage, { pageLoadMs: loadMs, pageFps: +(seen.frames / (onePage.wallMs / 1000)).toFixed(1), longTasks: seen.long, longestTaskMs: Math.round(seen.longest), tailRows: rows })
    await page.fill('#f-text', 'node 3')
    await page.waitForTimeout(1500)
    await page.evaluate(read)
    const filtered = await measure()
    const seenF = await page.evaluate<{ frames: number, longest: number, long: number }>(read)
    line('view, one page, text filter', filtered, { pageFps: +(seenF.frames / (filtered.wallMs / 1000)).toFixed(1), longTasks: seenF.long, longestTaskMs: Math.round(seenF.longest) })
  } finally {
    await context.close()
    await rm(profile, { recursive: true, force: true })
    child.send({ type: 'stop' })
  }
}

if (process.argv[2] === 'node') await node()
else await main()
