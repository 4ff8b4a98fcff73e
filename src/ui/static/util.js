// Small helpers the page's modules share: building elements (never from
// HTML strings: every value is text), formatting, colours.

/** An element with attributes (`on*` functions become listeners) and children. */
export function el (tag, attrs = {}, ...children) {
  const node = document.createElement(tag)
  setAttrs(node, attrs)
  append(node, children)
  return node
}

const SVG_NS = 'http://www.w3.org/2000/svg'

/** An SVG element, as `el`. */
export function svg (tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag)
  setAttrs(node, attrs)
  append(node, children)
  return node
}

function setAttrs (node, attrs) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue
    if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v)
    else if (k === 'class') node.setAttribute('class', v)
    else if (k === 'text') node.textContent = v
    else node.setAttribute(k, v === true ? '' : String(v))
  }
}

function append (node, children) {
  for (const c of children.flat()) {
    if (c == null || c === false) continue
    node.append(c instanceof Node ? c : document.createTextNode(String(c)))
  }
}

/** Replaces the children of `node`. */
export function fill (node, ...children) {
  node.replaceChildren()
  append(node, children)
  return node
}

/** The end of a peer id or hex key, enough to tell peers apart. */
export function short (id, n = 8) {
  if (id == null || id === '') return '—'
  return id.length <= n + 1 ? id : '…' + id.slice(-n)
}

/** A hex entry id without its multihash prefix (1220), cut. */
export function shortId (id, n = 10) {
  if (id == null || id === '') return '—'
  const hex = id.startsWith('1220') ? id.slice(4) : id
  return hex.slice(0, n)
}

const NUMBER = new Intl.NumberFormat('en-US')
export function num (n) {
  return n == null ? '—' : NUMBER.format(n)
}

/** 1234567 -> 1.2M */
export function compact (n) {
  if (n == null) return '—'
  if (Math.abs(n) < 10_000) return NUMBER.format(Math.round(n))
  const units = [['G', 1e9], ['M', 1e6], ['k', 1e3]]
  for (const [u, v] of units) if (Math.abs(n) >= v) return (n / v).toFixed(n / v >= 100 ? 0 : 1) + u
  return String(n)
}

export function bytes (n) {
  if (n == null) return '—'
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
  return `${n.toFixed(i === 0 || n >= 100 ? 0 : 1)} ${units[i]}`
}

export function clock (ms) {
  const d = new Date(ms)
  const p = (x, w = 2) => String(x).padStart(w, '0')
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`
}

export function ago (ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000))
  if (s < 60) return `${s}s ago`
  if (s < 3600) return `${Math.floor(s / 60)}m ago`
  return `${Math.floor(s / 3600)}h ago`
}

function hash (text) {
  let h = 2166136261
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619)
  return h >>> 0
}

// distinct at a glance on the dark background
const PALETTE = ['#7aa2ff', '#5ed39a', '#f2b45a', '#ff7eb6', '#c59cff', '#4fd1e8', '#ff9f6b', '#b5e06b', '#e8d36b', '#9db0d0']

/** A stable colour for an event name. */
export function hue (text) {
  return PALETTE[hash(text) % PALETTE.length]
}

const PEERS = new Map()

/**
 * A colour for a peer (by peer id), the same everywhere on the page: the
 * first peers met get the palette's colours in turn, so a small cluster has
 * no two alike; past the palette, a hue from the id.
 */
export function peerColor (id) {
  let c = PEERS.get(id)
  if (c == null) {
    c = PEERS.size < PALETTE.length ? PALETTE[PEERS.size] : `hsl(${hash(id) % 360} 60% 64%)`
    PEERS.set(id, c)
  }
  return c
}

/** A function that runs `fn` once calls have stopped for `ms`. */
export function debounce (fn, ms) {
  let timer
  return (...args) => {
    clearTimeout(timer)
    timer = setTimeout(() => fn(...args), ms)
  }
}

/** fetch JSON from the view's API; throws with the server's message. */
export async function api (path, init) {
  const res = await fetch(path, { credentials: 'same-origin', ...init })
  const body = await res.json().catch(() => ({}))
  if (!res.ok) throw new Error(body.message ?? `${res.status} ${res.statusText}`)
  return body
}
