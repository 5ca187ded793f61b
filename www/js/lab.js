// The Lab tab: build frames bit by bit, send their bytes to a fresh server-side protocol core,
// and see what it did with them (/lab, src/app/lab.rs and src/explain/lab.rs).
//
// The builder encodes exactly like the server's `BuiltFrame::encode` (explain/lab/builder.rs):
// FIN, RSV1–3, any of the 16 opcodes, MASK with a random or typed key, the payload length in
// the shortest, 7-, 16- or 64-bit form, or a lie about it, and the payload as text or hex. Each
// frame is drawn live by the Inspector's own renderer (frames.js). The presets come from the
// server (`{"type":"presets"}`), so the page, the unit tests and the CLI share one list.
//
// /lab answers `report` (steps and a verdict), `presets` and `error`; see README, "Learn by
// breaking it".

import { parseHex, toHex } from './bytes.js';
import { Connection, jsonObject, wsBase } from './connection.js';
import { $, el } from './dom.js';
import { frameItem, rule } from './frames.js';

const OPCODES = [
  'Continuation', 'Text', 'Binary', 'reserved (data)', 'reserved (data)', 'reserved (data)', 'reserved (data)',
  'reserved (data)', 'Close', 'Ping', 'Pong', 'reserved (control)', 'reserved (control)', 'reserved (control)',
  'reserved (control)', 'reserved (control)',
];
const SHOWN_PAYLOAD = 1024; // as the server's explainer (explain/frames.rs)
const SHOWN_HEX = 256; // bytes of the whole input written out under the builder
const HEX_DIGITS = /^(?:0x)?[0-9a-f]*$/i;

const randomKey = () => toHex(crypto.getRandomValues(new Uint8Array(4)));

/** A builder frame: what one card of the builder holds. */
function newFrame(opcode = 1, over = {}) {
  return {
    fin: true, rsv: [false, false, false], opcode, mask: true, keyMode: 'random', key: randomKey(),
    lengthForm: 'auto', lie: false, declared: '0', payloadMode: 'text', payload: opcode === 8 ? '' : opcode === 1 ? 'Hello' : '',
    ...over,
  };
}

/** Hex with or without separators → bytes, or null if it is not whole bytes of hex. */
function strictHex(text) {
  const groups = String(text).split(/[\s:,-]+/).filter(Boolean);
  const out = [];
  for (const group of groups) {
    if (!HEX_DIGITS.test(group)) return null;
    const digits = group.replace(/^0x/i, '');
    if (digits.length % 2) return null;
    for (let i = 0; i < digits.length; i += 2) out.push(parseInt(digits.slice(i, i + 2), 16));
  }
  return out;
}

/** The frame's bytes, as explain/lab/builder.rs `BuiltFrame::encode` writes them. */
export function encode(fr) {
  const problems = [];
  let payload = fr.payloadMode === 'hex' ? strictHex(fr.payload) : Array.from(new TextEncoder().encode(fr.payload));
  if (payload === null) {
    problems.push('the payload is not hex (two digits a byte)');
    payload = [];
  }
  let key = null;
  if (fr.mask) {
    key = strictHex(fr.key);
    if (!key || key.length !== 4) {
      problems.push('a masking key is 4 bytes of hex');
      key = [0, 0, 0, 0];
    }
  }
  let len = BigInt(payload.length);
  if (fr.lie) {
    try {
      len = BigInt(String(fr.declared).trim() || '0');
      if (len < 0n || len >= 1n << 64n) throw new RangeError();
    } catch (_) {
      problems.push('the announced length is a number from 0 to 2^64 − 1');
      len = BigInt(payload.length);
    }
  }
  let form = fr.lengthForm;
  if (form === '7' && len > 125n) form = 'auto';
  if (form === '16' && len > 0xffffn) form = 'auto';
  if (form === 'auto') form = len <= 125n ? '7' : len <= 0xffffn ? '16' : '64';
  const bytes = [(fr.fin ? 0x80 : 0) | (fr.rsv[0] ? 0x40 : 0) | (fr.rsv[1] ? 0x20 : 0) | (fr.rsv[2] ? 0x10 : 0) | (fr.opcode & 0x0f)];
  const maskBit = key ? 0x80 : 0;
  if (form === '16') {
    bytes.push(maskBit | 126, Number(len >> 8n), Number(len & 0xffn));
  } else if (form === '64') {
    bytes.push(maskBit | 127);
    for (let shift = 56n; shift >= 0n; shift -= 8n) bytes.push(Number((len >> shift) & 0xffn));
  } else {
    bytes.push(maskBit | Number(len));
  }
  const headerLength = bytes.length + (key ? 4 : 0);
  if (key) bytes.push(...key);
  const wire = key ? payload.map((b, i) => b ^ key[i % 4]) : payload;
  for (const b of wire) bytes.push(b);
  return { bytes, headerLength, payload, wire, key, len, problems };
}

