#!/usr/bin/env bash
# deploy/nginx.conf for real: Debian's nginx terminates TLS (a certificate made here with
# openssl) in front of wsmith on loopback, and headless Chromium opens the page over https://
# and chats over wss:// through it (tests/deploy/chat.mjs). Also checks, with curl, that a
# publish through the proxy needs the token, and that a forged Forwarded or X-Forwarded-For
# gives a client nothing (no token-less publish, no Inspector list).
#
#   cargo build --release && (cd tests/browser && npm ci) && bash tests/deploy/nginx.sh
#
# WSMITH_BIN picks the binary (default target/release/wsmith). Needs nginx, openssl, curl,
# python3, iproute2 and /usr/bin/chromium; .ci/run installs them. Uses loopback ports and, to be
# a remote client of nginx, a network namespace of its own joined to this one by a veth pair
# (10.233.N.0/30, made here and removed at exit: its traffic never leaves the machine). Needs
# root for the namespace, as CI runs.
set -euo pipefail
source "$(dirname "$0")/common.sh"
NGINX="${NGINX:-/usr/sbin/nginx}"
require "$BIN" "$NGINX"
AT_EXIT+=('[ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")"')

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
TLS_PORT="$(free_port)"
TOKEN="deploy-test-token"

# A self-signed certificate for localhost, valid for a day.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

# wsmith on a free loopback port, trusting this nginx (as deploy/wsmith.service does).
start_wsmith --trusted-proxy 127.0.0.1 --forwarded-header x-forwarded-for \
  --publish-token "$TOKEN" --log-level info
# A remote client for nginx: a network namespace of this test's own, joined by a veth pair.
# nginx listens on the host end too, and a client in the namespace is, for nginx, not on
# loopback.
NET=$(( $$ % 250 + 1 ))
NS="wsmith-remote-$$"
HOST_IF="wsr${NET}h"
ip netns add "$NS" || { echo "FAIL: cannot make a network namespace (needs root)"; exit 1; }
AT_EXIT+=("ip netns del $NS")
ip link add "$HOST_IF" type veth peer name "wsr${NET}n"
AT_EXIT+=("ip link del $HOST_IF")
ip link set "wsr${NET}n" netns "$NS"
ip addr add "10.233.$NET.1/30" dev "$HOST_IF"
ip link set "$HOST_IF" up
ip netns exec "$NS" ip addr add "10.233.$NET.2/30" dev "wsr${NET}n"
ip netns exec "$NS" ip link set "wsr${NET}n" up
ip netns exec "$NS" ip link set lo up
EXT_IP="10.233.$NET.1"
EXT_PORT="$(free_port)"

# deploy/nginx.conf itself, with the example's names, paths and ports replaced.
sed -e "s|server 127.0.0.1:8080;|server 127.0.0.1:$WS_PORT;|" \
    -e "s|listen 443 ssl;|listen 127.0.0.1:$TLS_PORT ssl;${EXT_IP:+ listen $EXT_IP:$EXT_PORT ssl;}|" \
    -e "/listen \[::\]:443 ssl;/d" \
    -e "s|listen 80;|listen 127.0.0.1:$(free_port);|" \
    -e "/listen \[::\]:80;/d" \
    -e "s|server_name chat.example.com;|server_name localhost;|" \
    -e "s|/etc/ssl/certs/chat.example.com.pem|$WORK/cert.pem|" \
    -e "s|/etc/ssl/private/chat.example.com.key|$WORK/key.pem|" \
    "$ROOT/deploy/nginx.conf" >"$WORK/site.conf"
