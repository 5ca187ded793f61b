// Drives each seed tutorial's page in Debian's Chromium against `wsmith tutorial NAME`, which
// this file starts itself, and checks what a person following the tutorial would see.
//
//   cd tests/browser && npm ci && cd ../.. && cargo build --release
//   node --test tests/browser/
//
// WSMITH_BIN picks the server binary (default: target/release/wsmith, else target/debug/wsmith).
// Chromium is /usr/bin/chromium (CHROMIUM_PATH overrides): if it is missing the run fails, it is
// never skipped. Screenshots go to target/browser-artifacts/tutorial-*.png.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { pathToFileURL } from 'node:url';
import {
  JOIN, LEAVE, REPO, STARTUP_MS, STEP_MS, screenshot as saveScreenshot, serverBinary, startSession, stopServer as stop,
} from './support.mjs';

/**
 * Starts `wsmith tutorial NAME --addr 127.0.0.1:0 [--page-addr 127.0.0.1:0] ...extra` and resolves
 * with its ports once it printed its listening line (and its page line, if it has a page port),
 * plus the URL of its page.
 */
function startTutorial(name, { pagePort = false, extra = [] } = {}) {
  const args = ['tutorial', name, '--addr', '127.0.0.1:0', ...(pagePort ? ['--page-addr', '127.0.0.1:0'] : []), ...extra];
  const proc = spawn(serverBinary(), args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = [];
  const remember = (line) => { output.push(line); if (output.length > 300) output.shift(); };
  readline.createInterface({ input: proc.stderr }).on('line', remember);
  const stdout = readline.createInterface({ input: proc.stdout });
  return new Promise((resolve, reject) => {
    let ws;
    let page;
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`wsmith tutorial ${name} did not start within ${STARTUP_MS} ms:\n${output.join('\n')}`));
    }, STARTUP_MS);
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`wsmith tutorial ${name} exited (${code}):\n${output.join('\n')}`)); });
    stdout.on('line', (line) => {
      remember(line);
      ws ??= Number(/^wsmith listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(line)?.[1]) || undefined;
      page ??= Number(/^wsmith page on http:\/\/127\.0\.0\.1:(\d+)/.exec(line)?.[1]) || undefined;
      if (ws && (page || !pagePort)) {
        clearTimeout(timer);
        proc.removeAllListeners('exit');
        const url = page ? `http://127.0.0.1:${page}/?ws=${ws}` : `http://127.0.0.1:${ws}/`;
        resolve({ proc, ws, page, url, console: () => output.join('\n') });
      }
    });
  });
}

/** Runs `body` with a fresh tutorial server, stopped afterwards whatever happens. */
async function withTutorial(name, options, body) {
  const server = await startTutorial(name, options);
  try {
    await body(server);
  } finally {
    await stop(server);
  }
}

