// The Notifications tab: what the server pushes on /notifications (JSON or plain text), newest
// first, e.g. after `curl -d 'text' http://127.0.0.1:8080/publish/notifications`.

import { Connection, newTapToken, wsBase } from './connection.js';
import { $, el, setBadge, timeEl } from './dom.js';

/** Sets up the Notifications tab; its socket opens at start, whichever tab is shown. */
export function mount(page) {
  const TAP = newTapToken();

  let unseenNotifications = 0;

  const notifications = new Connection('notifications', {
    tap: TAP,
    url: () => wsBase + '/notifications?tap=' + TAP,
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
    if (!page.isShown('notifications')) unseenNotifications += 1;
    setBadge('badge-notifications', unseenNotifications);
  }

  $('notifications-clear').addEventListener('click', () => {
    $('notification-list').replaceChildren();
    $('notifications-empty').hidden = false;
  });

  return {
    view: 'notifications',
    sockets: { notifications },
    start() {
      notifications.start();
    },
    onViewChange(view) {
      if (view === 'notifications') {
        unseenNotifications = 0;
        setBadge('badge-notifications', 0);
      }
    },
  };
}
