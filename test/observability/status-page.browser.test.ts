// The live status page in a real headless Chromium (Debian's `chromium`, driven by
// playwright-core). A small Fastify app serves the page and the JSON it polls; a real route
// under generated load feeds a History through a hand-wired observer, with a virtual clock the
// test advances one second at a time so five minutes of history do not take five minutes.
// Screenshot: test-artifacts/status-page.png.
import { test } from 'tap'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify from 'fastify'
import { chromium, type Browser, type Page } from 'playwright-core'
import { History } from '../../lib/observability/history'
import { renderStatusPage } from '../../lib/observability/status-page'

const CHROMIUM = '/usr/bin/chromium'
const ARTIFACTS = join(__dirname, '..', '..', 'test-artifacts')

if (!existsSync(CHROMIUM) && process.env.CI === undefined) {
  const reason = `${CHROMIUM} is missing (apt-get install -y chromium); .ci/run installs it in CI`
  console.error(`SKIPPED status page browser test: ${reason}`)
  test('status page in Chromium', { skip: reason }, async () => {})
} else {
  test('status page renders the charts and updates them live', { timeout: 30_000 }, async t => {
    const clock = { ms: Math.floor(Date.now() / 1000) * 1000 }
    const stats = { limit: 8, inflight: 0, admitted: 0, rejected: 0 }
    const history = new History({ stats, now: () => clock.ms })
    const o = history.observer

    const app = Fastify()
    app.get('/work', async (request, reply) => {
      // A hand-wired limiter, just enough to produce realistic series.
      if (stats.inflight >= stats.limit) {
        stats.rejected++
        o.onReject!('limit', undefined)
        return reply.code(503).send({ shed: true })
      }
      stats.inflight++
      stats.admitted++
      o.onAdmit!(undefined)
      const start = performance.now()
      const { delay } = request.query as { delay: string }
      await sleep(Number(delay))
      o.onSample!({ rtt: performance.now() - start, inflight: stats.inflight, dropped: false }, undefined)
      stats.inflight--
      return { ok: true }
    })
    app.get('/status', async (request, reply) => {
      if ((request.headers.accept ?? '').includes('text/html')) {
        return reply.type('text/html; charset=utf-8').send(renderStatusPage({ pollMs: 200 }))
      }
      const { history: withHistory } = request.query as { history?: string }
      return {
        algorithm: 'test',
        ...stats,
        overloaded: stats.inflight >= stats.limit,
        ...(withHistory === 'true' ? { history: history.points() } : {})
      }
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    t.teardown(() => app.close())
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`

    // One virtual second of load: `n` concurrent requests of 2..20 ms against a limit that moves.
    let second = 0
    async function loadSecond (n: number): Promise<void> {
      const newLimit = 6 + (second % 7)
      o.onLimitChange!(stats.limit, newLimit, 'sample')
      stats.limit = newLimit
      await Promise.all(Array.from({ length: n }, (_, i) => fetch(`${base}/work?delay=${2 + ((i * 7 + second) % 19)}`).then(r => r.arrayBuffer())))
      second++
      clock.ms += 1000
    }
    for (let s = 0; s < 40; s++) await loadSecond(4 + (s % 9))

    mkdirSync(ARTIFACTS, { recursive: true })
    const browser: Browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking']
    })
    t.teardown(() => browser.close())
    const page: Page = await browser.newPage({ viewport: { width: 1280, height: 720 } })
    const pageErrors: string[] = []
    page.on('pageerror', err => pageErrors.push(err.message))
    const response = await page.goto(`${base}/status`)
    t.equal(response?.headers()['content-type'], 'text/html; charset=utf-8', 'served as HTML')

    const polls = (): Promise<{ polls: number, errors: number, lastPointT: number | null, segments: Record<string, number> }> =>
      page.evaluate('window.__statusPage')
    // Per chart: a hash of the bitmap, and for each series colour the number of pixels drawn in
    // (about) that colour. The legend swatch of a series is 10x10 CSS px; anything beyond that is
    // the series' line.
    const SERIES: Record<string, Array<[string, number, number, number]>> = {
      'chart-limit': [['limit', 37, 99, 235], ['in flight', 245, 158, 11]],
      'chart-latency': [['p50', 16, 185, 129], ['p99', 139, 92, 246]],
      'chart-rates': [['admitted', 22, 163, 74], ['rejected', 220, 38, 38]]
    }
    const canvases = (): Promise<Array<{ id: string, swatch: number, colored: Record<string, number>, image: string }>> => page.evaluate(`
      Array.from(document.querySelectorAll('canvas')).map(function (c) {
        var series = ${JSON.stringify(SERIES)}[c.id]
        var d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data
        var colored = {}
        series.forEach(function (s) {
          var n = 0
          for (var i = 0; i < d.length; i += 4) {
            if (d[i + 3] > 200 && Math.abs(d[i] - s[1]) + Math.abs(d[i + 1] - s[2]) + Math.abs(d[i + 2] - s[3]) < 60) n++
          }
          colored[s[0]] = n
        })
        var dpr = window.devicePixelRatio || 1
        return { id: c.id, swatch: 100 * dpr * dpr, colored: colored, image: c.toDataURL() }
      })`)

    await page.waitForFunction('window.__statusPage.polls >= 1', undefined, { timeout: 5000 })
    const first = await polls()
    t.equal(first.errors, 0, 'no failed poll')
    t.equal(first.lastPointT, clock.ms - 1000, 'the page shows the last completed second')
    for (const id of ['chart-limit', 'chart-latency', 'chart-rates']) {
      t.ok(first.segments[id] >= 2 * 30, `${id}: both series drawn over the history (${first.segments[id]} segments)`)
    }
    const before = await canvases()
    for (const c of before) {
      for (const [name, n] of Object.entries(c.colored)) {
        t.ok(n > c.swatch + 100, `${c.id}: the ${name} line is drawn (${n} px in its colour, swatch ${c.swatch})`)
      }
    }
    t.equal(await page.textContent('#limit'), String(stats.limit), 'header shows the current limit')

    // More load with a heavier tail; the page must pick it up on its own, by polling.
    for (let s = 0; s < 5; s++) await loadSecond(12)
    const target = clock.ms - 1000
    await page.waitForFunction(`window.__statusPage.lastPointT === ${target}`, undefined, { timeout: 5000 })
    const after = await canvases()
    for (let i = 0; i < after.length; i++) {
      t.not(after[i].image, before[i].image, `${after[i].id} was redrawn with the new points`)
    }
    t.ok((await polls()).polls > first.polls, 'the page kept polling')

    await page.screenshot({ path: join(ARTIFACTS, 'status-page.png'), fullPage: true })
    t.ok(existsSync(join(ARTIFACTS, 'status-page.png')), 'screenshot saved')
    t.same(pageErrors, [], 'no script errors in the page')
  })
}
