// Drives the Lab tab of www/ in Debian's Chromium against a real wsmith server that this file
// starts itself: frames built by hand in the page, judged by the server's protocol core.
//
//   cd tests/browser && npm ci && cd ../.. && cargo build --release
//   node --test tests/browser/
//
// WSMITH_BIN picks the server binary (default: target/release/wsmith, else target/debug/wsmith;
// a relative path is taken from the repository root). Chromium is /usr/bin/chromium (Debian's
// package; CHROMIUM_PATH overrides): if it is missing the run fails, it is never skipped.
// Screenshots go to target/browser-artifacts/lab-*.png.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
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

/** Starts wsmith on a free loopback port; resolves once it printed its listening line. */
function startServer() {
  const bin = serverBinary();
  const proc = spawn(bin, ['--addr', '127.0.0.1:0', '--www', WWW], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
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
      reject(new Error(`${bin} printed no listening line within ${STARTUP_MS} ms:\n${tail()}`));
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
      resolve({ proc, base: `http://127.0.0.1:${match[1]}`, tail });
    });
  });
}

/** Stops the server by its pid: SIGTERM first, SIGKILL if it is still there after 5 s. */
async function stopServer({ proc }) {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  process.kill(proc.pid, 'SIGTERM');
  const timeout = new Promise((resolve) => setTimeout(() => resolve('timeout'), 5000));
  if ((await Promise.race([exited, timeout])) === 'timeout') {
    process.kill(proc.pid, 'SIGKILL');
    await exited;
  }
}

// ───────────────────────────── the browser ─────────────────────────────

let server;
let context;
let userDataDir;
let page;
const pageErrors = [];

const frameCard = (i) => page.locator(tid('lab-frame')).nth(i);

/** The lab scrolls inside its panel: the screenshot is taken tall enough to hold all of it. */
async function screenshot(name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.bringToFront();
  const height = await page.evaluate(() => {
    const lab = document.querySelector('.lab');
    return Math.min(6000, Math.ceil(lab.scrollHeight + lab.getBoundingClientRect().top + 40));
  });
  await page.setViewportSize({ width: 1280, height: Math.max(900, height) });
  await page.screenshot({ path: path.join(ARTIFACTS, name) });
  await page.setViewportSize({ width: 1280, height: 900 });
}

/** Sends the builder's bytes and waits for the report to replace the last one. */
async function sendToTheCore() {
  await page.click(tid('lab-send'));
  await page.locator(`${tid('lab-verdict')}:not([data-kind="waiting"])`).waitFor();
}

before(async () => {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's Chromium (apt-get install -y chromium) to run the browser tests`);
  }
  server = await startServer();
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsmith-chromium-lab-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
    timeout: 30_000,
  });
  context.setDefaultTimeout(STEP_MS);
  page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(server.base + '/#lab');
  await page.locator(`${tid('status-lab')}[data-state="open"]`).waitFor();
  await page.locator(tid('lab-preset')).first().waitFor();
});

/** Cleanup must not hang the run either. */
const bounded = (promise, ms) => Promise.race([promise.catch(() => {}), new Promise((r) => setTimeout(r, ms))]);

after(async () => {
  if (context) await bounded(context.close(), 10_000);
  if (server) await bounded(stopServer(server), 10_000);
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
});

// ───────────────────────────── scenarios ─────────────────────────────

test('an unmasked Text frame built in the Lab is failed with 1002 by §5.1', { timeout: 60_000 }, async () => {
  await page.click(tid('lab-clear'));
  await page.click(tid('lab-add-text'));
  await frameCard(0).locator(tid('lab-payload')).fill('Hello');
  await frameCard(0).locator(tid('lab-mask')).uncheck();
  // The bytes, live: §5.7's unmasked "Hello", and the Inspector's drawing of MASK=0.
  await page.locator(tid('lab-hex')).filter({ hasText: /^81 05 48 65 6c 6c 6f$/ }).waitFor();
  assert.equal(await frameCard(0).locator(tid('frame-mask')).textContent(), '0');
  await sendToTheCore();
  await page.locator(tid('lab-headline')).filter({ hasText: '1002 — §5.1 a client must mask every frame' }).waitFor();
  assert.equal(await page.locator(tid('lab-verdict')).getAttribute('data-kind'), 'failed');
  // The core's steps: the read, the frame (explained with its §5.1 problem), the failure, and
  // the Close it would send, whose code is 1002.
  const steps = page.locator(`${tid('lab-steps')} > li`);
  const kinds = await steps.evaluateAll((items) => items.map((li) => li.dataset.step || (li.classList.contains('frame') ? 'frame' : '?')));
  assert.deepEqual(kinds, ['read', 'frame', 'failed', 'reply']);
  await page.locator(`${tid('lab-steps')} ${tid('frame-problem')}`).filter({ hasText: 'a client MUST mask' }).waitFor();
  await page.locator(tid('lab-failure')).filter({ hasText: '1002 — §5.1 a client must mask every frame' }).waitFor();
  assert.match(await page.locator(tid('lab-reply-hex')).textContent(), /^88 26 03 ea/);
  await screenshot('lab-unmasked.png');
});

