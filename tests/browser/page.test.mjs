// Drives www/ in Debian's Chromium against a real wsmith server that this file starts itself.
//
//   cd tests/browser && npm ci && cd ../.. && cargo build --release
//   node --test tests/browser/
//
// WSMITH_BIN picks the server binary (default: target/release/wsmith, else target/debug/wsmith;
// a relative path is taken from the repository root). Chromium is /usr/bin/chromium (Debian's
// package; CHROMIUM_PATH overrides): if it is missing the run fails, it is never skipped.
// Screenshots go to target/browser-artifacts/.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const WWW = path.join(REPO, 'www');
const ARTIFACTS = path.join(REPO, 'target', 'browser-artifacts');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const LISTENING = /^wsmith listening on http:\/\/127\.0\.0\.1:(\d+)\s*$/;
const STARTUP_MS = 15_000;
const STEP_MS = 10_000; // any one wait in the page
const RECONNECT_MS = 30_000; // backoff tops out at 10 s, so two full rounds

const JOIN = (n) => `새로운 유저 접속 [현재: ${n}명]`;
const LEAVE = (n) => `유저 연결 해제 [현재: ${n}명]`;
const tid = (id) => `[data-testid="${id}"]`;

// ───────────────────────────── the server ─────────────────────────────

function serverBinary() {
  if (process.env.WSMITH_BIN) {
    const bin = path.resolve(REPO, process.env.WSMITH_BIN);
    if (!fs.existsSync(bin)) throw new Error(`WSMITH_BIN=${process.env.WSMITH_BIN} does not exist (resolved to ${bin})`);
    return bin;
  }
  const release = path.join(REPO, 'target', 'release', 'wsmith');
  const debug = path.join(REPO, 'target', 'debug', 'wsmith');
  if (fs.existsSync(release)) return release;
  if (fs.existsSync(debug)) return debug;
  throw new Error(`no wsmith binary: run \`cargo build --release\` first, or set WSMITH_BIN (looked for ${release} and ${debug})`);
}

/**
 * Starts wsmith on `addr` and resolves once it printed `wsmith listening on http://127.0.0.1:PORT`.
 * Keeps the last lines of its output for error messages.
 */
function startServer(addr) {
  const bin = serverBinary();
  const proc = spawn(bin, ['--addr', addr, '--www', WWW], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = [];
  const remember = (stream) => (line) => {
    output.push(`[${stream}] ${line}`);
    if (output.length > 200) output.shift();
  };
  const tail = () => output.slice(-30).join('\n') || '(no output)';
  readline.createInterface({ input: proc.stderr }).on('line', remember('stderr'));
  const stdout = readline.createInterface({ input: proc.stdout });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${bin} printed no "wsmith listening on http://127.0.0.1:PORT" line on stdout within ${STARTUP_MS} ms:\n${tail()}`));
    }, STARTUP_MS);
    proc.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${bin}: ${err.message}`));
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${bin} exited (code ${code}, signal ${signal}) before listening:\n${tail()}`));
    });
    stdout.on('line', (line) => {
      remember('stdout')(line);
      const match = LISTENING.exec(line);
      if (!match) return;
      clearTimeout(timer);
      const port = Number(match[1]);
      resolve({ proc, port, base: `http://127.0.0.1:${port}`, tail });
    });
  });
}

