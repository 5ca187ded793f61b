#!/usr/bin/env python3
# RSS per connection with and without permessage-deflate: 200 /echo connections that each send
# one compressed message (and get a compressed echo). Run from the repo root after
# `cargo build --release`:  python3 benches/deflate-memory.py
import socket, subprocess, sys, os, base64, zlib, struct, time, re
def run(offer, n=200):
    p = subprocess.Popen(["./target/release/wsmith", "--addr", "127.0.0.1:0", "--log-level", "warn", "--ping-interval", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = p.stdout.readline()
    addr = re.search(r"http://([\d.:]+)", line).group(1)
    host, port = addr.split(":")
    def rss():
        return int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{p.pid}/status").read()).group(1))
    socks = []
    time.sleep(0.5)
    base = rss()
    msg = (b'{"type":"message","text":"hello there, this is a chat line that is long enough to be compressed by the browser"} ' * 4)
    for i in range(n):
        s = socket.create_connection((host, int(port)))
        ext = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" if offer else ""
        s.sendall(f"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{ext}\r\n".encode())
        r = b""
        while b"\r\n\r\n" not in r: r += s.recv(4096)
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        data = (c.compress(msg) + c.flush(zlib.Z_SYNC_FLUSH))[:-4] if offer else msg
        first = 0xc1 if offer else 0x81
        mk = b"\x01\x02\x03\x04"
        hdr = bytes([first, 0x80 | 126]) + struct.pack(">H", len(data)) if len(data) >= 126 else bytes([first, 0x80 | len(data)])
        s.sendall(hdr + mk + bytes(b ^ mk[i % 4] for i, b in enumerate(data)))
        s.recv(65536)
        socks.append(s)
    time.sleep(3)  # writer threads linger 2 s, then end
    after = rss()
    p.kill(); p.wait()
    return base, after
for offer in (False, True):
    base, after = run(offer)
    print(f"deflate={'on ' if offer else 'off'} 200 connections after one message each: RSS {base} KiB -> {after} KiB, {(after-base)/200:.1f} KiB per connection")
