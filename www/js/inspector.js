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

import { asAscii, bitsOf, parseHex, toHex } from './bytes.js';
import { CLOSE_CODES, Connection, describeClose, onAnyOpen, wsBase } from './connection.js';
import { $, el, followBottom, timeEl } from './dom.js';

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

  return {
    view: 'inspect',
    sockets: { inspector },
    state: { inspectState },
    onViewChange(view) {
      if (view === 'inspect') startInspector(); // its socket opens the first time the view is shown
    },
  };
}
