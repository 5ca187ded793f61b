// wsmith's browser page: three WebSockets (/chat, /echo, /notifications) in plain JavaScript,
// and a fourth (/inspect) that shows any one of them byte by byte.
//
// Read it top to bottom:
//   1. helpers       — building DOM nodes; all server and user text goes in through textContent
//   2. Connection    — one WebSocket with a status pill and reconnect with exponential backoff
//   3. tabs          — the ARIA tabs pattern (arrow keys, Home/End)
//   4. chat          — the JSON protocol of /chat: presence, channels, history, resume, dedupe
//   5. echo          — send text, show the reply and the round trip
//   6. notifications — JSON or plain text pushes
//   7. inspector     — /inspect: the handshake, every frame's fields and the close, of one connection
//
// Open the console and look at `window.wsmith` to poke at the live state.
'use strict';

(() => {
  // ───────────────────────────── 1. helpers ─────────────────────────────

  const $ = (id) => document.getElementById(id);

  /** el('li', {class: 'x', dataset: {seq: 3}}, 'text', child) — strings become text nodes, never HTML. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'dataset') Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
    }
    return node;
  }

  const clockFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });

  /** A <time> element for a millisecond timestamp (the server's `ts`), falling back to now. */
  function timeEl(ts) {
    const date = new Date(typeof ts === 'number' && Number.isFinite(ts) ? ts : Date.now());
    return el('time', { datetime: date.toISOString(), title: date.toLocaleString() }, clockFormat.format(date));
  }

  /**
   * Keeps a scrolling box pinned to its newest line, unless the reader scrolled up to read.
   * Only the reader's own scrolling (wheel, touch, keys, scrollbar) decides "pinned": the
   * browser also scrolls a box when its size changes, and that must not unpin it.
   */
  function followBottom(box) {
    box.pinned = true;
    let touchedAt = 0;
    for (const type of ['wheel', 'touchstart', 'pointerdown', 'keydown']) {
      box.addEventListener(type, () => { touchedAt = Date.now(); }, { passive: true });
    }
    box.addEventListener('scroll', () => {
      if (Date.now() - touchedAt > 1500) return;
      box.pinned = box.scrollHeight - box.scrollTop - box.clientHeight < 48;
    }, { passive: true });
    const follow = () => {
      if (box.pinned) box.scrollTop = box.scrollHeight;
    };
    new ResizeObserver(follow).observe(box);
    return follow;
  }

  // RFC 6455 §7.4.1 names, shown next to the code so a learner sees what it means.
  const CLOSE_CODES = {
    1000: 'normal closure', 1001: 'going away', 1002: 'protocol error', 1003: 'unsupported data',
    1005: 'no status received', 1006: 'abnormal closure', 1007: 'invalid data', 1008: 'policy violation',
    1009: 'message too big', 1010: 'mandatory extension', 1011: 'internal error', 1015: 'TLS handshake',
  };

  /** "1006 abnormal closure: reason" for the status tooltip and the activity log. */
  function describeClose(code, reason) {
    return `${code}` + (CLOSE_CODES[code] ? ` ${CLOSE_CODES[code]}` : '') + (reason ? `: ${reason}` : '');
  }

  const wsBase = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host;

  /**
   * A random tap token per socket of this page, kept for the page's lifetime (so a reconnect
   * carries the same one): `?tap=TOKEN` lets the Inspector pick out our own connections, and
   * makes the server record their handshakes.
   */
  function newTapToken() {
    return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
  }
  const TAPS = { chat: newTapToken(), echo: newTapToken(), notifications: newTapToken() };

  // ───────────────────────────── 2. Connection ─────────────────────────────

  const BACKOFF_START_MS = 500;
  const BACKOFF_MAX_MS = 10000;
  const STABLE_AFTER_MS = 5000; // an open that lasted this long resets the backoff
  const openListeners = []; // (key) => …, after any Connection opens (the Inspector re-watches)

  /**
   * One WebSocket that reconnects by itself: 0.5 s, 1 s, 2 s … up to 10 s, each delay
   * jittered to 50–100 % so that many pages don't all come back in the same millisecond.
   */
  class Connection {
    constructor(key, { url, onOpen, onMessage, onClose }) {
      this.key = key;
      this.url = url; // a function: the URL may change between attempts (chat's resume list)
      this.onOpen = onOpen || (() => {});
      this.onMessage = onMessage || (() => {});
      this.onClose = onClose || (() => {});
      this.ws = null;
      this.wanted = false;
      this.attempt = 0;
      this.openedAt = 0;
      this.timer = null;
      this.countdown = null;
      this.pill = $('status-' + key);
      this.text = $('status-' + key + '-text');
      this.toggle = $('toggle-' + key);
      this.toggle.addEventListener('click', () => (this.wanted ? this.stop() : this.start()));
    }

    get isOpen() {
      return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
    }

    start() {
      this.wanted = true;
      this.attempt = 0;
      this.toggle.hidden = false;
      this.toggle.textContent = 'Disconnect';
      this.clearTimers();
      if (!this.ws) this.connect();
    }

    /** Closes on purpose (1000) and stays closed until start(). */
    stop() {
      this.wanted = false;
      this.clearTimers();
      this.toggle.textContent = 'Connect';
      if (this.ws) {
        try { this.ws.close(1000, 'closed by user'); } catch (_) { /* already closing */ }
      } else {
        this.setState('closed', 'closed by you');
      }
    }

    send(value) {
      if (!this.isOpen) return false;
      this.ws.send(typeof value === 'string' ? value : JSON.stringify(value));
      return true;
    }

    connect() {
      this.setState('connecting', this.attempt > 0 ? `connecting… (attempt ${this.attempt + 1})` : 'connecting…');
      let ws;
      try {
        ws = new WebSocket(this.url());
      } catch (err) {
        this.setState('closed', 'cannot connect: ' + err.message);
        this.scheduleReconnect();
        return;
      }
      ws.binaryType = 'arraybuffer';
      this.ws = ws;
      ws.addEventListener('open', () => {
        if (ws !== this.ws) return;
        this.openedAt = Date.now();
        this.setState('open', 'open');
        this.onOpen();
        for (const listener of openListeners) listener(this.key);
      });
      ws.addEventListener('message', (event) => {
        if (ws !== this.ws) return;
        this.onMessage(event.data);
      });
      ws.addEventListener('close', (event) => {
        if (ws !== this.ws) return;
        this.ws = null;
        const wasStable = this.openedAt && Date.now() - this.openedAt >= STABLE_AFTER_MS;
        this.openedAt = 0;
        if (wasStable) this.attempt = 0;
        this.setState('closed', `closed ${event.code}`, event.code, event.reason);
        this.onClose(event);
        if (this.wanted) this.scheduleReconnect();
      });
      // 'error' is always followed by 'close', which does the work.
    }

    scheduleReconnect() {
      this.clearTimers();
      const base = Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * 2 ** this.attempt);
      const delay = Math.round(base / 2 + Math.random() * (base / 2));
      this.attempt += 1;
      const until = Date.now() + delay;
      const closedText = this.text.textContent.replace(/ · retry.*$/, '');
      const tick = () => {
        const left = Math.max(0, until - Date.now());
        this.text.textContent = `${closedText} · retry in ${(left / 1000).toFixed(1)} s`;
      };
      this.toggle.textContent = 'Stop';
      tick();
      this.countdown = setInterval(tick, 100);
      this.timer = setTimeout(() => {
        this.clearTimers();
        if (this.wanted && !this.ws) this.connect();
      }, delay);
    }

    /** A closed socket may come back sooner when the browser says the network is back. */
    retryNow() {
      if (this.wanted && !this.ws) {
        this.clearTimers();
        this.connect();
      }
    }

    clearTimers() {
      clearTimeout(this.timer);
      clearInterval(this.countdown);
      this.timer = null;
      this.countdown = null;
    }

    /** The pill stays short; the code's meaning and the reason go in its tooltip. */
    setState(state, text, code, reason) {
      this.pill.dataset.state = state;
      if (code !== undefined) this.pill.dataset.closeCode = String(code);
      else delete this.pill.dataset.closeCode;
      if (reason) this.pill.dataset.closeReason = reason;
      else delete this.pill.dataset.closeReason;
      this.text.textContent = text;
      let title = `/${this.key}: ${text}`;
      if (code !== undefined) title += ` — ${describeClose(code, reason)}`;
      this.pill.title = title;
      $('announcer').textContent = title; // the pill's countdown ticks are not announced, this is
      if (this.wanted) this.toggle.textContent = 'Disconnect';
    }
  }

  // ───────────────────────────── 3. tabs ─────────────────────────────

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

  function setBadge(id, count) {
    const badge = $(id);
    badge.hidden = !count;
    badge.textContent = count > 99 ? '99+' : String(count || '');
  }

  // ───────────────────────────── 4. chat ─────────────────────────────

  const DEFAULT_CHANNEL = 'general';
  // The server's rule for channel names; it also keeps ':' and ',' out of the resume list.
  const CHANNEL_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
  const MAX_SHOWN_PER_CHANNEL = 500;
  const MAX_ACTIVITY = 200;
  const PING_EVERY_MS = 25000;

  const presenceText = {
    join: (users) => `새로운 유저 접속 [현재: ${users}명]`,
    leave: (users) => `유저 연결 해제 [현재: ${users}명]`,
  };

  const scrollLogs = followBottom($('logs'));
  const scrollActivity = followBottom($('activity'));

  const chatState = {
    joined: false,
    wantedName: '', // what the user typed; empty means "give me a guest name"
    name: null, // the name the server actually gave (welcome / rename)
    users: null,
    historyLimit: null, // messages the server keeps per channel (welcome.history_limit)
    epoch: null, // which run of the server our seqs came from (welcome.epoch)
    selected: DEFAULT_CHANNEL,
    selfJoinShown: false, // we showed our own join line at welcome; swallow the server's copy
    channels: new Map(), // name → channel record, see ensureChannel
    pingTimer: null,
  };

  /**
   * A channel as the page knows it. `lastSeq` is the highest seq seen: the resume point.
   * `seen` holds every seq on screen, so a message that arrives twice (live and again in a
   * history) is shown once. `floor` is the oldest seq dropped off the top of a long log.
   */
  function ensureChannel(name) {
    let ch = chatState.channels.get(name);
    if (ch) return ch;
    ch = {
      name,
      subscribed: false,
      pending: null, // 'subscribe' | 'unsubscribe' while waiting for the server
      lastSeq: 0,
      seen: new Set(),
      floor: 0,
      unread: 0,
      log: el('ol', {
        class: 'log messages', id: 'log-' + name, 'data-testid': 'log-' + name,
        dataset: { channel: name }, 'aria-label': `Messages in #${name}`, hidden: true,
      }),
    };
    $('logs').append(ch.log);
    chatState.channels.set(name, ch);
    return ch;
  }

  const chat = new Connection('chat', {
    url() {
      const params = new URLSearchParams();
      const name = chatState.wantedName || chatState.name;
      if (name) params.set('name', name);
      const resume = resumeList();
      if (resume) params.set('resume', resume);
      // Seqs restart with the server: the epoch lets it tell our old seqs from its new ones.
      if (resume && chatState.epoch !== null) params.set('epoch', String(chatState.epoch));
      params.set('tap', TAPS.chat);
      // URLSearchParams writes ':' as %3A and ',' as %2C: the server percent-decodes.
      const query = params.toString();
      return wsBase + '/chat' + (query ? '?' + query : '');
    },
    onOpen() {
      clearInterval(chatState.pingTimer);
      chatState.pingTimer = setInterval(() => chat.send({ type: 'ping' }), PING_EVERY_MS);
    },
    onMessage: onChatFrame,
    onClose(event) {
      clearInterval(chatState.pingTimer);
      if (chatState.joined) {
        activity('system', !chat.wanted ? 'You disconnected' : `Connection lost: ${describeClose(event.code, event.reason)}`);
      }
      updateChatControls();
    },
  });

  /** `general:41,news:7` — each channel we are (or are becoming) subscribed to, with the last seq seen. */
  function resumeList() {
    const parts = [];
    for (const ch of chatState.channels.values()) {
      const wanted = (ch.subscribed && ch.pending !== 'unsubscribe') || ch.pending === 'subscribe';
      if (wanted && (ch.lastSeq > 0 || ch.name !== DEFAULT_CHANNEL)) parts.push(`${ch.name}:${ch.lastSeq}`);
    }
    return parts.join(',');
  }

  function onChatFrame(data) {
    if (typeof data !== 'string') return; // /chat speaks JSON text only
    let msg;
    try {
      msg = JSON.parse(data);
    } catch (_) {
      showChatError('The server sent something that is not JSON: ' + data.slice(0, 120));
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    switch (msg.type) {
      case 'welcome': return onWelcome(msg);
      case 'presence': return onPresence(msg);
      case 'message': return addMessage(msg);
      case 'history': return onHistory(msg);
      case 'subscribed': return onSubscribed(msg.channel, true);
      case 'unsubscribed': return onSubscribed(msg.channel, false);
      case 'channels': return onChannels(msg.channels);
      case 'error': return onError(msg);
      case 'pong': return undefined;
      default: return undefined; // newer servers may say more; ignore what we don't know
    }
  }

  function onWelcome(msg) {
    const again = chatState.joined;
    chatState.joined = true;
    setMyName(msg.name);
    setUsers(msg.users);
    if (typeof msg.history_limit === 'number') chatState.historyLimit = msg.history_limit;
    if (typeof msg.epoch === 'number') chatState.epoch = msg.epoch;
    hideChatError();
    const subscribed = new Set(Array.isArray(msg.subscribed) ? msg.subscribed : [DEFAULT_CHANNEL]);
    for (const name of Array.isArray(msg.channels) ? msg.channels : []) ensureChannel(String(name));
    for (const name of subscribed) ensureChannel(String(name));
    // After a reconnect, the server's list should match ours (it came from the resume list);
    // where it doesn't, ask again, so the page ends up where the user left it.
    for (const ch of chatState.channels.values()) {
      const wanted = (ch.subscribed && ch.pending !== 'unsubscribe') || ch.pending === 'subscribe';
      ch.subscribed = subscribed.has(ch.name);
      ch.pending = null;
      if (again && wanted && !ch.subscribed) subscribe(ch.name);
      else if (again && !wanted && ch.subscribed) unsubscribe(ch.name);
    }
    $('chat-empty').hidden = true;
    activity('system', again ? `Reconnected as ${msg.name}` : `Joined as ${msg.name}`);
    // The server may or may not echo our own join to us; show it once either way.
    if (typeof msg.users === 'number') {
      activity('join', presenceText.join(msg.users), msg.name);
      chatState.selfJoinShown = true;
    }
    selectChannel(chatState.channels.has(chatState.selected) ? chatState.selected : DEFAULT_CHANNEL);
    renderChannels();
    updateChatControls();
  }

  function onPresence(msg) {
    setUsers(msg.users);
    const event = String(msg.event || '');
    if (event === 'rename' && msg.old_name === chatState.name) setMyName(msg.name);
    if (event === 'join' && msg.name === chatState.name && chatState.selfJoinShown) {
      chatState.selfJoinShown = false;
      return;
    }
    let text = typeof msg.text === 'string' && msg.text ? msg.text : null;
    if (!text && presenceText[event] && typeof msg.users === 'number') text = presenceText[event](msg.users);
    if (!text && event === 'rename') text = `${msg.old_name} → ${msg.name}`;
    if (!text) text = `${event} ${msg.name ?? ''}`.trim();
    const who = event === 'rename' && msg.old_name ? `${msg.old_name} → ${msg.name}` : msg.name;
    activity(event, text, who);
  }

  function onHistory(msg) {
    const ch = ensureChannel(String(msg.channel || DEFAULT_CHANNEL));
    if (msg.reset) {
      // The server restarted and its seqs started again: what we show belongs to another life.
      ch.log.replaceChildren();
      ch.seen.clear();
      ch.lastSeq = 0;
      ch.floor = 0;
      ch.unread = 0;
      ch.log.append(notice('reset', 'The server restarted; this channel starts over.', 0));
    }
    const lost = Number(msg.lost) || 0;
    if (lost > 0) {
      const first = Number(msg.first_available);
      const where = Number.isFinite(first) ? ` (the server keeps messages from #${first} on)` : '';
      const line = notice('lost', `${lost} message${lost === 1 ? ' was' : 's were'} lost while you were away${where}.`,
        Number.isFinite(first) ? first - 0.5 : ch.lastSeq + 0.5);
      insertBySeq(ch, line);
    }
    for (const m of Array.isArray(msg.messages) ? msg.messages : []) {
      addMessage(Object.assign({ channel: ch.name }, m), { fromHistory: true });
    }
    renderChannels();
  }

  function notice(kind, text, seq) {
    return el('li', { class: 'notice notice-' + kind, 'data-testid': kind + '-notice', dataset: { seq } },
      el('span', { class: 'notice-icon', 'aria-hidden': 'true' }, kind === 'lost' ? '!' : '↻'),
      el('span', {}, text));
  }

  /** Shows one chat message unless (channel, seq) is already on screen. */
  function addMessage(m, { fromHistory = false } = {}) {
    const ch = ensureChannel(String(m.channel || DEFAULT_CHANNEL));
    const seq = typeof m.seq === 'number' && Number.isFinite(m.seq) ? m.seq : null;
    if (seq !== null) {
      if (ch.seen.has(seq) || seq <= ch.floor) return;
      ch.seen.add(seq);
      if (seq > ch.lastSeq) ch.lastSeq = seq;
    }
    const from = String(m.from ?? '?');
    const mine = from === chatState.name;
    const item = el('li', {
      class: 'msg' + (mine ? ' mine' : '') + (from === 'server' ? ' from-server' : ''),
      'data-testid': 'message',
      dataset: { channel: ch.name, seq: seq ?? '', from },
    },
    el('div', { class: 'msg-head' },
      el('span', { class: 'msg-from', 'data-testid': 'message-from' }, from),
      timeEl(m.ts),
      seq !== null ? el('span', { class: 'msg-seq', title: 'sequence number in #' + ch.name }, '#' + seq) : null),
    el('p', { class: 'msg-text', 'data-testid': 'message-text' }, String(m.text ?? '')));

    insertBySeq(ch, item);
    trimLog(ch);
    if (mine) $('logs').pinned = true;
    scrollLogs();

    if (!fromHistory && (ch.name !== chatState.selected || currentView !== 'chat')) {
      ch.unread += 1;
      renderChannels();
      updateChatBadge();
    }
  }

  /** Keeps the log ordered by seq even when a history fills a gap above live messages. */
  function insertBySeq(ch, item) {
    const seq = Number(item.dataset.seq);
    if (item.dataset.seq === '' || !Number.isFinite(seq)) {
      ch.log.append(item);
      return;
    }
    let before = null;
    for (let node = ch.log.lastElementChild; node; node = node.previousElementSibling) {
      const other = Number(node.dataset.seq);
      if (node.dataset.seq !== '' && Number.isFinite(other) && other <= seq) break;
      before = node;
    }
    ch.log.insertBefore(item, before);
  }

  function trimLog(ch) {
    while (ch.log.querySelectorAll('.msg').length > MAX_SHOWN_PER_CHANNEL) {
      const oldest = ch.log.querySelector('.msg');
      const seq = Number(oldest.dataset.seq);
      if (Number.isFinite(seq)) {
        ch.seen.delete(seq);
        ch.floor = Math.max(ch.floor, seq);
      }
      oldest.remove();
    }
  }

  function onSubscribed(name, subscribed) {
    if (typeof name !== 'string') return;
    const ch = ensureChannel(name);
    ch.subscribed = subscribed;
    ch.pending = null;
    renderChannels();
    updateChatControls();
  }

  function onChannels(list) {
    if (!Array.isArray(list)) return;
    for (const name of list) ensureChannel(String(name));
    renderChannels();
  }

  function onError(msg) {
    const text = `${msg.message || msg.error || 'error'}` + (msg.error && msg.message ? ` (${msg.error})` : '');
    if (/name/i.test(String(msg.error))) {
      $('name-error').textContent = text;
      $('name-error').hidden = false;
    } else {
      showChatError(text);
    }
    // A refused subscribe or unsubscribe leaves the channel as it was.
    for (const ch of chatState.channels.values()) ch.pending = null;
    renderChannels();
  }

  function showChatError(text) {
    const box = $('chat-error');
    box.textContent = text;
    box.hidden = false;
    clearTimeout(showChatError.timer);
    showChatError.timer = setTimeout(hideChatError, 8000);
  }

  function hideChatError() {
    $('chat-error').hidden = true;
  }

  function setMyName(name) {
    if (typeof name !== 'string') return;
    chatState.name = name;
    $('me').textContent = '';
    $('me').append('You are ', el('strong', { 'data-testid': 'my-name' }, name));
    if (document.activeElement !== $('name-input')) $('name-input').value = name;
    $('name-error').hidden = true;
    $('join-button').textContent = 'Rename';
  }

  function setUsers(users) {
    if (typeof users !== 'number') return;
    chatState.users = users;
    $('user-count').textContent = String(users);
    $('online-pill').hidden = false;
  }

  function activity(kind, text, who) {
    const list = $('activity');
    const item = el('li', { class: 'activity-item activity-' + kind, 'data-testid': 'activity-item', dataset: { kind } },
      timeEl(),
      el('span', { class: 'activity-text', 'data-testid': 'presence-text' }, text),
      who ? el('span', { class: 'activity-who' }, String(who)) : null);
    list.append(item);
    while (list.children.length > MAX_ACTIVITY) list.firstElementChild.remove();
    scrollActivity();
  }

  function subscribe(name) {
    const ch = ensureChannel(name);
    const request = { type: 'subscribe', channel: name };
    if (ch.lastSeq > 0) request.since = ch.lastSeq; // fill what we missed while unsubscribed
    ch.pending = 'subscribe';
    chat.send(request);
    renderChannels();
  }

  function unsubscribe(name) {
    const ch = ensureChannel(name);
    ch.pending = 'unsubscribe';
    chat.send({ type: 'unsubscribe', channel: name });
    renderChannels();
  }

  function selectChannel(name) {
    const ch = ensureChannel(name);
    chatState.selected = name;
    for (const other of chatState.channels.values()) other.log.hidden = other !== ch;
    ch.unread = 0;
    $('channel-title').textContent = '# ' + name;
    $('logs').pinned = true;
    scrollLogs();
    renderChannels();
    updateChatControls();
    updateChatBadge();
  }

  function renderChannels() {
    const list = $('channel-list');
    const names = Array.from(chatState.channels.keys()).sort((a, b) =>
      (a === DEFAULT_CHANNEL ? -1 : b === DEFAULT_CHANNEL ? 1 : a.localeCompare(b)));
    const focusedId = document.activeElement && list.contains(document.activeElement) ? document.activeElement.id : null;
    list.replaceChildren(...names.map((name) => {
      const ch = chatState.channels.get(name);
      const state = ch.pending ? 'pending' : ch.subscribed ? 'subscribed' : 'unsubscribed';
      const selected = name === chatState.selected;
      const toggleLabel = ch.pending === 'subscribe' ? 'Subscribing…'
        : ch.pending === 'unsubscribe' ? 'Leaving…'
          : ch.subscribed ? 'Unsubscribe' : 'Subscribe';
      return el('li', { class: 'channel', 'data-testid': 'channel-' + name, dataset: { channel: name, state } },
        el('button', {
          type: 'button', class: 'channel-select', id: 'select-' + name, 'data-testid': 'select-' + name,
          'aria-current': selected ? 'true' : null,
        },
        el('span', { class: 'hash', 'aria-hidden': 'true' }, '#'), name,
        ch.unread ? el('span', { class: 'unread', 'aria-label': `${ch.unread} unread` }, String(ch.unread)) : null),
        el('button', {
          type: 'button', class: 'channel-toggle', id: 'toggle-channel-' + name, 'data-testid': 'toggle-channel-' + name,
          disabled: !chat.isOpen || ch.pending !== null, hidden: !chatState.joined,
          'aria-label': `${toggleLabel} #${name}`,
        }, toggleLabel));
    }));
    if (focusedId && $(focusedId)) $(focusedId).focus();
    const ch = chatState.channels.get(chatState.selected);
    $('channel-state').textContent = !chatState.joined || !ch ? ''
      : ch.pending ? 'updating…' : ch.subscribed ? 'subscribed' : 'not subscribed — you will not get new messages';
    $('channel-state').dataset.state = ch && ch.subscribed ? 'subscribed' : 'unsubscribed';
  }

  function updateChatBadge() {
    let unread = 0;
    for (const ch of chatState.channels.values()) unread += ch.unread;
    setBadge('badge-chat', currentView === 'chat' ? 0 : unread);
  }

  function updateChatControls() {
    const open = chat.isOpen && chatState.joined;
    // While reconnecting the box stays usable, so a draft is neither lost nor blurred.
    $('message-input').disabled = !chatState.joined;
    $('send-button').disabled = !open;
    $('channel-input').disabled = !open;
    $('channel-add').disabled = !open;
    $('message-input').placeholder = !chatState.joined ? 'Join first, then write here'
      : open ? `Message #${chatState.selected}` : 'Reconnecting… keep typing, send when it is back';
    renderChannels();
  }

  $('join-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const name = $('name-input').value.trim();
    $('name-error').hidden = true;
    chatState.wantedName = name;
    if (!chatState.joined && !chat.ws) {
      chat.start();
    } else if (name && name !== chatState.name) {
      if (!chat.send({ type: 'join', name })) showChatError('Not connected; the new name is used when the connection is back.');
    }
  });

  $('channel-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const name = $('channel-input').value.trim().replace(/^#/, '');
    if (!CHANNEL_PATTERN.test(name)) {
      showChatError('A channel name uses only letters A–Z, digits and "_", "-" or ".".');
      return;
    }
    const ch = ensureChannel(name);
    if (!ch.subscribed) subscribe(name);
    $('channel-input').value = '';
    selectChannel(name);
  });

  $('channel-list').addEventListener('click', (event) => {
    const button = event.target.closest('button');
    if (!button) return;
    const name = button.closest('.channel').dataset.channel;
    if (button.classList.contains('channel-select')) {
      selectChannel(name);
    } else if (chatState.channels.get(name).subscribed) {
      unsubscribe(name);
    } else {
      subscribe(name);
    }
  });

  $('composer').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = $('message-input');
    const text = input.value;
    if (!text.trim()) return;
    // Shown only when the server's copy comes back, so the log is exactly what the server has.
    if (chat.send({ type: 'message', channel: chatState.selected, text })) input.value = '';
  });

  ensureChannel(DEFAULT_CHANNEL).subscribed = true;
  selectChannel(DEFAULT_CHANNEL);
  updateChatControls();

  // ───────────────────────────── 5. echo ─────────────────────────────

  const echoPending = []; // [{text, at}] in send order, to measure each round trip

  const echo = new Connection('echo', {
    url: () => wsBase + '/echo?tap=' + TAPS.echo,
    onMessage(data) {
      const text = typeof data === 'string' ? data : `[binary, ${data.byteLength} bytes]`;
      const index = echoPending.findIndex((p) => p.text === text);
      const rtt = index >= 0 ? Math.round(performance.now() - echoPending.splice(index, 1)[0].at) : null;
      echoLine('received', text, rtt);
    },
    onClose() {
      echoPending.length = 0;
    },
  });

  function echoLine(direction, text, rtt) {
    const log = $('echo-log');
    const item = el('li', { class: 'echo-line echo-' + direction, 'data-testid': 'echo-' + direction },
      el('span', { class: 'echo-dir' }, direction === 'sent' ? '→ sent' : '← echo'),
      el('span', { class: 'echo-text' }, text),
      el('span', { class: 'echo-meta' }, timeEl(), rtt !== null && rtt !== undefined ? ` · ${rtt} ms` : ''));
    log.prepend(item);
    while (log.children.length > 200) log.lastElementChild.remove();
  }

  $('echo-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = $('echo-input');
    const text = input.value;
    if (!text) return;
    if (echo.send(text)) {
      echoPending.push({ text, at: performance.now() });
      echoLine('sent', text);
      input.value = '';
    }
  });

  // ───────────────────────────── 6. notifications ─────────────────────────────

  let unseenNotifications = 0;

  const notifications = new Connection('notifications', {
    url: () => wsBase + '/notifications?tap=' + TAPS.notifications,
    onMessage(data) {
      if (typeof data !== 'string') return;
      addNotification(parseNotification(data));
    },
  });

  /** `{"type":"notification","text":…,"ts":…}` or any plain text. */
  function parseNotification(data) {
    try {
      const value = JSON.parse(data);
      if (value && typeof value === 'object' && !Array.isArray(value)) {
        return {
          text: typeof value.text === 'string' ? value.text : data,
          channel: typeof value.channel === 'string' ? value.channel : null,
          ts: typeof value.ts === 'number' ? value.ts : null,
        };
      }
    } catch (_) { /* plain text */ }
    return { text: data, channel: null, ts: null };
  }

  function addNotification({ text, channel, ts }) {
    $('notifications-empty').hidden = true;
    const list = $('notification-list');
    list.prepend(el('li', { class: 'notification', 'data-testid': 'notification' },
      el('span', { class: 'notification-icon', 'aria-hidden': 'true' }, '●'),
      el('p', { class: 'notification-text', 'data-testid': 'notification-text' }, text),
      el('span', { class: 'notification-meta' }, channel ? `#${channel} · ` : '', timeEl(ts))));
    while (list.children.length > 200) list.lastElementChild.remove();
    if (currentView !== 'notifications') unseenNotifications += 1;
    setBadge('badge-notifications', unseenNotifications);
  }

  $('notifications-clear').addEventListener('click', () => {
    $('notification-list').replaceChildren();
    $('notifications-empty').hidden = false;
  });

  // ───────────────────────────── 7. inspector ─────────────────────────────
  //
  // /inspect pushes JSON about the one connection it watches: `attached` (with the handshake, if
  // it was recorded), one `frame` per frame in either direction with every field of §5.2,
  // `close` (how it ended, and why), `detached`, `connections` and `error`. The page asks with
  // `watch` (this page's own sockets by their tap token, others by id), `unwatch` and `list`
  // (by id and `list` answer only clients on the server's own machine).

  const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'; // §1.3
  const MAX_INSPECT_ITEMS = 200; // frames and notes on screen; the oldest go first
  const PAGE_SOCKETS = { chat, echo, notifications };

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
    if (!PAGE_SOCKETS[target].isOpen) {
      if (inspectState.attached) inspectSend(null, { type: 'unwatch' });
      inspectState.attached = null;
      setWatchStatus('waiting', target === 'chat'
        ? 'This page’s /chat is not open: join the chat, and the Inspector attaches to it.'
        : `This page’s /${target} is not open; the Inspector attaches as soon as it is.`);
      return;
    }
    inspectSend('watch', { type: 'watch', tap: TAPS[target] });
    setWatchStatus('waiting', `Asking to watch this page’s /${target}…`);
  }

  function requestList() {
    if (inspectState.listAllowed === false) return;
    inspectSend('list', { type: 'list' });
  }

  openListeners.push((key) => {
    if (key === inspectState.target) watch();
  });

  function setWatchStatus(state, text) {
    $('inspect-watch').dataset.state = state;
    $('inspect-watch-text').textContent = text;
  }

  function onInspectEvent(data) {
    if (typeof data !== 'string') return;
    let msg;
    try {
      msg = JSON.parse(data);
    } catch (_) {
      return;
    }
    if (!msg || typeof msg !== 'object') return;
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
    httpHead($('hs-response'), hs.response, /^sec-websocket-accept:/i);
    $('hs-key').textContent = key;
    $('hs-concat').replaceChildren(...(concatenated.endsWith(GUID)
      ? [el('span', { class: 'hs-part-key' }, concatenated.slice(0, -GUID.length)), el('span', { class: 'hs-part-guid', title: 'the GUID from §1.3' }, GUID)]
      : [concatenated]));
    $('hs-sha1').textContent = String(hs.sha1_hex ?? '');
    $('hs-accept').textContent = String(hs.accept ?? '');
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

  // ── bytes ──

  const HEX_BYTE = /^[0-9a-f]{2}$/i;

  /** "81 85 37 fa" → [0x81, 0x85, 0x37, 0xfa]; anything else is skipped. */
  function parseHex(text) {
    return typeof text === 'string' ? text.split(/\s+/).filter((b) => HEX_BYTE.test(b)).map((b) => parseInt(b, 16)) : [];
  }

  function toHex(bytes, sep = ' ') {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(sep);
  }

  /** Printable ASCII as itself, every other byte as a middle dot: what bytes look like as text. */
  function asAscii(bytes) {
    return Array.from(bytes, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '·')).join('');
  }

  const bitsOf = (byte, from, to) => { // bit positions, high to low
    const out = [];
    for (let i = from; i >= to; i -= 1) out.push((byte >> i) & 1);
    return out;
  };

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

  /** "§5.1 a client MUST mask …" with its section as a chip. */
  function rule(text) {
    const match = /^(§[\d.]+)[\s:]*(.*)$/s.exec(String(text));
    return match ? [el('span', { class: 'sec' }, match[1]), ' ', match[2]] : [String(text)];
  }

  function frameItem(f) {
    const dir = f.dir === 'out' ? 'out' : 'in';
    const opcode = Number(f.opcode) & 0xf;
    const control = f.control === true || opcode >= 0x8;
    const header = parseHex(f.header_hex);
    // The header's own bits are drawn; if the bytes and the fields disagree, say so.
    const b0 = header.length >= 1 ? header[0] : (f.fin ? 0x80 : 0) | (Array.isArray(f.rsv) ? f.rsv : []).reduce((acc, r, i) => acc | (r ? 0x40 >> i : 0), 0) | opcode;
    const b1 = header.length >= 2 ? header[1] : (f.mask ? 0x80 : 0) | (Number(f.len7) & 0x7f);
    const problems = (Array.isArray(f.problems) ? f.problems : []).map(String);
    const disagreements = selfCheck(f, b0, b1, dir);
    const classes = ['frame', 'frame-' + dir];
    if (control) classes.push('frame-control');
    if (f.between_fragments) classes.push('frame-interleaved');
    if (problems.length || disagreements.length) classes.push('frame-bad');
    return el('li', {
      class: classes.join(' '), 'data-testid': 'inspect-frame',
      dataset: { dir, conn: f.conn ?? '', opcode, fin: f.fin ? 1 : 0, mask: f.mask ? 1 : 0, len7: f.len7 ?? '', message: f.message ?? '', fragment: f.fragment ?? '' },
    },
    frameSummary(f, dir, opcode, control, problems.length + disagreements.length),
    el('div', { class: 'frame-body' },
      el('div', { class: 'frame-anatomy' },
        headerBytes(header, f),
        el('div', { class: 'bytes' },
          byteBox('byte 0', b0, [
            field('FIN', bitsOf(b0, 7, 7), f.fin ? '1' : '0', 'frame-fin', 'fin', 'final fragment of a message'),
            field('RSV1–3', bitsOf(b0, 6, 4), bitsOf(b0, 6, 4).join(''), 'frame-rsv', 'rsv', 'reserved for extensions: 0 unless one was negotiated (§5.2)'),
            field(`opcode 0x${opcode.toString(16)}`, bitsOf(b0, 3, 0), String(f.opcode_name ?? '?'), 'frame-opcode', 'opcode', 'what the payload is (§5.2, §11.8)'),
          ]),
          byteBox('byte 1', b1, [
            field('MASK', bitsOf(b1, 7, 7), f.mask ? '1' : '0', 'frame-mask', 'mask', 'a masking key follows; clients MUST mask (§5.1)'),
            field('payload len', bitsOf(b1, 6, 0), len7Text(f.len7), 'frame-len7', 'len',
              '0–125: the length itself; 126: a 16-bit length follows; 127: a 64-bit length follows'),
          ])),
        frameFacts(f, header)),
      problemList(problems, disagreements),
      payloadView(f, dir, opcode)));
  }

  function frameSummary(f, dir, opcode, control, problemCount) {
    const text = typeof f.payload_text === 'string' ? f.payload_text : null;
    let preview = text !== null ? text : `${f.payload_len ?? 0} bytes of binary`;
    if (opcode === 0x8) preview = closePayloadText(parseHex(f.payload_hex));
    if (preview.length > 90) preview = preview.slice(0, 90) + '…';
    const len = Number(f.payload_len) || 0;
    return el('div', { class: 'frame-summary' },
      el('span', { class: 'frame-dir', 'data-testid': 'frame-dir', title: dir === 'in' ? 'client → server: received by the server' : 'server → client: sent by the server' },
        dir === 'in' ? '⇢ client → server' : '⇠ server → client'),
      el('span', { class: 'op op-' + String(f.opcode_name ?? 'reserved').toLowerCase().replace(/[^a-z]+/g, '-') }, String(f.opcode_name ?? '?')),
      el('span', { class: 'frame-where', 'data-testid': 'frame-where' }, whereText(f, control)),
      control && f.between_fragments ? el('span', { class: 'tag tag-interleaved', 'data-testid': 'frame-interleaved', title: '§5.4: control frames MAY be injected in the middle of a fragmented message' },
        `between fragments of message ${f.message}`) : null,
      problemCount ? el('span', { class: 'tag tag-bad' }, `${problemCount} problem${problemCount === 1 ? '' : 's'}`) : null,
      el('span', { class: 'frame-preview' }, preview),
      el('span', { class: 'frame-meta' }, `${len} B`, f.truncated ? ' (cut)' : '', el('span', { class: 'frame-offset', title: 'offset of the header in this direction’s byte stream' }, ` @${f.offset ?? '?'}`)));
  }

  function whereText(f, control) {
    if (control) return 'control frame';
    const m = f.message ?? '?';
    const k = Number(f.fragment);
    if (k === 1 && f.fin) return `message ${m} · one frame`;
    if (k === 1) return `message ${m} · fragment 1 (first)`;
    return `message ${m} · fragment ${k}${f.fin ? ' (last)' : ''}`;
  }

  function len7Text(len7) {
    const n = Number(len7);
    if (n === 126) return '126 → 16-bit length';
    if (n === 127) return '127 → 64-bit length';
    return String(n);
  }

  function field(name, bits, value, testid, kind, title) {
    return el('span', { class: 'field field-' + kind, title },
      el('span', { class: 'bit-cells' }, ...bits.map((b) => el('span', { class: 'bit' + (b ? ' on' : '') }, String(b)))),
      el('span', { class: 'field-name' }, name),
      el('span', { class: 'field-value', 'data-testid': testid }, String(value)));
  }

  function byteBox(label, byte, fields) {
    return el('div', { class: 'byte' },
      el('div', { class: 'byte-label' }, label, ' ', el('code', {}, '0x' + byte.toString(16).padStart(2, '0'))),
      el('div', { class: 'fields' }, ...fields));
  }

  /** The header as sent, each byte coloured by the field it belongs to. */
  function headerBytes(header, f) {
    const extBytes = f.extended_len ? (Number(f.extended_len.bits) === 64 ? 8 : 2) : 0;
    const role = (i) => (i === 0 ? 'b0' : i === 1 ? 'b1' : i < 2 + extBytes ? 'ext' : 'key');
    const titles = { b0: 'byte 0: FIN, RSV1–3, opcode', b1: 'byte 1: MASK, payload len', ext: 'extended payload length', key: 'masking key' };
    return el('div', { class: 'header-bytes' },
      el('span', { class: 'facts-label' }, `header · ${header.length} byte${header.length === 1 ? '' : 's'}`),
      el('span', { class: 'header-hex', 'data-testid': 'frame-header-hex' },
        ...header.map((b, i) => el('span', { class: 'hb hb-' + role(i), title: titles[role(i)] }, toHex([b])))));
  }

  function frameFacts(f, header) {
    const facts = [];
    const len = Number(f.payload_len) || 0;
    if (f.extended_len && typeof f.extended_len === 'object') {
      const bits = Number(f.extended_len.bits);
      const bytes = header.slice(2, 2 + bits / 8);
      facts.push(fact(`extended length · ${bits} bits`,
        el('span', { 'data-testid': 'frame-extended-len', dataset: { bits, value: f.extended_len.value } },
          el('code', {}, toHex(bytes)), ` = ${f.extended_len.value}`), 'ext'));
    }
    if (f.mask) {
      const at = 2 + (f.extended_len ? Number(f.extended_len.bits) / 8 : 0);
      facts.push(fact('masking key', el('code', { 'data-testid': 'frame-masking-key', title: `header bytes ${at}–${at + 3}` }, String(f.masking_key_hex ?? '')), 'key'));
    } else {
      facts.push(fact('masking key', el('span', { class: 'muted', 'data-testid': 'frame-masking-key' }, 'none'), 'key'));
    }
    facts.push(fact('payload', el('span', { 'data-testid': 'frame-payload-len' }, `${len} byte${len === 1 ? '' : 's'}`), 'len'));
    return el('dl', { class: 'frame-facts' }, ...facts);
  }

  function fact(label, value, kind) {
    return el('div', { class: 'fact fact-' + kind }, el('dt', {}, label), el('dd', {}, value));
  }

  function problemList(problems, disagreements) {
    if (!problems.length && !disagreements.length) return null;
    return el('ul', { class: 'problems', 'data-testid': 'frame-problems' },
      ...problems.map((p) => el('li', { class: 'problem', 'data-testid': 'frame-problem' }, ...rule(p))),
      ...disagreements.map((d) => el('li', { class: 'problem problem-page' }, 'the page disagrees with the server: ', d)));
  }

  /** What the page can check itself: the fields against the header bytes, the unmasking. */
  function selfCheck(f, b0, b1, dir) {
    const out = [];
    if (!f.header_hex) return out;
    if (Boolean(b0 & 0x80) !== Boolean(f.fin)) out.push('FIN bit vs fin');
    if ((b0 & 0x0f) !== Number(f.opcode)) out.push('opcode bits vs opcode');
    if (Boolean(b1 & 0x80) !== Boolean(f.mask)) out.push('MASK bit vs mask');
    if ((b1 & 0x7f) !== Number(f.len7)) out.push('length bits vs len7');
    const wire = parseHex(f.wire_payload_hex);
    const payload = parseHex(f.payload_hex);
    const key = parseHex(f.masking_key_hex);
    if (f.mask && key.length === 4 && wire.some((b, i) => (b ^ key[i % 4]) !== payload[i])) out.push('wire ⊕ key is not the payload');
    if (!f.mask && toHex(wire) !== toHex(payload)) out.push('unmasked, yet the wire bytes differ from the payload');
    // §5.1 depends on the direction: say so when the server's list leaves it out.
    const listsMasking = (Array.isArray(f.problems) ? f.problems : []).some((p) => /§5\.1/.test(String(p)));
    if (dir === 'in' && !f.mask && !listsMasking) out.push('a client frame with MASK=0 breaks §5.1 (a client MUST mask), yet no problem is listed');
    if (dir === 'out' && f.mask && !listsMasking) out.push('a server frame with MASK=1 breaks §5.1 (a server MUST NOT mask), yet no problem is listed');
    return out;
  }

  /** A close payload: a 2-byte code, then a UTF-8 reason (§5.5.1). */
  function closePayloadText(bytes) {
    if (bytes.length < 2) return 'no status code';
    const code = (bytes[0] << 8) | bytes[1];
    let reason = '';
    try {
      reason = new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(bytes.slice(2)));
    } catch (_) {
      reason = asAscii(bytes.slice(2));
    }
    return `code ${describeClose(code, reason ? `“${reason}”` : '')}`;
  }

  function payloadView(f, dir, opcode) {
    const len = Number(f.payload_len) || 0;
    if (len === 0) return el('p', { class: 'payload-empty' }, 'no payload');
    const wire = parseHex(f.wire_payload_hex);
    const payload = parseHex(f.payload_hex);
    let text;
    let textClass = 'payload-text';
    if (opcode === 0x8) text = closePayloadText(payload);
    else if (typeof f.payload_text === 'string') text = f.payload_text;
    else {
      text = asAscii(payload);
      textClass += ' binary';
    }
    const cut = f.truncated ? el('p', { class: 'payload-cut' }, `The first ${payload.length} of ${len} bytes are shown.`) : null;
    if (!f.mask) {
      return el('div', { class: 'payload payload-plain' },
        payloadColumn(dir === 'out' ? 'payload · not masked: a server never masks (§5.1)' : 'payload · NOT masked', payload, text, textClass, 'frame-payload'),
        cut);
    }
    return el('div', { class: 'payload payload-masked' },
      payloadColumn('masked, as on the wire', wire, asAscii(wire), 'payload-text binary', 'frame-wire'),
      el('div', { class: 'xor', title: 'payload[i] = wire[i] XOR masking-key[i mod 4] (§5.3)' },
        el('span', { class: 'xor-sign', 'aria-hidden': 'true' }, '⊕'), el('span', { class: 'xor-key' }, String(f.masking_key_hex ?? '')), el('span', { 'aria-hidden': 'true' }, '→')),
      payloadColumn('unmasked payload', payload, text, textClass, 'frame-payload'),
      cut);
  }

  function payloadColumn(label, bytes, text, textClass, testid) {
    return el('div', { class: 'payload-col' },
      el('div', { class: 'payload-label' }, label),
      el('pre', { class: 'payload-hex', 'data-testid': testid + '-hex' }, toHex(bytes)),
      el('pre', { class: textClass, 'data-testid': testid + '-text' }, text));
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

  // ───────────────────────────── start ─────────────────────────────

  viewListeners.push((view) => {
    if (view === 'notifications') {
      unseenNotifications = 0;
      setBadge('badge-notifications', 0);
    }
    if (view === 'chat') {
      const ch = chatState.channels.get(chatState.selected);
      if (ch) ch.unread = 0;
      renderChannels();
    }
    if (view === 'inspect') startInspector(); // its socket opens the first time the view is shown
    updateChatBadge();
  });

  window.addEventListener('online', () => [chat, echo, notifications, inspector].forEach((c) => c.retryNow()));

  showView(location.hash.slice(1) || 'chat');
  echo.start();
  notifications.start();

  window.wsmith = { chat, echo, notifications, inspector, chatState, inspectState, TAPS };
})();
