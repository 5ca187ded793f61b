// Publishing that a web page cannot forge, in Debian's Chromium against the real server
// (README, "Operating wsmith"): a page of another origin or site POSTs to /publish with
// fetch(..., {mode: 'no-cors'}), which needs no permission, and a page whose name is re-pointed
// at 127.0.0.1 (DNS rebinding, simulated with --host-resolver-rules) opens the server as its own
// origin. Each is refused, and the Notifications tab of the real page shows none of them.
//
//   cargo build --release && (cd tests/browser && npm ci) && node --test tests/browser/
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { chromium } from 'playwright-core';
import { CHROMIUM, STEP_MS, startServer, stopServer, tid } from './support.mjs';

/** Another origin: a blank page on its own port, from which the attacks are run. */
function startOtherOrigin() {
  const other = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>another site</title><p>nothing to see</p>');
  });
  return new Promise((resolve) => other.listen(0, '127.0.0.1', () => resolve(other)));
}

/** POST /publish/notifications as a program would (no Origin): the control. */
function publish(port, text) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/publish/notifications', agent: false,
      headers: { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) } },
    (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.on('error', reject);
    req.end(text);
  });
}

let wsmith;
let other;
let browser;
let context;

before(async () => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  wsmith = await startServer();
  other = await startOtherOrigin();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--host-resolver-rules=MAP evil.test 127.0.0.1'],
  });
  context = await browser.newContext();
});

after(async () => {
  await browser?.close();
  other?.close();
  if (wsmith) await stopServer(wsmith);
});

/** From a page at `pageUrl`, a no-cors POST to /publish; returns the status and what was sent. */
async function forgedPublish(pageUrl, text) {
  const page = await context.newPage();
  await page.goto(pageUrl);
  const target = `http://127.0.0.1:${wsmith.port}/publish/notifications`;
  const seen = page.waitForResponse((r) => r.url() === target, { timeout: STEP_MS });
  await page.evaluate(([url, body]) => fetch(url, { method: 'POST', mode: 'no-cors', body }).then(() => 'sent'), [target, text]);
  const response = await seen;
  const sent = await response.request().allHeaders();
  const status = response.status();
  await page.close();
  return { status, origin: sent.origin, site: sent['sec-fetch-site'] };
}

test('no-cors publishes from another origin or site are refused, and a rebinding page gets 421', async () => {
  const victim = await context.newPage();
  await victim.goto(`http://127.0.0.1:${wsmith.port}/#notifications`);
  await victim.locator(`${tid('status-notifications')}[data-state="open"]`).waitFor({ timeout: STEP_MS });

  // Another site (localhost is not 127.0.0.1's site): Sec-Fetch-Site says cross-site.
  const crossSite = await forgedPublish(`http://localhost:${other.address().port}/`, 'forged cross-site');
  assert.equal(crossSite.site, 'cross-site', JSON.stringify(crossSite));
  assert.equal(crossSite.status, 403, JSON.stringify(crossSite));
  // The same site on another port: same-site, but its Origin is not the server's.
  const sameSite = await forgedPublish(`http://127.0.0.1:${other.address().port}/`, 'forged same-site');
  assert.equal(sameSite.origin, `http://127.0.0.1:${other.address().port}`, JSON.stringify(sameSite));
  assert.equal(sameSite.status, 403, JSON.stringify(sameSite));

  // DNS rebinding: evil.test now resolves to 127.0.0.1, so its page would be same-origin with
  // the server; the server does not answer to that name.
  const rebound = await context.newPage();
  const answer = await rebound.goto(`http://evil.test:${wsmith.port}/`);
  assert.equal(answer.status(), 421);
  const forged = await rebound.evaluate(() => fetch('/publish/notifications', { method: 'POST', body: 'forged rebinding' })
    .then((r) => r.status));
  assert.equal(forged, 421);
  await rebound.close();

  // A program may publish: it is the only notification the page shows.
  assert.equal(await publish(wsmith.port, 'legit'), 202);
  await victim.locator(tid('notification-text')).getByText('legit', { exact: true }).waitFor({ timeout: STEP_MS });
  const texts = await victim.locator(tid('notification-text')).allTextContents();
  assert.deepEqual(texts, ['legit']);
});
