// Building the page: DOM nodes, times, scrolling boxes and tab badges.
//
// All server and user text goes in through text nodes (textContent), never as HTML: `el`
// turns every string child into a text node.

export const $ = (id) => document.getElementById(id);

/** el('li', {class: 'x', dataset: {seq: 3}}, 'text', child) — strings become text nodes, never HTML. */
export function el(tag, attrs, ...children) {
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
export function timeEl(ts) {
  const date = new Date(typeof ts === 'number' && Number.isFinite(ts) ? ts : Date.now());
  return el('time', { datetime: date.toISOString(), title: date.toLocaleString() }, clockFormat.format(date));
}

/**
 * Keeps a scrolling box pinned to its newest line, unless the reader scrolled up to read.
 * Only the reader's own scrolling (wheel, touch, keys, scrollbar) decides "pinned": the
 * browser also scrolls a box when its size changes, and that must not unpin it.
 */
export function followBottom(box) {
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

/** The count in a tab's badge (#badge-VIEW); hidden at zero. */
export function setBadge(id, count) {
  const badge = $(id);
  badge.hidden = !count;
  badge.textContent = count > 99 ? '99+' : String(count || '');
}
