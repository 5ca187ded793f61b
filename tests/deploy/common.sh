# Sourced by the deploy tests (nginx.sh, promtool.sh): the binary under test, a scratch
# directory that goes at exit with every process started here, and wsmith on a free port.
#
# WSMITH_BIN picks the binary (default target/release/wsmith).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${WSMITH_BIN:-$ROOT/target/release/wsmith}"
WORK="$(mktemp -d)"
PIDS=()
AT_EXIT=() # more to stop at exit, as shell commands, run before $WORK goes
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for command in "${AT_EXIT[@]}"; do eval "$command" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# require TOOL...: each must be an executable file, or the test stops saying which is missing.
require() {
  for tool in "$@"; do
    [ -x "$tool" ] || { echo "$(basename "$0"): $tool is missing" >&2; exit 1; }
  done
}

# start_wsmith FLAG...: $BIN on 127.0.0.1:0 with the page and FLAGs; its output goes to
# $WORK/wsmith.out and $WORK/wsmith.err; WS_PORT is the port from its "listening" line.
start_wsmith() {
  "$BIN" --addr 127.0.0.1:0 --www "$ROOT/www" "$@" >"$WORK/wsmith.out" 2>"$WORK/wsmith.err" &
  PIDS+=($!)
  WS_PORT=""
  for _ in $(seq 1 100); do
    WS_PORT="$(sed -n 's|^wsmith listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$WORK/wsmith.out")"
    [ -n "$WS_PORT" ] && break
    sleep 0.1
  done
  [ -n "$WS_PORT" ] || { echo "wsmith did not start:"; cat "$WORK/wsmith.err"; exit 1; }
}
