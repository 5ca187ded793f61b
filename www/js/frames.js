// One frame drawn field by field, as the Inspector and the Lab both show it: byte 0 split into
// FIN, RSV1–3 and the opcode, byte 1 into MASK and the 7-bit length, the extended length, the
// masking key, the masked and unmasked payload side by side, and the problems the server's
// explainer found; on a connection that agreed permessage-deflate, RSV1 as "compressed" (RFC 7692
// §6) and the inflated message beside the DEFLATE bytes. The input is the server's frame JSON (explain/frames.rs
// `FrameAnatomy::to_json`), the same for /inspect's `frame` events and /lab's reports.
//
// `frameItem(f, { check, testid })`: `check` (default true) also has the page recompute what it
// can (bits against fields, unmasking) and say where it disagrees with the server; the Lab's live
// preview of a frame not yet judged turns it off. `testid` names the item for the browser tests
// (`inspect-frame` by default; the Lab's are `lab-frame-view`).

import { asAscii, bitsOf, parseHex, toHex } from './bytes.js';
import { describeClose } from './connection.js';
import { el } from './dom.js';

/** "§5.1 a client MUST mask …" with its section as a chip. */
export function rule(text) {
  const match = /^(§[\d.]+)[\s:]*(.*)$/s.exec(String(text));
  return match ? [el('span', { class: 'sec' }, match[1]), ' ', match[2]] : [String(text)];
}

