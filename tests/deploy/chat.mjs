// Headless Chromium through the TLS proxy of tests/deploy/nginx.sh: opens the page over
// https:// (a self-signed certificate, so certificate errors are ignored), joins the chat over
// wss://, and sees its own message come back. WSMITH_HTTPS_BASE is the proxy's https:// URL.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../browser/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const BASE = process.env.WSMITH_HTTPS_BASE;
assert.ok(BASE && BASE.startsWith('https://'), 'WSMITH_HTTPS_BASE must be an https:// URL');
const tid = (id) => `[data-testid="${id}"]`;
const STEP_MS = 15_000;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--ignore-certificate-errors', '--no-first-run'],
});
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  const sockets = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));

  const response = await page.goto(BASE + '/');
  assert.equal(response.status(), 200, 'the page over https');
  await page.locator(`${tid('status-echo')}[data-state="open"]`).waitFor({ timeout: STEP_MS });

  await page.fill(tid('name-input'), 'alice');
  await page.click(tid('join-button'));
  await page.locator(`${tid('status-chat')}[data-state="open"]`).waitFor({ timeout: STEP_MS });
  await page.fill(tid('message-input'), 'hello over wss');
  await page.click(tid('send-button'));
  await page.locator(`${tid('log-general')} ${tid('message-text')}`)
    .getByText('hello over wss', { exact: true }).waitFor({ timeout: STEP_MS });

  const chat = sockets.find((url) => new URL(url).pathname === '/chat');
  assert.ok(chat && chat.startsWith('wss://'), `the chat socket is wss://: ${sockets.join(', ')}`);
  assert.deepEqual(errors, [], 'no page errors');
  console.log(`ok: Chromium chatted over ${new URL(chat).origin} (sockets: ${sockets.length})`);
} finally {
  await browser.close();
}
