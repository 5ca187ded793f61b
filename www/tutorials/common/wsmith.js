// wsmith.js — wsmith's small helper for its tutorial pages (served from www/tutorials/common/
// whenever the page's own folder has no file of that name).
//
// tutorialUrl('ws://localhost:8080') is the URL the tutorial writes, with two changes: the port
// follows the server (`?ws=PORT` in the page's URL, or the page's own port when the tutorial
// serves page and WebSocket on one port), and `?tap=TOKEN` lets the Inspector find this
// connection. It also adds a footer linking to the Inspector. show(text) adds a line to #log.
(function () {
  const params = new URLSearchParams(location.search);
  const servedOverHttp = location.protocol === 'http:' || location.protocol === 'https:';
  const tap = Array.from(crypto.getRandomValues(new Uint8Array(8)),
    (b) => b.toString(16).padStart(2, '0')).join('');

  window.tutorialUrl = function (written, { samePort = false } = {}) {
    const url = new URL(written);
    if (servedOverHttp) url.hostname = location.hostname;
    if (params.get('ws')) url.port = params.get('ws');
    else if (samePort && servedOverHttp) url.port = location.port;
    url.search = 'tap=' + tap;
    addInspectorLink(url.port || '80');
    return url.href;
  };

  window.show = function (text) {
    const log = document.getElementById('log');
    if (!log) return;
    const item = document.createElement('li');
    item.textContent = text;
    log.appendChild(item);
  };

  function addInspectorLink(wsPort) {
    const footer = document.createElement('footer');
    footer.className = 'wsmith';
    const link = document.createElement('a');
    link.id = 'inspectorLink';
    link.href = `inspector.html?tap=${tap}&ws=${wsPort}`;
    link.target = '_blank';
    link.textContent = 'Inspector';
    footer.append('wsmith: the ', link, ' shows every frame of this page\u2019s WebSocket, both ways.');
    document.body.appendChild(footer);
  }
})();
