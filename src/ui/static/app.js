// The web view's page: opens the live stream and hands each part of the
// state to its panel. No build step: plain modules, and uPlot as a global.
import { el, fill, short, shortId, num, compact, bytes, ago, clock, hue, peerColor, debounce, api } from './util.js'
import { ThroughputChart } from './chart.js'
import { PeerGraph } from './graph.js'
import { DagView } from './dag.js'
import { EventTail } from './tail.js'

const $ = (id) => document.getElementById(id)

// the token went into a cookie with the page: keep it out of the address bar
if (new URLSearchParams(location.search).has('token')) history.replaceState(null, '', location.pathname)

/** author key (hex) -> peer id, from what the state names */
const ids = new Map()
let config
let state
let selectedPeer
let lastDagLength = -1
let dagBusy = false
let lastDagAt = 0
let lastPeersKey = ''
let dagVisible = false

const tail = new EventTail($('tail'), { onSelect: (id, seq) => showEntry(id, seq), status: $('tail-rate') })
tail.ids = ids
let chart
let graph
let dag

function main () {
  // uPlot is a deferred classic script: it has run before this module
  chart = new ThroughputChart($('chart'))
  graph = new PeerGraph($('graph'), { onSelect: selectPeer })
  dag = new DagView($('dag'), { onSelect: (id, seq) => showEntry(id, seq) })
  $('pause').addEventListener('click', togglePause)
  $('f-name').addEventListener('change', () => { reconnect() })
  $('f-text').addEventListener('input', debounce(() => { reconnect() }, 300))
  $('verify').addEventListener('click', runVerify)
  connect()
  // the DAG is read and drawn only while it is on screen
  new IntersectionObserver(([entry]) => {
    dagVisible = entry.isIntersecting
    if (dagVisible) void refreshDag()
  }).observe($('dag'))
  setInterval(refreshDag, 1000)
}

// What the first hello says of the node: set once.
function configure (c) {
  if (config != null) return
  config = c
  $('node-id').textContent = config.peerId
  // this node's colour is the first
  peerColor(config.peerId)
  ids.set(config.id, config.peerId)
  const select = $('f-name')
  for (const name of config.names) select.append(el('option', { value: name, text: name }))
  if (config.allowEmit) setUpEmit()
}

// ---- the live stream ----

let source
let retry = 0

function filterQuery () {
  const q = new URLSearchParams()
  const name = $('f-name').value
  const text = $('f-text').value.trim()
  if (name !== '') q.set('name', name)
  if (text !== '') q.set('text', text)
  const s = q.toString()
  return s === '' ? '' : '?' + s
}

function connect () {
  source?.close()
  const s = new EventSource('/api/live' + filterQuery())
  source = s
  s.addEventListener('open', () => { retry = 0; live(true) })
  s.addEventListener('error', () => {
    live(false)
    // a stream refused outright (a full view, a closed node) is not retried by the browser
    if (s.readyState === EventSource.CLOSED && source === s) setTimeout(() => { if (source === s) connect() }, Math.min(10_000, 500 * 2 ** retry++))
  })
  s.addEventListener('hello', (e) => {
    const hello = JSON.parse(e.data)
    configure(hello.config)
    chart.reset(hello.history)
    onState(hello.state)
  })
  s.addEventListener('state', (e) => {
    const st = JSON.parse(e.data)
    chart.add(st.second)
    onState(st)
  })
  s.addEventListener('events', (e) => { tail.add(JSON.parse(e.data).events) })
  s.addEventListener('tail', (e) => { tail.rate(JSON.parse(e.data)) })
}

function reconnect () {
  tail.clear()
  connect()
}

function live (on) {
  $('live-dot').classList.toggle('on', on)
  $('live-text').textContent = on ? 'live' : 'reconnecting…'
}

function togglePause () {
  const b = $('pause')
  if (tail.paused) {
    tail.resume()
    b.textContent = 'Pause'
    b.classList.remove('active')
  } else {
    tail.pause()
    b.textContent = 'Resume'
    b.classList.add('active')
  }
}

// ---- the state ----

function onState (st) {
  state = st
  for (const a of st.log.authors) if (a.peerId) ids.set(a.author, a.peerId)
  for (const p of st.peers.peers) for (const lag of [p.lacks, p.peerLacks]) for (const a of lag?.authors ?? []) if (a.peerId) ids.set(a.author, a.peerId)
  header(st)
  kpis(st)
  // the peers change less often than every second: redraw them only then
  const peersKey = JSON.stringify(st.peers)
  if (peersKey !== lastPeersKey) {
    lastPeersKey = peersKey
    graph.update(config.peerId, st.peers.peers)
    peersTable(st.peers)
  }
  notices(st.notices)
  logPanel(st.log)
  $('pages').textContent = `${st.pages} ${st.pages === 1 ? 'page' : 'pages'} open`
}

