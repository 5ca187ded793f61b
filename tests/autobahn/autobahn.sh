#!/usr/bin/env bash
# Conformance: build wsmith, start it on a free loopback port, run the real Autobahn|TestSuite
# (wstest -m fuzzingclient, cases 1.* to 13.*, with the permessage-deflate cases 12.* and 13.*)
# against /echo, print the counts, stop the server.
#
# Usage: tests/autobahn/autobahn.sh [--cases LIST] [--exclude LIST] [--out DIR]
#   (options are passed to run.sh; see tests/autobahn/run.sh --help)
#
# Fails unless every case is OK: run.sh --strict fails on any FAILED or NON-STRICT case and any
# close behaviour that is not OK. The three INFORMATIONAL cases (7.1.6, 7.13.1, 7.13.2) have no
# pass/fail verdict in the suite and are reported as such.
#
# The first run installs wstest (Python 2.7 + pinned packages, see install.sh; needs root for
# apt). Reports land in ./autobahn-reports (open index.html).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"

bash "$HERE/install.sh" --quiet
cargo build --release --quiet
BIN="$ROOT/target/release/wsmith"

LOG="$(mktemp)"
"$BIN" --addr 127.0.0.1:0 --www "$ROOT/www" --log-level warn >"$LOG" 2>&1 &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; rm -f "$LOG"' EXIT

# The server prints "wsmith listening on http://127.0.0.1:PORT" once it is bound.
ADDR=""
for _ in $(seq 1 100); do
  ADDR="$(sed -n 's|^wsmith listening on http://||p' "$LOG" | head -n1)"
  [[ -n $ADDR ]] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$LOG" >&2; echo "autobahn: wsmith exited" >&2; exit 2; }
  sleep 0.1
done
[[ -n $ADDR ]] || { cat "$LOG" >&2; echo "autobahn: wsmith did not start" >&2; exit 2; }

start=$(date +%s)
set +e
bash "$HERE/run.sh" --strict --no-install --with-compression "$@" "ws://$ADDR/echo" wsmith
rc=$?
set -e
echo "autobahn: server mode (wsmith as the server) took $(( $(date +%s) - start )) s, exit $rc"
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  echo "autobahn: wsmith died during the run" >&2
  cat "$LOG" >&2
  exit 2
fi
exit $rc
