// The Inspector tab: one connection, byte by byte, as the server saw it.
//
// /inspect pushes JSON about the one connection it watches: `attached` (with the handshake, if
// it was recorded), one `frame` per frame in either direction with every field of §5.2,
// `close` (how it ended, and why), `detached`, `connections` and `error`. The page asks with
// `watch` (this page's own sockets by their tap token, others by id), `unwatch` and `list`
// (by id and `list` answer only clients on the server's own machine).
//
// The targets in index.html's <select id="inspect-target"> are keys of `page.sockets`: any
// tab's socket that carries a tap token can be watched.

import { toHex } from './bytes.js';
import { CLOSE_CODES, Connection, jsonObject, onAnyOpen, wsBase } from './connection.js';
import { $, el, followBottom, timeEl } from './dom.js';
import { fact, frameItem, rule } from './frames.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'; // §1.3
const MAX_INSPECT_ITEMS = 200; // frames and notes on screen; the oldest go first

/** Sets up the Inspector tab; its socket opens the first time the tab is shown. */
export function mount(page) {
  const inspectState = {
    target: 'chat', // 'chat' | 'echo' | 'notifications' (this page's sockets), or a connection id
    attached: null, // { conn, endpoint, peer } while the server says we watch something
    awaiting: [], // 'watch' | 'list' per request sent, to tell whose `error` comes back
    listAllowed: null, // false once the server refused `list` (we are not on its machine)
    others: [], // the last `connections` list
    paused: false,
    held: [], // events that arrived while paused
    framesSeen: 0,
    handshakeCheck: 0, // bumped per handshake shown, so a late SHA-1 check cannot mislabel a newer one
    started: false,
  };

  const framesBox = $('frames');
  const scrollFrames = followBottom(framesBox);

  const inspector = new Connection('inspect', {
    url: () => wsBase + '/inspect',
    onOpen() {
      inspectState.awaiting = [];
      watch();
      requestList();
    },
    onMessage: onInspectEvent,
    onClose() {
      inspectState.attached = null;
      inspectState.awaiting = [];
      setWatchStatus('idle', inspector.wanted ? 'The /inspect socket closed; it comes back by itself.' : 'The /inspect socket is closed.');
    },
  });

  function startInspector() {
    if (inspectState.started) return;
    inspectState.started = true;
    $('status-inspect').hidden = false;
    setWatchStatus('waiting', 'Connecting to /inspect…');
    inspector.start();
  }

  function inspectSend(kind, request) {
    if (!inspector.send(request)) return false;
    if (kind) inspectState.awaiting.push(kind);
    return true;
  }

  /** Asks for the current target; also after our own socket reconnects (it is a new connection). */
  function watch() {
    if (!inspector.isOpen) return;
    const target = inspectState.target;
    if (typeof target === 'number') {
      inspectSend('watch', { type: 'watch', conn: target });
      setWatchStatus('waiting', `Asking to watch connection #${target}…`);
      return;
    }
    const socket = page.sockets[target];
    if (!socket || !socket.tap || !socket.isOpen) {
      if (inspectState.attached) inspectSend(null, { type: 'unwatch' });
      inspectState.attached = null;
      setWatchStatus('waiting', target === 'chat'
        ? 'This page’s /chat is not open: join the chat, and the Inspector attaches to it.'
        : `This page’s /${target} is not open; the Inspector attaches as soon as it is.`);
      return;
    }
    inspectSend('watch', { type: 'watch', tap: socket.tap });
    setWatchStatus('waiting', `Asking to watch this page’s /${target}…`);
  }

  function requestList() {
    if (inspectState.listAllowed === false) return;
    inspectSend('list', { type: 'list' });
  }

  onAnyOpen((key) => {
    if (key === inspectState.target) watch();
  });

  function setWatchStatus(state, text) {
    $('inspect-watch').dataset.state = state;
    $('inspect-watch-text').textContent = text;
  }

  function onInspectEvent(data) {
    const msg = jsonObject(data);
    if (!msg) return;
    switch (msg.type) {
      case 'attached': return onAttached(msg);
      case 'frame':
      case 'close': return show(msg);
      case 'detached': return onDetached(msg);
      case 'connections': return onConnections(msg.connections);
      case 'error': return onInspectError(msg);
      default: return undefined;
    }
  }

  /** Answers come in the order of the requests: drop the oldest one of `kind` if it leads. */
  function answered(kind) {
    if (inspectState.awaiting[0] === kind) inspectState.awaiting.shift();
  }

  function onAttached(msg) {
    answered('watch');
    const conn = Number(msg.conn);
    inspectState.attached = { conn, endpoint: String(msg.endpoint ?? '?'), peer: String(msg.peer ?? '?') };
    const { endpoint, peer } = inspectState.attached;
    setWatchStatus('attached', `Watching connection #${conn} · /${endpoint} · from ${peer}`);
    renderHandshake(msg.handshake);
    show({ type: 'note', kind: 'attached', conn, text: `Attached to connection #${conn} (/${endpoint} from ${peer}). Frames from here on; messages are counted from 1.` });
  }

  function onDetached(msg) {
    const conn = Number(msg.conn);
    const why = String(msg.why ?? 'detached');
    if (inspectState.attached && inspectState.attached.conn === conn) {
      inspectState.attached = null;
      const again = typeof inspectState.target === 'string' ? ` It re-attaches when this page’s /${inspectState.target} reconnects.` : '';
      setWatchStatus('detached', `Detached from #${conn}: ${why}.${again}`);
    }
    show({ type: 'note', kind: 'detached', conn, text: `Detached from connection #${conn}: ${why}` });
  }

  function onInspectError(msg) {
    const kind = inspectState.awaiting.shift();
    const text = String(msg.message ?? msg.error ?? 'error');
    if (kind === 'list') {
      inspectState.listAllowed = false;
      const refresh = $('inspect-refresh');
      refresh.disabled = true;
      refresh.title = `The server does not list its connections to this page: ${text}`;
      return;
    }
    if (kind === 'watch') setWatchStatus('error', `The server refused to watch: ${text}`);
    show({ type: 'note', kind: 'error', text: `Server: ${text}` });
  }

  function onConnections(list) {
    answered('list');
    if (!Array.isArray(list)) return;
    inspectState.listAllowed = true;
    inspectState.others = list.filter((c) => c && Number.isFinite(Number(c.conn)));
    renderTargets();
  }

  /** The select: this page's three sockets, then the server's list (ids; loopback only). */
  function renderTargets() {
    const select = $('inspect-target');
    const old = select.querySelector('optgroup[data-others]');
    if (old) old.remove();
    const others = inspectState.others.map((c) => ({
      id: Number(c.conn),
      label: `#${c.conn} · /${c.endpoint ?? '?'} · ${c.peer ?? '?'}${c.tapped ? ' · tapped' : ''}`,
    }));
    const target = inspectState.target;
    if (typeof target === 'number' && !others.some((o) => o.id === target)) others.push({ id: target, label: `#${target} (gone)` });
    if (!others.length) return;
    const group = el('optgroup', { label: 'Connections on the server, by id', 'data-others': true });
    for (const o of others.sort((a, b) => a.id - b.id)) {
      group.append(el('option', { value: 'conn:' + o.id, selected: target === o.id }, o.label));
    }
    select.append(group);
  }

  $('inspect-target').addEventListener('change', (event) => {
    const value = event.target.value;
    inspectState.target = value.startsWith('conn:') ? Number(value.slice(5)) : value;
    resetHandshake('Waiting for the server to attach…');
    watch();
  });
  $('inspect-refresh').addEventListener('click', requestList);

  // ── the handshake, step by step ──

  function resetHandshake(text) {
    inspectState.handshakeCheck += 1;
    $('hs-steps').hidden = true;
    $('hs-check').hidden = true;
    $('hs-empty').hidden = false;
    $('hs-empty').textContent = text;
  }

  function renderHandshake(hs) {
    if (!hs || typeof hs !== 'object') {
      resetHandshake('Not recorded: the server keeps the handshake only of connections that carry a tap token (this page’s own sockets do).');
      return;
    }
    const generation = ++inspectState.handshakeCheck;
    const key = String(hs.key ?? '');
    const concatenated = String(hs.concatenated ?? '');
    $('hs-empty').hidden = true;
    $('hs-steps').hidden = false;
    httpHead($('hs-request'), hs.request, /^sec-websocket-key:/i);
    httpHead($('hs-response'), hs.response, /^sec-websocket-(accept|extensions):/i);
    $('hs-key').textContent = key;
    $('hs-concat').replaceChildren(...(concatenated.endsWith(GUID)
      ? [el('span', { class: 'hs-part-key' }, concatenated.slice(0, -GUID.length)), el('span', { class: 'hs-part-guid', title: 'the GUID from §1.3' }, GUID)]
      : [concatenated]));
    $('hs-sha1').textContent = String(hs.sha1_hex ?? '');
    $('hs-accept').textContent = String(hs.accept ?? '');
    // permessage-deflate, if agreed: the parameters, each direction's window (RFC 7692 §5, §7.1).
    const extensions = Array.isArray(hs.extensions) ? hs.extensions.map(String) : [];
    $('hs-extensions-step').hidden = !extensions.length;
    $('hs-extensions').replaceChildren(...extensions.map((line) => el('li', { 'data-testid': 'hs-extension' }, line)));
    verifyHandshake(hs, generation);
  }

  /** An HTTP head with each CRLF made visible, the line that matters marked. */
  function httpHead(pre, text, important) {
    if (typeof text !== 'string') {
      pre.replaceChildren(el('span', { class: 'crlf' }, '(not recorded)'));
      return;
    }
    const lines = text.split('\r\n');
    if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop(); // the head ends in a CRLF
    pre.replaceChildren(...lines.map((line) => el('span', { class: 'http-line' + (important.test(line) ? ' http-important' : '') },
      line, el('span', { class: 'crlf', 'aria-hidden': 'true' }, '\\r\\n'))));
  }

  /** Recomputes base64(SHA-1(key + GUID)) here, so the page checks the server rather than trusting it. */
  async function verifyHandshake(hs, generation) {
    const wrong = [];
    const key = String(hs.key ?? '');
    if (hs.concatenated !== key + GUID) wrong.push('key + GUID');
    if (typeof hs.request === 'string' && !hs.request.includes(key)) wrong.push('the key is not in the request');
    if (typeof hs.response === 'string' && !hs.response.includes(String(hs.accept))) wrong.push('the accept is not in the response');
    let recomputed = false;
    if (globalThis.crypto && crypto.subtle) { // only in secure contexts (https, localhost)
      try {
        const digest = new Uint8Array(await crypto.subtle.digest('SHA-1', new TextEncoder().encode(key + GUID)));
        if (toHex(digest, '') !== hs.sha1_hex) wrong.push('SHA-1');
        if (btoa(String.fromCharCode(...digest)) !== hs.accept) wrong.push('base64');
        recomputed = true;
      } catch (_) { /* no SHA-1 here: show what we could check */ }
    }
    if (generation !== inspectState.handshakeCheck) return;
    const check = $('hs-check');
    check.hidden = false;
    check.dataset.ok = String(!wrong.length);
    check.textContent = wrong.length ? `✗ differs: ${wrong.join(', ')}` : recomputed ? '✓ checked by this page' : '✓ consistent';
    check.title = recomputed ? 'This page computed base64(SHA-1(key + GUID)) itself with crypto.subtle and compared.' : 'crypto.subtle is only available on https or localhost';
  }

  // ── the timeline: frames, closes and notes, in order ──

  function show(event) {
    if (inspectState.paused) {
      inspectState.held.push(event);
      // Only the newest MAX_INSPECT_ITEMS would stay on screen anyway; the count says how many.
      if (inspectState.held.length > MAX_INSPECT_ITEMS && inspectState.held.shift().type === 'frame') inspectState.framesSeen += 1;
      updatePauseButton();
      return;
    }
    append(event);
  }

  function append(event) {
    let item;
    if (event.type === 'frame') {
      inspectState.framesSeen += 1;
      item = frameItem(event);
    } else if (event.type === 'close') {
      item = closeItem(event);
    } else {
      item = noteItem(event);
    }
    framesBox.append(item);
    while (framesBox.children.length > MAX_INSPECT_ITEMS) framesBox.firstElementChild.remove();
    updateFrameCount();
    scrollFrames();
  }

  function updateFrameCount() {
    const shown = framesBox.querySelectorAll('.frame').length;
    const seen = inspectState.framesSeen;
    $('frames-count').textContent = `${seen} frame${seen === 1 ? '' : 's'}` + (shown < seen ? ` · the last ${shown} shown` : '');
  }

  function noteItem({ kind, text, conn }) {
    const icon = { attached: '●', detached: '○', error: '!' }[kind] || '·';
    return el('li', { class: 'inspect-note note-' + kind, 'data-testid': 'inspect-note', dataset: { kind, conn: conn ?? '' } },
      el('span', { class: 'note-icon', 'aria-hidden': 'true' }, icon), timeEl(), el('span', { class: 'note-text' }, text));
  }

  function closeItem(event) {
    const r = event.record && typeof event.record === 'object' ? event.record : {};
    const by = ['client', 'server', 'network'].includes(r.by) ? r.by : 'network';
    const title = { client: 'Closed by the client', server: 'Closed by the server', network: 'Dropped: no closing handshake' }[by];
    const facts = [fact('reason', r.reason ? `“${r.reason}”` : el('span', { class: 'muted' }, 'none given'), 'reason')];
    if (r.rule) facts.push(fact('rule', el('span', { 'data-testid': 'close-rule' }, ...rule(r.rule)), 'rule'));
    if (r.limit && typeof r.limit === 'object') {
      facts.push(fact('limit', el('span', { 'data-testid': 'close-limit' }, `${r.limit.value} against a limit of ${r.limit.limit}`), 'limit'));
    }
    if (r.offset !== null && r.offset !== undefined) {
      facts.push(fact('at byte', el('span', { 'data-testid': 'close-offset', title: 'where in the client → server byte stream the rule was broken' }, String(r.offset)), 'offset'));
    }
    return el('li', { class: 'close-record close-by-' + by, 'data-testid': 'inspect-close', dataset: { by, code: r.code ?? '', conn: event.conn ?? '' } },
      el('div', { class: 'close-head' },
        el('span', { class: 'close-icon', 'aria-hidden': 'true' }, '■'),
        el('strong', { 'data-testid': 'close-by' }, title),
        el('span', { class: 'close-code' },
          el('span', { class: 'code', 'data-testid': 'close-code' }, String(r.code ?? '?')), ' ',
          el('span', { 'data-testid': 'close-code-name' }, String(r.code_name ?? CLOSE_CODES[r.code] ?? ''))),
        timeEl()),
      el('dl', { class: 'close-facts' }, ...facts),
      r.explanation ? el('p', { class: 'close-explanation', 'data-testid': 'close-explanation' }, String(r.explanation)) : null);
  }

  // ── the toolbar ──

  function updatePauseButton() {
    const button = $('inspect-pause');
    const held = inspectState.held.length;
    button.setAttribute('aria-pressed', String(inspectState.paused));
    button.textContent = inspectState.paused ? `Resume${held ? ` · ${held} new` : ''}` : 'Pause';
  }

  $('inspect-pause').addEventListener('click', () => {
    inspectState.paused = !inspectState.paused;
    if (!inspectState.paused) {
      for (const event of inspectState.held.splice(0)) append(event);
    }
    updatePauseButton();
  });

  $('inspect-compact').addEventListener('click', (event) => {
    const compact = framesBox.classList.toggle('compact');
    event.currentTarget.setAttribute('aria-pressed', String(compact));
  });

  $('inspect-clear').addEventListener('click', () => {
    framesBox.replaceChildren();
    inspectState.held = [];
    inspectState.framesSeen = 0;
    updateFrameCount();
    updatePauseButton();
  });

  return {
    view: 'inspect',
    sockets: { inspector },
    state: { inspectState },
    onViewChange(view) {
      if (view === 'inspect') startInspector(); // its socket opens the first time the view is shown
    },
  };
}
