#!/usr/bin/env bash
# GET /metrics checked by the real Prometheus tooling: starts wsmith, makes some traffic (echo
# and chat clients with `wsmith connect`, a close with a code, a refused upgrade), fetches
# /metrics and runs `promtool check metrics` on it (format and lints: names, units, `_total`,
# help texts). Any problem or lint fails the run. Also checks that /metrics.json is JSON with
# the same families.
#
#   cargo build --release && bash tests/deploy/promtool.sh
#
# WSMITH_BIN picks the binary (default target/release/wsmith). Needs promtool (Debian's
# `prometheus` package), curl and python3; .ci/run installs them. Uses loopback ports only.
set -euo pipefail
source "$(dirname "$0")/common.sh"
PROMTOOL="${PROMTOOL:-$(command -v promtool || echo /usr/bin/promtool)}"
require "$BIN" "$PROMTOOL"

start_wsmith --log-level warn
PORT="$WS_PORT"
BASE="http://127.0.0.1:$PORT"
fail() { echo "FAIL: $*"; echo "--- wsmith"; tail -20 "$WORK/wsmith.err"; exit 1; }

# Traffic: two echo clients, a chat client that closes with 4000, a refused upgrade (400).
printf 'hello\nworld\n' | "$BIN" connect "ws://127.0.0.1:$PORT/echo" >/dev/null || fail "echo client"
printf 'one\n' | "$BIN" connect --binary "ws://127.0.0.1:$PORT/echo" >/dev/null || fail "binary echo client"
printf '{"type":"message","text":"hi"}\n' \
  | "$BIN" connect --close 4000 "done here" "ws://127.0.0.1:$PORT/chat?name=promtool" >/dev/null || fail "chat client"
status="$(curl -s -o /dev/null -w '%{http_code}' -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
  -H 'Sec-WebSocket-Version: 13' "$BASE/echo")"
[ "$status" = 400 ] || fail "an upgrade without Sec-WebSocket-Key got $status, not 400"

content_type="$(curl -s -o "$WORK/metrics.txt" -w '%{content_type}' "$BASE/metrics")"
[ "$content_type" = "text/plain; version=0.0.4; charset=utf-8" ] || fail "Content-Type of /metrics: $content_type"
# The traffic is in it (the counts themselves are checked exactly by tests/metrics.rs).
grep -q '^wsmith_upgrades_total{endpoint="echo"} 2$' "$WORK/metrics.txt" || fail "2 echo upgrades not counted"
grep -q '^wsmith_messages_received_total{endpoint="echo"} 3$' "$WORK/metrics.txt" || fail "3 echo messages not counted"
grep -q '^wsmith_closes_total{by="client",code="4xxx"} 1$' "$WORK/metrics.txt" || fail "the 4000 close not counted"
grep -q '^wsmith_handshake_failures_total{status="400"} 1$' "$WORK/metrics.txt" || fail "the 400 not counted"

# promtool: exit status 0 and nothing said (a lint is printed, and fails here too).
if ! "$PROMTOOL" check metrics <"$WORK/metrics.txt" >"$WORK/promtool.out" 2>&1 || [ -s "$WORK/promtool.out" ]; then
  echo "--- /metrics"; cat "$WORK/metrics.txt"
  echo "--- promtool check metrics"; cat "$WORK/promtool.out"
  fail "promtool check metrics found problems"
fi
echo "ok: promtool check metrics: $(grep -c '^# TYPE' "$WORK/metrics.txt") families, $(grep -vc '^#' "$WORK/metrics.txt") samples, no problems"

# The JSON view: the same families, from the same registry.
curl -s "$BASE/metrics.json" >"$WORK/metrics.json"
python3 - "$WORK/metrics.txt" "$WORK/metrics.json" <<'PY' || fail "/metrics.json does not match /metrics"
import json, sys
text = open(sys.argv[1]).read()
view = json.load(open(sys.argv[2]))
families = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]
assert sorted(families) == sorted(view), (families, sorted(view))
for name, family in view.items():
    assert family["type"] in ("counter", "gauge", "histogram"), name
    assert f"# TYPE {name} {family['type']}" in text, name
PY
echo "ok: tests/deploy/promtool.sh"