function header (st) {
  const n = st.node
  const pill = $('node-state')
  pill.textContent = n.online ? 'online' : n.state === 'open' ? 'offline' : n.state
  pill.className = 'pill ' + (n.online ? 'ok' : 'warn')
  const topic = $('node-topic')
  topic.hidden = n.topic === ''
  topic.textContent = `topic ${n.topic}`
  fill($('node-addrs'), n.addresses.map(a => el('code', { text: a })))
}

function kpis (st) {
  const peers = st.peers.peers.filter(p => p.session)
  const synced = peers.filter(p => p.synced && !(p.lacks?.total > 0))
  const s = st.second ?? { emitted: 0, received: 0, delivered: 0 }
  $('k-peers').textContent = num(peers.length)
  $('k-peers-sub').textContent = `of ${st.node.activeSize} active · ${num(st.peers.passive)} passive`
  $('k-synced').textContent = peers.length === 0 ? '—' : `${synced.length}/${peers.length}`
  $('k-synced').className = 'k-value ' + (peers.length === 0 ? '' : synced.length === peers.length ? 'good' : 'warn')
  const behind = peers.reduce((n, p) => n + (p.lacks?.total ?? 0), 0)
  $('k-synced-sub').textContent = behind > 0 ? `${num(behind)} entries to receive` : peers.length > 0 ? 'nothing to receive' : 'no sessions'
  $('k-emitted').textContent = compact(s.emitted)
  $('k-emitted-sub').textContent = `${compact(st.totals.emitted)} since the view started`
  $('k-received').textContent = compact(s.received)
  $('k-received-sub').textContent = `${compact(st.totals.received)} since · delivered ${compact(s.delivered)}/s`
  $('k-length').textContent = compact(st.log.length)
  $('k-length-sub').textContent = `${num(st.log.authorCount)} authors · ${num(st.log.headCount)} heads`
  $('k-disk').textContent = st.log.disk == null ? '—' : bytes(st.log.disk)
  $('k-disk-sub').textContent = st.log.disk == null ? 'in memory, or unknown' : 'the db folder'
  const bad = st.totals.refused + st.totals.invalid
  $('k-bad').textContent = `${num(st.totals.refused)} · ${num(st.totals.invalid)}`
  $('k-bad').className = 'k-value ' + (bad > 0 ? 'bad' : '')
  const blocked = st.peers.peers.filter(p => p.blocked).length
  $('k-bad-sub').textContent = blocked > 0 ? `${blocked} peer${blocked === 1 ? '' : 's'} blocked` : 'no peer blocked'
}

const PLACE = { active: 'active', connected: 'connected', passive: 'passive', known: 'known' }

function peersTable (view) {
  $('peers-hint').textContent = `${num(view.total)} known · ${num(view.connections)} connection${view.connections === 1 ? '' : 's'}${view.total > view.peers.length ? ` · showing ${view.peers.length}` : ''}`
  $('graph-hint').textContent = `${view.peers.filter(p => p.session).length} in session · ${view.passive} passive · ${view.peers.filter(p => p.place === 'known').length} known only`
  const body = $('peers-body')
  if (view.peers.length === 0) {
    fill(body, el('tr', {}, el('td', { colspan: 8, class: 'empty', text: 'no peers yet: connect one with --target-port or --connect' })))
    return
  }
  fill(body, view.peers.map(p => el('tr', { class: p.id === selectedPeer ? 'selected' : '', 'data-peer': p.id, onclick: () => selectPeer(p.id) },
    el('td', { class: 'peer' },
      el('i', { class: 'swatch', style: `background:${peerColor(p.id)}` }),
      el('code', { title: p.id, text: short(p.id) }),
      el('span', { class: `badge ${p.place}`, text: PLACE[p.place] }),
      p.lazy ? el('span', { class: 'badge lazy', title: 'lazy push (Plumtree) agreed', text: 'lazy' }) : null,
      p.legacy ? el('span', { class: 'badge', text: 'no overlay' }) : null
    ),
    el('td', { class: 'addr' }, el('code', { title: p.address, text: p.address.replace(/\/p2p\/.*$/, '') || '—' })),
    el('td', {}, peerState(p)),
    el('td', { class: 'lag' }, lagCell(p)),
    el('td', { class: 'n' }, num(p.sent)),
    el('td', { class: 'n' }, num(p.received)),
    el('td', { class: 'n' }, p.rtt == null ? '—' : `${Math.round(p.rtt)} ms`),
    el('td', { class: 'n' + (p.refused + p.invalid > 0 ? ' bad' : ''), title: p.last ? `${p.last.what} (${ago(p.last.at)})` : '' }, `${p.refused} · ${p.invalid}`)
  )))
}

