// wsmith's browser page: three WebSockets (/chat, /echo, /notifications) in plain JavaScript,
// and a fourth (/inspect) that shows any one of them byte by byte.
//
// Native ES modules, no build step: index.html loads this file with <script type="module">,
// and the browser fetches the rest by their `import` lines. Read them in this order:
//   dom.js           — building DOM nodes; all server and user text goes in through textContent
//   connection.js    — one WebSocket with a status pill and reconnect with exponential backoff
//   main.js          — this file: the ARIA tabs pattern (arrow keys, Home/End) and the wiring
//   chat.js          — the JSON protocol of /chat: presence, channels, history, resume, dedupe
//   echo.js          — send text, show the reply and the round trip
//   notifications.js — JSON or plain text pushes
//   inspector.js     — /inspect: the handshake, every frame's fields and the close, of one
//                      connection (with bytes.js: hex and bit helpers)
//   frames.js        — one frame drawn field by field: the Inspector's and the Lab's renderer
//   lab.js           — /lab: build frames bit by bit, and see the server's core judge them
//   status.js        — the server's /metrics.json, live: connections, rates, the hub, closes
//
// Adding a tab (say "lab"):
//   1. js/lab.js exports `mount(page)`, called once after the page is parsed, and returns
//      `{ view, sockets, start, onViewChange, state }` (only `view` is required):
//        view          'lab': the tab is <button role="tab" data-view="lab" id="tab-lab"
//                      aria-controls="panel-lab"> and its panel <section id="panel-lab">
//        sockets       { name: Connection } it owns (`name` as in window.wsmith); each needs a
//                      status pill #status-KEY in index.html (KEY: the Connection's key); all
//                      are retried when the network is back, and one made with a `tap` token
//                      can be watched in the Inspector (add an <option value="NAME">)
//        start()       once, after the first tab is shown: open the sockets that are always on
//        onViewChange  (view) => … after every switch, with the view now shown
//        state         objects to show in `window.wsmith` (the console and the browser tests)
//      `page.isShown(view)` says which tab is on screen; `page.sockets` holds every tab's
//      sockets by name (filled as tabs mount, so read it later, not in `mount` itself).
//   2. index.html: the tab button in <nav class="tabs"> and the panel in <main>.
//   3. Here: import { mount as mountLab } from './lab.js' and add it to TABS below.
//
// Open the console and look at `window.wsmith` to poke at the live state.

import { $ } from './dom.js';
import { mount as mountChat } from './chat.js';
import { mount as mountEcho } from './echo.js';
import { mount as mountNotifications } from './notifications.js';
import { mount as mountInspector } from './inspector.js';
import { mount as mountLab } from './lab.js';
import { mount as mountStatus } from './status.js';

/** Every tab's `mount`, in the order of the tab buttons. */
const TABS = [mountChat, mountEcho, mountNotifications, mountInspector, mountLab, mountStatus];

// ───────────────────────────── tabs ─────────────────────────────

const tabs = Array.from(document.querySelectorAll('[role="tab"]'));
let currentView = 'chat';
const viewListeners = [];

function showView(view, { focus = false } = {}) {
  const tab = tabs.find((t) => t.dataset.view === view) || tabs[0];
  currentView = tab.dataset.view;
  for (const t of tabs) {
    const selected = t === tab;
    t.setAttribute('aria-selected', String(selected));
    t.tabIndex = selected ? 0 : -1;
    $(t.getAttribute('aria-controls')).hidden = !selected;
  }
  if (focus) tab.focus();
  if (location.hash !== '#' + currentView) history.replaceState(null, '', '#' + currentView);
  for (const listener of viewListeners) listener(currentView);
}

for (const tab of tabs) {
  tab.addEventListener('click', () => showView(tab.dataset.view));
  tab.addEventListener('keydown', (event) => {
    const i = tabs.indexOf(tab);
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    showView(tabs[(next + tabs.length) % tabs.length].dataset.view, { focus: true });
  });
}
window.addEventListener('hashchange', () => showView(location.hash.slice(1)));

// ───────────────────────────── wiring ─────────────────────────────

const page = {
  isShown: (view) => currentView === view,
  sockets: {}, // name → Connection, of every tab
};

const mounted = TABS.map((mount) => {
  const tab = mount(page);
  Object.assign(page.sockets, tab.sockets);
  if (tab.onViewChange) viewListeners.push(tab.onViewChange);
  return tab;
});

window.addEventListener('online', () => Object.values(page.sockets).forEach((c) => c.retryNow()));

showView(location.hash.slice(1) || 'chat');
for (const tab of mounted) if (tab.start) tab.start();

// The tap token of each of this page's sockets that has one, by key.
const TAPS = Object.fromEntries(Object.values(page.sockets).filter((c) => c.tap).map((c) => [c.key, c.tap]));
window.wsmith = Object.assign({}, page.sockets, ...mounted.map((tab) => tab.state || {}), { TAPS });