/** Waits until the server's console shows a line ending in `text`. */
async function consoleShows(server, text) {
  const until = Date.now() + STEP_MS;
  while (Date.now() < until) {
    if (server.console().split('\n').some((line) => line.endsWith(text))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`the console never showed ${JSON.stringify(text)}:\n${server.console()}`);
}

let session; // Chromium and the page errors (support.mjs, startSession); each test starts its server

/** A new page at `url`, its uncaught errors collected. */
const open = (url) => session.open(url);

/** The texts of the children of `selector`, in order. */
const texts = (page, selector) => page.locator(`${selector} > *`).allTextContents();

/** Waits until `selector` has a child whose text is exactly `text`. */
async function shows(page, selector, text) {
  await page.bringToFront();
  await page.locator(`${selector} > *`).getByText(text, { exact: true }).first().waitFor({ timeout: STEP_MS });
}

const screenshot = (page, name) => saveScreenshot(page, name, { fullPage: true });

before(async () => {
  session = await startSession('wsmith-tutorial-chromium-', { width: 1000, height: 700 }, { server: false });
});

after(async () => {
  if (!session) return; // before failed, and said so
  await session.close();
  assert.deepEqual(session.pageErrors, [], 'no page threw');
});

// ───────────────────────────── seed 000 ─────────────────────────────

test('welcome-echo: the welcome, then "You said: hi", and the console line', { timeout: 60_000 }, async () => {
  await withTutorial('welcome-echo', {}, async (server) => {
    const page = await open(server.url);
    assert.equal(await page.title(), 'WebSocket Example');
    await shows(page, '#messages', 'Welcome to the WebSocket server!');
    await page.fill('#messageInput', 'hi');
    await page.click('#sendButton');
    await shows(page, '#messages', 'You said: hi');
    assert.equal(await page.inputValue('#messageInput'), '');
    await consoleShows(server, 'Received message => hi');
    assert.match(await page.getAttribute('#inspectorLink', 'href'), /^inspector\.html\?tap=[0-9a-f]{16}&ws=\d+$/);
    await page.close();
  });
});

test('chat: a message shows in both pages, the sender\'s too', { timeout: 60_000 }, async () => {
  await withTutorial('chat', {}, async (server) => {
    const a = await open(server.url);
    const b = await open(server.url);
    assert.equal(await a.title(), 'WebSocket Chat Example');
    await a.waitForFunction(() => ws.readyState === 1);
    await b.waitForFunction(() => ws.readyState === 1);
    await a.bringToFront();
    await a.fill('#messageInput', '안녕하세요');
    await a.click('#sendButton');
    await shows(a, '#messages', '안녕하세요');
    await shows(b, '#messages', '안녕하세요');
    await a.close();
    await b.close();
  });
});

test('notifications: the notification arrives on the timer, as plain text', { timeout: 60_000 }, async () => {
  await withTutorial('notifications', { extra: ['--notify-every', '0.2'] }, async (server) => {
    const page = await open(server.url);
    assert.equal(await page.title(), 'WebSocket Notification Example');
    await page.locator('#notifications > div').nth(1).waitFor();
    const seen = await texts(page, '#notifications');
    assert.ok(seen.every((t) => t === 'This is a real-time notification'), seen.join(' | '));
    await page.close();
  });
});

test('your own index.html and client.js, typed from seed 000 and opened from disk (Origin: null), work unmodified', { timeout: 60_000 }, async () => {
  await withTutorial('welcome-echo', {}, async (server) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsmith-my-tutorial-'));
    try {
      fs.writeFileSync(path.join(dir, 'index.html'), SEED_000_INDEX);
      // The one edit a learner needs with a server on another port than 8080.
      fs.writeFileSync(path.join(dir, 'client.js'), SEED_000_CLIENT.replace('ws://localhost:8080', `ws://localhost:${server.ws}`));
      const page = await open(pathToFileURL(path.join(dir, 'index.html')).href);
      await shows(page, '#messages', 'Welcome to the WebSocket server!');
      await page.fill('#messageInput', 'from disk');
      await page.click('#sendButton');
      await shows(page, '#messages', 'You said: from disk');
      await page.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ───────────────────────────── seed 001 ─────────────────────────────

test('server-received: the page\'s Hello Server! comes back as "Server received: Hello Server!"', { timeout: 60_000 }, async () => {
  await withTutorial('server-received', {}, async (server) => {
    const page = await open(server.url);
    assert.equal(await page.title(), 'WebSocket Client');
    await shows(page, '#log', 'Received message from server: Server received: Hello Server!');
    await consoleShows(server, 'Client connected');
    await consoleShows(server, 'Received message: Hello Server!');
    await page.close();
    await consoleShows(server, 'Client disconnected');
  });
});

test('broadcast: "Broadcast: hi" in both pages', { timeout: 60_000 }, async () => {
  await withTutorial('broadcast', {}, async (server) => {
    const a = await open(server.url);
    await shows(a, '#log', 'Received message from server: Broadcast: Hello Server!');
    const b = await open(server.url);
    await shows(b, '#log', 'Received message from server: Broadcast: Hello Server!');
    await a.bringToFront();
    await a.fill('#messageInput', 'hi');
    await a.click('#sendButton');
    await shows(a, '#log', 'Received message from server: Broadcast: hi');
    await shows(b, '#log', 'Received message from server: Broadcast: hi');
    await a.close();
    await b.close();
  });
});

test('channels: subscribe, then a message reaches the channel', { timeout: 60_000 }, async () => {
  await withTutorial('channels', {}, async (server) => {
    const a = await open(server.url);
    const b = await open(server.url);
    for (const page of [a, b]) {
      await page.bringToFront();
      await page.waitForFunction(() => ws.readyState === 1);
      await page.click('#subscribeButton');
      await shows(page, '#log', 'Received message from server: Subscribed to channel: news');
    }
    await a.bringToFront();
    await a.fill('#contentInput', 'extra');
    await a.click('#sendButton');
    await shows(b, '#log', 'Received message from server: Channel news: extra');
    await shows(a, '#log', 'Received message from server: Channel news: extra');
    await a.close();
    await b.close();
  });
});

// ───────────────────────────── seeds 002–004 ─────────────────────────────

test('hello-chat: 전송 sends Hello, counts on join and leave, names reach everyone; the Inspector shows the frames', { timeout: 90_000 }, async () => {
  await withTutorial('hello-chat', { pagePort: true }, async (server) => {
    const a = await open(server.url);
    assert.equal(await a.title(), 'WebSocket 통신 실습');
    await shows(a, '#messages', JOIN(1));
    const b = await open(server.url);
    await shows(b, '#messages', JOIN(2));
    await shows(a, '#messages', JOIN(2));

    await a.bringToFront();
    await a.click('#helloButton');
    await consoleShows(server, 'received: Hello');

    await b.bringToFront();
    await b.fill('#nameInput', '철수');
    await b.fill('#messageInput', '안녕하세요');
    await b.click('#sendButton');
    await shows(a, '#messages', '철수: 안녕하세요');
    await shows(b, '#messages', '철수: 안녕하세요');

    // The Inspector, from the page's link, watches a's connection.
    const [inspector] = await Promise.all([session.context.waitForEvent('page'), a.click('#inspectorLink')]);
    session.watch(inspector);
    await inspector.locator('#status').getByText(/^watching connection #\d+/).waitFor();

    await b.close();
    await shows(a, '#messages', LEAVE(1));
    await inspector.bringToFront();
    await inspector.locator('.frame.out').getByText(`"${LEAVE(1)}"`, { exact: false }).waitFor();
    await screenshot(a, 'tutorial-hello-chat.png');
    await a.bringToFront();
    await a.click('#helloButton');
    await inspector.bringToFront();
    await inspector.locator('.frame.in').getByText('→ FIN=1 Text MASK=1 len=5  "Hello"', { exact: true }).waitFor();
    await screenshot(inspector, 'tutorial-hello-chat-inspector.png');
    await inspector.close();
    await a.close();
  });
});

test('relay: the page from its own port opens the WebSocket port; a message shows in the other page only', { timeout: 60_000 }, async () => {
  await withTutorial('relay', { pagePort: true }, async (server) => {
    const a = await open(server.url);
    const b = await open(server.url);
    assert.equal(await a.title(), 'WebSocket Chat Example');
    for (const page of [a, b]) await page.waitForFunction(() => socket.readyState === 1);
    await a.bringToFront();
    await a.fill('#input', 'from a');
    await a.click('#send');
    await shows(b, '#messages', 'from a');
    await b.fill('#input', 'from b');
    await b.click('#send');
    await shows(a, '#messages', 'from b');
    assert.deepEqual(await texts(a, '#messages'), ['from b'], 'a never shows its own message');
    assert.deepEqual(await texts(b, '#messages'), ['from a']);
    await a.close();
    await b.close();
  });
});

test('json-relay: the other page shows John: Hello, World!', { timeout: 60_000 }, async () => {
  await withTutorial('json-relay', {}, async (server) => {
    const a = await open(server.url);
    await a.waitForFunction(() => socket.readyState === 1);
    const b = await open(server.url); // sends {"user":"John","content":"Hello, World!"} on open
    await shows(a, '#messages', 'John: Hello, World!');
    await b.bringToFront();
    await b.fill('#userInput', '영희');
    await b.fill('#contentInput', '반가워요');
    await b.click('#sendButton');
    await shows(a, '#messages', '영희: 반가워요');
    assert.deepEqual(await texts(b, '#messages'), [], 'b shows none of its own messages');
    await consoleShows(server, '새로운 클라이언트가 연결되었습니다.');
    await a.close();
    await b.close();
  });
});

// Seed 000's client, exactly as the tutorial writes it (기본 사용법 / 연습문제 1).
const SEED_000_INDEX = `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <meta name="viewport" content="width=device-width, initial-scale=1.0">
  <title>WebSocket Example</title>
</head>
<body>
  <h1>WebSocket Example</h1>
  <input type="text" id="messageInput" placeholder="Type a message">
  <button id="sendButton">Send</button>
  <div id="messages"></div>
  <script src="client.js"></script>
</body>
</html>
`;

const SEED_000_CLIENT = `// client.js
const ws = new WebSocket('ws://localhost:8080');

ws.onopen = () => {
  console.log('Connected to the WebSocket server');
};

ws.onmessage = (event) => {
  const messages = document.getElementById('messages');
  const message = document.createElement('div');
  message.textContent = event.data;
  messages.appendChild(message);
};

ws.onclose = () => {
  console.log('Disconnected from the WebSocket server');
};

ws.onerror = (error) => {
  console.log(\`WebSocket error: \${error}\`);
};

document.getElementById('sendButton').addEventListener('click', () => {
  const messageInput = document.getElementById('messageInput');
  const message = messageInput.value;
  ws.send(message);
  messageInput.value = '';
});
`;
