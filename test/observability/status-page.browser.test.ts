// The live status page in a real headless Chromium (Debian's `chromium`, driven by
// playwright-core), served by the real plugin's status route on a real socket, while undici
// generates load against a real route of the same app (AIMD limit, 2-25 ms handlers, some 500s,
// more clients than the limit: the limit saws and requests are shed). Real time, so a few seconds
// of history; the page stretches a young history over the whole chart width.
// Screenshot: test-artifacts/status-page.png.
import { test } from 'tap'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify from 'fastify'
import { Pool } from 'undici'
import { chromium, type Browser, type Page } from 'playwright-core'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'

const CHROMIUM = '/usr/bin/chromium'
const ARTIFACTS = join(__dirname, '..', '..', 'test-artifacts')
const CLIENTS = 24

if (!existsSync(CHROMIUM) && process.env.CI === undefined) {
  const reason = `${CHROMIUM} is missing (apt-get install -y chromium); .ci/run installs it in CI`
  console.error(`SKIPPED status page browser test: ${reason}`)
  test('status page in Chromium', { skip: reason }, async () => {})
} else {
  test('status page renders the charts and updates them live', { timeout: 90_000 }, async t => {
    const app = Fastify()
    await app.register(fastifyAdaptiveConcurrency, {
      algorithm: { name: 'aimd', options: { initialLimit: 6, maxLimit: 16, backoffRatio: 0.7 } },
      eventLoop: false,
      // A closed loop of more clients than the limit would simply wait in the default queue;
      // the charts need requests shed, so the limit refuses at once.
      queue: false,
      statusRoute: { page: { title: 'browser test' } }
    })
    let n = 0
    app.get('/work', async (_request, reply) => {
      const i = n++
      await sleep(2 + ((i * 7) % 24))
      if (i % 40 === 0 && !load.low) return reply.code(500).send('overload signal')
      return 'ok'
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    t.teardown(() => app.close())
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`

    // Closed-loop load: CLIENTS workers, each sending its next request when the last one answered.
    // For 2 s out of every 4 s only LOW_CLIENTS of them run, and without overload signals: under
    // full load in-flight sits at the limit and its line lies exactly under the limit's (on a slow
    // box, for every second); a 2 s low phase always holds a whole second where in-flight stays
    // well under the limit and the two lines part, while latency and rates go on being drawn.
    const LOW_CLIENTS = 2
    const pool = new Pool(base, { connections: CLIENTS })
    const load = { on: true, low: false }
    const duty = setInterval(() => { load.low = !load.low }, 2000)
    const statuses: Record<number, number> = {}
    const workers = Array.from({ length: CLIENTS }, async (_, worker) => {
      while (load.on) {
        if (load.low && worker >= LOW_CLIENTS) { await sleep(20); continue }
        const res = await pool.request({ path: '/work', method: 'GET' })
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1
        await res.body.dump()
      }
    })
    let stopped: Promise<void> | undefined
    const stopLoad = (): Promise<void> => {
      clearInterval(duty)
      load.on = false
      stopped ??= Promise.all(workers).then(() => pool.close())
      return stopped
    }
    t.teardown(stopLoad)

    // Let a few seconds of history build up before the page opens.
    const history = async (): Promise<Array<{ t: number }>> => (await app.inject('/status?history=true')).json().history
    while ((await history()).length < 4) await sleep(100)

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
    t.equal(await page.title(), 'browser test')

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
    // Read in one synchronous evaluation together with the newest point drawn, so a poll landing
    // in between cannot make "before" already include the next second.
    type Drawn = { lastPointT: number, charts: Array<{ id: string, swatch: number, colored: Record<string, number>, image: string }> }
    const canvases = (): Promise<Drawn> => page.evaluate(`({ lastPointT: window.__statusPage.lastPointT, charts:
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
      }) })`)

    await page.waitForFunction('window.__statusPage.polls >= 1', undefined, { timeout: 5000 })
    const first = await polls()
    t.equal(first.errors, 0, 'no failed poll')
    t.ok(first.lastPointT !== null && first.lastPointT % 1000 === 0, 'the page shows the server\'s one-second points')
    for (const id of ['chart-limit', 'chart-latency', 'chart-rates']) {
      t.ok(first.segments[id] >= 2 * 3, `${id}: both series drawn over the history (${first.segments[id]} segments)`)
    }
    // The history may still lack a paused second: give the chart up to five more seconds.
    let before = await canvases()
    const allVisible = (d: Drawn): boolean => d.charts.every(c => Object.values(c.colored).every(px => px > c.swatch + 100))
    for (let attempt = 0; attempt < 5 && !allVisible(before); attempt++) {
      await page.waitForFunction(`window.__statusPage.lastPointT > ${before.lastPointT}`, undefined, { timeout: 5000 })
      before = await canvases()
    }
    for (const c of before.charts) {
      for (const [name, px] of Object.entries(c.colored)) {
        t.ok(px > c.swatch + 100, `${c.id}: the ${name} line is drawn (${px} px in its colour, swatch ${c.swatch})`)
      }
    }
    t.match(await page.textContent('#algorithm'), 'aimd', 'header shows the algorithm')

    // The load goes on; the page must pick up new seconds on its own, by polling.
    await page.waitForFunction(`window.__statusPage.lastPointT > ${before.lastPointT}`, undefined, { timeout: 5000 })
    const after = await canvases()
    for (let i = 0; i < after.charts.length; i++) {
      t.not(after.charts[i].image, before.charts[i].image, `${after.charts[i].id} was redrawn with the new points`)
    }
    t.ok((await polls()).polls > first.polls, 'the page kept polling')

    // The header says "shedding" from recent refusals, not from in-flight at the instant of a poll.
    await page.waitForFunction("document.getElementById('state').textContent.indexOf('shedding') === 0", undefined, { timeout: 15_000 })
    t.equal(await page.getAttribute('#state', 'class'), 'bad', 'shedding shows in red')
    t.match(await page.textContent('#longlived'), '0', 'no long-lived request open')

    await page.screenshot({ path: join(ARTIFACTS, 'status-page.png'), fullPage: true })
    t.ok(existsSync(join(ARTIFACTS, 'status-page.png')), 'screenshot saved')
    t.same(pageErrors, [], 'no script errors in the page')
    await stopLoad()
    await page.waitForFunction("document.getElementById('state').textContent === 'below limit'", undefined, { timeout: 10_000 })
    t.pass('once the refusals stop, the header reads "below limit" again')
    t.ok((statuses[503] ?? 0) > 0 && (statuses[200] ?? 0) > 0, `the load was partly shed (${JSON.stringify(statuses)})`)
    t.ok(app.concurrency.rejected > 0 && app.concurrency.dropped > 0, 'rejections and drops reached the limiter')
  })
}