test('a fragmented message with a Ping between its fragments gives the message and the Pong, no error', { timeout: 60_000 }, async () => {
  await page.click(tid('lab-clear'));
  await page.click(tid('lab-add-text'));
  await page.click(tid('lab-add-ping'));
  await page.click(tid('lab-add-continuation'));
  await frameCard(0).locator(tid('lab-payload')).fill('Hel');
  await frameCard(0).locator(tid('lab-fin')).uncheck();
  await frameCard(1).locator(tid('lab-payload')).fill('hi');
  await frameCard(2).locator(tid('lab-payload')).fill('lo');
  // The live preview numbers the fragments and marks the Ping as interleaved, as the Inspector does.
  await frameCard(1).locator(tid('frame-interleaved')).waitFor();
  assert.equal(await frameCard(2).locator(tid('frame-where')).textContent(), 'message 1 · fragment 2 (last)');
  await sendToTheCore();
  assert.equal(await page.locator(tid('lab-verdict')).getAttribute('data-kind'), 'open');
  await page.locator(tid('lab-headline')).filter({ hasText: 'no error' }).waitFor();
  await page.locator(tid('lab-message')).filter({ hasText: '“Hello”' }).waitFor();
  // The Pong: a reply frame from the server, opcode 0xA, with the Ping's payload.
  const pong = page.locator(`${tid('lab-steps')} .lab-step-reply .frame-out[data-opcode="10"]`);
  await pong.waitFor();
  assert.equal(await pong.locator(tid('frame-payload-text')).textContent(), 'hi');
  assert.equal(await page.locator(`${tid('lab-steps')} [data-step="failed"]`).count(), 0);
  const kinds = await page.locator(`${tid('lab-steps')} > li`).evaluateAll((items) => items.map((li) => li.dataset.step || 'frame'));
  assert.deepEqual(kinds, ['read', 'frame', 'frame', 'ping', 'frame', 'message', 'reply']);
  await screenshot('lab-fragmented-ping.png');
});

test('every preset builds in the page exactly the bytes the server defines', { timeout: 60_000 }, async () => {
  const mismatches = await page.evaluate(() => {
    const { labState, labBytes, labLoadPreset } = window.wsmith;
    return labState.presets.flatMap((p) => {
      labLoadPreset(p.id);
      return labBytes() === p.hex ? [] : [`${p.id}: page ${labBytes().slice(0, 80)} vs server ${p.hex.slice(0, 80)}`];
    });
  });
  assert.deepEqual(mismatches, []);
  assert.ok((await page.locator(tid('lab-preset')).count()) >= 20);
});

test('one click on a preset sends it, and the core gives the RFC’s answer', { timeout: 60_000 }, async () => {
  for (const [id, headline] of [
    ['close-1005', '1002 — §7.4 close code 1005 is not allowed'],
    ['ping-126', '1002 — §5.5 control frame payload of 126 bytes is over 125'],
    ['utf8-split-invalid', '1007 — §8.1 invalid utf-8 in a text message'],
    ['too-big', '1009 — §10.4 frame of 17 bytes is over the limit of 16'],
    ['compressed-control', '1002 — RFC 7692 §6 rsv1 set on a control frame or a continuation frame'],
  ]) {
    await page.click(`${tid('lab-preset')}[data-id="${id}"]`);
    await page.locator(tid('lab-headline')).filter({ hasText: headline }).waitFor();
    await page.locator(`${tid('lab-rfc')}[data-agrees="true"]`).waitFor();
  }
  // With permessage-deflate agreed, RSV1 on a message means "compressed": "Hello" inflated.
  await page.click(`${tid('lab-preset')}[data-id="compressed-message"]`);
  await page.locator(tid('lab-message')).filter({ hasText: '“Hello”' }).waitFor();
  assert.equal(await page.isChecked(tid('lab-deflate')), true);
  await page.locator(`${tid('lab-rfc')}[data-agrees="true"]`).waitFor();
  await page.click(`${tid('lab-preset')}[data-id="rfc-fragmented-ping"]`);
  await page.locator(tid('lab-message')).filter({ hasText: '“Hello”' }).waitFor();
  await page.locator(`${tid('lab-rfc')}[data-agrees="true"]`).waitFor();
  await screenshot('lab-preset.png');
  assert.deepEqual(pageErrors, []);
});
