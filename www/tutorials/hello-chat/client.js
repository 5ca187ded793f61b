// client.js — seed 002 (Websocket 통신 실습), 과제 2–3. The page comes from port 8000, the
// WebSocket is on 8001 (tutorialUrl keeps the server's port: ?ws=PORT in this page's URL).
const ws = new WebSocket(tutorialUrl('ws://localhost:8001'));
const messages = document.getElementById('messages');

function show(text) {
  const li = document.createElement('li');
  li.textContent = text;
  messages.appendChild(li);
}

ws.onopen = () => console.log('connected to server');
// Everything the server sends is one line of text: 새로운 유저 접속 [현재: X명],
// 유저 연결 해제 [현재: X명], or 이름: 메시지.
ws.onmessage = (event) => show(event.data);
ws.onclose = () => show('서버와 연결이 끊어졌습니다');

// 과제 2: the 전송 button sends 'Hello'.
document.getElementById('helloButton').addEventListener('click', () => ws.send('Hello'));

// 과제 3: a name and a message, to everyone.
document.getElementById('sendButton').addEventListener('click', () => {
  const name = document.getElementById('nameInput').value.trim();
  const messageInput = document.getElementById('messageInput');
  if (!name) {
    document.getElementById('nameInput').focus();
    return;
  }
  ws.send(JSON.stringify({ name, message: messageInput.value }));
  messageInput.value = '';
});
