// Static checks of the page; test/observability/status-page.browser.test.ts runs it for real.
import { test } from 'tap'
import { renderStatusPage } from '../../lib/observability/status-page'

test('self-contained: no external resources', async t => {
  const html = renderStatusPage()
  t.match(html, /^<!doctype html>/)
  t.notMatch(html, /<script[^>]+src=/i, 'no external script')
  t.notMatch(html, /<link\b/i, 'no stylesheet link')
  t.notMatch(html, /https?:\/\//, 'no absolute URL at all')
  t.match(html, /<canvas id="chart-limit">/)
  t.match(html, /<canvas id="chart-latency">/)
  t.match(html, /<canvas id="chart-rates">/)
  t.match(html, /"dataUrl":"\?history=true","pollMs":1000/)
})

test('options are embedded safely', async t => {
  const html = renderStatusPage({ title: '<b>api</b> & "co"', dataUrl: '/s?x=</script><script>alert(1)', pollMs: 250 })
  t.match(html, /<title>&lt;b&gt;api&lt;\/b&gt; &amp; &quot;co&quot;<\/title>/)
  t.notMatch(html, /<b>api<\/b>/)
  t.notMatch(html, /<\/script><script>alert/, 'dataUrl cannot close the script element')
  t.match(html, /"pollMs":250/)
})

test('the inline script is valid JavaScript', async t => {
  const html = renderStatusPage()
  const script = html.slice(html.indexOf('<script>') + '<script>'.length, html.indexOf('</script>'))
  // eslint-disable-next-line no-new-func -- parsed, never run
  t.doesNotThrow(() => new Function(script))
})
