// client.js — seed 000's client, as the tutorial writes it; only the URL is wsmith's:
// tutorialUrl('ws://localhost:8080') keeps this server's port and adds the Inspector's tap.
const ws = new WebSocket(tutorialUrl('ws://localhost:8080', { samePort: true }));

ws.onopen = () => {
  console.log('Connected to the WebSocket chat server');
};

ws.onmessage = (event) => {
  const messages = document.getElementById('messages');
  const message = document.createElement('div');
  message.textContent = event.data;
  messages.appendChild(message);
};

ws.onclose = () => {
  console.log('Disconnected from the WebSocket chat server');
};

ws.onerror = (error) => {
  console.log(`WebSocket error: ${error}`);
};

document.getElementById('sendButton').addEventListener('click', () => {
  const messageInput = document.getElementById('messageInput');
  const message = messageInput.value;
  ws.send(message);
  messageInput.value = '';
});