export function frameItem(f, { check = true, testid = 'inspect-frame' } = {}) {
  const dir = f.dir === 'out' ? 'out' : 'in';
  const opcode = Number(f.opcode) & 0xf;
  const control = f.control === true || opcode >= 0x8;
  const header = parseHex(f.header_hex);
  // The header's own bits are drawn; if the bytes and the fields disagree, say so.
  const b0 = header.length >= 1 ? header[0] : (f.fin ? 0x80 : 0) | (Array.isArray(f.rsv) ? f.rsv : []).reduce((acc, r, i) => acc | (r ? 0x40 >> i : 0), 0) | opcode;
  const b1 = header.length >= 2 ? header[1] : (f.mask ? 0x80 : 0) | (Number(f.len7) & 0x7f);
  const problems = (Array.isArray(f.problems) ? f.problems : []).map(String);
  const disagreements = check ? selfCheck(f, b0, b1, dir) : [];
  const deflated = isDeflated(f);
  const classes = ['frame', 'frame-' + dir];
  if (deflated) classes.push('frame-compressed');
  if (control) classes.push('frame-control');
  if (f.between_fragments) classes.push('frame-interleaved');
  if (problems.length || disagreements.length) classes.push('frame-bad');
  return el('li', {
    class: classes.join(' '), 'data-testid': testid,
    dataset: { dir, conn: f.conn ?? '', opcode, fin: f.fin ? 1 : 0, compressed: deflated ? 1 : 0, mask: f.mask ? 1 : 0, len7: f.len7 ?? '', message: f.message ?? '', fragment: f.fragment ?? '' },
  },
  frameSummary(f, dir, opcode, control, problems.length + disagreements.length),
  el('div', { class: 'frame-body' },
    el('div', { class: 'frame-anatomy' },
      headerBytes(header, f),
      el('div', { class: 'bytes' },
        byteBox('byte 0', b0, [
          field('FIN', bitsOf(b0, 7, 7), f.fin ? '1' : '0', 'frame-fin', 'fin', 'final fragment of a message'),
          field('RSV1–3', bitsOf(b0, 6, 4), bitsOf(b0, 6, 4).join(''), 'frame-rsv', 'rsv', f.compressed
            ? `RSV1 = 1: ${COMPRESSED}; RSV2, RSV3 stay 0`
            : 'reserved for extensions: 0 unless one was negotiated (§5.2)'),
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

/** What RSV1 = 1 means once permessage-deflate is agreed. */
const COMPRESSED = 'compressed (permessage-deflate, RFC 7692 §6)';

/**
 * A frame of a compressed message: its first frame has RSV1 = 1 (`compressed`), its final one
 * carries the whole message inflated (or why it could not be).
 */
function isDeflated(f) {
  return f.compressed === true || typeof f.inflated_hex === 'string' || typeof f.inflate_error === 'string';
}

function frameSummary(f, dir, opcode, control, problemCount) {
  const text = typeof f.inflated_text === 'string' ? f.inflated_text : isDeflated(f) ? null
    : typeof f.payload_text === 'string' ? f.payload_text : null;
  let preview = text !== null ? text : isDeflated(f) ? `${f.payload_len ?? 0} bytes of DEFLATE data` : `${f.payload_len ?? 0} bytes of binary`;
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
    isDeflated(f) ? el('span', { class: 'tag tag-compressed', 'data-testid': 'frame-compressed-tag', title: COMPRESSED }, 'compressed') : null,
    problemCount ? el('span', { class: 'tag tag-bad' }, `${problemCount} problem${problemCount === 1 ? '' : 's'}`) : null,
    el('span', { class: 'frame-preview' }, preview),
    el('span', { class: 'frame-meta' }, `${len} B`, typeof f.inflated_len === 'number' ? ` → ${f.inflated_len} B inflated` : '', f.truncated ? ' (cut)' : '', el('span', { class: 'frame-offset', title: 'offset of the header in this direction’s byte stream' }, ` @${f.offset ?? '?'}`)));
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
  if (f.compressed) facts.push(fact('RSV1', el('span', { 'data-testid': 'frame-compressed' }, COMPRESSED), 'rsv'));
  if (typeof f.inflated_len === 'number') {
    facts.push(fact('message inflated', el('span', { 'data-testid': 'frame-inflated-len' }, `${f.inflated_len} byte${f.inflated_len === 1 ? '' : 's'}`), 'len'));
  }
  return el('dl', { class: 'frame-facts' }, ...facts);
}

export function fact(label, value, kind) {
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
  const deflated = isDeflated(f);
  if (deflated && opcode !== 0x8) { // still DEFLATE data once unmasked: not text yet
    text = asAscii(payload);
    textClass = 'payload-text binary';
  }
  const cut = f.truncated ? el('p', { class: 'payload-cut' }, `The first ${payload.length} of ${len} bytes are shown.`) : null;
  const compressedNote = deflated ? ' · DEFLATE data' : '';
  const inflated = deflated ? inflatedView(f) : [];
  const classes = 'payload' + (deflated ? ' payload-deflated' : '');
  if (!f.mask) {
    return el('div', { class: classes + ' payload-plain' },
      payloadColumn((dir === 'out' ? 'payload · not masked: a server never masks (§5.1)' : 'payload · NOT masked') + compressedNote, payload, text, textClass, 'frame-payload'),
      ...inflated,
      cut);
  }
  return el('div', { class: classes + ' payload-masked' },
    payloadColumn('masked, as on the wire', wire, asAscii(wire), 'payload-text binary', 'frame-wire'),
    el('div', { class: 'xor', title: 'payload[i] = wire[i] XOR masking-key[i mod 4] (§5.3)' },
      el('span', { class: 'xor-sign', 'aria-hidden': 'true' }, '⊕'), el('span', { class: 'xor-key' }, String(f.masking_key_hex ?? '')), el('span', { 'aria-hidden': 'true' }, '→')),
    payloadColumn('unmasked payload' + compressedNote, payload, text, textClass, 'frame-payload'),
    ...inflated,
    cut);
}

/**
 * The compressed message inflated, beside its DEFLATE bytes (RFC 7692 §6.2: the payloads of all
 * its frames, then 00 00 ff ff, inflated). Only its final frame has it; an earlier one says so.
 */
function inflatedView(f) {
  if (typeof f.inflate_error === 'string') {
    return [el('p', { class: 'payload-inflate-error', 'data-testid': 'frame-inflate-error' }, 'not inflated: ', ...rule(f.inflate_error))];
  }
  if (typeof f.inflated_hex !== 'string') {
    return [el('p', { class: 'payload-cut' }, 'A compressed message: it is inflated on its final frame, once all of its DEFLATE data has arrived (RFC 7692 §6.2).')];
  }
  const bytes = parseHex(f.inflated_hex);
  const total = Number(f.inflated_len) || bytes.length;
  const isText = typeof f.inflated_text === 'string';
  return [
    el('div', { class: 'xor inflate', title: 'RFC 7692 §6.2: append 00 00 ff ff to the message’s payload, then inflate (DEFLATE, RFC 1951)' },
      el('span', { class: 'xor-sign', 'aria-hidden': 'true' }, '⤳'), el('span', { class: 'xor-key' }, 'inflate'), el('span', { 'aria-hidden': 'true' }, '→')),
    payloadColumn(`inflated message · ${total} byte${total === 1 ? '' : 's'}${bytes.length < total ? `, the first ${bytes.length} shown` : ''}`,
      bytes, isText ? f.inflated_text : asAscii(bytes), isText ? 'payload-text' : 'payload-text binary', 'frame-inflated'),
  ];
}

function payloadColumn(label, bytes, text, textClass, testid) {
  return el('div', { class: 'payload-col' },
    el('div', { class: 'payload-label' }, label),
    el('pre', { class: 'payload-hex', 'data-testid': testid + '-hex' }, toHex(bytes)),
    el('pre', { class: textClass, 'data-testid': testid + '-text' }, text));
}
