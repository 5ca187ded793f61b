"""Asks wsmith's Inspector, over wss:// through a proxy, for the list of connections (a
loopback-only command) with extra request fields, and prints what it answered: `connections`
(allowed) or `error` (refused). Used by tests/deploy/nginx.sh to show that a forged Forwarded
or X-Forwarded-For gives a remote client nothing.

    python3 inspector_list.py CONNECT_IP PORT HOST [FIELD: VALUE]...
"""
import base64
import json
import os
import socket
import ssl
import sys


def frame(text):
    """A masked text frame (RFC 6455 §5.2, §5.3), for payloads under 126 bytes."""
    payload = text.encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + mask + masked


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("closed")
        data += chunk
    return data


def read_frame(sock):
    first, second = read_exact(sock, 2)
    length = second & 0x7F
    if length == 126:
        length = int.from_bytes(read_exact(sock, 2), "big")
    elif length == 127:
        length = int.from_bytes(read_exact(sock, 8), "big")
    return first & 0x0F, read_exact(sock, length)


def main():
    ip, port, host = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    extra = "".join(f"{field}\r\n" for field in sys.argv[4:])
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection((ip, port), timeout=5)
    sock = context.wrap_socket(raw, server_hostname="localhost")
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /inspect HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\n{extra}\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    if not head.startswith(b"HTTP/1.1 101"):
        print("no-upgrade", head.split(b"\r\n")[0].decode())
        return
    sock.sendall(frame(json.dumps({"type": "list"})))
    for _ in range(20):
        opcode, payload = read_frame(sock)
        if opcode != 1:
            continue
        kind = json.loads(payload).get("type")
        if kind in ("connections", "error"):
            print(kind)
            return
    print("no-answer")


main()
