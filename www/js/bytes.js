// Bytes as the Inspector shows them: hex, bits and printable ASCII.

const HEX_BYTE = /^[0-9a-f]{2}$/i;

/** "81 85 37 fa" → [0x81, 0x85, 0x37, 0xfa]; anything else is skipped. */
export function parseHex(text) {
  return typeof text === 'string' ? text.split(/\s+/).filter((b) => HEX_BYTE.test(b)).map((b) => parseInt(b, 16)) : [];
}

/** [0x81, 0x05] → "81 05" (or "8105" with `sep = ''`). */
export function toHex(bytes, sep = ' ') {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(sep);
}

/** Printable ASCII as itself, every other byte as a middle dot: what bytes look like as text. */
export function asAscii(bytes) {
  return Array.from(bytes, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '·')).join('');
}

/** The bits of `byte` from position `from` down to `to` (7 is the high bit), as 0s and 1s. */
export function bitsOf(byte, from, to) {
  const out = [];
  for (let i = from; i >= to; i -= 1) out.push((byte >> i) & 1);
  return out;
}