function peerState (p) {
  if (p.blocked) return el('span', { class: 'state bad', text: 'blocked' })
  if (!p.session) return el('span', { class: 'state muted', text: p.place === 'connected' ? 'connected' : 'not connected' })
  if (p.synced && !(p.lacks?.total > 0)) return el('span', { class: 'state good', text: 'synced' })
  if (!p.synced) return el('span', { class: 'state warn', text: 'catching up' })
  return el('span', { class: 'state warn', text: `behind ${num(p.lacks.total)}` })
}

function lagCell (p) {
  if (!p.session) return '—'
  const parts = []
  const chips = (lag, dir) => lag.authors.map(a => el('span', { class: 'chip', title: `${dir}: ${a.n} of ${a.peerId || a.author}`, style: `--tag:${peerColor(a.peerId || a.author)}` }, `${short(a.peerId || a.author, 5)} ${num(a.n)}`))
  if (p.lacks?.total > 0) parts.push(el('div', {}, el('span', { class: 'dir', text: `this node lacks ${num(p.lacks.total)}` }), chips(p.lacks, 'this node lacks')))
  if (p.peerLacks?.total > 0) parts.push(el('div', {}, el('span', { class: 'dir', text: `peer lacks ${num(p.peerLacks.total)}` }), chips(p.peerLacks, 'the peer lacks')))
  if (parts.length === 0) parts.push(el('span', { class: 'muted', text: 'none' }))
  if (p.elsewhere > 0) parts.push(el('div', { class: 'muted small', title: 'authors this peer gets from another peer: its figures are not known here', text: `${p.elsewhere} author${p.elsewhere === 1 ? '' : 's'} via other peers` }))
  return parts
}

function selectPeer (id) {
  selectedPeer = selectedPeer === id ? undefined : id
  graph.select(selectedPeer)
  for (const row of $('peers-body').children) row.classList.toggle('selected', row.dataset.peer === selectedPeer)
  if (selectedPeer != null) document.querySelector(`#peers-body tr[data-peer="${CSS.escape(selectedPeer)}"]`)?.scrollIntoView({ block: 'nearest' })
}

let noticeKey = ''
function notices (list) {
  const key = list.length === 0 ? '' : `${list.length}:${list.at(-1).at}`
  if (key === noticeKey) return
  noticeKey = key
  if (list.length === 0) return
  fill($('notices'), list.slice().reverse().map(n => el('li', { class: `notice ${n.kind}` },
    el('span', { class: 'time', text: clock(n.at).slice(0, 8) }),
    el('code', { style: `color:${peerColor(n.peer)}`, title: n.peer, text: short(n.peer) }),
    el('span', { text: n.text })
  )))
}

let logKey = ''
function logPanel (log) {
  const key = `${log.length}:${log.disk}:${log.headCount}`
  if (key === logKey) return
  logKey = key
  fill($('log-stats'),
    stat('entries', num(log.length)),
    stat('Lamport clock', num(log.clock)),
    stat('authors', num(log.authorCount)),
    stat('heads', num(log.headCount)),
    stat('disk', log.disk == null ? 'in memory' : bytes(log.disk))
  )
  $('authors-hint').textContent = log.authorCount > log.authors.length ? `the ${log.authors.length} longest of ${num(log.authorCount)}` : ''
  fill($('authors-body'), log.authors.map(a => el('tr', {},
    el('td', {}, el('i', { class: 'swatch', style: `background:${peerColor(a.peerId || a.author)}` }), el('code', { title: `${a.peerId}\n${a.author}`, text: short(a.peerId || a.author) }), a.self ? el('span', { class: 'badge active', text: 'this node' }) : null),
    el('td', { class: 'n' }, num(a.seq)),
    el('td', {}, el('a', { href: '#', class: 'id', title: a.head, onclick: (e) => { e.preventDefault(); showEntry(a.head) } }, shortId(a.head))),
    el('td', { class: 'n' }, num(a.clock))
  )))
  $('heads-hint').textContent = log.headCount > 1 ? `${log.headCount}: concurrent writes not yet merged` : log.headCount === 1 ? 'one: every entry reaches it' : ''
  fill($('heads'), log.heads.map(h => el('li', {}, el('a', { href: '#', class: 'id', title: h, onclick: (e) => { e.preventDefault(); showEntry(h) } }, shortId(h, 16)))))
}

function stat (label, value) {
  return el('div', { class: 'stat' }, el('span', { class: 'k-label', text: label }), el('span', { class: 'stat-value', text: value }))
}

