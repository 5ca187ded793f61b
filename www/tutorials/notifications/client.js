// client.js — seed 000's client, as the tutorial writes it; only the URL is wsmith's:
// tutorialUrl('ws://localhost:8080') keeps this server's port and adds the Inspector's tap.
const ws = new WebSocket(tutorialUrl('ws://localhost:8080', { samePort: true }));

ws.onopen = () => {
  console.log('Connected to the WebSocket notification server');
};

ws.onmessage = (event) => {
  const notifications = document.getElementById('notifications');
  const notification = document.createElement('div');
  notification.textContent = event.data;
  notifications.appendChild(notification);
};

ws.onclose = () => {
  console.log('Disconnected from the WebSocket notification server');
};

ws.onerror = (error) => {
  console.log(`WebSocket error: ${error}`);
};