/** What the Inspector's renderer needs to draw a frame the server has not judged yet. */
function anatomy(fr, built, place) {
  const header = built.bytes.slice(0, built.headerLength);
  const len7 = header[1] & 0x7f;
  const shown = built.payload.slice(0, SHOWN_PAYLOAD);
  let text = null;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(shown));
  } catch (_) { /* not UTF-8: shown as bytes */ }
  return {
    offset: place.offset, header_hex: toHex(header), fin: fr.fin, rsv: fr.rsv, opcode: fr.opcode,
    opcode_name: OPCODES[fr.opcode], mask: Boolean(built.key), len7,
    extended_len: len7 === 126 ? { bits: 16, value: String(built.len) } : len7 === 127 ? { bits: 64, value: String(built.len) } : null,
    payload_len: Number(built.len), masking_key_hex: built.key ? toHex(built.key) : null,
    wire_payload_hex: toHex(built.wire.slice(0, SHOWN_PAYLOAD)), payload_hex: toHex(shown), payload_text: text,
    truncated: shown.length < Number(built.len), message: place.message, fragment: place.fragment,
    control: fr.opcode >= 8, between_fragments: place.between, problems: built.problems.map((p) => `builder: ${p}`),
  };
}

/** Sets up the Lab tab; its socket opens the first time the tab is shown. */
export function mount() {
  const labState = {
    frames: [newFrame(1)],
    presets: [],
    serverLimits: null,
    expected: null, // the RFC's answer of the preset last loaded, until the builder changes
    lastReport: null,
    started: false,
    waiting: false,
  };

  const lab = new Connection('lab', {
    url: () => wsBase + '/lab',
    onOpen() {
      lab.send({ type: 'presets' });
      updateSend();
    },
    onMessage,
    onClose() {
      labState.waiting = false;
      updateSend();
    },
  });

  function start() {
    if (labState.started) return;
    labState.started = true;
    $('status-lab').hidden = false;
    lab.start();
  }

  function onMessage(data) {
    const msg = jsonObject(data);
    if (!msg) return;
    if (msg.type === 'presets') return showPresets(msg);
    if (msg.type === 'report') return showReport(msg);
    if (msg.type === 'error') return showError(msg);
    return undefined;
  }

  // ── the builder ──

  const framesList = $('lab-frames');

  /** Where each frame falls, as the server's explainer counts: message, fragment, between fragments. */
  function places() {
    let offset = 0;
    let messages = 0;
    let fragments = null;
    return labState.frames.map((fr) => {
      const built = encode(fr);
      const place = { offset, built, message: messages, fragment: 0, between: false };
      if (fr.opcode >= 8) {
        place.between = fragments !== null;
      } else if (fr.opcode === 0 && fragments !== null) {
        fragments += 1;
        place.fragment = fragments;
      } else if (fr.opcode !== 0) {
        messages += 1;
        fragments = 1;
        Object.assign(place, { message: messages, fragment: 1 });
      }
      if (fr.opcode < 8 && fr.fin) fragments = null;
      offset += built.bytes.length;
      return place;
    });
  }

  function builtBytes() {
    return labState.frames.flatMap((fr) => encode(fr).bytes);
  }

  function render() {
    const list = places();
    framesList.replaceChildren(...labState.frames.map((fr, i) => frameCard(fr, i, list[i])));
    renderWire();
  }

  /** Only the live parts: the preview of frame `i` and the bytes, so that typing keeps focus. */
  function refresh(i) {
    const list = places();
    list.forEach((place, j) => {
      const card = framesList.children[j];
      if (!card || (j !== i && j < i)) return;
      const preview = card.querySelector('.lab-preview');
      preview.replaceChildren(frameItem(Object.assign(anatomy(labState.frames[j], place.built, place), { dir: 'in' }), { check: false, testid: 'lab-frame-view' }));
      card.querySelector('[data-testid="lab-frame-hex"]').textContent = hexPreview(place.built.bytes);
    });
    renderWire();
  }

  function hexPreview(bytes) {
    return toHex(bytes.slice(0, SHOWN_HEX)) + (bytes.length > SHOWN_HEX ? ` … (${bytes.length - SHOWN_HEX} more)` : '');
  }

  function renderWire() {
    const bytes = builtBytes();
    $('lab-len').textContent = `${bytes.length} byte${bytes.length === 1 ? '' : 's'}`;
    $('lab-hex').textContent = hexPreview(bytes);
  }

  function frameCard(fr, i, place) {
    const change = (mutate, full = false) => (event) => {
      mutate(event.target);
      labState.expected = null;
      if (full) render();
      else refresh(i);
    };
    const check = (label, testid, value, mutate, title) => el('label', { class: 'lab-check', title },
      Object.assign(el('input', { type: 'checkbox', 'data-testid': testid }), { checked: value, onchange: change(mutate, true) }), ' ', label);
    const opcode = el('select', { 'data-testid': 'lab-opcode', 'aria-label': 'opcode' },
      ...OPCODES.map((name, n) => el('option', { value: n, selected: n === fr.opcode }, `0x${n.toString(16)} ${name}`)));
    opcode.onchange = change((t) => { fr.opcode = Number(t.value); }, true);
    const key = Object.assign(el('input', { class: 'lab-key', 'data-testid': 'lab-key', 'aria-label': 'masking key (4 bytes hex)', spellcheck: 'false' }),
      { value: fr.key, disabled: !fr.mask || fr.keyMode === 'random', oninput: change((t) => { fr.key = t.value; }) });
    const keyMode = el('select', { 'data-testid': 'lab-key-mode', 'aria-label': 'masking key', disabled: !fr.mask },
      el('option', { value: 'random', selected: fr.keyMode === 'random' }, 'random key'),
      el('option', { value: 'typed', selected: fr.keyMode === 'typed' }, 'typed key'));
    keyMode.onchange = change((t) => { fr.keyMode = t.value; }, true);
    const reroll = Object.assign(el('button', { type: 'button', 'data-testid': 'lab-new-key', title: 'a fresh random key (§5.3: from a strong source of entropy)', disabled: !fr.mask || fr.keyMode !== 'random' }, 'new key'),
      { onclick: change(() => { fr.key = randomKey(); }, true) });
    const form = el('select', { 'data-testid': 'lab-length-form', 'aria-label': 'payload length form' },
      ...[['auto', 'shortest length form'], ['7', '7-bit length'], ['16', '16-bit length (126)'], ['64', '64-bit length (127)']]
        .map(([value, label]) => el('option', { value, selected: fr.lengthForm === value }, label)));
    form.onchange = change((t) => { fr.lengthForm = t.value; });
    const declared = Object.assign(el('input', { class: 'lab-declared', 'data-testid': 'lab-declared', inputmode: 'numeric', 'aria-label': 'announced length', disabled: !fr.lie }),
      { value: fr.declared, oninput: change((t) => { fr.declared = t.value; }) });
    const payloadMode = el('select', { 'data-testid': 'lab-payload-mode', 'aria-label': 'payload as' },
      el('option', { value: 'text', selected: fr.payloadMode === 'text' }, 'payload as text (UTF-8)'),
      el('option', { value: 'hex', selected: fr.payloadMode === 'hex' }, 'payload as hex'));
    payloadMode.onchange = change((t) => {
      // Keep the bytes: convert what is there to the other form.
      const bytes = encode(fr).payload;
      fr.payloadMode = t.value;
      fr.payload = t.value === 'hex' ? toHex(bytes) : new TextDecoder().decode(new Uint8Array(bytes));
    }, true);
    const payload = Object.assign(el('textarea', { class: 'lab-payload', 'data-testid': 'lab-payload', rows: 2, spellcheck: 'false', 'aria-label': 'payload' }),
      { value: fr.payload, oninput: change((t) => { fr.payload = t.value; }) });
    const move = (delta, label, testid) => Object.assign(el('button', { type: 'button', 'data-testid': testid, title: label, disabled: !labState.frames[i + delta] }, delta < 0 ? '↑' : '↓'),
      { onclick: change(() => { const [f] = labState.frames.splice(i, 1); labState.frames.splice(i + delta, 0, f); }, true) });
    const remove = Object.assign(el('button', { type: 'button', 'data-testid': 'lab-remove', title: 'remove this frame' }, '✕'),
      { onclick: change(() => { labState.frames.splice(i, 1); }, true) });
    return el('li', { class: 'lab-frame', 'data-testid': 'lab-frame' },
      el('div', { class: 'lab-frame-head' }, el('strong', {}, `Frame ${i + 1}`), opcode, move(-1, 'move up', 'lab-up'), move(1, 'move down', 'lab-down'), remove),
      el('div', { class: 'lab-fields' },
        check('FIN', 'lab-fin', fr.fin, (t) => { fr.fin = t.checked; }, 'final fragment of a message (§5.2)'),
        ...[0, 1, 2].map((n) => check(`RSV${n + 1}`, `lab-rsv${n + 1}`, fr.rsv[n], (t) => { fr.rsv[n] = t.checked; }, 'reserved for extensions (§5.2)')),
        check('MASK', 'lab-mask', fr.mask, (t) => { fr.mask = t.checked; }, 'a client MUST mask every frame (§5.1)'),
        keyMode, key, reroll),
      el('div', { class: 'lab-fields' },
        form,
        check('lie about the length:', 'lab-lie', fr.lie, (t) => {
          fr.lie = t.checked;
          if (fr.lie) fr.declared = String(encode({ ...fr, lie: false }).len);
        }, 'announce a length other than the payload’s'),
        declared),
      el('div', { class: 'lab-fields lab-payload-row' }, payloadMode, payload),
      el('code', { class: 'lab-frame-hex', 'data-testid': 'lab-frame-hex' }, hexPreview(place.built.bytes)),
      el('ol', { class: 'frames lab-preview' }, frameItem(Object.assign(anatomy(fr, place.built, place), { dir: 'in' }), { check: false, testid: 'lab-frame-view' })));
  }

  for (const button of document.querySelectorAll('#panel-lab [data-add]')) {
    button.addEventListener('click', () => {
      const opcode = Number(button.dataset.add);
      const payload = { 0: 'lo', 2: '00 01 02', 8: '03 e8 62 79 65', 9: 'ping', 10: 'pong' }[opcode];
      const over = payload === undefined ? {} : { payload, payloadMode: opcode === 2 || opcode === 8 ? 'hex' : 'text' };
      labState.frames.push(newFrame(opcode, over));
      labState.expected = null;
      render();
    });
  }
  $('lab-clear').addEventListener('click', () => {
    labState.frames = [];
    labState.expected = null;
    render();
  });

  // ── sending ──

  function reads() {
    const text = $('lab-reads').value.trim();
    return text ? text.split(/[\s,]+/).filter(Boolean).map(Number) : [];
  }

  function limits() {
    const out = {};
    for (const [id, name] of [['lab-max-frame', 'max_frame_size'], ['lab-max-message', 'max_message_size'], ['lab-max-fragments', 'max_fragments']]) {
      const value = $(id).value.trim();
      if (value !== '') out[name] = Number(value);
    }
    return out;
  }

  function updateSend() {
    const button = $('lab-send');
    button.disabled = !lab.isOpen || labState.waiting;
    $('lab-send-note').textContent = lab.isOpen ? '' : 'The /lab socket is not open yet.';
  }

  function send() {
    const bytes = builtBytes();
    if (!bytes.length) {
      $('lab-send-note').textContent = 'Add a frame first.';
      return;
    }
    const chunks = reads();
    if (chunks.some((n) => !Number.isInteger(n) || n < 1)) {
      $('lab-send-note').textContent = 'Bytes per read: whole numbers of 1 or more, e.g. 1,3.';
      return;
    }
    if (lab.send({ type: 'feed', hex: toHex(bytes, ''), chunks, limits: limits(), deflate: $('lab-deflate').checked })) {
      labState.waiting = true;
      updateSend();
      $('lab-verdict').dataset.kind = 'waiting';
      $('lab-verdict').textContent = 'Sent; waiting for the core’s report…';
    }
  }
  $('lab-send').addEventListener('click', send);

  // ── presets ──

  function showPresets(msg) {
    labState.presets = Array.isArray(msg.presets) ? msg.presets : [];
    labState.serverLimits = msg.limits || null;
    $('lab-presets').replaceChildren(...labState.presets.map((p) => {
      const fails = p.answer && p.answer.fail;
      return Object.assign(el('button', { type: 'button', class: 'lab-preset' + (fails ? ' lab-preset-fail' : ' lab-preset-ok'), 'data-testid': 'lab-preset', dataset: { id: p.id }, title: String(p.lesson ?? '') },
        String(p.title ?? p.id), el('span', { class: 'lab-preset-answer' }, fails ? `${fails.code}` : 'OK')), { onclick: () => loadPreset(p, { send: true }) });
    }));
  }

  function presetFrame(f) {
    const payload = f.payload && typeof f.payload === 'object' ? f.payload : {};
    const isText = typeof payload.text === 'string';
    return newFrame(Number(f.opcode) & 0x0f, {
      fin: Boolean(f.fin), rsv: Array.isArray(f.rsv) ? f.rsv.map(Boolean) : [false, false, false],
      mask: typeof f.masking_key_hex === 'string', keyMode: 'typed', key: typeof f.masking_key_hex === 'string' ? f.masking_key_hex : randomKey(),
      lengthForm: ['auto', '7', '16', '64'].includes(f.length_form) ? f.length_form : 'auto',
      lie: f.declared_len !== null && f.declared_len !== undefined, declared: f.declared_len === null || f.declared_len === undefined ? '0' : BigInt(f.declared_len).toString(),
      payloadMode: isText ? 'text' : 'hex', payload: isText ? payload.text : String(payload.hex ?? ''),
    });
  }

  function loadPreset(p, { send: andSend = false } = {}) {
    labState.frames = (Array.isArray(p.frames) ? p.frames : []).map(presetFrame);
    $('lab-reads').value = Array.isArray(p.reads) ? p.reads.join(',') : '';
    const server = labState.serverLimits || {};
    const lowered = (name) => (p.limits && server[name] !== undefined && p.limits[name] < server[name] ? String(p.limits[name]) : '');
    $('lab-max-frame').value = lowered('max_frame_size');
    $('lab-max-message').value = lowered('max_message_size');
    $('lab-max-fragments').value = lowered('max_fragments');
    $('lab-deflate').checked = p.deflate === true;
    if (lowered('max_frame_size') || $('lab-reads').value || p.deflate) $('panel-lab').querySelector('.lab-options').open = true;
    render();
    labState.expected = { id: p.id, title: p.title, answer: p.answer };
    const lesson = $('lab-lesson');
    lesson.hidden = false;
    lesson.replaceChildren(el('strong', {}, String(p.title ?? p.id)), ' — ', ...rule(String(p.lesson ?? '')));
    if (andSend) send();
  }

  // ── the report ──

  const stepsList = $('lab-steps');

  function showError(msg) {
    labState.waiting = false;
    updateSend();
    const verdict = $('lab-verdict');
    verdict.dataset.kind = 'error';
    verdict.textContent = `The lab refused: ${msg.message ?? msg.error ?? 'error'}`;
  }

  function showReport(report) {
    labState.waiting = false;
    labState.lastReport = report;
    updateSend();
    const v = report.verdict || {};
    const verdict = $('lab-verdict');
    verdict.dataset.kind = String(v.kind ?? 'none');
    verdict.replaceChildren(
      el('span', { class: 'lab-verdict-icon', 'aria-hidden': 'true' }, v.kind === 'failed' ? '✗' : v.kind === 'closed' ? '■' : '✓'),
      el('span', { 'data-testid': 'lab-headline' }, String(v.headline ?? '')));
    if (v.kind === 'failed') verdict.append(el('span', { class: 'lab-verdict-at' }, ` · at byte ${v.offset}`));
    showRfc(report);
    const steps = Array.isArray(report.steps) ? report.steps : [];
    stepsList.replaceChildren(...steps.map(stepItem));
    if (report.omitted_steps) stepsList.append(el('li', { class: 'inspect-note' }, `… ${report.omitted_steps} more steps not shown`));
  }

  /** Whether the core gave the answer the RFC gives, for a preset just loaded. */
  function showRfc(report) {
    const box = $('lab-rfc');
    const expected = labState.expected;
    if (!expected || !expected.answer) {
      box.hidden = true;
      return;
    }
    const v = report.verdict || {};
    const fail = expected.answer.fail;
    const agrees = fail ? v.kind === 'failed' && v.code === fail.code && v.section === fail.section : v.kind !== 'failed';
    box.hidden = false;
    box.dataset.agrees = String(agrees);
    box.textContent = (fail ? `RFC 6455: fail the connection, ${fail.code} (${fail.section}). ` : 'RFC 6455: accept it. ')
      + (agrees ? '✓ the core agrees' : '✗ the core disagrees');
  }

  function stepItem(step) {
    const item = (kind, ...children) => el('li', { class: 'lab-step lab-step-' + kind, 'data-testid': 'lab-step', dataset: { step: kind } }, ...children);
    const label = (text) => el('span', { class: 'lab-step-label' }, text);
    switch (step.step) {
      case 'read':
        return item('read', label(`read ${step.number}`), ` ${step.len} byte${step.len === 1 ? '' : 's'} at byte ${step.offset}: `,
          el('code', {}, String(step.hex ?? '') + (step.truncated ? ' …' : '')));
      case 'frame':
        return frameItem(Object.assign({}, step.frame, { dir: 'in' }), { testid: 'lab-frame-view' });
      case 'message': {
        const shown = typeof step.text === 'string' ? `“${step.text}”` : String(step.hex ?? '');
        return item('message', label('message'), ` ${step.kind} message of ${step.len} bytes: `,
          el('span', { class: 'lab-message', 'data-testid': 'lab-message' }, shown + (step.truncated ? ' …' : '')));
      }
      case 'ping':
        return item('ping', label('ping'), ` ${parseHex(step.hex).length} bytes: the core queues a Pong with the same payload `, el('span', { class: 'sec' }, '§5.5.2'));
      case 'pong':
        return item('pong', label('pong'), ` ${parseHex(step.hex).length} bytes: nothing to answer `, el('span', { class: 'sec' }, '§5.5.3'));
      case 'close':
        return item('close', label('close'), ` the client closes with ${step.code ?? 'no code'}${step.code_name ? ` (${step.code_name})` : ''}${step.reason ? `, reason “${step.reason}”` : ''}; the core echoes it `,
          el('span', { class: 'sec' }, '§5.5.1'));
      case 'reply':
        return item('reply', el('div', {}, label('reply'), ' the server would write ', el('code', { 'data-testid': 'lab-reply-hex' }, String(step.hex ?? ''))),
          el('ol', { class: 'frames' }, ...(Array.isArray(step.frames) ? step.frames : []).map((f) => frameItem(Object.assign({}, f, { dir: 'out' }), { testid: 'lab-frame-view' }))));
      case 'failed':
        return item('failed',
          el('div', { class: 'lab-failure-head' }, label('failed'), ' ', el('strong', { 'data-testid': 'lab-failure' }, String(step.headline ?? ''))),
          el('dl', { class: 'close-facts' },
            el('div', { class: 'fact' }, el('dt', {}, 'close code'), el('dd', {}, `${step.code} ${step.code_name ?? ''}`)),
            el('div', { class: 'fact' }, el('dt', {}, 'rule'), el('dd', {}, ...rule(String(step.rule ?? '')))),
            el('div', { class: 'fact' }, el('dt', {}, 'at byte'), el('dd', {}, String(step.offset))),
            step.limit ? el('div', { class: 'fact' }, el('dt', {}, 'limit'), el('dd', {}, `${step.limit.value} against a limit of ${step.limit.limit}`)) : null));
      case 'discarded':
        return item('discarded', label('discarded'), ` ${step.len} byte${step.len === 1 ? '' : 's'} after that frame, never processed `, ...rule(String(step.rule ?? '§7.1.7')).slice(0, 1));
      default:
        return item('other', JSON.stringify(step));
    }
  }

  render();
  updateSend();

  return {
    view: 'lab',
    sockets: { lab },
    state: { labState, labBytes: () => toHex(builtBytes()), labLoadPreset: (id) => loadPreset(labState.presets.find((p) => p.id === id)) },
    onViewChange(view) {
      if (view === 'lab') start(); // its socket opens the first time the view is shown
    },
  };
}
