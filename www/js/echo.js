// The Echo tab: send text to /echo, show the reply and the round trip.

import { Connection, newTapToken, wsBase } from './connection.js';
import { $, el, timeEl } from './dom.js';

/** Sets up the Echo tab; its socket opens at start, whichever tab is shown. */
export function mount() {
  const TAP = newTapToken();

  const echoPending = []; // [{text, at}] in send order, to measure each round trip

  const echo = new Connection('echo', {
    tap: TAP,
    url: () => wsBase + '/echo?tap=' + TAP,
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

  return {
    view: 'echo',
    sockets: { echo },
    start() {
      echo.start();
    },
  };
}
