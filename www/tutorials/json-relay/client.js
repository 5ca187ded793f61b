// client.js — seed 004's client code (클라이언트 측 코드), as written, plus a list that shows
// what arrives and a form to send more. Only the URL is wsmith's (it keeps the server's port).
const socket = new WebSocket(tutorialUrl('ws://localhost:3000', { samePort: true })); // 서버의 웹 소켓 주소에 연결

socket.addEventListener('open', () => {
  console.log('연결이 열렸습니다.');

  // 메시지 전송 예시
  const message = {
    user: 'John',
    content: 'Hello, World!'
  };
  socket.send(JSON.stringify(message));
});

socket.addEventListener('message', (event) => {
  console.log('새로운 메시지가 도착했습니다:', event.data);

  // 메시지 처리 예시
  const message = JSON.parse(event.data);
  console.log('받은 메시지:', message.user, message.content);

  const li = document.createElement('li');
  li.textContent = `${message.user}: ${message.content}`;
  document.getElementById('messages').appendChild(li);
});

document.getElementById('sendButton').addEventListener('click', () => {
  const contentInput = document.getElementById('contentInput');
  const user = document.getElementById('userInput').value;
  socket.send(JSON.stringify({ user, content: contentInput.value }));
  contentInput.value = '';
});