// ---- the DAG, the entry, verify, emit ----

async function refreshDag () {
  // drawn once at the start, then only while on screen
  if (state == null || dagBusy || document.hidden || (!dagVisible && lastDagLength >= 0)) return
  const length = state.log.length
  if (length === lastDagLength || Date.now() - lastDagAt < 1500) return
  dagBusy = true
  try {
    const view = await api('/api/dag?limit=120')
    lastDagLength = length
    lastDagAt = Date.now()
    dag.update(view.entries, config.id, ids)
  } catch {
    // the next second tries again
  } finally {
    dagBusy = false
  }
}

async function showEntry (id, seq) {
  tail.select(id)
  const panel = $('entry')
  let e
  try {
    e = await api(`/api/entry/${encodeURIComponent(id)}`)
  } catch (err) {
    fill(panel, el('p', { class: 'bad', text: `entry ${shortId(id)}: ${err.message}` }))
    return
  }
  const peer = e.peerId || e.author
  let pretty = e.payload
  try { pretty = JSON.stringify(JSON.parse(e.payload), null, 2) } catch { /* shown as it came */ }
  const idLink = (h) => el('a', { href: '#', class: 'id', title: h, onclick: (ev) => { ev.preventDefault(); showEntry(h) } }, shortId(h, 16))
  fill(panel,
    el('div', { class: 'entry-head' },
      el('span', { class: 'name', style: `--tag:${hue(e.name)}`, text: e.name }),
      el('span', { class: `badge ${e.signature === 'signed' ? 'good' : 'covered'}`, title: e.signature === 'signed' ? 'carries its author\'s signature' : 'a later signed entry of its author reaches it through prev links', text: e.signature })
    ),
    el('dl', {},
      el('dt', { text: 'id' }), el('dd', {}, el('code', { class: 'wrap', text: e.id })),
      seq != null ? [el('dt', { text: 'feed position' }), el('dd', { text: '#' + seq })] : null,
      el('dt', { text: 'author' }), el('dd', {}, el('code', { style: `color:${peerColor(peer)}`, title: e.author, text: peer })),
      el('dt', { text: 'author seq' }), el('dd', { text: num(e.authorSeq) }),
      el('dt', { text: 'clock' }), el('dd', { text: num(e.clock) }),
      el('dt', { text: 'time' }), el('dd', { text: new Date(e.timestamp).toISOString() }),
      el('dt', { text: 'prev' }), el('dd', {}, e.prev === '' ? el('span', { class: 'muted', text: 'none: the author\'s first entry' }) : idLink(e.prev)),
      el('dt', { text: 'links' }), el('dd', {}, e.links.length === 0 ? el('span', { class: 'muted', text: 'none' }) : e.links.map(l => el('div', {}, idLink(l)))),
      el('dt', { text: 'size' }), el('dd', { text: `${num(e.size)} bytes` })
    ),
    e.payloadError ? el('p', { class: 'warn small', text: `payload not decoded: ${e.payloadError}` }) : null,
    el('pre', { class: 'json', text: pretty })
  )
}

async function runVerify () {
  const b = $('verify')
  const out = $('verify-result')
  b.disabled = true
  out.className = 'verify-result'
  out.textContent = 'verifying…'
  try {
    const r = await api('/api/verify')
    out.className = 'verify-result ' + (r.ok ? 'good' : 'bad')
    if (r.ok) {
      out.textContent = `ok: ${num(r.entries)} entries of ${num(r.authors)} authors checked in ${num(r.ms)} ms`
    } else {
      fill(out, `${num(r.problemCount)} problem${r.problemCount === 1 ? '' : 's'} in ${num(r.entries)} entries`,
        el('ul', { class: 'problems' }, r.problems.map(p => el('li', { text: `${p.seq != null ? '#' + p.seq + ' ' : ''}${p.problem}` }))))
    }
  } catch (err) {
    out.className = 'verify-result bad'
    out.textContent = `verify failed: ${err.message}`
  } finally {
    b.disabled = false
  }
}

function setUpEmit () {
  $('emit-card').hidden = false
  const select = $('emit-name')
  for (const name of config.names) if (name !== 'EventPeer') select.append(el('option', { value: name, text: name }))
  $('emit-form').addEventListener('submit', async (ev) => {
    ev.preventDefault()
    const out = $('emit-result')
    let payload
    try {
      payload = JSON.parse($('emit-payload').value || '{}')
    } catch (err) {
      out.textContent = `not JSON: ${err.message}`
      return
    }
    try {
      const r = await api('/api/emit', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: select.value, payload }) })
      out.textContent = `emitted #${r.seq} ${shortId(r.id)}`
    } catch (err) {
      out.textContent = err.message
    }
  })
}

main()
