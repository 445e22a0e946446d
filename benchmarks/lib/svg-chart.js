'use strict'

// A deliberately small SVG line-chart writer: stacked panels sharing the time axis, one
// line per protection, linear or log10 y axis. No charting dependency is installed, and
// the charts only need to be readable on GitHub.

const PALETTE = ['#888888', '#e6550d', '#000000', '#9e9ac8', '#3182bd', '#31a354', '#d62728', '#bcbd22', '#17becf']
const WIDTH = 900
const PANEL_HEIGHT = 190
const MARGIN = { left: 70, right: 20, top: 28, bottom: 26 }
const LEGEND_HEIGHT = 26

function escapeXml (s) {
  return String(s).replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c])
}

// Ticks at 1, 2, 5 x 10^k, about `count` of them, the last one >= max so it can be the top.
function niceTicks (min, max, count = 5) {
  if (max <= min) max = min + 1
  const raw = (max - min) / count
  const magnitude = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)
  const ticks = []
  for (let v = Math.ceil(min / step) * step; ; v += step) {
    ticks.push(Number(v.toPrecision(12)))
    if (v >= max - step * 1e-9) return ticks
  }
}

function formatTick (v) {
  if (v >= 1000) return `${Number((v / 1000).toPrecision(3))}k`
  return String(Number(v.toPrecision(3)))
}

function yScaleFor (panel, values, top, height) {
  if (panel.log) {
    // logFloor: values below it (idle event loop: microseconds) are drawn at the floor.
    const floor = panel.logFloor || 0
    const positive = values.filter((v) => v > 0).map((v) => Math.max(v, floor))
    const lo = Math.floor(Math.log10(Math.min(...positive, floor || 1)))
    const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...positive, 10))))
    const ticks = []
    for (let e = lo; e <= hi; e++) ticks.push(10 ** e)
    const y = (v) => top + height - ((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * height
    return { y, ticks }
  }
  const max = Math.max(...values, panel.minMax || 1)
  const ticks = niceTicks(0, max)
  const top2 = ticks[ticks.length - 1]
  return { y: (v) => top + height - (v / top2) * height, ticks }
}

function renderPanel (panel, index, xMax, colors) {
  const top = LEGEND_HEIGHT + index * PANEL_HEIGHT + MARGIN.top
  const height = PANEL_HEIGHT - MARGIN.top - MARGIN.bottom
  const left = MARGIN.left
  const width = WIDTH - MARGIN.left - MARGIN.right
  const x = (t) => left + (t / xMax) * width
  const values = panel.series.flatMap((s) => s.points.map((p) => p[1]).filter((v) => v !== null))
  const out = [`<text x="${left}" y="${top - 10}" font-weight="bold">${escapeXml(panel.title)}</text>`]
  if (values.length === 0) {
    out.push(`<text x="${left + 10}" y="${top + height / 2}" fill="#666">no data</text>`)
    return out.join('\n')
  }
  const { y, ticks } = yScaleFor(panel, values, top, height)
  for (const tick of ticks) {
    out.push(`<line x1="${left}" x2="${left + width}" y1="${y(tick).toFixed(1)}" y2="${y(tick).toFixed(1)}" stroke="#eee"/>`)
    out.push(`<text x="${left - 6}" y="${(y(tick) + 4).toFixed(1)}" text-anchor="end" fill="#444">${formatTick(tick)}</text>`)
  }
  for (const tick of niceTicks(0, xMax, 10).filter((t) => t <= xMax)) {
    out.push(`<text x="${x(tick).toFixed(1)}" y="${top + height + 16}" text-anchor="middle" fill="#444">${formatTick(tick)}s</text>`)
  }
  out.push(`<rect x="${left}" y="${top}" width="${width}" height="${height}" fill="none" stroke="#999"/>`)
  panel.series.forEach((series) => {
    // A null value (nothing measured that second) breaks the line instead of faking a 0.
    const segments = []
    let current = []
    for (const [t, v] of series.points) {
      if (v === null) { if (current.length) segments.push(current); current = []; continue }
      current.push(`${x(t).toFixed(1)},${y(v).toFixed(1)}`)
    }
    if (current.length) segments.push(current)
    for (const seg of segments) {
      if (seg.length === 1) {
        // An isolated value (neighbours missing) would vanish as a one-point line.
        const [cx, cy] = seg[0].split(',')
        out.push(`<circle cx="${cx}" cy="${cy}" r="2" fill="${colors[series.name]}"/>`)
      } else {
        out.push(`<polyline fill="none" stroke="${colors[series.name]}" stroke-width="1.5" points="${seg.join(' ')}"/>`)
      }
    }
  })
  return out.join('\n')
}

/**
 * panels: [{ title, log?, logFloor?, series: [{ name, points: [[seconds, value|null], ...] }] }].
 * Series with the same name share a colour across panels; the legend lists them once.
 * names (optional) fixes the legend order; colors (optional) maps a name to its colour.
 */
function renderChart ({ title, panels, names: order, colors: given = {}, xMax: fixedXMax }) {
  const names = order || [...new Set(panels.flatMap((p) => p.series.map((s) => s.name)))]
  const colors = Object.fromEntries(names.map((n, i) => [n, given[n] || PALETTE[i % PALETTE.length]]))
  const xMax = fixedXMax || Math.max(1, ...panels.flatMap((p) => p.series.flatMap((s) => s.points.map((pt) => pt[0]))))
  const height = LEGEND_HEIGHT + panels.length * PANEL_HEIGHT
  let legendX = MARGIN.left
  const legend = names.map((n) => {
    const item = `<rect x="${legendX}" y="8" width="14" height="4" fill="${colors[n]}"/><text x="${legendX + 18}" y="14">${escapeXml(n)}</text>`
    legendX += 30 + n.length * 7
    return item
  })
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="11">`,
    `<title>${escapeXml(title)}</title>`,
    '<rect width="100%" height="100%" fill="#fff"/>',
    ...legend,
    ...panels.map((panel, i) => renderPanel(panel, i, xMax, colors)),
    '</svg>',
    ''
  ].join('\n')
}

module.exports = { renderChart, niceTicks }