/** Restarts on the same port; the old socket may linger a moment, so try a few times. */
async function restartServer(port) {
  let lastError;
  for (let attempt = 0; attempt < 10; attempt += 1) {
    try {
      return await startServer(`127.0.0.1:${port}`);
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  throw lastError;
}

/** Stops the server by its pid: `signal` first, SIGKILL if it is still there after 5 s. */
async function stopServer(server, signal = 'SIGTERM') {
  const { proc } = server;
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  process.kill(proc.pid, signal);
  const timeout = new Promise((resolve) => setTimeout(() => resolve('timeout'), 5000));
  if ((await Promise.race([exited, timeout])) === 'timeout') {
    process.kill(proc.pid, 'SIGKILL');
    await exited;
  }
}

/** POST /publish/<channel> with a plain-text body (explicit Content-Length, one connection each). */
function publish(channel, text) {
  const body = Buffer.from(text, 'utf8');
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port: server.port, method: 'POST', path: `/publish/${encodeURIComponent(channel)}`,
      agent: false, timeout: 5000,
      headers: { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length },
    }, (res) => {
      let answer = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (answer += d));
      res.on('end', () => resolve({ status: res.statusCode, body: answer }));
    });
    req.on('timeout', () => req.destroy(new Error(`POST /publish/${channel} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

// ───────────────────────────── the browser ─────────────────────────────

let server;
let context;
let userDataDir;
let alice;
let bob;
const pageErrors = [];

async function openPage() {
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`${page.url()}: ${err.message}`));
  await page.goto(server.base + '/');
  return page;
}

async function join(page, name, { withEnter = false } = {}) {
  await page.fill(tid('name-input'), name);
  if (withEnter) await page.press(tid('name-input'), 'Enter');
  else await page.click(tid('join-button'));
  await page.locator(tid('my-name')).filter({ hasText: name }).waitFor();
  await waitState(page, 'chat', 'open');
}

function waitState(page, socket, state, timeout = STEP_MS) {
  return page.locator(`${tid('status-' + socket)}[data-state="${state}"]`).waitFor({ timeout });
}

/** The activity lines whose text is exactly `text`. */
const presenceLines = (page, text) => page.locator(`${tid('activity')} ${tid('presence-text')}`).getByText(text, { exact: true });

/** The messages in `channel` whose text is exactly `text`. */
const messages = (page, channel, text) =>
  page.locator(`${tid('log-' + channel)} ${tid('message')}`).filter({ has: page.getByText(text, { exact: true }) });

async function waitCount(locator, count, timeout = STEP_MS) {
  const until = Date.now() + timeout;
  let seen;
  while (Date.now() < until) {
    seen = await locator.count();
    if (seen === count) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(seen, count, `expected ${count} of ${locator}, found ${seen}`);
}

/** Every log on the page: no (channel, seq) twice, seqs ascending. */
async function assertNoDuplicates(page) {
  const logs = await page.evaluate(() => Array.from(document.querySelectorAll('ol.log.messages'), (log) => ({
    channel: log.dataset.channel,
    seqs: Array.from(log.querySelectorAll('.msg'), (m) => Number(m.dataset.seq)),
  })));
  for (const { channel, seqs } of logs) {
    assert.equal(new Set(seqs).size, seqs.length, `#${channel} shows a seq twice: ${seqs}`);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), `#${channel} is out of order: ${seqs}`);
  }
}

/**
 * Headless Chromium barely schedules frames in a tab that is not in front, which makes
 * Playwright's actionability checks crawl; each scenario brings the page it drives to the front.
 */
const front = (page) => page.bringToFront();

async function screenshot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await front(page);
  await page.screenshot({ path: path.join(ARTIFACTS, name) });
}

before(async () => {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's Chromium (apt-get install -y chromium) to run the browser tests`);
  }
  server = await startServer('127.0.0.1:0');
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsmith-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 800 },
    timeout: 30_000,
  });
  context.setDefaultTimeout(STEP_MS);
});

/** Cleanup must not hang the run either. */
const bounded = (promise, ms) => Promise.race([promise.catch(() => {}), new Promise((r) => setTimeout(r, ms))]);

after(async () => {
  if (context) await bounded(context.close(), 10_000);
  if (server) await bounded(stopServer(server), 10_000);
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
});

// ───────────────────────────── scenarios ─────────────────────────────

test('two pages join by name and each sees the second join with the count', { timeout: 60_000 }, async () => {
  alice = await openPage();
  assert.equal(await alice.title(), 'wsmith — live WebSocket demo');
  await waitState(alice, 'echo', 'open');
  await waitState(alice, 'notifications', 'open');
  await join(alice, 'alice');
  await alice.locator(tid('user-count')).filter({ hasText: /^1$/ }).waitFor();

  bob = await openPage();
  await join(bob, 'bob', { withEnter: true });

  await presenceLines(alice, JOIN(2)).first().waitFor();
  await presenceLines(bob, JOIN(2)).first().waitFor();
  await alice.locator(tid('user-count')).filter({ hasText: /^2$/ }).waitFor();
  await bob.locator(tid('user-count')).filter({ hasText: /^2$/ }).waitFor();
  await alice.locator(`${tid('activity')} .activity-who`).filter({ hasText: /^bob$/ }).first().waitFor();
});

test('a message sent with Enter shows once in both pages, from the server copy', { timeout: 60_000 }, async () => {
  const text = 'hello from alice 👋 <b>not bold</b>';
  await front(alice);
  await alice.fill(tid('message-input'), text);
  await alice.press(tid('message-input'), 'Enter');
  await messages(alice, 'general', text).first().waitFor();
  await messages(bob, 'general', text).first().waitFor();
  await waitCount(messages(alice, 'general', text), 1);
  await waitCount(messages(bob, 'general', text), 1);
  assert.equal(await messages(bob, 'general', text).locator(tid('message-from')).textContent(), 'alice');
  // Text is text: the markup in it must not have become an element.
  assert.equal(await bob.locator(`${tid('log-general')} b`).count(), 0);
  assert.equal(await alice.inputValue(tid('message-input')), '');
});

