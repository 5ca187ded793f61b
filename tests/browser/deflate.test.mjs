// Headless Chromium against a real wsmith server that this file starts itself: the browser
// negotiates permessage-deflate (RFC 7692) on /chat and /broadcast, and chat and broadcast
// messages above the server's threshold (`--deflate-threshold`, 256 bytes) arrive intact while
// the Inspector, watching the receivers' connections, shows the server really sent them
// compressed (RSV1 set, fewer bytes on the wire than the message), and the short ones not.
//
//   cd tests/browser && npm ci && cd ../.. && cargo build --release
//   node --test tests/browser/deflate.test.mjs
//
// WSMITH_BIN picks the server binary (default: target/release/wsmith, else target/debug/wsmith;
// a relative path is taken from the repository root). Chromium is /usr/bin/chromium (Debian's
// package; CHROMIUM_PATH overrides): if it is missing the run fails, it is never skipped.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { STEP_MS, startSession } from './support.mjs';

// ───────────────────────────── the browser ─────────────────────────────

let session; // the server, Chromium and the page errors (support.mjs, startSession)
let page;

before(async () => {
  session = await startSession('wsmith-chromium-deflate-', { width: 1280, height: 900 });
  page = await session.open('/');
});

after(() => session?.close());

/**
 * In the page: opens a sender and a receiver on `endpoint` (the receiver with a tap token, and
 * an Inspector socket on /inspect watching it), sends `texts` (built from `make`'s source)
 * from the sender once the Inspector is attached, and waits until the receiver got a message
 * containing each text and the Inspector saw an outgoing frame for each. Returns both sockets'
 * `extensions`, what the receiver got and the Inspector's outgoing frame events.
 */
function converse(endpoint, texts, makeSource) {
  return page.evaluate(async ({ endpoint, texts, makeSource, stepMs }) => {
    const make = new Function('text', `return (${makeSource})(text);`);
    const within = (promise, what) => Promise.race([
      promise,
      new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), stepMs)),
    ]);
    const tap = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
    const received = [];
    const out = [];
    let attached = false;
    const waiters = [];
    const settle = () => waiters.forEach((check) => check());
    const until = (cond, what) => within(new Promise((resolve) => {
      const check = () => { if (cond()) resolve(); };
      waiters.push(check);
      check();
    }), what);
    const opened = (ws) => new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error(`websocket error on ${ws.url}`));
    });
    const sep = endpoint.includes('?') ? '&' : '?';
    const sender = new WebSocket(`ws://${location.host}${endpoint}`);
    const receiver = new WebSocket(`ws://${location.host}${endpoint}${sep}tap=${tap}`);
    const inspector = new WebSocket(`ws://${location.host}/inspect`);
    receiver.onmessage = (event) => { received.push(event.data); settle(); };
    inspector.onmessage = (event) => {
      const data = JSON.parse(event.data);
      if (data.type === 'attached') attached = true;
      if (data.type === 'frame' && data.dir === 'out') out.push(data);
      settle();
    };
    await within(Promise.all([sender, receiver, inspector].map(opened)), 'the sockets to open');
    inspector.send(JSON.stringify({ type: 'watch', tap }));
    await until(() => attached, 'the Inspector to attach');
    for (const text of texts) sender.send(make(text));
    // The Inspector shows the first 1 KiB of a payload (inflated or not): a frame is the one that
    // carried a message when what it shows begins that message.
    const deliveredWith = (text) => received.find((data) => data.includes(text));
    const shows = (frame, data) => data.startsWith(frame.inflated_text || frame.payload_text || '\u0000');
    await until(() => texts.every(deliveredWith), 'the receiver to get every message');
    await until(() => texts.every((t) => out.some((f) => shows(f, deliveredWith(t)))), 'the Inspector to show every outgoing frame')
      .catch((err) => {
        const shown = out.map((f) => ({ ...f, payload_hex: undefined, wire_payload_hex: undefined, inflated_hex: undefined }));
        throw new Error(`${err.message}; it showed ${JSON.stringify(shown).slice(0, 3000)}`);
      });
    const result = { extensions: [sender.extensions, receiver.extensions], received, out };
    for (const ws of [sender, receiver, inspector]) ws.close(1000);
    return result;
  }, { endpoint, texts, makeSource, stepMs: STEP_MS });
}

/** About 2.7 KB of text, well over the 256-byte threshold, different per `tag`. */
const longText = (tag) => Array.from({ length: 90 }, (_, i) => `${tag} line ${i}: 안녕 compressed;`).join(' ');

/** The message delivered with `text` in it, and the outgoing frame the Inspector showed for it. */
function delivered(result, text) {
  const data = result.received.find((d) => d.includes(text));
  assert.ok(data !== undefined, `nothing delivered with ${text.slice(0, 20)}…`);
  const frame = result.out.find((f) => data.startsWith(f.inflated_text || f.payload_text || '\u0000'));
  return { data, frame };
}

/** §7.2.3.1 as the Inspector reports it: RSV1 set, the wire payload shorter than the message. */
function assertCompressed({ data, frame }, what) {
  assert.ok(frame, `no outgoing frame for ${what}`);
  assert.equal(frame.compressed, true, `${what} went out uncompressed`);
  assert.deepEqual(frame.rsv, [true, false, false]);
  // What the server's frame inflates to is, byte for byte as far as shown, the delivered message.
  assert.equal(frame.inflated_len, Buffer.byteLength(data), `${what} inflated to ${frame.inflated_len} bytes`);
  assert.ok(frame.inflated_text.length > 0 && data.startsWith(frame.inflated_text));
  assert.ok(frame.payload_len < frame.inflated_len,
    `${what}: ${frame.payload_len} bytes on the wire for ${frame.inflated_len} inflated`);
}

function assertPlain({ data, frame }, what) {
  assert.ok(frame, `no outgoing frame for ${what}`);
  assert.equal(frame.compressed, false, `${what} (under the threshold) went out compressed`);
  assert.equal(frame.payload_text, data);
}

// ───────────────────────────── scenarios ─────────────────────────────

test('chat: Chromium negotiates permessage-deflate; a long message arrives compressed and intact, a short one plain', { timeout: 60_000 }, async () => {
  const long = longText('chat');
  const result = await converse('/chat?name=deflater', [long, 'short chat'],
    ((text) => JSON.stringify({ type: 'message', channel: 'general', text })).toString());
  // RFC 7692 §5: the server answered Chrome's offer with server_no_context_takeover.
  assert.deepEqual(result.extensions, Array(2).fill('permessage-deflate; server_no_context_takeover'));
  const messages = result.received.map((data) => JSON.parse(data)).filter((event) => event.type === 'message');
  assert.deepEqual(messages.map((m) => m.text), [long, 'short chat']);
  assertCompressed(delivered(result, long), 'the long chat message');
  assertPlain(delivered(result, 'short chat'), 'the short chat message');
});

test('broadcast: Chromium negotiates permessage-deflate; a long message arrives compressed and intact, a short one plain', { timeout: 60_000 }, async () => {
  const long = longText('broadcast');
  const result = await converse('/broadcast', [long, 'short broadcast'], ((text) => text).toString());
  assert.deepEqual(result.extensions, Array(2).fill('permessage-deflate; server_no_context_takeover'));
  // /broadcast sends every message verbatim to every client, in order.
  assert.deepEqual(result.received, [long, 'short broadcast']);
  assertCompressed(delivered(result, long), 'the long broadcast');
  assertPlain(delivered(result, 'short broadcast'), 'the short broadcast');
});

test('the page threw no uncaught errors', () => {
  assert.deepEqual(session.pageErrors, []);
});
