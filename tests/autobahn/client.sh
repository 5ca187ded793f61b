#!/usr/bin/env bash
# Conformance, the other direction: the Autobahn|TestSuite plays the *server*
# (wstest -m fuzzingserver) and `wsmith connect --echo --deflate` is the client under test, one
# connection per case (cases 1.* to 13.*, 12.* and 13.* with permessage-deflate, RFC 7692),
# echoing every message back. Then the suite writes its report and summarize.py judges it.
#
# Usage: tests/autobahn/client.sh [--cases LIST] [--exclude LIST] [--out DIR]
#                                 [--case-timeout SECS] [--no-build]
#   --cases LIST         comma-separated case patterns, default 1.* … 10.*, 12.*, 13.*
#   --exclude LIST       comma-separated patterns to exclude
#   --out DIR            report directory, default ./autobahn-client-reports (index.html)
#   --case-timeout SECS  a client still running after this long is killed, default 300
#                        (a 12.*/13.* case echoes 1,000 messages of up to 128 KiB)
#   --no-build           use the release binary as it is (WSMITH_BIN overrides its path)
#   AUTOBAHN_HOME        where install.sh put wstest (default ~/.cache/autobahn)
#
# Exit status: 0 when every case is OK (the suite's INFORMATIONAL cases have no verdict and
# are allowed), 1 on any other behaviour or close behaviour (summarize.py --strict) or a
# client that had to be killed, 2 if wstest would not start or the run is incomplete.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
usage() { sed -n '2,20p' "$0"; }

CASES="1.*,2.*,3.*,4.*,5.*,6.*,7.*,8.*,9.*,10.*,12.*,13.*"
EXTRA_EXCLUDE=""
OUT="./autobahn-client-reports"
CASE_TIMEOUT=300
BUILD=1
while (($#)); do
  case "$1" in
    --cases) CASES="$2"; shift 2 ;;
    --exclude) EXTRA_EXCLUDE="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --case-timeout) CASE_TIMEOUT="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "client.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
EXCLUDE="$EXTRA_EXCLUDE"

bash "$HERE/install.sh" --quiet
AUTOBAHN_HOME="${AUTOBAHN_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/autobahn}"
WSTEST="${WSTEST:-$AUTOBAHN_HOME/bin/wstest}"
if ((BUILD)); then (cd "$ROOT" && cargo build --release --quiet); fi
TARGET="${CARGO_TARGET_DIR:-target}"
[[ $TARGET == /* ]] || TARGET="$ROOT/$TARGET"
BIN="${WSMITH_BIN:-$TARGET/release/wsmith}"

mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
rm -f "$OUT"/index.json "$OUT"/index.html "$OUT"/wsmith_case_*
SPEC="$OUT/fuzzingserver.json"
LOG="$OUT/wstest.log"
CLIENT_LOG="$OUT/client.log"
: >"$CLIENT_LOG"

# A free loopback port for the suite's server (released just before wstest binds it).
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
URL="ws://127.0.0.1:$PORT"
python3 - "$SPEC" "$OUT" "$URL" "$CASES" "$EXCLUDE" <<'PY'
import json, sys
spec_path, outdir, url, cases, exclude = sys.argv[1:]
split = lambda s: [x.strip() for x in s.split(",") if x.strip()]
with open(spec_path, "w") as f:
    json.dump({"url": url, "outdir": outdir, "cases": split(cases),
               "exclude-cases": split(exclude), "exclude-agent-cases": {}}, f, indent=2)
PY

# -u 0: no embedded web server (it would take port 8080).
(cd "$OUT" && exec "$WSTEST" -m fuzzingserver -s "$SPEC" -u 0) >"$LOG" 2>&1 &
WSTEST_PID=$!
trap 'kill "$WSTEST_PID" 2>/dev/null || true; wait "$WSTEST_PID" 2>/dev/null || true' EXIT

# wstest prints "Ok, will run N test cases" once it listens.
for _ in $(seq 1 150); do
  grep -q '^Ok, will run' "$LOG" && break
  kill -0 "$WSTEST_PID" 2>/dev/null || { cat "$LOG" >&2; echo "client.sh: wstest exited" >&2; exit 2; }
  sleep 0.2
done
grep -q '^Ok, will run' "$LOG" || { cat "$LOG" >&2; echo "client.sh: wstest did not start" >&2; exit 2; }

start=$(date +%s%N)
# The first line wsmith prints is the one message /getCaseCount sends: the count.
COUNT="$(timeout 30 "$BIN" connect "$URL/getCaseCount" </dev/null 2>>"$CLIENT_LOG" | head -n1 || true)"
if ! [[ $COUNT =~ ^[0-9]+$ ]] || ((COUNT == 0)); then
  echo "client.sh: no case count from $URL/getCaseCount (got ${COUNT:-nothing}); see $LOG" >&2
  exit 2
fi
echo "autobahn client mode: $COUNT cases [$CASES] minus [$EXCLUDE] against $URL; reports in $OUT" >&2

killed=()
for ((n = 1; n <= COUNT; n++)); do
  set +e
  err="$(timeout --kill-after=5 "$CASE_TIMEOUT" "$BIN" connect --echo --deflate \
    "$URL/runCase?case=$n&agent=wsmith" </dev/null 2>&1 >/dev/null)"
  rc=$?
  set -e
  [[ -n $err ]] && printf 'case %s (exit %s): %s\n' "$n" "$rc" "$err" >>"$CLIENT_LOG"
  if ((rc == 124 || rc == 137)); then
    killed+=("$n")
    echo "client.sh: case $n: wsmith connect still running after ${CASE_TIMEOUT}s; killed" >&2
  fi
  ((n % 50 == 0)) && echo "  … $n of $COUNT" >&2
done

timeout 300 "$BIN" connect --echo "$URL/updateReports?agent=wsmith" </dev/null >/dev/null 2>>"$CLIENT_LOG" || true
ms=$(( ($(date +%s%N) - start) / 1000000 ))
elapsed="$((ms / 1000)).$(printf %03d $((ms % 1000)) | cut -c1)"

set +e
python3 "$HERE/summarize.py" "$OUT" --agent wsmith --expected "$COUNT" --strict \
  --json-out "$OUT/summary.json"
src=$?
set -e
echo "autobahn: client mode (wsmith connect as the client): $COUNT cases in ${elapsed} s wall time; report: $OUT/index.html"
if ((${#killed[@]})); then
  echo "autobahn: killed after ${CASE_TIMEOUT}s: cases ${killed[*]}" >&2
  ((src == 0)) && src=1
fi
exit $src
