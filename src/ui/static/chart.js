// The throughput chart: events a second emitted, received and delivered
// over the last five minutes, drawn by uPlot (vendor/uPlot.iife.min.js, a
// global: it draws on a canvas and redraws 300 points in well under a
// millisecond, so a redraw every second costs the page nothing).
/* global uPlot */

const SERIES = [
  { key: 'emitted', label: 'emitted', stroke: '#7aa2ff', fill: 'rgba(122,162,255,0.10)' },
  { key: 'received', label: 'received', stroke: '#5ed39a', fill: 'rgba(94,211,154,0.08)' },
  { key: 'delivered', label: 'delivered', stroke: '#f2b45a' }
]
const KEEP = 300

export class ThroughputChart {
  constructor (root) {
    this.root = root
    this.seconds = []
    const axis = { stroke: '#8a93a6', grid: { stroke: 'rgba(138,147,166,0.12)', width: 1 }, ticks: { stroke: 'rgba(138,147,166,0.25)', width: 1 } }
    this.plot = new uPlot({
      width: Math.max(300, root.clientWidth),
      height: 220,
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      // always the last five minutes, the newest second on the right
      scales: { x: { time: true, range: (u, min, max) => { const end = max ?? Date.now() / 1000; return [end - KEEP, end] } }, y: { range: (u, min, max) => [0, Math.max(10, max * 1.15)] } },
      axes: [{ ...axis }, { ...axis, size: 56, values: (u, vals) => vals.map(v => v >= 1000 ? (v / 1000).toFixed(v >= 10000 ? 0 : 1) + 'k' : String(v)) }],
      series: [
        { label: 'time', value: (u, v, si, i) => { const t = i == null ? u.data[0].at(-1) : v; return t == null ? '—' : new Date(t * 1000).toLocaleTimeString() } },
        // away from the chart, the legend shows the last second
        ...SERIES.map(s => ({ label: s.label, stroke: s.stroke, fill: s.fill, width: 1.6, points: { show: false }, value: (u, v, si, i) => { const x = i == null ? u.data[si].at(-1) : v; return x == null ? '—' : `${x}/s` } }))
      ]
    }, [[], [], [], []], root)
    new ResizeObserver(() => {
      const w = root.clientWidth
      if (w > 0 && w !== this.plot.width) this.plot.setSize({ width: w, height: 220 })
    }).observe(root)
  }

  /** Replaces the seconds shown. */
  reset (seconds) {
    this.seconds = seconds.slice(-KEEP)
    this.draw()
  }

  /** Adds a second (as the server closed it). */
  add (second) {
    if (second == null) return
    const last = this.seconds.at(-1)
    if (last != null && last.t >= second.t) return
    this.seconds.push(second)
    if (this.seconds.length > KEEP) this.seconds.shift()
    this.draw()
  }

  draw () {
    const s = this.seconds
    this.plot.setData([s.map(x => x.t / 1000), ...SERIES.map(k => s.map(x => x[k.key]))])
  }
}
