// The Status tab of www/ in Debian's Chromium against a real wsmith server that this file starts
// itself: a second page of the same origin runs WebSocket clients (broadcast, echo, chat) as
// load, and the tab's figures and charts must follow the server's /metrics.json with real
// values. Saves target/browser-artifacts/status.png, taken under that load.
//
//   cargo build --release && (cd tests/browser && npm ci) && node --test tests/browser/
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { screenshot, startSession, tid } from './support.mjs';

const BROADCASTERS = 20;
const ECHOES = 4;

let session; // the server, Chromium and the page errors (support.mjs, startSession)
let page;
let load;

before(async () => {
  session = await startSession('wsmith-chromium-status-', { width: 1280, height: 1000 });
  page = await session.open('/#status');
});

after(() => session?.close());

/** A figure's `data-value`, as a number. */
const figure = (id) => page.locator(tid(id)).getAttribute('data-value').then(Number);

/** Waits until `check()` (run in the status page) holds. */
const until = (check, arg) => page.waitForFunction(check, arg, { timeout: 20_000, polling: 200 });

test('the status tab follows the server under load: connections, rates, the hub, closes', async () => {
  await page.locator(`${tid('tab-status')}[aria-selected="true"]`).waitFor();
  await until(() => Number(document.querySelector('[data-testid="status-updated"]').dataset.readings) >= 2);

  // The load: a page of the same origin (so the upgrades' Origin is the server's own) whose
  // clients broadcast to each other and echo, every 50 ms, until told to stop.
  load = await session.context.newPage();
  await load.goto(session.server.base + '/healthz');
  await load.evaluate(([base, broadcasters, echoes]) => {
    const ws = base.replace('http://', 'ws://');
    const open = (path) => new Promise((resolve, reject) => {
      const socket = new WebSocket(ws + path);
      socket.onopen = () => resolve(socket);
      socket.onerror = () => reject(new Error('cannot open ' + path));
    });
    window.clients = [];
    return Promise.all([
      ...Array.from({ length: broadcasters }, () => open('/broadcast')),
      ...Array.from({ length: echoes }, () => open('/echo')),
      open('/chat?name=load'),
    ]).then((sockets) => {
      window.clients = sockets;
      let n = 0;
      window.timer = setInterval(() => {
        n += 1;
        for (const socket of sockets.slice(0, broadcasters + echoes)) socket.send(`message ${n} ` + 'x'.repeat(200));
      }, 50);
      return sockets.length;
    });
  }, [session.server.base, BROADCASTERS, ECHOES]);

  // Connections per endpoint: the page's own /echo and /notifications count too.
  await until((n) => Number(document.querySelector('[data-testid="status-open-broadcast"]')?.textContent) === n, BROADCASTERS);
  await until((n) => Number(document.querySelector('[data-testid="status-open-echo"]')?.textContent) >= n, ECHOES + 1);
  await until(() => Number(document.querySelector('[data-testid="status-open-chat"]')?.textContent) >= 1);

  // Rates from counter deltas: every broadcast goes out to all 20, so out is well above in.
  await until(() => Number(document.querySelector('[data-testid="status-msg-in"]').dataset.value) > 100);
  await until(() => {
    const value = (id) => Number(document.querySelector(`[data-testid="${id}"]`).dataset.value);
    return value('status-msg-out') > 5 * value('status-msg-in') && value('status-bytes-out') > value('status-bytes-in');
  });
  // Every client frame carries at least a 2-byte header and a 4-byte masking key (§5.2, §5.3);
  // Chromium compresses its messages (permessage-deflate), so that is all that can be said.
  const messagesIn = await figure('status-msg-in');
  const bytesIn = await figure('status-bytes-in');
  assert.ok(bytesIn >= 6 * messagesIn, `${bytesIn} B/s for ${messagesIn} messages/s`);

  // The charts have drawn several readings, scaled to them.
  await until(() => Number(document.querySelector('[data-testid="status-chart-messages"]').dataset.points) >= 5);
  const chartMax = Number(await page.locator(tid('status-chart-messages')).getAttribute('data-max'));
  assert.ok(chartMax >= (await figure('status-msg-out')) / 2, `chart axis ${chartMax}`);
  // The hub: every broadcast goes through it, so it ran commands in the last second.
  await until(() => /mean .* · 99 %/.test(document.querySelector('[data-testid="status-hub-latency"]').textContent));

  // Closes: two echo clients close with 1000, the chat client with 4000 (private use).
  await load.evaluate(([broadcasters]) => {
    window.clients[broadcasters].close(1000);
    window.clients[broadcasters + 1].close(1000);
    window.clients[window.clients.length - 1].close(4000, 'done');
  }, [BROADCASTERS]);
  await until(() => {
    const row = document.querySelector('[data-testid="status-close-1000"]');
    return row && Number(row.children[1].textContent) >= 2;
  });
  await until(() => Number(document.querySelector('[data-testid="status-close-4xxx"]')?.children[1].textContent) === 1);
  assert.match(await page.locator(tid('status-close-4xxx')).innerText(), /private use/);

  // Let the charts fill a little more, then the picture, still under load.
  await until(() => Number(document.querySelector('[data-testid="status-chart-bytes"]').dataset.points) >= 12);
  // Tall enough for every card (the grid scrolls inside the panel otherwise).
  const height = await page.evaluate(() => {
    const grid = document.querySelector('.metrics-grid');
    return Math.min(3000, Math.ceil(grid.getBoundingClientRect().top + grid.scrollHeight + 40));
  });
  await page.setViewportSize({ width: 1280, height: Math.max(1000, height) });
  await screenshot(page, 'status.png');

  await load.evaluate(() => {
    clearInterval(window.timer);
    for (const socket of window.clients) socket.close(1000);
  });
  await until(() => Number(document.querySelector('[data-testid="status-open-broadcast"]')?.textContent) === 0);
  assert.deepEqual(session.pageErrors, []);
});