test('subscribing to news in the UI, then POST /publish/news shows the message', { timeout: 60_000 }, async () => {
  await front(bob);
  await bob.fill(tid('channel-input'), 'news');
  await bob.press(tid('channel-input'), 'Enter');
  await bob.locator(`${tid('channel-news')}[data-state="subscribed"]`).waitFor();
  assert.equal(await bob.textContent(tid('channel-title')), '# news');

  const answer = await publish('news', 'breaking: wsmith speaks RFC 6455');
  assert.ok(answer.status >= 200 && answer.status < 300, `POST /publish/news answered ${answer.status}: ${answer.body}`);
  const shown = messages(bob, 'news', 'breaking: wsmith speaks RFC 6455');
  await shown.first().waitFor({ state: 'visible' });
  assert.equal(await shown.locator(tid('message-from')).textContent(), 'server');
  await waitCount(shown, 1);
  // alice never subscribed to news.
  assert.equal(await messages(alice, 'news', 'breaking: wsmith speaks RFC 6455').count(), 0);

  // Back to #general for the scenarios below.
  await bob.click(tid('select-general'));
});

test('echo view: the tabs work from the keyboard and the reply comes back', { timeout: 60_000 }, async () => {
  await front(alice);
  await alice.focus(tid('tab-chat'));
  await alice.keyboard.press('ArrowRight');
  assert.equal(await alice.getAttribute(tid('tab-echo'), 'aria-selected'), 'true');
  await alice.locator(tid('panel-echo')).waitFor({ state: 'visible' });

  await alice.fill(tid('echo-input'), 'echo me, 안녕하세요');
  await alice.press(tid('echo-input'), 'Enter');
  await alice.locator(tid('echo-sent')).filter({ hasText: 'echo me, 안녕하세요' }).waitFor();
  await alice.locator(tid('echo-received')).filter({ hasText: 'echo me, 안녕하세요' }).waitFor();
  await screenshot(alice, 'echo.png');
});

test('notifications view: POST /publish/notifications shows up', { timeout: 60_000 }, async () => {
  await front(alice);
  await alice.click(tid('tab-notifications'));
  await alice.locator(tid('panel-notifications')).waitFor({ state: 'visible' });
  const answer = await publish('notifications', 'deploy finished: v0.1.0');
  assert.ok(answer.status >= 200 && answer.status < 300, `POST /publish/notifications answered ${answer.status}: ${answer.body}`);
  await alice.locator(tid('notification-text')).filter({ hasText: /^deploy finished: v0\.1\.0$/ }).waitFor();
  // bob is on the chat view: the tab shows a badge instead.
  await bob.locator(tid('badge-notifications')).filter({ hasText: /^1$/ }).waitFor();
  await screenshot(alice, 'notifications.png');
  await alice.click(tid('tab-chat'));
});

test('a dropped connection resumes: missed messages show once and in order', { timeout: 60_000 }, async () => {
  await front(bob);
  await bob.click(tid('toggle-chat'));
  await waitState(bob, 'chat', 'closed');
  const missed = ['while bob was away 1', 'while bob was away 2', 'while bob was away 3'];
  await front(alice);
  for (const text of missed) {
    await alice.fill(tid('message-input'), text);
    await alice.press(tid('message-input'), 'Enter');
    await messages(alice, 'general', text).first().waitFor();
  }
  assert.equal(await messages(bob, 'general', missed[0]).count(), 0);

  await front(bob);
  await bob.click(tid('toggle-chat'));
  await waitState(bob, 'chat', 'open');
  for (const text of missed) await messages(bob, 'general', text).first().waitFor();
  for (const text of missed) await waitCount(messages(bob, 'general', text), 1);
  await waitCount(messages(bob, 'general', 'hello from alice 👋 <b>not bold</b>'), 1);
  await bob.locator(tid('my-name')).filter({ hasText: /^bob$/ }).waitFor();
  await bob.locator(`${tid('channel-news')}[data-state="subscribed"]`).waitFor();
  await assertNoDuplicates(bob);
  await assertNoDuplicates(alice);
  await screenshot(alice, 'chat.png');
  await screenshot(bob, 'chat-bob.png');
});

