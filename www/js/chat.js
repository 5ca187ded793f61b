// The Chat tab: the JSON protocol of /chat — presence, channels, history, resume, dedupe.
//
// The server speaks JSON text frames: `welcome`, `presence`, `message`, `history`,
// `subscribed`/`unsubscribed`, `channels`, `error` and `pong`; the page sends `join`,
// `message`, `subscribe`, `unsubscribe` and `ping`. See main.js for what `mount` returns.

import { Connection, describeClose, newTapToken, wsBase } from './connection.js';
import { $, el, followBottom, setBadge, timeEl } from './dom.js';

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

/** Sets up the Chat tab on the page; its socket opens when the user presses Join. */
export function mount(page) {
  const TAP = newTapToken();

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
    tap: TAP,
    url() {
      const params = new URLSearchParams();
      const name = chatState.wantedName || chatState.name;
      if (name) params.set('name', name);
      const resume = resumeList();
      if (resume) params.set('resume', resume);
      // Seqs restart with the server: the epoch lets it tell our old seqs from its new ones.
      if (resume && chatState.epoch !== null) params.set('epoch', String(chatState.epoch));
      params.set('tap', TAP);
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
    // A large room's coalesced count: the number in the header, no line in the activity.
    if (event === 'count') return;
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

    if (!fromHistory && (ch.name !== chatState.selected || !page.isShown('chat'))) {
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
    setBadge('badge-chat', page.isShown('chat') ? 0 : unread);
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

  return {
    view: 'chat',
    sockets: { chat },
    state: { chatState },
    onViewChange(view) {
      if (view === 'chat') {
        const ch = chatState.channels.get(chatState.selected);
        if (ch) ch.unread = 0;
        renderChannels();
      }
      updateChatBadge();
    },
  };
}
