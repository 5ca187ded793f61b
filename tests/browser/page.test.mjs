// Drives www/ in Debian's Chromium against a real wsmith server that this file starts itself.
//
//   cd tests/browser && npm ci && cd ../.. && cargo build --release
//   node --test tests/browser/
//
// WSMITH_BIN picks the server binary (default: target/release/wsmith, else target/debug/wsmith;
// a relative path is taken from the repository root). Chromium is /usr/bin/chromium (Debian's
// package; CHROMIUM_PATH overrides): if it is missing the run fails, it is never skipped.
// Screenshots go to target/browser-artifacts/; with UPDATE_DOCS=1, the chat's also to docs/page.png
// (README's picture of the page).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import {
  ARTIFACTS, JOIN, LEAVE, REPO, STEP_MS, restartServer, screenshot, startSession, stopServer, tid,
} from './support.mjs';

const RECONNECT_MS = 30_000; // backoff tops out at 10 s, so two full rounds

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'; // RFC 6455 §1.3

// ───────────────────────────── the server ─────────────────────────────

/** POST /publish/<channel> with a plain-text body (explicit Content-Length, one connection each). */
function publish(channel, text) {
  const body = Buffer.from(text, 'utf8');
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port: session.server.port, method: 'POST', path: `/publish/${encodeURIComponent(channel)}`,
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

let session; // the server, Chromium and the page errors (support.mjs, startSession)
let alice;
let bob;

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

before(async () => {
  session = await startSession('wsmith-chromium-', { width: 1280, height: 800 });
});

after(() => session?.close());

// ───────────────────────────── scenarios ─────────────────────────────

test('two pages join by name and each sees the second join with the count', { timeout: 60_000 }, async () => {
  alice = await session.open('/');
  assert.equal(await alice.title(), 'wsmith — live WebSocket demo');
  await waitState(alice, 'echo', 'open');
  await waitState(alice, 'notifications', 'open');
  await join(alice, 'alice');
  await alice.locator(tid('user-count')).filter({ hasText: /^1$/ }).waitFor();

  bob = await session.open('/');
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
  if (process.env.UPDATE_DOCS === '1') {
    fs.copyFileSync(path.join(ARTIFACTS, 'chat.png'), path.join(REPO, 'docs', 'page.png'));
  }
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
  const port = session.server.port;
  await stopServer(session.server, 'SIGKILL');
  for (const page of [alice, bob]) {
    for (const socket of ['chat', 'echo', 'notifications']) await waitState(page, socket, 'closed');
  }
  await screenshot(alice, 'chat-disconnected.png');

  // In the session, so that its close() stops this one.
  session.server = await restartServer(port);
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

// ───────────────────────────── the Inspector ─────────────────────────────

let carol;
let unmaskedFrame; // the raw client's unmasked frame, for the §5.1 check below

/**
 * The Inspector's frames going `dir` ('in' = client → server) whose message contains `text`: in
 * the unmasked payload, or, for a compressed one (RFC 7692 §6), in the payload inflated.
 */
const inspectedFrames = (page, dir, text, extra = '') =>
  page.locator(`${tid('inspect-frame')}[data-dir="${dir}"]${extra}`)
    .filter({ has: page.locator(`${tid('frame-payload-text')}, ${tid('frame-inflated-text')}`).filter({ hasText: text }) });

const hexBytes = (text) => Buffer.from(text.trim().split(/\s+/).map((b) => parseInt(b, 16)));

/** The Inspector watches what `selector` points at: wait until the server says it is attached. */
async function waitAttached(page, what) {
  await page.locator(`${tid('inspect-watch')}[data-state="attached"]`).filter({ hasText: what }).waitFor();
}

/** `frame` comes before `later` in the Inspector's list. */
async function assertBefore(frame, later) {
  const order = await frame.evaluate((a, b) => Boolean(a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING), await later.elementHandle());
  assert.ok(order, 'the Inspector shows the frames out of order');
}

test('inspector: this page’s /chat handshake, step by step, checks out in Node', { timeout: 60_000 }, async () => {
  carol = await session.open('/');
  await join(carol, 'carol');
  // Keyboard: the Inspector is the tab after Notifications.
  await carol.focus(tid('tab-notifications'));
  await carol.keyboard.press('ArrowRight');
  assert.equal(await carol.getAttribute(tid('tab-inspect'), 'aria-selected'), 'true');
  await carol.locator(tid('panel-inspect')).waitFor({ state: 'visible' });
  await waitState(carol, 'inspect', 'open');
  assert.equal(await carol.inputValue(tid('inspect-target')), 'chat');
  await waitAttached(carol, '/chat');

  await carol.locator(tid('hs-steps')).waitFor({ state: 'visible' });
  const key = (await carol.textContent(tid('hs-key'))).trim();
  assert.match(key, /^[A-Za-z0-9+/]{22}==$/, 'Sec-WebSocket-Key is 16 bytes in base64 (§4.1)');
  const sha1 = crypto.createHash('sha1').update(key + GUID).digest();
  assert.equal(await carol.textContent(tid('hs-concat')), key + GUID);
  assert.equal(await carol.textContent(tid('hs-sha1')), sha1.toString('hex'));
  assert.equal(await carol.textContent(tid('hs-accept')), sha1.toString('base64'));
  // The page's own check, with crypto.subtle, agrees.
  await carol.locator(`${tid('hs-check')}[data-ok="true"]`).waitFor();

  const tap = await carol.evaluate(() => window.wsmith.TAPS.chat);
  assert.match(tap, /^[0-9a-f]{32}$/);
  const request = await carol.textContent(tid('hs-request'));
  assert.match(request, /^GET \/chat\?\S*tap=[0-9a-f]{32}\S* HTTP\/1\.1/);
  assert.ok(request.includes(`tap=${tap}`), `the request line carries this page's tap token: ${request.slice(0, 200)}`);
  assert.match(request, new RegExp(`sec-websocket-key: ${key.replace(/[+/]/g, '\\$&')}`, 'i'));
  const response = await carol.textContent(tid('hs-response'));
  assert.match(response, /^HTTP\/1\.1 101 /);
  assert.ok(response.toLowerCase().includes(`sec-websocket-accept: ${sha1.toString('base64')}`.toLowerCase()), response);
});

test('inspector: "Hello" from the chat box, masked ⇢ in and unmasked ⇠ out', { timeout: 60_000 }, async () => {
  await front(carol);
  await carol.click(tid('tab-chat'));
  await carol.fill(tid('message-input'), 'Hello');
  await carol.press(tid('message-input'), 'Enter');
  await messages(carol, 'general', 'Hello').first().waitFor();
  await carol.click(tid('tab-inspect'));

  // The handshake agreed permessage-deflate (RFC 7692 §5), and the page says so.
  assert.match(await carol.locator(tid('hs-extension')).first().textContent(), /^agreed: permessage-deflate\b/);

  // ⇢ client → server: the page's JSON, FIN=1, Text, MASK=1, a 4-byte key; Chromium compressed
  // it: RSV1=1 (RFC 7692 §6), and the payload is DEFLATE data.
  const incoming = inspectedFrames(carol, 'in', '"text":"Hello"', '[data-opcode="1"]').last();
  await incoming.waitFor();
  assert.match(await incoming.locator(tid('frame-dir')).textContent(), /^⇢ client → server/);
  assert.equal(await incoming.locator(tid('frame-fin')).textContent(), '1');
  assert.equal(await incoming.locator(tid('frame-rsv')).textContent(), '100');
  assert.equal(await incoming.locator(tid('frame-compressed')).textContent(), 'compressed (permessage-deflate, RFC 7692 §6)');
  assert.equal(await incoming.locator(tid('frame-opcode')).textContent(), 'Text');
  assert.equal(await incoming.locator(tid('frame-mask')).textContent(), '1');
  const key = await incoming.locator(tid('frame-masking-key')).textContent();
  assert.match(key, /^[0-9a-f]{2}( [0-9a-f]{2}){3}$/);
  const header = await incoming.locator(tid('frame-header-hex')).textContent();
  assert.equal(header.slice(0, 2), 'c1', 'byte 0: FIN=1, RSV=100, opcode 1');
  // The masked bytes on the wire, XOR the key (§5.3), are the payload: still DEFLATE data.
  const wire = hexBytes(await incoming.locator(tid('frame-wire-hex')).textContent());
  const payload = hexBytes(await incoming.locator(tid('frame-payload-hex')).textContent());
  const mask = hexBytes(key);
  assert.deepEqual(Buffer.from(wire.map((b, i) => b ^ mask[i % 4])), payload);
  // Inflated by the server (RFC 7692 §6.2; Chromium keeps its LZ77 window across messages, so
  // this one alone cannot be inflated here), it is the page's JSON.
  const sent = JSON.parse(await incoming.locator(tid('frame-inflated-text')).textContent());
  assert.deepEqual([sent.type, sent.text], ['message', 'Hello']);
  const inflated = hexBytes(await incoming.locator(tid('frame-inflated-hex')).textContent());
  assert.equal(inflated.toString('utf8'), JSON.stringify(sent));
  assert.equal(await incoming.locator(tid('frame-inflated-len')).textContent(), `${inflated.length} bytes`);
  assert.notDeepEqual(payload, inflated, 'the payload on the wire is not the message itself');

  // ⇠ server → client: the server's message event, MASK=0, under --deflate-threshold (256 bytes)
  // so sent uncompressed: RSV1=0.
  const outgoing = inspectedFrames(carol, 'out', '"text":"Hello"', '[data-opcode="1"]').last();
  await outgoing.waitFor();
  assert.match(await outgoing.locator(tid('frame-dir')).textContent(), /^⇠ server → client/);
  assert.equal(await outgoing.locator(tid('frame-fin')).textContent(), '1');
  assert.equal(await outgoing.locator(tid('frame-rsv')).textContent(), '000');
  assert.equal(await outgoing.locator(tid('frame-inflated-text')).count(), 0);
  assert.equal(await outgoing.locator(tid('frame-opcode')).textContent(), 'Text');
  assert.equal(await outgoing.locator(tid('frame-mask')).textContent(), '0');
  assert.equal(await outgoing.locator(tid('frame-masking-key')).textContent(), 'none');
  const event = JSON.parse(await outgoing.locator(tid('frame-payload-text')).textContent());
  assert.deepEqual([event.type, event.from, event.text], ['message', 'carol', 'Hello']);
  await assertBefore(incoming, outgoing);
  assert.equal(await carol.locator(`${tid('inspect-frame')} ${tid('frame-problem')}`).count(), 0, 'a browser frame has a problem');

  await incoming.evaluate((node) => node.scrollIntoView({ block: 'start' }));
  await carol.locator(tid('hs-accept')).evaluate((node) => node.scrollIntoView({ block: 'center' }));
  await screenshot(carol, 'inspector.png');
});

test('inspector: switched to /echo, a 210-byte text has a 16-bit extended length', { timeout: 60_000 }, async () => {
  await front(carol);
  await carol.selectOption(tid('inspect-target'), 'echo');
  await waitAttached(carol, '/echo');
  const tap = await carol.evaluate(() => window.wsmith.TAPS.echo);
  await carol.locator(tid('hs-request')).filter({ hasText: `GET /echo?tap=${tap} HTTP/1.1` }).waitFor();

  const long = 'wsmith '.repeat(30); // 210 bytes: more than 125, so len7 = 126 and 16 bits follow
  await carol.click(tid('tab-echo'));
  await carol.fill(tid('echo-input'), long);
  await carol.press(tid('echo-input'), 'Enter');
  await carol.locator(tid('echo-received')).filter({ hasText: 'wsmith wsmith' }).first().waitFor();
  await carol.click(tid('tab-inspect'));

  // ⇢ Chromium compressed the 210 bytes (RFC 7692 §6): so repetitive a text deflates to fewer
  // than 126 bytes, and the 7-bit length says it all; inflated, it is the 210 bytes again.
  const incoming = inspectedFrames(carol, 'in', 'wsmith wsmith', '[data-compressed="1"]').last();
  await incoming.waitFor();
  assert.equal(await incoming.locator(tid('frame-rsv')).textContent(), '100');
  assert.equal(await incoming.locator(tid('frame-mask')).textContent(), '1');
  const len7 = Number(await incoming.getAttribute('data-len7'));
  assert.ok(len7 > 0 && len7 < 126, `the compressed 210 bytes took ${len7} bytes`);
  assert.equal(await incoming.locator(tid('frame-extended-len')).count(), 0);
  assert.equal(await incoming.locator(tid('frame-payload-len')).textContent(), `${len7} byte${len7 === 1 ? '' : 's'}`);
  assert.equal(await incoming.locator(tid('frame-inflated-len')).textContent(), '210 bytes');
  assert.equal(await incoming.locator(tid('frame-inflated-text')).textContent(), long);

  // ⇠ the echo: 210 bytes are under --deflate-threshold (256), so the server sends them as they
  // are: RSV1=0, more than 125 bytes, so len7 = 126 and a 16-bit length follows (§5.2).
  const outgoing = inspectedFrames(carol, 'out', 'wsmith wsmith', '[data-len7="126"]').last();
  await outgoing.waitFor();
  assert.equal(await outgoing.locator(tid('frame-rsv')).textContent(), '000');
  assert.match(await outgoing.locator(tid('frame-len7')).textContent(), /^126\b/);
  const extended = outgoing.locator(tid('frame-extended-len'));
  assert.equal(await extended.getAttribute('data-bits'), '16');
  assert.equal(await extended.getAttribute('data-value'), '210');
  assert.match(await extended.textContent(), /^00 d2 = 210$/);
  assert.equal(await outgoing.locator(tid('frame-payload-len')).textContent(), '210 bytes');
  assert.equal(await outgoing.locator(tid('frame-mask')).textContent(), '0');
  assert.equal(await outgoing.locator(tid('frame-payload-text')).textContent(), long);
  await incoming.evaluate((node) => node.scrollIntoView({ block: 'start' }));
  await screenshot(carol, 'inspector-echo.png');
});

/** A client frame built by hand: masked unless told otherwise, payload under 126 bytes. */
function rawFrame(opcode, text, { fin = true, mask = true } = {}) {
  const data = Buffer.from(text, 'utf8');
  const head = Buffer.from([(fin ? 0x80 : 0) | opcode, (mask ? 0x80 : 0) | data.length]);
  if (!mask) return Buffer.concat([head, data]);
  const key = crypto.randomBytes(4);
  return Buffer.concat([head, key, Buffer.from(data.map((b, i) => b ^ key[i % 4]))]);
}

/** A raw TCP client that upgrades at `target` and keeps the socket open. */
function rawUpgrade(target) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(session.server.port, '127.0.0.1');
    socket.setTimeout(STEP_MS, () => socket.destroy(new Error('raw client timed out')));
    let head = '';
    socket.on('error', reject); // after the upgrade: the server may reset it, which is the point
    socket.on('data', function onData(chunk) {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      socket.setTimeout(0);
      if (!head.startsWith('HTTP/1.1 101')) reject(new Error(`upgrade refused: ${head}`));
      else resolve(socket);
    });
    socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${session.server.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
      + `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  });
}

test('inspector: another connection by id: fragments, a ping between them, an unmasked frame and its 1002', { timeout: 60_000 }, async () => {
  await front(carol);
  const raw = await rawUpgrade(`/echo?tap=${crypto.randomBytes(16).toString('hex')}`);
  try {
    // Loopback: the server lists its connections; ours is the one from our local port.
    await carol.click(tid('inspect-refresh'));
    const option = carol.locator(`${tid('inspect-target')} option`).filter({ hasText: `127.0.0.1:${raw.localPort}` });
    await option.waitFor({ state: 'attached' });
    const value = await option.getAttribute('value');
    const id = Number(value.replace(/^conn:/, ''));
    assert.ok(Number.isInteger(id), `option value ${value}`);
    await carol.selectOption(tid('inspect-target'), value);
    await waitAttached(carol, `#${id}`);

    raw.write(rawFrame(0x1, 'Hel', { fin: false }));
    raw.write(rawFrame(0x9, 'are you there?'));
    raw.write(rawFrame(0x0, 'lo'));
    const mine = `${tid('inspect-frame')}[data-conn="${id}"]`;
    const first = carol.locator(`${mine}[data-dir="in"][data-opcode="1"][data-fin="0"][data-fragment="1"]`);
    const ping = carol.locator(`${mine}[data-dir="in"][data-opcode="9"]`);
    const last = carol.locator(`${mine}[data-dir="in"][data-opcode="0"][data-fin="1"][data-fragment="2"]`);
    const pong = carol.locator(`${mine}[data-dir="out"][data-opcode="10"]`);
    const echoed = carol.locator(`${mine}[data-dir="out"][data-opcode="1"]`).filter({ has: carol.locator(tid('frame-payload-text')).filter({ hasText: /^Hello$/ }) });
    for (const frame of [first, ping, last, pong, echoed]) await frame.waitFor();
    assert.match(await first.locator(tid('frame-where')).textContent(), /fragment 1/);
    assert.match(await last.locator(tid('frame-where')).textContent(), /fragment 2 \(last\)/);
    assert.equal(await ping.locator(tid('frame-where')).textContent(), 'control frame');
    await ping.locator(tid('frame-interleaved')).waitFor();
    assert.ok(await ping.evaluate((node) => node.classList.contains('frame-control') && node.classList.contains('frame-interleaved')));
    assert.equal(await ping.locator(tid('frame-payload-text')).textContent(), 'are you there?');
    assert.equal(await pong.locator(tid('frame-payload-text')).textContent(), 'are you there?');
    await assertBefore(first, ping);
    await assertBefore(ping, last);

    // §5.1: a client MUST mask. The server fails the connection with 1002.
    raw.write(rawFrame(0x1, 'not masked', { mask: false }));
    unmaskedFrame = carol.locator(`${mine}[data-dir="in"][data-mask="0"]`);
    await unmaskedFrame.waitFor();
    assert.ok(await unmaskedFrame.evaluate((node) => node.classList.contains('frame-bad')), 'the unmasked frame is not highlighted');
    const close = carol.locator(`${tid('inspect-close')}[data-conn="${id}"]`);
    await close.waitFor();
    assert.equal(await close.locator(tid('close-code')).textContent(), '1002');
    assert.equal(await close.getAttribute('data-by'), 'server');
    assert.match(await close.locator(tid('close-rule')).textContent(), /§5\.1/);
    assert.ok((await close.locator(tid('close-explanation')).textContent()).length > 0);
    await carol.locator(`${tid('inspect-watch')}[data-state="detached"]`).waitFor();
    await unmaskedFrame.evaluate((node) => node.scrollIntoView({ block: 'start' }));
    await screenshot(carol, 'inspector-problems.png');
  } finally {
    raw.destroy();
  }
});

test('inspector: the server lists the §5.1 rule among the unmasked frame’s problems', { timeout: 30_000 }, async () => {
  assert.ok(unmaskedFrame, 'the scenario above did not get that far');
  const problems = await unmaskedFrame.locator(tid('frame-problem')).allTextContents();
  assert.ok(problems.some((p) => /§5\.1/.test(p)), `the frame's "problems" from the server: ${JSON.stringify(problems)}`);
});

test('inspector: its own socket reconnects and watches again', { timeout: 60_000 }, async () => {
  await front(carol);
  await carol.selectOption(tid('inspect-target'), 'chat');
  await waitAttached(carol, '/chat');
  const attachedNotes = carol.locator(`${tid('inspect-note')}[data-kind="attached"]`);
  const before = await attachedNotes.count();
  await carol.click(tid('toggle-inspect'));
  await waitState(carol, 'inspect', 'closed');
  await carol.click(tid('toggle-inspect'));
  await waitState(carol, 'inspect', 'open');
  await waitAttached(carol, '/chat');
  await waitCount(attachedNotes, before + 1);

  // Still live: a message after the reconnect shows up.
  await carol.click(tid('tab-chat'));
  await carol.fill(tid('message-input'), 'after the inspector came back');
  await carol.press(tid('message-input'), 'Enter');
  await carol.click(tid('tab-inspect'));
  await inspectedFrames(carol, 'out', 'after the inspector came back').first().waitFor();

  // Clear empties the list; the count starts again.
  await carol.click(tid('inspect-clear'));
  await waitCount(carol.locator(tid('inspect-frame')), 0);
  assert.equal(await carol.textContent(tid('frames-count')), '0 frames');
});

test('narrow screens: the Inspector still fits', { timeout: 30_000 }, async () => {
  await front(carol);
  await carol.setViewportSize({ width: 390, height: 844 });
  const compressedIn = carol.locator(`${tid('inspect-frame')}[data-dir="in"][data-opcode="1"][data-compressed="1"]`);
  const before = await compressedIn.count();
  await carol.click(tid('tab-chat'));
  await carol.fill(tid('message-input'), 'Hello on a phone');
  await carol.press(tid('message-input'), 'Enter');
  await messages(carol, 'general', 'Hello on a phone').first().waitFor();
  await carol.click(tid('tab-inspect'));
  // The Inspector re-attached in the test before, mid-stream: Chromium keeps its LZ77 window
  // across messages (no client_no_context_takeover), so the server cannot inflate this one and
  // says why (RFC 7692 §7.1.1): the page shows that beside the DEFLATE bytes.
  const frame = compressedIn.nth(before);
  await frame.waitFor();
  assert.equal(await frame.locator(tid('frame-rsv')).textContent(), '100');
  assert.match(await frame.locator(tid('frame-inflate-error')).textContent(), /^not inflated: .*window/);
  const overflow = await carol.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `the Inspector scrolls sideways by ${overflow}px at 390px wide`);
  await carol.screenshot({ path: path.join(ARTIFACTS, 'inspector-narrow.png'), fullPage: true });
  await carol.setViewportSize({ width: 1280, height: 800 });
});

test('the page threw no uncaught errors', () => {
  assert.deepEqual(session.pageErrors, []);
});

test('Chromium negotiates permessage-deflate and a compressed echo comes back intact', { timeout: 60_000 }, async () => {
  const page = await session.context.newPage();
  await page.goto(session.server.base + '/');
  const result = await page.evaluate(async () => {
    const ws = new WebSocket(`ws://${location.host}/echo`);
    const next = () => new Promise((resolve, reject) => {
      ws.onmessage = (event) => resolve(event.data);
      ws.onerror = () => reject(new Error('websocket error'));
    });
    await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
    const long = JSON.stringify({ type: 'message', text: '안녕하세요, compressed '.repeat(40) });
    ws.send(long);
    const longEcho = await next();
    ws.send('short');
    const shortEcho = await next();
    ws.close(1000);
    return { extensions: ws.extensions, same: longEcho === long, shortEcho, length: long.length };
  });
  await page.close();
  // RFC 7692 §5: the server answered Chrome's offer with server_no_context_takeover.
  assert.equal(result.extensions, 'permessage-deflate; server_no_context_takeover');
  assert.ok(result.same, `the ${result.length}-character echo differs`);
  assert.equal(result.shortEcho, 'short');
});