cat >"$WORK/nginx.conf" <<CONF
$( [ "$(id -u)" = 0 ] && echo "user root;" )
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/error.log info;
events { worker_connections 256; }
http {
    access_log $WORK/access.log;
    client_body_temp_path $WORK/body;
    proxy_temp_path $WORK/proxy;
    fastcgi_temp_path $WORK/fastcgi;
    uwsgi_temp_path $WORK/uwsgi;
    scgi_temp_path $WORK/scgi;
    include $WORK/site.conf;
}
CONF
"$NGINX" -t -p "$WORK" -c "$WORK/nginx.conf" 2>&1 | sed 's/^/nginx -t: /'
"$NGINX" -p "$WORK" -c "$WORK/nginx.conf"
BASE="https://localhost:$TLS_PORT"
for _ in $(seq 1 100); do
  curl -sk -o /dev/null "$BASE/healthz" && break
  sleep 0.1
done

fail() { echo "FAIL: $*"; echo "--- nginx error.log"; tail -20 "$WORK/error.log"; echo "--- wsmith"; tail -20 "$WORK/wsmith.err"; exit 1; }
status() { curl -sk -o /dev/null -w '%{http_code}' "$@"; }

# Plain HTTPS through the proxy.
[ "$(status "$BASE/healthz")" = 200 ] || fail "GET /healthz through nginx"
[ "$(status "$BASE/")" = 200 ] || fail "GET / through nginx"
# A publish through the proxy needs the token (401 without), even with a forged
# X-Forwarded-For: 127.0.0.1; and a page of another site is refused (403) even with it.
[ "$(status -X POST --data x "$BASE/publish/notifications")" = 401 ] || fail "token-less publish through nginx was not 401"
[ "$(status -X POST --data x -H 'X-Forwarded-For: 127.0.0.1' "$BASE/publish/notifications")" = 401 ] \
  || fail "forged X-Forwarded-For let a token-less publish through"
[ "$(status -X POST --data x -H "Authorization: Bearer $TOKEN" -H 'Origin: https://evil.test' "$BASE/publish/notifications")" = 403 ] \
  || fail "a cross-origin publish through nginx was not 403"
[ "$(status -X POST --data x -H 'Forwarded: for=127.0.0.1' "$BASE/publish/notifications")" = 401 ] \
  || fail "forged Forwarded let a token-less publish through"
[ "$(status -X POST --data x -H "Authorization: Bearer $TOKEN" "$BASE/publish/notifications")" = 202 ] \
  || fail "publish with the token through nginx"
echo "ok: https through nginx, publish rules through the proxy"

# The Inspector's list is for loopback clients. A client that nginx sees on loopback may list;
# a remote one may not, whatever it writes in Forwarded or X-Forwarded-For.
list() { python3 "$ROOT/tests/deploy/inspector_list.py" "$@"; }
[ "$(list 127.0.0.1 "$TLS_PORT" "localhost:$TLS_PORT")" = connections ] \
  || fail "a loopback client of nginx could not list"
remote=(ip netns exec "$NS" python3 "$ROOT/tests/deploy/inspector_list.py" "$EXT_IP" "$EXT_PORT" "localhost:$EXT_PORT")
{
  [ "$("${remote[@]}")" = error ] || fail "a remote client could list"
  [ "$("${remote[@]}" 'Forwarded: for=127.0.0.1')" = error ] \
    || fail "a forged Forwarded: for=127.0.0.1 let a remote client list"
  [ "$("${remote[@]}" 'X-Forwarded-For: 127.0.0.1')" = error ] \
    || fail "a forged X-Forwarded-For: 127.0.0.1 let a remote client list"
  [ "$("${remote[@]}" 'X-Forwarded-For: 127.0.0.1' 'Forwarded: for=127.0.0.1' 'X-Real-IP: 127.0.0.1')" = error ] \
    || fail "forged forwarding fields together let a remote client list"
  echo "ok: a forged Forwarded or X-Forwarded-For gives a remote client (10.233.$NET.2) nothing"
}

# The page over https://, chat over wss://, in Chromium.
WSMITH_HTTPS_BASE="$BASE" node "$ROOT/tests/deploy/chat.mjs" || fail "Chromium over https/wss"
grep -q "upgraded at /chat" "$WORK/wsmith.err" || fail "wsmith logged no /chat upgrade"
echo "ok: tests/deploy/nginx.sh"
