// The live status page served to browsers (Accept: text/html) by the status route.
// Self-contained on purpose: one HTML string with inline CSS and JS drawing on <canvas>, no CDN,
// no build step, so it works on an air-gapped box and adds no dependency. It polls the same
// route with `Accept: application/json` and expects the status snapshot with `history`
// (an array of HistoryPoint, oldest first).
//
// The inline script avoids JS template literals so it can live inside this TS template string.

export interface StatusPageOptions {
  /** Page title. Default "fastify-adaptive-concurrency". */
  title?: string
  /** URL the page polls, relative to the page. Default "?history=true" (same route, with history). */
  dataUrl?: string
  /** Poll period, ms. Default 1000. */
  pollMs?: number
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

function escapeHtml (s: string): string {
  return s.replace(/[&<>"']/g, c => HTML_ESCAPES[c])
}

/** Returns the page; cheap enough to build per request, but callers may cache it. */
export function renderStatusPage (options: StatusPageOptions = {}): string {
  const title = escapeHtml(options.title ?? 'fastify-adaptive-concurrency')
  const pollMs = options.pollMs ?? 1000
  // JSON.stringify then escaping "<" keeps the value a valid JS string that cannot close the <script>.
  const config = JSON.stringify({ dataUrl: options.dataUrl ?? '?history=true', pollMs }).replace(/</g, '\\u003c')
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>
  :root { color-scheme: light dark; --fg: #1d2330; --muted: #6b7280; --bg: #fbfbfd; --panel: #fff; --grid: #e5e7eb; }
  @media (prefers-color-scheme: dark) { :root { --fg: #e5e7eb; --muted: #9ca3af; --bg: #111318; --panel: #1a1d24; --grid: #2c313b; } }
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
  header { padding: 12px 20px; display: flex; gap: 24px; align-items: baseline; flex-wrap: wrap; }
  h1 { font-size: 16px; margin: 0; }
  .stat { color: var(--muted); } .stat b { color: var(--fg); font-variant-numeric: tabular-nums; }
  #state.bad { color: #dc2626; } #state.ok { color: #16a34a; }
  main { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 12px; padding: 0 20px 20px; }
  section { background: var(--panel); border: 1px solid var(--grid); border-radius: 6px; padding: 10px 12px; }
  h2 { font-size: 13px; margin: 0 0 6px; font-weight: 600; }
  canvas { width: 100%; height: 220px; display: block; }
  #error { color: #dc2626; }
</style>
</head>
<body>
<header>
  <h1>${title}</h1>
  <span class="stat">algorithm <b id="algorithm">-</b></span>
  <span class="stat">limit <b id="limit">-</b></span>
  <span class="stat">in flight <b id="inflight">-</b></span>
  <span class="stat">admitted <b id="admitted">-</b></span>
  <span class="stat">rejected <b id="rejected">-</b></span>
  <span class="stat">long-lived open <b id="longlived">-</b></span>
  <span class="stat"><b id="state">-</b></span>
  <span class="stat" id="updated"></span>
  <span id="error"></span>
</header>
<main>
  <section><h2>Limit vs in flight (peak per second)</h2><canvas id="chart-limit"></canvas></section>
  <section><h2>Sample latency, ms (p50, p99 per second)</h2><canvas id="chart-latency"></canvas></section>
  <section><h2>Admitted vs rejected, requests/s</h2><canvas id="chart-rates"></canvas></section>
</main>
<script>
(function () {
  'use strict'
  var CONFIG = ${config}
  var WINDOW_MS = 300000
  var MIN_SPAN_MS = 10000
  var COLORS = { limit: '#2563eb', inflight: '#f59e0b', p50: '#10b981', p99: '#8b5cf6', admitted: '#16a34a', rejected: '#dc2626' }
  // Read by the browser test; harmless for people.
  var state = window.__statusPage = { polls: 0, errors: 0, lastPointT: null, segments: {} }

  function css (name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim() }

  function niceMax (v) {
    if (!(v > 0)) return 1
    var p = Math.pow(10, Math.floor(Math.log10(v)))
    var steps = [1, 2, 2.5, 5, 10]
    for (var i = 0; i < steps.length; i++) if (steps[i] * p >= v) return steps[i] * p
    return 10 * p
  }

  function ago (ms) {
    return ms >= 60000 ? (Math.round(ms / 6000) / 10) + ' min' : Math.round(ms / 1000) + ' s'
  }

  function fmt (v) {
    if (v === null || v === undefined) return '-'
    if (Math.abs(v) >= 100) return String(Math.round(v))
    return String(Math.round(v * 10) / 10)
  }

  // series: [{ name, color, key }]; points: history. Returns the number of line segments drawn.
  function drawChart (canvas, points, series) {
    var dpr = window.devicePixelRatio || 1
    var w = canvas.clientWidth, h = canvas.clientHeight
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr)
    }
    var ctx = canvas.getContext('2d')
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0)
    ctx.clearRect(0, 0, w, h)
    var left = 44, right = 10, top = 22, bottom = 20
    var pw = w - left - right, ph = h - top - bottom
    var tMax = points.length ? points[points.length - 1].t : Date.now()
    // At most five minutes; a younger history (a process that just started) fills the width.
    var span = points.length ? Math.min(WINDOW_MS, Math.max(MIN_SPAN_MS, tMax - points[0].t)) : WINDOW_MS
    var tMin = tMax - span
    var yMax = 0
    points.forEach(function (p) { series.forEach(function (s) { var v = p[s.key]; if (v !== null && v > yMax) yMax = v }) })
    yMax = niceMax(yMax * 1.05)
    function x (t) { return left + (t - tMin) / span * pw }
    function y (v) { return top + ph - v / yMax * ph }

    ctx.font = '11px system-ui, sans-serif'
    ctx.lineWidth = 1
    ctx.strokeStyle = css('--grid'); ctx.fillStyle = css('--muted')
    ctx.textAlign = 'right'; ctx.textBaseline = 'middle'
    for (var i = 0; i <= 4; i++) {
      var v = yMax * i / 4
      ctx.beginPath(); ctx.moveTo(left, Math.round(y(v)) + 0.5); ctx.lineTo(left + pw, Math.round(y(v)) + 0.5); ctx.stroke()
      ctx.fillText(fmt(v), left - 6, y(v))
    }
    ctx.textAlign = 'center'; ctx.textBaseline = 'top'
    for (var m = 0; m <= 5; m++) ctx.fillText(m === 5 ? 'now' : '-' + ago(span * (5 - m) / 5), left + pw * m / 5, top + ph + 5)

    var segments = 0
    // Drawn last to first, so the first series stays visible where lines coincide (the limit
    // over in-flight, which equals it while shedding); the lines under it are drawn wider, so
    // they still show along both edges of the first one instead of vanishing beneath it.
    series.slice().reverse().forEach(function (s, ri) {
      ctx.lineWidth = ri === series.length - 1 ? 1.5 : 4
      ctx.strokeStyle = s.color
      ctx.beginPath()
      var pen = false
      points.forEach(function (p) {
        var v = p[s.key]
        if (v === null || p.t < tMin) { pen = false; return }
        if (pen) { ctx.lineTo(x(p.t), y(v)); segments++ } else { ctx.moveTo(x(p.t), y(v)); pen = true }
      })
      ctx.stroke()
    })
    series.forEach(function (s, si) {
      // Legend with the latest value.
      var last = points.length ? points[points.length - 1][s.key] : null
      var lx = left + si * 130
      ctx.fillStyle = s.color; ctx.fillRect(lx, 6, 10, 10)
      ctx.fillStyle = css('--fg'); ctx.textAlign = 'left'; ctx.textBaseline = 'middle'
      ctx.fillText(s.name + ' ' + fmt(last), lx + 14, 11)
    })
    return segments
  }

  var charts = [
    ['chart-limit', [{ name: 'limit', key: 'limit', color: COLORS.limit }, { name: 'in flight', key: 'inflight', color: COLORS.inflight }]],
    ['chart-latency', [{ name: 'p50', key: 'rttP50', color: COLORS.p50 }, { name: 'p99', key: 'rttP99', color: COLORS.p99 }]],
    ['chart-rates', [{ name: 'admitted/s', key: 'admitted', color: COLORS.admitted }, { name: 'rejected/s', key: 'rejected', color: COLORS.rejected }]]
  ]
  var last = null

  function render () {
    var snap = last || {}
    var points = Array.isArray(snap.history) ? snap.history : []
    charts.forEach(function (c) { state.segments[c[0]] = drawChart(document.getElementById(c[0]), points, c[1]) })
  }

  function setText (id, v) { document.getElementById(id).textContent = v }

  function longLivedTitle (ll) {
    var lines = ['websockets ' + ll.websockets, 'waiting ' + ll.waiting, 'sending ' + ll.sending]
    Object.keys(ll.routes || {}).forEach(function (r) {
      var x = ll.routes[r]
      lines.push(r + ': ' + x.open + ' open' + (x.longLived === 'no' ? '' : ' (' + x.longLived + ')'))
    })
    return lines.join('\\n')
  }

  function poll () {
    fetch(CONFIG.dataUrl, { headers: { accept: 'application/json' }, cache: 'no-store' })
      .then(function (res) { if (!res.ok) throw new Error('HTTP ' + res.status); return res.json() })
      .then(function (snap) {
        last = snap
        state.polls++
        var h = Array.isArray(snap.history) ? snap.history : []
        state.lastPointT = h.length ? h[h.length - 1].t : null
        setText('algorithm', snap.algorithm === undefined ? '-' : String(snap.algorithm))
        setText('limit', fmt(snap.limit)); setText('inflight', fmt(snap.inflight))
        setText('admitted', fmt(snap.admitted)); setText('rejected', fmt(snap.rejected))
        var ll = snap.longLived
        setText('longlived', ll ? fmt(ll.open) : '-')
        document.getElementById('longlived').title = ll ? longLivedTitle(ll) : ''
        // Shedding is what was refused lately, not whether in-flight touched the limit this instant.
        var st = document.getElementById('state')
        var shedding = snap.shedding === undefined ? snap.overloaded : snap.shedding
        var refused = h.length ? h[h.length - 1].rejected : null
        st.textContent = shedding ? 'shedding' + (refused ? ': ' + fmt(refused) + ' refused/s' : '') : (snap.overloaded ? 'at limit' : 'below limit')
        st.className = shedding ? 'bad' : 'ok'
        setText('updated', 'updated ' + new Date().toLocaleTimeString())
        setText('error', '')
        render()
      })
      .catch(function (err) { state.errors++; setText('error', 'status unavailable: ' + err.message) })
      .then(function () { setTimeout(poll, CONFIG.pollMs) })
  }

  window.addEventListener('resize', render)
  render()
  poll()
})()
</script>
</body>
</html>
`
}