test('a long absence: the page says how many messages were lost', { timeout: 60_000 }, async () => {
  const limit = await bob.evaluate(() => window.wsmith.chatState.historyLimit);
  assert.ok(Number.isInteger(limit) && limit > 0 && limit <= 1000, `welcome.history_limit is ${limit}`);
  await front(bob);
  await bob.click(tid('toggle-chat'));
  await waitState(bob, 'chat', 'closed');
  const burst = limit + 5;
  for (let i = 1; i <= burst; i += 1) {
    const answer = await publish('general', `burst ${i}`);
    assert.ok(answer.status >= 200 && answer.status < 300, `POST /publish/general answered ${answer.status}`);
  }
  await bob.click(tid('toggle-chat'));
  await waitState(bob, 'chat', 'open');
  await messages(bob, 'general', `burst ${burst}`).first().waitFor();
  const notice = bob.locator(`${tid('log-general')} ${tid('lost-notice')}`);
  await notice.waitFor({ state: 'visible' });
  assert.match(await notice.textContent(), /\b5 messages were lost\b/);
  assert.equal(await messages(bob, 'general', 'burst 5').count(), 0);
  await waitCount(messages(bob, 'general', 'burst 6'), 1);
  await assertNoDuplicates(bob);
  await notice.scrollIntoViewIfNeeded();
  await screenshot(bob, 'chat-lost.png');
});

test('narrow screens: the chat still fits', { timeout: 30_000 }, async () => {
  await front(bob);
  await bob.setViewportSize({ width: 390, height: 844 });
  const overflow = await bob.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px at 390px wide`);
  await bob.screenshot({ path: path.join(ARTIFACTS, 'chat-narrow.png'), fullPage: true });
  await bob.setViewportSize({ width: 1280, height: 800 });
});

test('server restart on the same port: the page reconnects, no message twice', { timeout: 90_000 }, async () => {
  const port = server.port;
  await stopServer(server, 'SIGKILL');
  for (const page of [alice, bob]) {
    for (const socket of ['chat', 'echo', 'notifications']) await waitState(page, socket, 'closed');
  }
  await screenshot(alice, 'chat-disconnected.png');

  server = await restartServer(port);
  for (const page of [alice, bob]) {
    for (const socket of ['chat', 'echo', 'notifications']) await waitState(page, socket, 'open', RECONNECT_MS);
  }
  await alice.locator(tid('my-name')).filter({ hasText: /^alice$/ }).waitFor();
  await bob.locator(tid('my-name')).filter({ hasText: /^bob$/ }).waitFor();
  await alice.locator(tid('user-count')).filter({ hasText: /^2$/ }).waitFor({ timeout: RECONNECT_MS });
  await bob.locator(`${tid('channel-news')}[data-state="subscribed"]`).waitFor();

  const text = 'after the restart';
  await front(alice);
  await alice.fill(tid('message-input'), text);
  await alice.press(tid('message-input'), 'Enter');
  await messages(alice, 'general', text).first().waitFor();
  await messages(bob, 'general', text).first().waitFor();
  await waitCount(messages(alice, 'general', text), 1);
  await waitCount(messages(bob, 'general', text), 1);
  for (const earlier of ['hello from alice 👋 <b>not bold</b>', 'while bob was away 1']) {
    assert.ok(await messages(alice, 'general', earlier).count() <= 1, `"${earlier}" shows twice`);
    assert.ok(await messages(bob, 'general', earlier).count() <= 1, `"${earlier}" shows twice`);
  }
  await assertNoDuplicates(alice);
  await assertNoDuplicates(bob);

  // The echo socket came back too.
  await alice.click(tid('tab-echo'));
  await alice.fill(tid('echo-input'), 'echo after restart');
  await alice.press(tid('echo-input'), 'Enter');
  await alice.locator(tid('echo-received')).filter({ hasText: 'echo after restart' }).waitFor();
  await alice.click(tid('tab-chat'));
  await screenshot(alice, 'chat-after-restart.png');
});

test('closing a page shows the leave line in the other', { timeout: 60_000 }, async () => {
  const before = await presenceLines(alice, LEAVE(1)).count();
  await bob.close();
  await waitCount(presenceLines(alice, LEAVE(1)), before + 1);
  await alice.locator(tid('user-count')).filter({ hasText: /^1$/ }).waitFor();
});

test('renaming through the name field', { timeout: 30_000 }, async () => {
  await front(alice);
  assert.equal(await alice.textContent(tid('join-button')), 'Rename');
  await alice.fill(tid('name-input'), 'alicia');
  await alice.press(tid('name-input'), 'Enter');
  await alice.locator(tid('my-name')).filter({ hasText: /^alicia$/ }).waitFor();
  await alice.locator(`${tid('activity')} [data-kind="rename"]`).first().waitFor();
});

test('the page threw no uncaught errors', () => {
  assert.deepEqual(pageErrors, []);
});
