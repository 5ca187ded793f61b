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
import fs from 'node:fs';
import path from 'node:path';
import { ARTIFACTS, startSession, tid } from './support.mjs';

// ───────────────────────────── the browser ─────────────────────────────

let session; // the server, Chromium and the page errors (support.mjs, startSession)
let page;

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
  session = await startSession('wsmith-chromium-lab-', { width: 1280, height: 900 });
  page = await session.open('/#lab');
  await page.locator(`${tid('status-lab')}[data-state="open"]`).waitFor();
  await page.locator(tid('lab-preset')).first().waitFor();
});

after(() => session?.close());

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
  assert.deepEqual(session.pageErrors, []);
});
