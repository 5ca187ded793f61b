// One WebSocket with a status pill, and reconnect with exponential backoff; shared by every tab.
//
// A Connection owns the pill `#status-KEY` in index.html (`#status-KEY-text` for its text,
// `#toggle-KEY` for its Disconnect/Connect button), so a new socket needs that <li> too.

import { $ } from './dom.js';

// RFC 6455 §7.4.1 names, shown next to the code so a learner sees what it means.
export const CLOSE_CODES = {
  1000: 'normal closure', 1001: 'going away', 1002: 'protocol error', 1003: 'unsupported data',
  1005: 'no status received', 1006: 'abnormal closure', 1007: 'invalid data', 1008: 'policy violation',
  1009: 'message too big', 1010: 'mandatory extension', 1011: 'internal error', 1015: 'TLS handshake',
};

/** "1006 abnormal closure: reason" for the status tooltip and the activity log. */
export function describeClose(code, reason) {
  return `${code}` + (CLOSE_CODES[code] ? ` ${CLOSE_CODES[code]}` : '') + (reason ? `: ${reason}` : '');
}

/**
 * A text message that is a JSON object, parsed; `null` for a binary message, text that is not
 * JSON, or JSON that is not an object (the tabs whose endpoints answer in JSON ignore those).
 */
export function jsonObject(data) {
  if (typeof data !== 'string') return null;
  let msg;
  try {
    msg = JSON.parse(data);
  } catch (_) {
    return null;
  }
  return msg && typeof msg === 'object' ? msg : null;
}

/** `ws://host:port` or `wss://…`: the same server that served this page. */
export const wsBase = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host;

/**
 * A random tap token for one socket of this page, kept for the page's lifetime (so a reconnect
 * carries the same one): `?tap=TOKEN` lets the Inspector pick out our own connections, and
 * makes the server record their handshakes.
 */
export function newTapToken() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

const BACKOFF_START_MS = 500;
const BACKOFF_MAX_MS = 10000;
const STABLE_AFTER_MS = 5000; // an open that lasted this long resets the backoff
const openListeners = []; // (key) => …, after any Connection opens (the Inspector re-watches)

/** Calls `listener(key)` each time any Connection opens. */
export function onAnyOpen(listener) {
  openListeners.push(listener);
}

/**
 * One WebSocket that reconnects by itself: 0.5 s, 1 s, 2 s … up to 10 s, each delay
 * jittered to 50–100 % so that many pages don't all come back in the same millisecond.
 *
 * `tap` is the socket's tap token, if its URL carries one (see newTapToken): the Inspector
 * watches this page's own sockets by it.
 */
export class Connection {
  constructor(key, { url, tap, onOpen, onMessage, onClose }) {
    this.key = key;
    this.url = url; // a function: the URL may change between attempts (chat's resume list)
    this.tap = tap || null;
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
