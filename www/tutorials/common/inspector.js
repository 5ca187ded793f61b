// inspector.js — a small view of wsmith's /inspect endpoint (see README, "The Inspector").
// ?tap=TOKEN watches the connection whose URL carried that token (our tutorial pages add one);
// without it, a loopback browser gets the list of connections and watches one by id, which
// works for your own index.html and client.js too. ?ws=PORT is the WebSocket port.
const params = new URLSearchParams(location.search);
const port = params.get('ws') || location.port;
const socket = new WebSocket(`ws://${location.hostname}:${port}/inspect`);
const status = document.getElementById('status');
const frames = document.getElementById('frames');
const connections = document.getElementById('connections');

function line(className, text) {
  const row = document.createElement('div');
  row.className = 'frame ' + className;
  row.textContent = text;
  frames.appendChild(row);
}

socket.onopen = () => {
  const tap = params.get('tap');
  socket.send(JSON.stringify(tap ? { type: 'watch', tap } : { type: 'list' }));
};
socket.onclose = () => { status.textContent = 'Inspector disconnected'; };
socket.onmessage = (event) => {
  const e = JSON.parse(event.data);
  if (e.type === 'attached') {
    status.textContent = `watching connection #${e.conn} (${e.endpoint}) from ${e.peer}`;
    if (e.handshake) line('in', `handshake: Sec-WebSocket-Key ${e.handshake.key} → Sec-WebSocket-Accept ${e.handshake.accept}`);
  } else if (e.type === 'frame') {
    const arrow = e.dir === 'in' ? '→' : '←';
    const text = e.payload_text != null ? JSON.stringify(e.payload_text) : e.payload_hex;
    const rsv1 = e.rsv?.[0] ? ' RSV1=1 (compressed, RFC 7692)' : '';
    line(e.dir, `${arrow} FIN=${e.fin ? 1 : 0}${rsv1} ${e.opcode_name} MASK=${e.mask ? 1 : 0} len=${e.payload_len}  ${text}`);
  } else if (e.type === 'close') {
    line('close', `closed by ${e.record.by}: ${e.record.code} ${e.record.code_name ?? ''} ${e.record.explanation}`);
  } else if (e.type === 'detached') {
    status.textContent = `connection #${e.conn} ended (${e.why}); reload the tutorial page and this one to watch again`;
  } else if (e.type === 'connections') {
    connections.replaceChildren();
    for (const c of e.connections) {
      const button = document.createElement('button');
      button.textContent = `watch #${c.conn} (${c.endpoint}, ${c.peer})`;
      button.onclick = () => { frames.replaceChildren(); socket.send(JSON.stringify({ type: 'watch', conn: c.conn })); };
      connections.appendChild(button);
    }
    status.textContent = e.connections.length ? 'pick a connection' : 'no connections yet: open the tutorial page, then reload this one';
  } else if (e.type === 'error') {
    status.textContent = `Inspector: ${e.message}`;
  }
};
